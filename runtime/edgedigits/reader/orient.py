"""Stage 10, orientation: which reading of the page to report. Scattered digits do not tell a page's
rows from its columns, so such a page is also read a quarter turn further; an unsure reading of
enough digits is also read at the other turns (digits upside down or sideways read as other
digits, or as nothing clear). The reading the classifier is surer of, by ``margin``, wins."""

from __future__ import annotations

from typing import Callable

import numpy as np

from .classify import no_stage
from .config import OrientConfig
from .deskew import quarter_turn
from .records import Direction, ReadResult


def orientation_score(result: ReadResult) -> float:
    """Mean top probability of a reading's digits (0 for none): how sure the classifier was."""
    confidences = [d.confidence for line in result.lines for d in line.digits]
    return float(np.mean(confidences)) if confidences else 0.0


def surer(result: ReadResult, other: ReadResult, cfg: OrientConfig) -> ReadResult:
    """`other` if the classifier is surer of it by ``margin``, else `result`."""
    return other if orientation_score(other) > orientation_score(result) + cfg.margin else result


def turned_as(direction: Direction, angle: float) -> float:
    """The text direction's own tilt, turned by the quarter turns that bring it nearest `angle`
    (degrees): a part of a page read again, with too few digits to tell a turn, reads as the
    page was turned."""
    return direction.angle + 90 * round((angle - direction.angle) / 90)


def best_reading(read_at: Callable[[float, Callable], ReadResult], direction: Direction, cfg: OrientConfig,
                 stage=no_stage) -> ReadResult:
    """The surest of the readings `read_at(angle, stage)` at the text direction and, when needed,
    a quarter turn further and at the other turns. Only the first reading reports its stages."""
    result = read_at(direction.angle, stage)
    angles = [direction.angle]
    if not direction.sure:
        # Scattered digits do not tell a page's rows from its columns: read it turned the other
        # way of the two the angle allows, and keep the reading the classifier is surer of.
        angles.append(quarter_turn(direction.angle))
        result = surer(result, read_at(angles[1], no_stage), cfg)
    if (sum(len(line.digits) for line in result.lines) >= cfg.unsure_min_digits
            and orientation_score(result) < cfg.unsure_below):
        # Digits turned over or sideways read as other digits, or as nothing clear; and rows of a
        # sideways page can sit as close as its digits, so a "sure" direction may still be a
        # quarter turn off: read the page at the turns not read yet and keep the surest.
        others = [read_at(direction.angle + turn, no_stage) for turn in (90, 180, 270)
                  if not any(_same_turn(direction.angle + turn, a) for a in angles)]
        if others:
            result = surer(result, max(others, key=orientation_score), cfg)
    return result


def _same_turn(angle: float, other: float) -> bool:
    """Whether two angles (degrees) are the same turn of the page."""
    return abs((angle - other + 180) % 360 - 180) < 45

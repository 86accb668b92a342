"""Stage 10, orientation: which reading of the page to report. Scattered digits do not tell a page's
rows from its columns, so such a page is also read a quarter turn further; an unsure reading of
enough digits is also read turned over (digits upside down read as other digits, or as nothing
clear). The reading the classifier is surer of, by ``margin``, wins."""

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
    a quarter turn further and turned over. Only the first reading reports its stages."""
    result = read_at(direction.angle, stage)
    angles = [direction.angle]
    if not direction.sure:
        # Scattered digits do not tell a page's rows from its columns: read it turned the other
        # way of the two the angle allows, and keep the reading the classifier is surer of.
        angles.append(quarter_turn(direction.angle))
    for other_angle in angles[1:]:
        result = surer(result, read_at(other_angle, no_stage), cfg)
    if (sum(len(line.digits) for line in result.lines) >= cfg.upside_down_min_digits
            and orientation_score(result) < cfg.upside_down_below):
        for turned_angle in (a + 180 for a in angles):
            result = surer(result, read_at(turned_angle, no_stage), cfg)
    return result

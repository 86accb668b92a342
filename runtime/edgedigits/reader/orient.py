"""Stage 10, orientation: which reading of the page to report. Scattered digits do not tell a page's
rows from its columns, so such a page is also read a quarter turn further; digits clearly one above
the other (a page lying sideways) are also read at both quarter turns; an unsure reading of enough
digits, or of a lone digit, is also read at the turns not read yet (digits upside down or sideways
read as other digits, or as nothing clear). The reading the classifier is surer of, by ``margin``,
wins; when the neighbours showed the page's rows, a reading at another turn that breaks them into
short lines must be very sure to win, and one whose digits are much shorter than the first
reading's (``turned_min_height``) cannot win. A first reading that gave up on texture is not read at
other turns. A sheet beside the page read a half turn from a page sure of its turn is read as the
page was turned too (:func:`follows_page`, :func:`as_page`)."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .classify import no_stage
from .config import OrientConfig
from .deskew import quarter_turn
from .records import Direction, ReadResult


def orientation_score(result: ReadResult) -> float:
    """Mean top probability of a reading's digits (0 for none): how sure the classifier was."""
    confidences = [d.confidence for d in result.digits]
    return float(np.mean(confidences)) if confidences else 0.0


def surer(result: ReadResult, other: ReadResult, cfg: OrientConfig) -> ReadResult:
    """`other` if the classifier is surer of it by ``margin``, else `result`."""
    return other if orientation_score(other) > orientation_score(result) + cfg.margin else result


def turned_as(direction: Direction, angle: float) -> float:
    """The text direction's own tilt, turned by the quarter turns that bring it nearest `angle`
    (degrees): a part of a page read again, with too few digits to tell a turn, and a sheet beside
    the page read turned over (:func:`follows_page`), read as the page was turned."""
    return direction.angle + 90 * round((angle - direction.angle) / 90)


def best_reading(read_at: Callable[[float, Callable], ReadResult], direction: Direction, cfg: OrientConfig,
                 stage=no_stage) -> ReadResult:
    """The surest of the readings `read_at(angle, stage)` at the text direction and, when needed,
    a quarter turn further and at the other turns; only the first when it gave up (a warning: too
    much texture). Only the first reading reports its stages."""
    result = read_at(direction.angle, stage)
    if not result.lines and result.warnings:
        # It gave up on texture (more candidates than the cap). The same ink turned mostly gives up
        # too (the shared photos, their degraded copies and every scene read the same without the
        # other turns), and each turn costs a rule search: seconds on a 2000 px wooden desk.
        return result
    height = up_height(result, direction.angle)

    def read_turned(turn: float) -> ReadResult:
        # A reading whose digits are much shorter than the first one's is not the page upright
        # (digits are taller than wide): it may not win, whatever its confidence.
        other = read_at(direction.angle + turn, no_stage)
        return other if up_height(other, direction.angle + turn) >= cfg.turned_min_height * height else ReadResult([])

    turns = [0]
    if not direction.sure:
        # Scattered digits do not tell a page's rows from its columns: read it turned the other
        # way of the two the angle allows, and keep the reading the classifier is surer of.
        turns.append(quarter_turn(direction.angle) - direction.angle)
        result = surer(result, read_turned(turns[1]), cfg)
    elif direction.across:
        # Neighbours one above the other: a page lying sideways (or a column of digits): read it
        # at both quarter turns, since which way it lies does not show in where its digits are.
        turns += [90, -90]
        sideways = [read_turned(turn) for turn in turns[1:]]
        result = surer(result, max(sideways, key=orientation_score), cfg)
    need = turned_need(result, cfg)
    if need is not None:
        # Digits turned over or sideways read as other digits, or as nothing clear; and rows of a
        # sideways page can sit as close as its digits, so a "sure" direction may still be a
        # quarter turn off: read the page at the turns not read yet and keep the surest.
        others = [read_turned(turn) for turn in (90, 180, -90) if turn not in turns]
        if direction.sure and not direction.across:
            others = [other for other in others if may_turn(result, other, cfg)]
        surest = max(others, key=orientation_score, default=None)
        if surest is not None and orientation_score(surest) >= need:
            result = surer(result, surest, cfg)
    return result


def half_turn_apart(angle: float, other: float) -> bool:
    """Whether two reading angles (degrees) are nearer a half turn apart than a quarter turn."""
    return abs((angle - other + 180) % 360 - 180) > 135


def follows_page(sheet: ReadResult, page: ReadResult, cfg: OrientConfig) -> bool:
    """Whether a sheet beside the page, read as `sheet`, is to be read at the page's turn too: it
    was read a half turn from the page (:func:`half_turn_apart`), and the page's reading `page`
    holds more than a lone digit (``lone_max_digits``: a lone 0, 1 or 8 reads as sure turned over)
    read at least ``unsure_below`` sure. (A page of fewer than ``unsure_min_digits`` is never read
    at another turn, so this trusts its text direction's turn; over the two-note scenes of seeds
    3, 5, 7, 11 and 13 no sheet read worse for it.)"""
    digits = len(page.digits)
    return bool(sheet.lines) and digits > cfg.lone_max_digits and orientation_score(page) >= cfg.unsure_below \
        and half_turn_apart(sheet.angle, page.angle)


def as_page(own: ReadResult, turned: ReadResult, cfg: OrientConfig) -> ReadResult:
    """`turned`, a sheet beside the page read at the page's turn, unless its `own` reading (a half
    turn from the page) is surer by ``page_turn_margin``, or `turned` reports fewer than
    ``page_turn_min_digits`` times as many digits as `own` (the classifier calls unsure pieces no
    digit and drops them, and the few left can read surer)."""
    count = [len(r.digits) for r in (own, turned)]
    if count[1] < cfg.page_turn_min_digits * count[0]:
        return own
    return own if orientation_score(own) > orientation_score(turned) + cfg.page_turn_margin else turned


def up_height(result: ReadResult, angle: float) -> float:
    """The median extent (frame pixels) of a reading's digits along the up direction of text read
    turned by `angle` degrees: their boxes' (the frame's axis-aligned ones) height for a turn
    nearer level or upside down, their width for one nearer sideways; 0 for no digit. Of a digit
    h tall and w wide in its reading's view, that is h M + w m (M, m the larger and smaller of the
    angle's |cos| and |sin|): its height at a level page, its size more than its height near 45
    degrees, where a turn is told apart less by the digits' shape."""
    along = 3 if abs(math.cos(math.radians(angle))) >= abs(math.sin(math.radians(angle))) else 2
    extents = [d.box[along] for d in result.digits]
    return float(np.median(extents)) if extents else 0.0


def digits_per_line(result: ReadResult) -> float:
    """The mean count of digits of a reading's lines that hold any (0 for none)."""
    counts = [len(line.digits) for line in result.lines if line.digits]
    return float(np.mean(counts)) if counts else 0.0


def may_turn(result: ReadResult, other: ReadResult, cfg: OrientConfig) -> bool:
    """Whether `other`, a reading at another turn of a page whose rows the digits' neighbours showed
    side by side, may replace `result`: its lines hold at least ``turned_rows`` of `result`'s
    digits per line, or it is read ``short_rows_confidence`` sure. A quarter turn of such a page
    reads its rows as columns, short lines of a digit or two, which mean confidence alone may
    prefer (1367 | 2015 shrunk to half read 2 | 0 | 15 | 7 | 0 | 02 at 0.94 against 0.86); a half
    turn keeps the rows; a sideways list whose rows sat as close as its digits is first read
    along its columns, and its rows, shorter, read sure (1.0) only at their true turn."""
    return digits_per_line(other) >= cfg.turned_rows * digits_per_line(result) \
        or orientation_score(other) >= cfg.short_rows_confidence


def turned_need(result: ReadResult, cfg: OrientConfig) -> float | None:
    """How sure (mean top probability) a reading of the page at another turn must be to replace
    `result`, besides being surer by ``margin``; None when `result` is kept: it is sure enough, it
    reads no digit (a turn of clutter may read one very sure), or it has too few digits to tell a
    turn (fewer than ``unsure_min_digits``) and more than a lone one (``lone_max_digits``)."""
    digits = len(result.digits)
    score = orientation_score(result)
    if digits >= cfg.unsure_min_digits:
        return 0.0 if score < cfg.unsure_below else None
    if 1 <= digits <= cfg.lone_max_digits and score < cfg.lone_below:
        return cfg.lone_min_confidence
    return None

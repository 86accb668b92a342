"""Stage 8, lines: candidates grouped into rows as the writer wrote them (a row may drift up or down
and have wide gaps), each split into groups at wide gaps, in reading order; then the sides of boxes
drawn around a row's digits are dropped."""

from __future__ import annotations

import numpy as np

from .arrays import median
from .config import LinesConfig
from .records import Blob, Candidates, Lines


def group_lines(candidates: Candidates, cfg: LinesConfig) -> Lines:
    """Rows by vertical overlap, each split into groups at wide gaps; reading order.

    A row is a line as the writer wrote it, however wide its gaps: a blob joins the row whose
    blobs of the last ``row_reach`` digit heights to its left overlap it vertically the most (so a
    row may drift up or down along its length, as handwriting does). Within a row, a gap wider
    than ``group_gap`` digit heights and ``group_gap_ratio`` times the row's usual gap starts a
    new group: evenly spaced digits stay one group however wide their spacing."""
    rows: list[list[Blob]] = []
    for b in sorted(candidates.blobs, key=lambda b: (b.x, b.y)):
        best, best_overlap = None, 0.0
        for row in rows:
            near = [r for r in row[-cfg.row_neighbours:] if r.right >= row[-1].right - cfg.row_reach * max(r.h, b.h)]
            top = median([r.y for r in near])
            bottom = median([r.bottom for r in near])
            overlap = (min(bottom, b.bottom) - max(top, b.y)) / max(1.0, min(bottom - top, b.h))
            if overlap > best_overlap:
                best, best_overlap = row, overlap
        if best is not None and best_overlap >= cfg.row_min_overlap:
            best.append(b)
        else:
            rows.append([b])
    lines = []
    for row in sorted(rows, key=lambda r: median([b.y + b.h / 2 for b in r])):
        # Read in the order of the blobs' middles: a digit with a stroke reaching out to its left (a
        # box's corner, a long flag) starts left of the digit before it.
        row = sorted(row, key=lambda b: b.x + b.w / 2)
        row_height = median([b.h for b in row])
        gaps = [b.x - prev.right for prev, b in zip(row, row[1:])]
        usual = max(median(gaps) if gaps else 0.0, cfg.group_min_usual_gap * row_height)
        groups, current = [], [row[0]]
        for gap, b in zip(gaps, row[1:]):
            if gap > cfg.group_gap * row_height and gap > cfg.group_gap_ratio * usual:
                groups.append(current)
                current = []
            current.append(b)
        groups.append(current)
        lines.append(groups)
    return Lines(lines)


def without_box_sides(lines: Lines, cfg: LinesConfig) -> Lines:
    """The same rows (in the same places), each group cut into runs and without the sides of boxes
    found at the runs' ends; groups left empty are dropped (a row may be left with none)."""
    rows = []
    for groups in lines.rows:
        kept = []
        for group in groups:
            group = [b for part in runs(group, cfg) for b in drop_box_sides(part, cfg)]
            if group:
                kept.append(group)
        rows.append(kept)
    return Lines(rows)


def runs(group: list[Blob], cfg: LinesConfig) -> list[list[Blob]]:
    """The group cut at every gap wider than ``group_gap`` digit heights: the stretches a box drawn
    around digits can enclose (its sides are looked for at their ends)."""
    height = median([b.h for b in group])
    out = [[group[0]]]
    for prev, b in zip(group, group[1:]):
        if b.x - prev.right > cfg.group_gap * height:
            out.append([])
        out[-1].append(b)
    return out


def drop_box_sides(group: list[Blob], cfg: LinesConfig) -> list[Blob]:
    """Drop thin upright strokes that stick out above and below the rest of the line, are much
    fainter than it, or end the line in a much thinner pen: the sides of a box drawn around the
    digits (a '1' is about as tall, as dark and as thick as its neighbours)."""
    if len(group) < 2:
        return group
    top = median([b.y for b in group])
    bottom = median([b.bottom for b in group])
    size = bottom - top
    ink = median([b.ink for b in group])
    stroke = median([b.stroke for b in group])
    height = median([b.h for b in group])
    ends = (group[0], group[-1])
    thin = cfg.side_max_width
    return [b for b in group
            if not (b.w < thin * b.h and b.y < top - cfg.side_overhang * size
                    and b.bottom > bottom + cfg.side_overhang * size)
            and not (b.w < thin * b.h and b.ink < cfg.side_faint * ink)  # a faint thin line piece
            # a thin-pen box side at the end of the line (digits share one pen and stroke width)
            and not ((b.w < thin * b.h or b.h > cfg.side_tall * height) and any(b is e for e in ends)
                     and b.stroke < cfg.side_stroke * stroke)]


def rows_not_read(rows: list, result) -> list:
    """The lines of `rows` none of whose digits has its box centre in the box of a digit of `result`
    (a ReadResult; boxes (x, y, w, h) in the same pixels): writing read already is not added twice."""
    boxes = np.array([d.box for d in result.digits], np.float64).reshape(-1, 4)

    def read_already(digit) -> bool:
        cx, cy = digit.box[0] + digit.box[2] / 2, digit.box[1] + digit.box[3] / 2
        return bool(np.any((boxes[:, 0] <= cx) & (cx <= boxes[:, 0] + boxes[:, 2]) &
                           (boxes[:, 1] <= cy) & (cy <= boxes[:, 1] + boxes[:, 3])))

    return [row for row in rows if not any(read_already(d) for d in row.digits)]

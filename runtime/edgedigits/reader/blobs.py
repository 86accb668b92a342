"""Stage 7, blobs: which connected components are digit candidates (not specks, texture, smudges,
show-through, solid patches, box remains), with fragments of one digit merged and pieces of
broken strokes joined; small digits are kept when written with the page's pen; once rows are
known, a blob much shorter than its row's digits takes in the fainter ink joined to it."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .arrays import median, member, opencv, percentile, stroke_width
from .config import BlobsConfig, ReaderConfig
from .ink import containers
from .records import Blob, Candidates, Ink, Lines, Parts, Ruled, Upright
from .rules import is_box_side

TOO_MUCH_TEXTURE = "too much texture to read: more than {limit} digit-sized candidates"


def too_much_texture(cfg: BlobsConfig) -> str:
    """The warning of a frame with more than ``max_candidates`` candidates, which is not read."""
    return TOO_MUCH_TEXTURE.format(limit=cfg.max_candidates)


def candidate_blobs(parts: Parts, upright: Upright, ruled: Ruled, ink: Ink, config: ReaderConfig) -> Candidates:
    """The digit candidates among the components; with a warning and none when there are more than
    ``max_candidates`` (texture no filter recognised: the frame is not read)."""
    cfg = config.blobs
    labels, stats, height, darkness, rules = parts.labels, parts.stats, parts.height, upright.darkness, ruled.rules
    threshold, ink_level = ink.threshold, ink.level
    x, y, w, h, area = (stats[:, k].astype(np.float64) for k in range(5))
    sizeable = (h >= cfg.min_sizeable * height) & (h <= cfg.max_height * height)
    boxes = containers(stats, sizeable, config.ink)
    # A box drawn around digits is taller than a digit; a digit-sized stroke may enclose another
    # piece of the same digit (a 4 written in two strokes).
    keep = ~(boxes & (h > cfg.container_height * height))
    # A solid dark patch (a bold 8 fills up to ~70% of its box).
    keep &= ~((w > cfg.patch_side * height) & (h > cfg.patch_side * height) & (area > cfg.patch_fill * w * h))
    keep &= ~((h < max(config.min_digit_height * cfg.speck_min_heights, cfg.speck_height * height))
              & (w < cfg.speck_width * height))  # speck
    # A flat piece (the detached bar of a 5 or 7) may only join a digit, never stand alone.
    flat = (h < cfg.flat_height * height) & (w >= cfg.flat_width[0] * height) & (w <= cfg.flat_width[1] * height) \
        & (area >= cfg.min_area * height * height)
    keep &= area >= cfg.min_area * height * height
    keep &= (h >= cfg.min_height * height) & (w <= cfg.max_width * height) \
        & (h <= cfg.max_height * height)  # rule remnant, border, too big
    keep |= flat & ~boxes
    keep &= ~cluttered(x, y, w, h, height, cfg)
    if np.count_nonzero(keep) > cfg.max_candidates:
        return Candidates([], too_much_texture(cfg))
    blobs = [Blob(int(x[i]), int(y[i]), int(w[i]), int(h[i]), [i + 1]) for i in np.flatnonzero(keep)
             if not is_box_side(rules, int(x[i]), int(y[i]), int(w[i]), int(h[i]), height,
                                config.rules)]  # a box's remains
    blobs = attach_small_pieces(merge_fragments(blobs, height, cfg), height, cfg)
    kept, small = [], []
    for b in blobs:
        if b.h < cfg.small_digit * height or b.h < config.min_digit_height:
            continue
        region = darkness[b.y: b.bottom, b.x: b.right]
        strokes = region[region > threshold]
        # Faint show-through from the back of the page: its ink is much lighter than the writing.
        b.ink = percentile(strokes, cfg.ink_percentile) if strokes.size else 0.0
        if b.ink < max(cfg.show_through * threshold, cfg.show_through_ink * ink_level):
            continue
        b.stroke = stroke_width(member(labels[b.y: b.bottom, b.x: b.right], b.labels))
        if b.stroke > cfg.max_stroke * b.h:
            continue  # a broad smudge (shadow edge, dark corner), not pen strokes
        (kept if b.h >= cfg.small_below * height else small).append(b)
    if kept:
        # Sensor noise in a dim, low-contrast frame clumps into digit-sized blobs whose ink is
        # barely above the threshold, far lighter than the writing on the same page.
        typical = median([b.ink for b in kept])
        kept = [b for b in kept if b.ink >= cfg.noise_ink * typical or b.ink >= cfg.noise_threshold * threshold]
    if kept and small:
        kept += same_pen(small, kept, cfg)
    return Candidates(kept)


def same_pen(small: list[Blob], kept: list[Blob], cfg: BlobsConfig = BlobsConfig()) -> list[Blob]:
    """The blobs of `small` (shorter than most digits) written with the page's pen: a pen draws
    strokes of one width in pixels whatever the digit's size, so a small digit has the stroke
    width and the ink of the big ones, and is several strokes tall; specks, texture and
    fragments do not."""
    stroke = median([b.stroke for b in kept])
    ink = median([b.ink for b in kept])
    return [b for b in small
            if cfg.pen_stroke[0] * stroke <= b.stroke <= cfg.pen_stroke[1] * stroke
            and b.h >= cfg.pen_min_strokes * b.stroke and b.ink >= cfg.pen_ink * ink]


def cluttered(x, y, w, h, height: float, cfg: BlobsConfig = BlobsConfig()) -> np.ndarray:
    """Which components (arrays of boxes) lie in texture: where specks much smaller than a digit
    crowd (desk grain, paper fibres, sensor noise), not where a pen wrote. Counted on a grid of
    ``clutter_cell`` digit heights, over each cell and its eight neighbours: linear in the count."""
    cv2 = opencv()
    speck = (h < cfg.speck_size * height) & (w < cfg.speck_size * height)
    if not speck.any():
        return np.zeros(len(x), bool)
    cell = max(cfg.clutter_min_cell, cfg.clutter_cell * height)
    cx = ((x + w / 2) // cell).astype(np.intp)
    cy = ((y + h / 2) // cell).astype(np.intp)
    rows, cols = int(cy.max()) + 1, int(cx.max()) + 1
    counts = np.bincount(cy[speck] * cols + cx[speck], minlength=rows * cols).reshape(rows, cols)

    # Each cell plus its eight neighbours, per pixel of the cells that exist (a candidate at the
    # image's edge has fewer neighbours).
    around = cv2.boxFilter(counts.astype(np.float32), -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    cells = (np.minimum(cy + 1, rows - 1) - np.maximum(cy - 1, 0) + 1) * \
            (np.minimum(cx + 1, cols - 1) - np.maximum(cx - 1, 0) + 1)
    return around[cy, cx] > cfg.clutter_max_density * cells * cell * cell


def merge_fragments(blobs: list[Blob], height: float, cfg: BlobsConfig = BlobsConfig()) -> list[Blob]:
    """Merge pieces of one digit: boxes that mostly overlap horizontally and nearly touch vertically."""
    blobs = sorted(blobs, key=lambda b: -b.w * b.h)
    merged: list[Blob] = []
    for b in blobs:
        for m in merged:
            overlap = min(b.right, m.right) - max(b.x, m.x)
            gap = max(b.y, m.y) - min(b.bottom, m.bottom)  # negative: the boxes overlap vertically
            stacked = gap >= -cfg.merge_stack * min(b.h, m.h)
            if overlap >= cfg.merge_overlap * min(b.w, m.w) and stacked and gap <= cfg.merge_gap * height and \
                    max(b.bottom, m.bottom) - min(b.y, m.y) <= cfg.merge_height * height:
                m.merge(b)
                break
        else:
            merged.append(b)
    return merged


def attach_small_pieces(blobs: list[Blob], height: float, cfg: BlobsConfig = BlobsConfig()) -> list[Blob]:
    """Join pieces much shorter than a digit to the nearest digit-sized blob right beside them:
    a thin or faint stroke thresholds into several pieces (a 0's far side, a 4's crossbar)."""
    big = [b for b in blobs if b.h >= cfg.piece_below * height]
    kept = list(big)
    for piece in (b for b in blobs if b.h < cfg.piece_below * height):
        best, best_gap = None, cfg.piece_gap * height
        for b in big:
            gap_x = max(b.x - piece.right, piece.x - b.right, 0)
            gap_y = max(b.y - piece.bottom, piece.y - b.bottom, 0)
            gap = math.hypot(gap_x, gap_y)
            wide = max(b.right, piece.right) - min(b.x, piece.x)
            tall = max(b.bottom, piece.bottom) - min(b.y, piece.y)
            if gap <= best_gap and wide <= cfg.piece_width * height and tall <= cfg.piece_height * height:
                best, best_gap = b, gap
        if best is None:
            kept.append(piece)
        else:
            best.merge(piece)
    return kept


def mend_broken(lines: Lines, candidates: list[Blob], parts: Parts, upright: Upright, ruled: Ruled, ink: Ink,
                cfg: BlobsConfig) -> Lines:
    """The same rows, each blob much shorter than its row's digits (``mend_short`` of the median
    height of a row of at least ``mend_min_row`` blobs) and no wider than one (``mend_max_width``)
    replaced by it grown by the fainter ink joined to it (:func:`faint_joined`, :func:`grown`): a
    faint or thin stroke thresholds into pieces, and the firm piece alone reads as another digit
    (an 8's lower loop as 0, a 9's stem as 1). The row, not a constant, tells how tall the digit
    is. `candidates`: every candidate of the frame (box sides dropped from the rows too), whose
    pixels are never taken in. Relabels the pixels taken in as the blob's (`parts.labels`, in
    place: `parts.stats` no longer matches it)."""
    owner = {label: b for b in candidates for label in b.labels}
    rows = []
    for groups in lines.rows:
        blobs = [b for group in groups for b in group]
        height = median([b.h for b in blobs]) if len(blobs) >= cfg.mend_min_row else 0.0
        rows.append([[grown(b, faint_joined(b, owner, height, parts, upright, ruled, ink, cfg), height, parts, cfg)
                      if b.h < cfg.mend_short * height and b.w <= cfg.mend_max_width * height else b
                      for b in group] for group in groups])
    return Lines(rows)


def faint_joined(blob: Blob, owner: dict, height: float, parts: Parts, upright: Upright, ruled: Ruled, ink: Ink,
                 cfg: BlobsConfig) -> tuple[np.ndarray, tuple]:
    """(the blob's pixels and the ink above ``mend_level`` of the threshold connected to them, as a
    mask over a window, the window's top-left (x, y)). The window is the largest box a digit
    holding the blob can fill (``mend_max_width`` by ``mend_max_height`` row heights of `height`)
    and one pixel more each way, so that ink joined beyond a digit's size shows as too wide or too
    tall, unless the image's edge cuts the window or the ink runs on only through pixels barred
    here. The pixels of other candidates (`owner`: label to blob) and of removed rules are never
    taken in. (On a turned copy the darkness is only computed near the ink: see
    :func:`.deskew.rotate`.)"""
    cv2 = opencv()
    wide, tall = int(cfg.mend_max_width * height) + 1, int(cfg.mend_max_height * height) + 1
    labels = parts.labels
    ya, yb = max(0, blob.bottom - tall), min(labels.shape[0], blob.y + tall)
    xa, xb = max(0, blob.right - wide), min(labels.shape[1], blob.x + wide)
    window = labels[ya:yb, xa:xb]
    own = member(window, blob.labels).view(bool)
    others = [label for label in np.unique(window) if label in owner and owner[label] is not blob]
    barred = member(window, others).view(bool) if others else np.zeros(window.shape, bool)
    if ruled.rules is not None:
        barred |= ruled.rules[ya:yb, xa:xb].view(bool)
    faint = ((upright.darkness[ya:yb, xa:xb] > cfg.mend_level * ink.threshold) & ~barred) | own
    _, pieces = cv2.connectedComponents(faint.view(np.uint8), connectivity=8)
    joined = np.unique(pieces[own])
    return np.isin(pieces, joined[joined > 0]), (xa, ya)


def grown(blob: Blob, joined: tuple[np.ndarray, tuple], height: float, parts: Parts, cfg: BlobsConfig) -> Blob:
    """The blob with the pixels of `joined` (a mask, its window's top-left), relabelled as its own in
    `parts.labels`, when they are at least ``mend_gain`` row heights (of `height`) taller than it
    and no taller than ``mend_max_height`` nor wider than ``mend_max_width``; else the blob as it is.
    (A new blob: its ink and stroke width stay the firm piece's.)"""
    mask, (xa, ya) = joined
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    h, w = int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
    if h < blob.h + cfg.mend_gain * height or h > cfg.mend_max_height * height or w > cfg.mend_max_width * height:
        return blob
    window = parts.labels[ya: ya + mask.shape[0], xa: xa + mask.shape[1]]
    window[mask] = blob.labels[0]  # (its own pixels, blank ones and pieces no candidate holds)
    return replace(blob, x=xa + int(cols[0]), y=ya + int(rows[0]), w=w, h=h, labels=list(blob.labels))

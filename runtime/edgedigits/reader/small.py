"""Stage 11, small digits among big ones: the reading of a page's big digits drops the small ones
written between them (a pencil note beside marker digits, a page number among headings) as
specks, or loses them on a copy shrunk for the big digits. When the unshrunk copy shows ink of a
small digit's size among the big digits, they are erased from it and the window they span is
read again, where the small digits are now the typical ones; what that finds small, sure, among
the big digits and away from them, and in the page's pen (:func:`ink_contrast`: a printed grid's
pieces read as sure 1s are much fainter) is added as lines of their own, after the page's lines. The
window is read at its own tilt but turned as the page was (a few small digits cannot tell a
turned page by themselves), in grey (a page found only by colour is looked for by brightness
there) and its warnings are dropped (the page's own reading stands); it is at most one more
reading of at most the working copy.

Boxes are (x, y, w, h) in the original frame's pixels unless said otherwise."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

import numpy as np

from .arrays import median
from .classify import frame_box, no_stage
from .config import SmallConfig
from .records import Line, Placement, ReadResult, Working


def big_height(result: ReadResult, work: Working, cfg: SmallConfig) -> float | None:
    """The median height of the digits read, when it is at least ``min_big_height`` pixels of the
    working copy (a page with room for small digits of a readable size below them), else None."""
    heights = [d.box[3] for d in result.digits]
    big = median(heights) if heights else 0.0
    return big if big * work.scale >= cfg.min_big_height else None


def span(boxes: Sequence, grow: float) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) spanned by `boxes`, grown by `grow` on every side."""
    array = np.asarray(boxes, np.float64)
    return (float(array[:, 0].min() - grow), float(array[:, 1].min() - grow),
            float((array[:, 0] + array[:, 2]).max() + grow), float((array[:, 1] + array[:, 3]).max() + grow))


def are_small(boxes: np.ndarray, big_boxes: Sequence, big: float, among: tuple, cfg: SmallConfig) -> np.ndarray:
    """Which of `boxes` ((N, 4) array) are a small digit's: ``min_height`` to ``max_height`` of
    the big digits' height `big`, and their centre within `among` (x0, y0, x1, y1: the big
    digits' span grown by ``around`` big heights) but not within ``reach`` big heights of any big
    digit's box (a remnant of one)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    cx, cy, h = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2, boxes[:, 3]
    keep = (h >= cfg.min_height * big) & (h <= cfg.max_height * big)
    keep &= (cx >= among[0]) & (cx <= among[2]) & (cy >= among[1]) & (cy <= among[3])
    reach = cfg.reach * big
    for bx, by, bw, bh in big_boxes:
        keep &= ~((cx >= bx - reach) & (cx <= bx + bw + reach) & (cy >= by - reach) & (cy <= by + bh + reach))
    return keep


def cut_by_frame(box: Sequence, frame_shape: tuple) -> bool:
    """Whether `box` (x, y, w, h: frame pixels) reaches the frame's border: the window read for
    small digits has no margin there (``window_margin``), and what the border cuts is dropped as
    what the window's edge cuts is."""
    x, y, w, h = box
    return x <= 0 or y <= 0 or x + w >= frame_shape[1] or y + h >= frame_shape[0]


def ink_contrast(grey: np.ndarray, box: Sequence, scale: float, cfg: SmallConfig) -> float:
    """How dark the ink in `box` (x, y, w, h: frame pixels; `scale` working pixels per frame pixel)
    of the working copy `grey` is against the paper around it: (paper - ink) / paper, the ink the
    ``ink_percentile`` of the box and the paper the ``paper_percentile`` of the box grown by
    ``paper_reach`` of its height each way; 0 for an empty box."""
    x, y, w, h = (int(round(v * scale)) for v in box)
    rows, columns = grey.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(columns, x + w), min(rows, y + h)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    reach = max(1, int(cfg.paper_reach * h))
    around = grey[max(0, y0 - reach): y1 + reach, max(0, x0 - reach): x1 + reach]
    ink, paper = np.percentile(grey[y0:y1, x0:x1], cfg.ink_percentile), np.percentile(around, cfg.paper_percentile)
    return float((paper - ink) / max(float(paper), 1.0))


def erase_digits(grey: np.ndarray, boxes: Sequence, cfg: SmallConfig) -> np.ndarray:
    """A copy of `grey` with each box (its pixels) painted over, ``erase_margin`` of its height
    beyond it, with the median of the pixels around it (the sides the image's edge did not cut:
    those run through the digit)."""
    out = grey.copy()
    h, w = grey.shape
    for x, y, bw, bh in boxes:
        pad = cfg.erase_margin * bh
        x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
        x1, y1 = min(w, int(np.ceil(x + bw + pad))), min(h, int(np.ceil(y + bh + pad)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        sides = [side for side, whole in ((out[y0, x0:x1], y0 > 0), (out[y1 - 1, x0:x1], y1 < h),
                                          (out[y0:y1, x0], x0 > 0), (out[y0:y1, x1 - 1], x1 < w)) if whole]
        out[y0:y1, x0:x1] = np.median(np.concatenate(sides)) if sides else np.median(out)
    return out


def add_small_digits(result: ReadResult, work: Working, components: np.ndarray, read: Callable[[Working], ReadResult],
                     cfg: SmallConfig, stage=no_stage) -> ReadResult:
    """`result` (read on `work` or on a copy of it shrunk for its big digits) with the small digits
    among its digits, each group of them a line after the others. `components` are the boxes
    (working pixels) of the ink components `work` showed: without one of a small digit's size
    among the big digits, nothing is read again. `read` reads a working copy without rescaling it;
    `stage` receives the erased window and the boxes (its pixels) of the digits read in it, 1 for
    each one added."""
    big = big_height(result, work, cfg)
    if big is None:
        return result
    big_boxes = [d.box for d in result.digits]
    among = span(big_boxes, cfg.around * big)
    if not are_small(components / work.scale, big_boxes, big, among, cfg).any():
        return result
    x0, y0, x1, y1 = span(big_boxes, (cfg.around + cfg.window_margin) * big)
    h, w = work.grey.shape
    x0, y0 = max(0, int(x0 * work.scale)), max(0, int(y0 * work.scale))
    x1, y1 = min(w, int(np.ceil(x1 * work.scale))), min(h, int(np.ceil(y1 * work.scale)))
    in_window = [(bx * work.scale - x0, by * work.scale - y0, bw * work.scale, bh * work.scale)
                 for bx, by, bw, bh in big_boxes]
    window = erase_digits(work.grey[y0:y1, x0:x1], in_window, cfg)
    second = read(Working(window, 1.0, window))  # boxes in the window's pixels
    placement = Placement(None, (x0, y0), work.scale, work.frame_shape)
    pen = median([ink_contrast(work.grey, box, work.scale, cfg) for box in big_boxes])
    added, looked_at = [], []
    for line in second.lines:
        digits = [replace(d, box=frame_box(*d.box, placement)) for d in line.digits]
        small = are_small(np.array([d.box for d in digits]), big_boxes, big, among, cfg)
        keep = [bool(k) and d.digit is not None and d.confidence >= cfg.min_confidence
                and not cut_by_frame(d.box, work.frame_shape)
                and ink_contrast(work.grey, d.box, work.scale, cfg) >= cfg.pen_share * pen
                for d, k in zip(digits, small)]
        looked_at += [(d.box, int(k)) for d, k in zip(line.digits, keep)]
        digits = [d for d, k in zip(digits, keep) if k]
        if digits:
            text = "".join(str(d.digit) for d in digits)
            added.append(Line(text, digits, (text,)))
    stage("small", (window, looked_at))
    return replace(result, lines=result.lines + added) if added else result

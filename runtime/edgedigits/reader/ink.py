"""Stage 3, the ink: an adaptive threshold of relative darkness (from the ink level and the paper's
noise), connected components, and the window around the ink that later stages look at."""

from __future__ import annotations

import math

import numpy as np

from .arrays import SQUARE_3, array_median, labelled, opencv, percentile, stroke_width
from .config import InkConfig, ReaderConfig
from .records import DigitSize, Ink, Light, Working


def threshold_ink(light: Light, frame_shape: tuple[int, int], config: ReaderConfig) -> Ink | None:
    """The threshold and ink level of the relative darkness, and the ink mask (with the fainter
    ink that joins its pieces when its strokes are thin: :func:`joined_ink`); None when there is
    no ink. `light` is the part of a working copy of `frame_shape` (rows, columns) at its origin."""
    cfg = config.ink
    darkness, paper, origin = light.darkness, light.paper, light.origin
    pixels = frame_shape[0] * frame_shape[1]
    step = max(1, int(math.sqrt(pixels / cfg.sample_pixels)))  # statistics from ~20k pixels are plenty
    # The frame's sampling grid, whatever part of it darkness covers.
    grid = (slice((-origin[1]) % step, None, step), slice((-origin[0]) % step, None, step))
    sampled, on_paper = darkness[grid], None if paper is None else paper[grid] > 0
    sample = sampled.ravel() if paper is None else sampled[on_paper]
    if sample.size == 0:
        return None
    # Paper noise: spread of the darkness values around zero (MAD of the lower half; 1.4826 MAD = sigma).
    low = sample[sample < percentile(sample, 50) + cfg.noise_band]
    noise = 1.4826 * array_median(np.abs(low - array_median(low))) if low.size else 0.0
    floor = max(config.min_contrast, cfg.noise_floor * noise)
    candidates = sample[sample > floor]
    classes = two_classes(candidates) if candidates.size >= cfg.min_sampled_ink else None
    if step > 1 and (classes is None or undersampled_pen(candidates, classes, cfg)):
        candidates = darkness[darkness > floor]  # little ink, or little of it the pen's: look at every pixel
        classes = None
    if candidates.size < cfg.min_ink_pixels:
        return None
    ink_level = pen_level(candidates, cfg, classes)
    if paper is not None:
        split = off_the_edge(sampled, on_paper, floor)
        if split is not None and split[0].size >= cfg.min_sampled_ink:
            inside_level = pen_level(split[0], cfg)
            if array_median(split[1]) > cfg.edge_darker * inside_level:  # desk or a shadow darker than the pen
                ink_level = inside_level
    threshold = max(config.min_contrast, cfg.noise_floor * noise, cfg.threshold_of_ink * ink_level)
    strong = (darkness > threshold).view(np.uint8)
    join = join_threshold(strong, threshold, noise, cfg)
    mask = joined_ink(darkness, strong, join, cfg.join_max_share * min(frame_shape), cfg.join_growth)
    return Ink(threshold, ink_level, mask, join)


def join_threshold(strong: np.ndarray, threshold: float, noise: float, cfg: InkConfig) -> float | None:
    """The darkness down to which fainter ink joining pieces of the ink `strong` (the mask above
    `threshold`) counts (:func:`joined_ink`): ``join_level`` thresholds, never closer to the paper
    than ``join_noise_floor`` sigmas of its noise (`noise`), and only when the ink's mean stroke is at most
    ``join_max_stroke`` px; else None. It may lie below ``min_contrast``: only pieces of the ink
    are joined through it (a thin pen at the contrast floor breaks most)."""
    join = max(cfg.join_noise_floor * noise, cfg.join_level * threshold)
    if join >= threshold or stroke_width(strong) > cfg.join_max_stroke:
        return None
    return join


def joined_ink(darkness: np.ndarray, strong: np.ndarray, join: float | None, largest: float = math.inf,
               growth: float = math.inf) -> np.ndarray:
    """uint8 0/1 mask of the ink `strong` (uint8 0/1: the `darkness` above the threshold; returned
    as it is when `join` is None) and of the faint pieces of the `darkness` above `join` (lower
    than the threshold) that join two or more pieces of the ink, hold at least 1/`growth` of their
    pixels as ink and are no wider nor taller than `largest` px: hysteresis, as Canny's edge
    detector links weak edges to strong ones, kept to mending broken strokes. Faint ink alone
    (grain, show-through), a faint piece holding one piece of the ink (a tail), noise linking
    specks (far more faint pixels than ink) and faint ink running on beyond a digit (a grid, a
    rule) stay out. On a turned copy the darkness is only computed near the ink
    (:func:`.deskew.rotate`): a faint piece is cut off that far from it, and the bounds judge the
    cut piece."""
    if join is None:
        return strong
    ink = strong.view(bool)
    count, faint, stats, _ = labelled((darkness > join).view(np.uint8), 8)
    pieces, labels = opencv().connectedComponents(strong, connectivity=8)
    owner = np.zeros(pieces, np.int32)  # each piece of the ink lies in one faint piece (ink is above `join` too)
    owner[labels[ink]] = faint[ink]
    keep = (np.bincount(owner[1:], minlength=count) >= 2) & (stats[:, 2] <= largest) & (stats[:, 3] <= largest)
    if math.isfinite(growth):
        keep &= stats[:, 4] <= growth * np.bincount(faint[ink], minlength=count)
    keep[0] = False
    return (keep[faint] | ink).view(np.uint8)


def off_the_edge(darkness: np.ndarray, paper: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The darkness values above `floor` on the `paper` (bool; a sampled grid of both), split into those
    of the pieces that touch the paper's edge and the rest: desk inside the page's outline, a
    shadow's band, the sheet's own border are not writing, and when they are much darker than the
    pen they would set its level. Returns (values inside, values of the pieces touching the edge),
    or None when no piece touches it."""
    cv2 = opencv()
    inked = (darkness > floor) & paper
    edge = paper > cv2.erode(paper.view(np.uint8), SQUARE_3).view(bool)
    edge[[0, -1], :] |= paper[[0, -1], :]  # the window's sides bound the paper too
    edge[:, [0, -1]] |= paper[:, [0, -1]]
    edge &= inked
    if not edge.any():  # most frames: labelling the ink is not needed
        return None
    count, labels = cv2.connectedComponents(inked.view(np.uint8), connectivity=8)
    touching = np.zeros(count, bool)
    touching[labels[edge]] = True
    at_edge = touching[labels]
    return darkness[inked & ~at_edge], darkness[at_edge]


def two_classes(values: np.ndarray, bins: int = 64) -> float:
    """Otsu's split of `values` (finite, not empty) into a lighter class (below the value returned)
    and a darker one (at or above it); all values equal are one dark class. `bins` is the
    histogram's resolution, not a tuned number: 16 to 256 bins gave the same levels in the tests."""
    if values.max() == values.min():
        return float(values.min())
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts).astype(np.float64)
    mean = np.cumsum(counts * centres)
    total = weight[-1]
    between = (mean[-1] * weight / total - mean) ** 2 / np.maximum(weight * (total - weight), 1e-12)
    return float(edges[int(np.argmax(between[:-1])) + 1])


def pen_level(candidates: np.ndarray, cfg: InkConfig, split: float | None = None) -> float:
    """The ink level: the ``ink_percentile`` of `candidates` (the darkness above the paper's noise),
    unless that percentile lies in the lighter of two classes (:func:`two_classes`) and the darker
    class, at least ``min_ink_pixels`` of them, is ``pen_separation`` times darker on average: the
    writing is then fewer pixels than something far fainter (the grid of squared paper, printed
    rules), and the level is that percentile of the darker class, the pen's. `split`: the two
    classes' split, if known."""
    level = percentile(candidates, cfg.ink_percentile)
    split = two_classes(candidates) if split is None else split
    dark, faint = candidates[candidates >= split], candidates[candidates < split]
    if level >= split or dark.size < cfg.min_ink_pixels or faint.size == 0 \
            or float(dark.mean()) < cfg.pen_separation * float(faint.mean()):
        return level
    return percentile(dark, cfg.ink_percentile)


def undersampled_pen(candidates: np.ndarray, split: float, cfg: InkConfig) -> bool:
    """Whether the sampled ink looks as :func:`pen_level` wants it to take the darker of its two
    classes (:func:`two_classes`) for the pen's, the ``ink_percentile`` in the lighter class and the
    darker ``pen_separation`` times darker on average, but holds fewer than ``min_sampled_ink``
    samples of the darker: a few small digits on a page of faint grid lines, too few pixels of the
    pen in the sample to tell its class. `split`: :func:`two_classes` of `candidates`."""
    dark = candidates >= split
    count = int(np.count_nonzero(dark))
    return 0 < count < cfg.min_sampled_ink and percentile(candidates, cfg.ink_percentile) < split and \
        float(candidates[dark].mean()) >= cfg.pen_separation * float(candidates[~dark].mean())


def components(mask: np.ndarray, close: int = 0, with_labels: bool = True):
    """(labels or None, stats of the 8-connected components without the background) of the
    mask after a closing with a `close` px disc. Only the ink's bounding box (grown by what
    the closing can reach) is processed: it is often half the mask or less."""
    cv2 = opencv()
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0:
        return (np.zeros(mask.shape, np.int32) if with_labels else None), np.zeros((0, 5), np.int32)
    grow = close + 1 if close > 1 else 0  # the dilation reaches close/2, the erosion as far again
    x0, y0 = max(0, x - grow), max(0, y - grow)
    x1, y1 = min(mask.shape[1], x + w + grow), min(mask.shape[0], y + h + grow)
    window = mask[y0:y1, x0:x1]
    if close > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close, close))
        window = cv2.morphologyEx(window, cv2.MORPH_CLOSE, kernel)
    _, window_labels, stats, _ = labelled(np.ascontiguousarray(window), 8)
    stats = stats[1:]
    stats[:, 0] += x0
    stats[:, 1] += y0
    if not with_labels:
        return None, stats
    labels = np.zeros(mask.shape, np.int32)
    labels[y0:y1, x0:x1] = window_labels
    return labels, stats


def containers(stats: np.ndarray, candidates: np.ndarray, cfg: InkConfig) -> np.ndarray:
    """Which candidates wholly enclose another sizeable candidate (boxes drawn around digits)."""
    idx = np.flatnonzero(candidates)
    result = np.zeros(len(stats), bool)
    if idx.size < 2 or idx.size > cfg.max_containers:
        return result
    x, y, w, h = (stats[idx, k].astype(np.float64) for k in range(4))
    inside = (x[None, :] >= x[:, None]) & ((x + w)[None, :] <= (x + w)[:, None]) & \
             (y[None, :] >= y[:, None]) & ((y + h)[None, :] <= (y + h)[:, None]) & \
             (h[None, :] >= cfg.contained_height * h[:, None])
    np.fill_diagonal(inside, False)
    result[idx[inside.any(axis=1)]] = True
    return result


def closing_size(size: DigitSize, cfg: InkConfig) -> int:
    """Gap size in px the component pass of the upright ink closes."""
    return max(1, int(size.height // cfg.close_divisor))


def window_reach(size: DigitSize, cfg: InkConfig) -> int:
    """How far (px) the ink window, and the upright copy turned from it, reach beyond the ink:
    ``window_reach`` digit heights, rounded up."""
    return int(math.ceil(cfg.window_reach * size.height))


def ink_window(light: Light, ink: Ink, size: DigitSize, frame_shape: tuple[int, int], cfg: InkConfig):
    """(the ink in `light.darkness`, grown by :func:`window_reach` within the working copy of
    `frame_shape` and 0 beyond the darkness; the window's top-left (x, y) in the copy), or (None, None)."""
    darkness, threshold, origin = light.darkness, ink.threshold, light.origin
    margin = window_reach(size, cfg)
    mask = darkness > threshold
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None, None
    ox, oy = origin
    y0, y1 = max(0, oy + rows[0] - margin), min(frame_shape[0], oy + rows[-1] + 1 + margin)
    x0, x1 = max(0, ox + cols[0] - margin), min(frame_shape[1], ox + cols[-1] + 1 + margin)
    window = np.zeros((y1 - y0, x1 - x0), np.float32)
    ya, yb = max(y0, oy), min(y1, oy + darkness.shape[0])
    xa, xb = max(x0, ox), min(x1, ox + darkness.shape[1])
    window[ya - y0: yb - y0, xa - x0: xb - x0] = darkness[ya - oy: yb - oy, xa - ox: xb - ox]
    return window, (int(x0), int(y0))


def clear_frame_border(light: Light, ink: Ink, work: Working, size: DigitSize, cfg: InkConfig) -> Light:
    """`light` with the darkness of the ink components the frame's edge cuts through zeroed (in
    place): what the frame cuts is mostly the scene beyond the page (a window, a hand, the desk's
    edge) or a digit only partly in view. A component is cut when it is no longer than
    ``border_max_size`` digit heights and, along a frame edge it touches, its pixels within
    ``border_band`` digit heights of that edge span ``border_cut_share`` of its extent or more."""
    mask, (ox, oy) = ink.mask, light.origin
    frame_h, frame_w = work.grey.shape
    rows, cols = mask.shape
    sides = {"left": ox == 0 and mask[:, 0].any(), "right": ox + cols >= frame_w and mask[:, -1].any(),
             "top": oy == 0 and mask[0].any(), "bottom": oy + rows >= frame_h and mask[-1].any()}
    if not any(sides.values()):
        return light
    labels, stats = components(mask)
    band = max(cfg.border_band_min, int(cfg.border_band * size.height))
    x, y, w, h = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    touching = ((sides["left"] & (x == 0)) | (sides["right"] & (x + w >= cols))
                | (sides["top"] & (y == 0)) | (sides["bottom"] & (y + h >= rows)))
    touching &= np.maximum(w, h) <= cfg.border_max_size * size.height
    for i in np.flatnonzero(touching):
        sx, sy, sw, sh = (int(v) for v in stats[i, :4])
        own = labels[sy: sy + sh, sx: sx + sw] == i + 1
        spans = []
        for on_edge, strip, along, extent in ((sides["left"] and sx == 0, own[:, :band], 1, sh),
                                              (sides["right"] and sx + sw >= cols, own[:, -band:], 1, sh),
                                              (sides["top"] and sy == 0, own[:band], 0, sw),
                                              (sides["bottom"] and sy + sh >= rows, own[-band:], 0, sw)):
            if on_edge:
                hit = np.flatnonzero(strip.any(axis=along))
                spans.append((hit[-1] - hit[0] + 1) / extent if hit.size else 0.0)
        if max(spans) >= cfg.border_cut_share:
            light.darkness[sy: sy + sh, sx: sx + sw][own] = 0.0
    return light

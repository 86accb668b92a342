"""Stage 2, the light: estimate the paper's brightness everywhere (grey closing + smoothing on a
small copy) and turn the paper's bounding box into *relative darkness* ``(paper - grey) / paper``:
shadows, vignetting and exposure cancel out, and ink 55 on paper 90 is as visible as black on white."""

from __future__ import annotations

import numpy as np

from .arrays import block_sums, linear_upscale, opencv
from .config import LightConfig
from .records import Light, Page


def relative_darkness(grey: np.ndarray, page: Page, cfg: LightConfig) -> Light:
    """((paper brightness - grey) / paper brightness, 0 outside the paper) over the paper's bounding
    box (the whole copy without a paper), with the box's top-left and the paper mask cut to it."""
    cv2 = opencv()
    paper = page.mask
    # Integer block sums, min/max filters and unnormalized box sums of integers are exact in float64,
    # and the upscale is plain numpy element-wise arithmetic: the same bits on every CPU (uint8
    # cv2.resize differs by one grey level between x86 and ARM SIMD paths, which moved thresholds).
    factor = max(1, min(max(grey.shape) // cfg.small_side, *grey.shape))
    small = block_sums(grey, factor)
    if small.dtype != np.uint16:  # very large factors: cv2 has no uint32 min/max filters
        small = small.astype(np.float64)
    inside = np.ones(small.shape, small.dtype) if paper is None else \
        (paper[::factor, ::factor][: small.shape[0], : small.shape[1]] > 0).astype(small.dtype)
    # Grey closing (max then min filter) removes dark strokes narrower than ~1/12 of the frame.
    # The desk is kept out of it (0 for the max, the largest sum for the min) and out of the
    # smoothing (weighted box sums), so the paper's own brightness is followed right up to its edge.
    # (Min/max filters on the uint16 sums: exact, and several times faster than on floats.)
    k = max(cfg.min_kernel, (max(small.shape) // cfg.closing) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    lifted = cv2.dilate(small * inside, kernel)
    closed = cv2.erode(np.where(inside > 0, lifted, small.dtype.type(255 * factor * factor)), kernel)
    closed, inside = closed.astype(np.float64), inside.astype(np.float64)
    weight = cv2.boxFilter(inside, cv2.CV_64F, (k, k), normalize=False)
    total = cv2.boxFilter(closed * inside, cv2.CV_64F, (k, k), normalize=False)
    background = np.where(weight > 0.5, total / np.maximum(weight, 1.0), closed) / (factor * factor)
    x0, y0, x1, y1 = 0, 0, grey.shape[1], grey.shape[0]
    if paper is not None:
        x0, y0, w, h = cv2.boundingRect(paper)
        x1, y1 = x0 + w, y0 + h
    background = linear_upscale(background, grey.shape, (x0, y0, x1, y1))
    bg = np.clip(background, np.float32(cfg.min_background), None, out=background)  # np.maximum is 3x slower here
    window = grey[y0:y1, x0:x1]
    if paper is not None:  # off the paper grey becomes 255 (0/1 mask - 1 = 255/0): darkness 0 (or 1e-7)
        window = window | (paper[y0:y1, x0:x1] - np.uint8(1))
    darkness = window.astype(np.float32)
    np.subtract(bg, darkness, out=darkness)
    np.divide(darkness, bg, out=darkness)
    np.clip(darkness, 0.0, 1.0, out=darkness)
    origin = (int(x0), int(y0))
    if paper is not None:  # from here on only the paper's bounding box is looked at
        paper = paper[origin[1]: origin[1] + darkness.shape[0], origin[0]: origin[0] + darkness.shape[1]]
    return Light(darkness, origin, paper)

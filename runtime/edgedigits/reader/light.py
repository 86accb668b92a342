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
    box (the whole copy without a paper), with the box's top-left and the paper mask cut to it. A
    page read without its mask but parted by it (``page.region``: one side of a hard shadow's
    edge) has the paper's brightness estimated on each side apart (:func:`shadowed_light`), so
    that a step in the light stays a step instead of a ramp read as ink along the edge."""
    cv2 = opencv()
    paper = page.mask
    # Integer block sums, min/max filters and unnormalized box sums of integers are exact in float64,
    # and the upscale is plain numpy element-wise arithmetic: the same bits on every CPU (uint8
    # cv2.resize differs by one grey level between x86 and ARM SIMD paths, which moved thresholds).
    factor = max(1, min(max(grey.shape) // cfg.small_side, *grey.shape))
    small = block_sums(grey, factor)
    if small.dtype != np.uint16:  # very large factors: cv2 has no uint32 min/max filters
        small = small.astype(np.float64)
    x0, y0, x1, y1 = 0, 0, grey.shape[1], grey.shape[0]
    if paper is not None:
        x0, y0, w, h = cv2.boundingRect(paper)
        x1, y1 = x0 + w, y0 + h
    if paper is None and page.region is not None:
        background = shadowed_light(grey.shape, small, page.region, factor, cfg)
    else:
        inside = np.ones(small.shape, small.dtype) if paper is None else \
            (_blocks(paper, factor, small.shape) > 0).astype(small.dtype)
        background = linear_upscale(paper_light(small, inside, factor, cfg), grey.shape, (x0, y0, x1, y1))
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


def paper_light(small: np.ndarray, inside: np.ndarray, factor: int, cfg: LightConfig) -> np.ndarray:
    """The paper's brightness (float64 grey levels) on the copy of `factor`-px block sums `small`,
    estimated from the pixels where `inside` (0/1, `small`'s dtype) is 1 only: a grey closing
    removes dark strokes narrower than 1/``closing`` of the copy, a box smoothing as wide evens it.
    Elsewhere near them it is their light carried over; far away, white."""
    cv2 = opencv()
    # The pixels not inside are kept out of the closing (0 for the max, white for the min) and out
    # of the smoothing (weighted box sums), so the paper's own brightness is followed right up to
    # its edge. (Min/max filters on the uint16 sums: exact, and several times faster than on floats.)
    k = max(cfg.min_kernel, (max(small.shape) // cfg.closing) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    lifted = cv2.dilate(small * inside, kernel)
    closed = cv2.erode(np.where(inside > 0, lifted, small.dtype.type(255 * factor * factor)), kernel)
    closed, inside = closed.astype(np.float64), inside.astype(np.float64)
    weight = cv2.boxFilter(inside, cv2.CV_64F, (k, k), normalize=False)
    total = cv2.boxFilter(closed * inside, cv2.CV_64F, (k, k), normalize=False)
    return np.where(weight > 0.5, total / np.maximum(weight, 1.0), closed) / (factor * factor)


def shadowed_light(shape: tuple[int, int], small: np.ndarray, region: np.ndarray, factor: int,
                   cfg: LightConfig) -> np.ndarray:
    """The paper's brightness (float32, `shape`) on a page parted by a hard shadow's edge: inside
    `region` (the page finder's page, lit or in shade; 0/1, `shape`) and beyond it, each side from
    its own pixels (:func:`paper_light` on the `factor`-px block sums `small`), upscaled apart and
    joined at full size (upscaled joined, the step would ramp over a small pixel). The band around
    the outline (:func:`outline_band`) feeds neither and takes the darker of the two: the edge
    itself is not ink, and ink there is measured against the paper in shade (so faint ink on the
    lit side of the band may fade; along the sheet's edge with a darker desk, against the desk's)."""
    inner, outer = outline_band(region, int(round(cfg.shadow_edge * max(shape))))

    def light_of(side: np.ndarray) -> np.ndarray:
        inside = _blocks(side, factor, small.shape).astype(small.dtype)
        return linear_upscale(paper_light(small, inside, factor, cfg), shape, (0, 0, shape[1], shape[0]))

    inside, beyond = light_of(inner), light_of(outer)
    return np.where(inner > 0, inside, np.where(outer > 0, beyond, np.minimum(inside, beyond)))


def outline_band(region: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """(the nonzero pixels of `region` more than `reach` px inside its outline, the pixels more
    than `reach` px beyond it), 0/1 uint8. Square neighbourhoods: separable, fast on a 4000 px copy."""
    cv2 = opencv()
    region = (region > 0).view(np.uint8)
    if reach == 0:
        return region, 1 - region
    square = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    inner, outer = cv2.erode(region, square), 1 - cv2.dilate(region, square)
    return inner, outer


def _blocks(mask: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """`mask` at the first pixel of each `factor`-px block, cut to the block sums' `shape`."""
    return mask[::factor, ::factor][: shape[0], : shape[1]]

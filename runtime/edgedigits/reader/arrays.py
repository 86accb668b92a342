"""Small numeric helpers of the frame reader: exact, fast replacements for numpy/OpenCV calls the
reader makes on many small arrays, and the bit-exact resampling it relies on (the same bits on
every CPU). None of them holds a tuned number."""

from __future__ import annotations

import functools
import statistics

import numpy as np

SQUARE_3 = np.ones((3, 3), np.uint8)  # the 8-neighbourhood: one pixel of growth or shrinkage


class CameraDependencyError(ImportError):
    """OpenCV is needed for reading frames but is not installed."""


@functools.cache
def opencv():
    """The cv2 module (quiet, with the decoders' pixel limit set), or CameraDependencyError saying
    how to install it. Cached: every stage asks for it."""
    from ..imageio import OPENCV_HINT, quiet_cv2

    try:
        return quiet_cv2()
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CameraDependencyError(f"reading digits in camera frames needs OpenCV: {OPENCV_HINT}") from exc


def validate_frame(frame) -> np.ndarray:
    """`frame` as an (H, W) grey or (H, W, 3|4) colour uint8 array, or TypeError/ValueError."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame: expected a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"frame: expected dtype uint8, got {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (3, 4))):
        raise ValueError(f"frame: expected shape (H, W) grey or (H, W, 3|4) colour, got {frame.shape}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"frame: expected a non-empty image, got shape {frame.shape}")
    return frame


def stroke_width(binary: np.ndarray) -> float:
    """Mean stroke width of a 0/1 uint8 shape: its area over half its perimeter (boundary pixels)."""
    cv2 = opencv()
    area = cv2.countNonZero(binary)
    if area == 0:
        return 0.0
    inner = cv2.erode(binary, SQUARE_3, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    edge = area - cv2.countNonZero(inner)
    return 2.0 * area / max(edge, 1)


def member(labels: np.ndarray, wanted: list[int]) -> np.ndarray:
    """uint8 mask of the pixels whose label is in `wanted` (np.isin, but fast for a few labels)."""
    mask = labels == wanted[0]
    for label in wanted[1:]:
        mask |= labels == label
    return mask.view(np.uint8)


def ink_height(mask: np.ndarray) -> int:
    """Rows from the first to the last one holding ink (0 for an empty mask)."""
    rows = np.flatnonzero(mask.any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def percentile(values: np.ndarray, q: float) -> float:
    """np.percentile(values, q) of a flattened array (linear method, the same lerp), without its overhead:
    the reader takes percentiles of many small arrays."""
    values = values.ravel()
    position = q / 100 * (values.size - 1)
    lo = int(position)
    hi = min(lo + 1, values.size - 1)
    part = np.partition(values, (lo, hi))
    a, b, t = part[lo], part[hi], position - lo
    return float(a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t))


def uint8_medians(image: np.ndarray, mask: np.ndarray, everything: np.ndarray | None = None) -> tuple[float, float]:
    """(np.median(image[mask > 0]), np.median(image[mask == 0])) of a uint8 image, from histograms
    instead of two sorts. `everything`: the image's histogram (:func:`uint8_histogram`), if known."""
    cv2 = opencv()
    if everything is None:
        everything = uint8_histogram(image)
    if mask.dtype != np.uint8:
        mask = (mask > 0).view(np.uint8)
    inside = uint8_histogram(image, mask)
    return histogram_median(inside), histogram_median(everything - inside)


def uint8_histogram(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Counts of each value 0..255 of a uint8 image (within the 0/1 uint8 `mask`, if given)."""
    return opencv().calcHist([image], [0], mask, [256], [0, 256]).ravel()


def histogram_median(counts: np.ndarray) -> float:
    total = int(counts.sum())
    if total == 0:
        return float("nan")
    cumulative = np.cumsum(counts)
    lower = int(np.searchsorted(cumulative, (total - 1) // 2, side="right"))
    upper = int(np.searchsorted(cumulative, total // 2, side="right"))
    return (lower + upper) / 2


def histogram_percentile(counts: np.ndarray, q: float) -> int:
    """The `q`-th percentile of the values a histogram counts (`counts[v]` of value v), the value
    at position floor(q / 100 (n - 1)) of the n sorted (np.percentile's "lower" method)."""
    cumulative = np.cumsum(counts)
    return int(np.searchsorted(cumulative, q / 100 * (cumulative[-1] - 1), side="right"))


def array_median(values: np.ndarray) -> float:
    """np.median of a flattened array (the mean of the middle two for an even count), by partitioning."""
    values = values.ravel()
    n = values.size
    if n % 2:
        return float(np.partition(values, n // 2)[n // 2])
    part = np.partition(values, (n // 2 - 1, n // 2))
    return float((part[n // 2 - 1] + part[n // 2]) / 2)


def median(values) -> float:
    """Median of a short Python sequence (np.median costs ~20 us of overhead per call)."""
    return float(statistics.median(values))


def block_sums(image: np.ndarray, factor: int) -> np.ndarray:
    """Integer sums of a uint8 image over factor x factor blocks (the remainder rows/columns are
    dropped), exact on any CPU. Strided adds, rows first, then columns: much faster than a 4-d
    reshape and sum."""
    h, w = image.shape[0] // factor, image.shape[1] // factor
    image = image[: h * factor, : w * factor]
    rows = image[0::factor].astype(np.uint16 if factor <= 15 else np.uint32)  # 15*15*255 + rounding fits
    for dy in range(1, factor):
        rows += image[dy::factor]
    sums = rows[:, 0::factor].copy()
    for dx in range(1, factor):
        sums += rows[:, dx::factor]
    return sums


def block_means(image: np.ndarray, factor: int) -> np.ndarray:
    """`image` averaged over `factor` x `factor` blocks, rounded to uint8 (integer arithmetic on
    :func:`block_sums`: the same bits on every CPU)."""
    count = factor * factor
    return ((block_sums(image, factor) + count // 2) // count).astype(np.uint8)


def labelled(mask: np.ndarray, connectivity: int):
    """cv2.connectedComponentsWithStats with Grana's algorithm named: the same labels and stats as
    the default, at a third of the CPU time (OpenCV 5's default path is much slower with stats)."""
    cv2 = opencv()
    return cv2.connectedComponentsWithStatsWithAlgorithm(mask, connectivity, cv2.CV_32S, cv2.CCL_GRANA)


def nearest_upscale(small: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """Each block of a :func:`block_sums` image back to full size (edge blocks repeated)."""
    cv2 = opencv()
    h, w = small.shape
    # INTER_NEAREST_EXACT is integer arithmetic: source pixel floor((x + 0.5) / factor) = x // factor.
    big = cv2.resize(small, (w * factor, h * factor), interpolation=cv2.INTER_NEAREST_EXACT)
    return cv2.copyMakeBorder(big, 0, shape[0] - big.shape[0], 0, shape[1] - big.shape[1], cv2.BORDER_REPLICATE)


def linear_taps(n_out: int, n_in: int):
    """Source indices and weights of bilinear resampling with pixel centres aligned (like cv2 INTER_LINEAR)."""
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n_in - 1)
    t = (pos - lo).astype(np.float32)
    return lo, hi, t


def linear_upscale(small: np.ndarray, shape: tuple[int, int], window: tuple[int, int, int, int]) -> np.ndarray:
    """The window x0 <= x < x1, y0 <= y < y1 of a float32 bilinear upscale of `small` to `shape`, with
    numpy element-wise operations only (IEEE-exact, no FMA, no SIMD variance)."""
    x0, y0, x1, y1 = window
    small = small.astype(np.float32)
    # Columns first, on the few rows of `small` (column gathers are slow); then whole rows.
    lo, hi, t = (taps[x0:x1] for taps in linear_taps(shape[1], small.shape[1]))
    cols = small[:, lo] * (1 - t)[None, :] + small[:, hi] * t[None, :]
    lo, hi, t = (taps[y0:y1] for taps in linear_taps(shape[0], small.shape[0]))
    out = cols[lo]  # in place from here: fewer full-size temporaries
    out *= (1 - t)[:, None]
    below = cols[hi]
    below *= t[:, None]
    out += below
    return out


def warp_pixels(image: np.ndarray, inverse: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Bilinear samples (0 outside the source) of `image` at output pixels (ys, xs) mapped by
    `inverse`, with numpy element-wise float32 operations: the same bits on every CPU, unlike
    cv2.warpAffine whose SIMD kernels may fuse multiply-adds differently on x86 and ARM.
    ys and xs may be any arrays that broadcast together."""
    m = inverse.astype(np.float32)
    xs, ys = xs.astype(np.float32), ys.astype(np.float32)
    sx = (xs * m[0, 0] + m[0, 2]) + ys * m[0, 1]
    sy = (xs * m[1, 0] + m[1, 2]) + ys * m[1, 1]
    return bilinear_at(image, sx, sy)


def bilinear_at(image: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    h, w = image.shape
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = sx - x0, sy - y0
    x0, y0 = x0.astype(np.int32), y0.astype(np.int32)
    valid = (x0 >= -1) & (x0 <= w - 1) & (y0 >= -1) & (y0 <= h - 1)
    padded = np.zeros((h + 2, w + 2), np.float32)  # a zero ring, so neighbours just outside read 0
    padded[1:-1, 1:-1] = image
    flat = padded.ravel()
    index = np.where(valid, (y0 + 1) * (w + 2) + (x0 + 1), 0)
    top = flat[index] * (1 - fx) + flat[index + 1] * fx
    bottom = flat[index + w + 2] * (1 - fx) + flat[index + w + 3] * fx
    value = top * (1 - fy) + bottom * fy
    value[~valid] = 0.0
    return value


def active_tiles(active: np.ndarray, inverse: np.ndarray, window: tuple[int, int, int, int], reach: int,
                  tile: int):
    """Top-left (ys, xs) of the window's `tile` x `tile` tiles (laid from the window's top-left) that
    come within `reach` px of where an `active` source pixel lands (the output pixel = source pixel
    at inverse @ (x, y, 1)). Tiles may stick out past the window's right and bottom edges."""
    h, w = active.shape
    x_start, y_start, x_stop, y_stop = window
    rows, cols = -(-h // tile), -(-w // tile)
    blocks = np.zeros((rows * tile, cols * tile), np.uint8)
    blocks[:h, :w] = active
    # Max over the tile's rows, then over its columns: contiguous reductions, 4x faster than any(axis=(1, 3)).
    blocks = blocks.reshape(rows, tile, cols * tile).max(axis=1).reshape(rows, cols, tile).max(axis=2) > 0
    counts = np.zeros((rows + 1, cols + 1), np.int32)  # 2-D prefix sums: active blocks in any rectangle
    counts[1:, 1:] = blocks.cumsum(axis=0).cumsum(axis=1)
    tile_y, tile_x = np.meshgrid(np.arange(y_start, y_stop, tile), np.arange(x_start, x_stop, tile), indexing="ij")
    tile_y, tile_x = tile_y.ravel(), tile_x.ravel()
    corners_x = np.stack([tile_x, tile_x + tile - 1, tile_x, tile_x + tile - 1]).astype(np.float64)
    corners_y = np.stack([tile_y, tile_y, tile_y + tile - 1, tile_y + tile - 1]).astype(np.float64)
    src_x = inverse[0, 0] * corners_x + inverse[0, 1] * corners_y + inverse[0, 2]
    src_y = inverse[1, 0] * corners_x + inverse[1, 1] * corners_y + inverse[1, 2]
    # Bilinear neighbours lie within 1 px of the mapped point; 2 more for rounding; rotations keep distances.
    near = 2 + reach
    bx0 = np.clip(np.floor((src_x.min(axis=0) - near) / tile), 0, cols).astype(np.intp)
    bx1 = np.clip(np.floor((src_x.max(axis=0) + near + 1) / tile) + 1, 0, cols).astype(np.intp)
    by0 = np.clip(np.floor((src_y.min(axis=0) - near) / tile), 0, rows).astype(np.intp)
    by1 = np.clip(np.floor((src_y.max(axis=0) + near + 1) / tile) + 1, 0, rows).astype(np.intp)
    hits = counts[by1, bx1] - counts[by0, bx1] - counts[by1, bx0] + counts[by0, bx0]
    keep = hits > 0
    return tile_y[keep], tile_x[keep]


def open_by_line(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Morphological opening of a 0/1 mask by a line `length` px long along `axis` (1: rows, 0:
    columns). Only rows (columns) holding at least `length` ink pixels can keep anything, and each
    is opened on its own, so just those are processed."""
    cv2 = opencv()
    out = np.zeros_like(mask)
    if axis == 1:
        rows = np.flatnonzero(cv2.reduce(mask, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() >= length)
        if rows.size:
            out[rows] = cv2.morphologyEx(mask[rows], cv2.MORPH_OPEN, np.ones((1, length), np.uint8))
    else:
        cols = np.flatnonzero(cv2.reduce(mask, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() >= length)
        if cols.size:
            out[:, cols] = cv2.morphologyEx(np.ascontiguousarray(mask[:, cols]), cv2.MORPH_OPEN,
                                            np.ones((length, 1), np.uint8))
    return out


def close_by_line(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Morphological closing of a 0/1 mask by a line `length` px long along `axis` (1: rows, 0:
    columns): gaps shorter than that between ink on both sides filled. Off the mask is no ink
    (OpenCV's default border would count it as ink, and fill a gap that opens onto the border)."""
    cv2 = opencv()
    pad = ((length, length), (0, 0)) if axis == 0 else ((0, 0), (length, length))
    kernel = np.ones((length, 1) if axis == 0 else (1, length), np.uint8)
    closed = cv2.morphologyEx(np.pad(mask, pad), cv2.MORPH_CLOSE, kernel)
    return closed[length: -length] if axis == 0 else closed[:, length: -length]


def shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """`image` moved `dy` px down and `dx` px right (negative: up, left), blank where it moved from."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0): h + min(dy, 0), max(dx, 0): w + min(dx, 0)] = \
        image[max(-dy, 0): h + min(-dy, 0), max(-dx, 0): w + min(-dx, 0)]
    return out

"""Read handwritten digits in a camera frame: dark ink on light paper, on any desk, in any light.

Pipeline (all on a working copy at most ``max_side`` pixels wide):

1. grey conversion and downscaling (INTER_AREA, so huge frames cost bounded memory);
2. find the paper (the large bright region against a darker desk) so the desk's texture and the
   paper's edges are never read as ink;
3. estimate the paper's brightness everywhere (grey closing + blur on a small copy) and turn the
   paper's bounding box into *relative darkness* ``(paper - grey) / paper``: shadows, vignetting
   and exposure cancel out, and ink 55 on paper 90 is as visible as black on white;
4. threshold adaptively (from the ink level and the paper's noise), label connected components,
   drop specks, faint show-through and long straight lines (rules, box borders);
5. take the text direction from the paper's edges (neighbouring digits choose between the two
   edge directions; without a paper they give the direction too), cut out the window around the
   ink and rotate it upright (+-45 degrees), computing only the pixels near ink;
6. group components into lines and groups, merge fragments of one digit and join pieces of broken
   strokes, split touching digits where the classifier agrees (the best of up to three cuts), give
   thin strokes MNIST-like thickness, MNIST-normalize
   (:func:`edgedigits.preprocess.normalize_digit`) and classify all candidates in one batch;
7. report every digit with its confidence and its box in the original frame's pixels; candidates
   below ``reject_threshold`` are reported as ``?``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

import numpy as np

from .preprocess import normalize_ink


class CameraDependencyError(ImportError):
    """OpenCV is needed for reading frames but is not installed."""


def _cv2():
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CameraDependencyError(
            "reading digits in camera frames needs OpenCV, which is not installed: "
            "pip install 'edgedigits-runtime[camera]'") from exc
    return cv2


@dataclass(frozen=True)
class Digit:
    digit: int | None          # None when rejected (not confidently a digit)
    confidence: float          # the classifier's top probability
    box: tuple[int, int, int, int]  # x, y, w, h in the original frame's pixels

    def to_dict(self) -> dict:
        return {"digit": self.digit, "confidence": round(float(self.confidence), 6),
                "box": [int(v) for v in self.box]}


@dataclass(frozen=True)
class Line:
    """One row as the writer wrote it; `groups` are its parts between wide gaps (``12345  67891``)."""

    text: str                  # digits, '?' for a rejected candidate
    digits: list[Digit] = field(default_factory=list)
    groups: tuple[str, ...] = ()  # the text split at wide gaps ((text,) when there is none)

    def to_dict(self) -> dict:
        return {"text": self.text, "groups": list(self.groups or (self.text,)),
                "digits": [d.to_dict() for d in self.digits]}


@dataclass(frozen=True)
class ReadResult:
    lines: list[Line] = field(default_factory=list)
    warnings: tuple[str, ...] = ()  # why a frame was not read (or not wholly), for a person to see

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict:
        out = {"lines": [line.to_dict() for line in self.lines]}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True)
class ReaderConfig:
    reject_threshold: float = 0.5   # top probability below this -> '?'
    max_side: int = 2000            # frames are downscaled so the longer side is at most this
    min_digit_height: int = 8       # pixels in the working image
    min_contrast: float = 0.12      # relative darkness that can count as ink at all

    def __post_init__(self) -> None:
        if not 0.0 <= self.reject_threshold <= 1.0:
            raise ValueError(f"reject_threshold must be in [0, 1], got {self.reject_threshold}")
        if self.max_side < 64:
            raise ValueError(f"max_side must be at least 64 pixels, got {self.max_side}")
        if self.min_digit_height < 4:
            raise ValueError(f"min_digit_height must be at least 4 pixels, got {self.min_digit_height}")
        if not 0.0 < self.min_contrast < 1.0:
            raise ValueError(f"min_contrast must be in (0, 1), got {self.min_contrast}")




_SQUARE_3 = np.ones((3, 3), np.uint8)
_SQUARE_2 = np.ones((2, 2), np.uint8)
_GUESSED_HEIGHTS = (15.0, 30.0)  # pixels: digit heights to size rule removal for before any is measured
# Components the frame's edge cuts through are not read (the scene beyond the page: a window, a
# hand, the desk's edge; or a digit only partly in view): no longer than BORDER_CLEAR_SIZE digit
# heights, and along the edge they touch, their pixels within BORDER_BAND digit heights of it span at
# least BORDER_CUT_SHARE of their extent. A digit grazing the edge (a 4's bar) spans a stroke width;
# longer components (rules, page edges) are left to rule removal.
BORDER_CLEAR_SIZE = 3.5        # digit heights
BORDER_BAND = 0.1              # digit heights from the frame's edge
BORDER_CUT_SHARE = 0.4         # fraction of the component's extent along that edge
# Bounds on the work per frame, whatever it shows: grouping compares candidates pairwise, so a frame
# with more digit-sized candidates than MAX_CANDIDATES (a dense page has ~150 digits plus their
# fragments) is texture, and is not read; the text direction is taken from at most
# MAX_ANGLE_POINTS of the largest digit-sized components.
MAX_CANDIDATES = 600
MAX_ANGLE_POINTS = 300
TOO_MUCH_TEXTURE = "too much texture to read: more than {limit} digit-sized candidates"
# Digits are read at the size they need: a frame whose digits measure more than SHRINK_ABOVE_HEIGHT
# pixels in the working copy is shrunk so that they measure WORKING_DIGIT_HEIGHT, and read again
# (crops are 28x28 anyway; big digits on a 4000 px photo cost most of the time otherwise), but never
# below MIN_WORKING_SIDE on its longer side (the paper and light estimates are sized for frames).
SHRINK_ABOVE_HEIGHT = 64.0     # pixels
WORKING_DIGIT_HEIGHT = 48.0    # pixels
MIN_WORKING_SIDE = 640.0       # pixels
MAX_SHRINK_FACTOR = 0.8        # a copy less than 20% smaller is not worth reading again
# Orientation: a page's rows and columns are told apart by its neighbouring digits lying side by side;
# when fewer than ORIENTATION_SURE_SIDE of them more than half lean one way (scattered digits), the
# page is also read a quarter turn further and the reading whose mean confidence is higher by
# ORIENTATION_MARGIN wins. Pages with fewer than ORIENTATION_MIN_DIGITS digits are not compared.
ORIENTATION_MIN_DIGITS = 3
ORIENTATION_SURE_SIDE = 0.25   # fraction of neighbour pairs beyond half
ORIENTATION_MARGIN = 0.05      # mean top probability
# Upside down: digits turned half a turn read as other digits or as nothing clear, so a page whose
# reading is not sure (mean top probability below UPSIDE_DOWN_CHECK_BELOW, with at least
# UPSIDE_DOWN_MIN_DIGITS digits) is also read turned by 180 degrees, and that reading wins by
# ORIENTATION_MARGIN. (On the shared real photos, upright pages read 0.04-0.45 less sure turned
# over and never more; pages of 0, 1 and 8, the same both ways, tie and stay as they are. A few
# digits are too little evidence: an upright "7126" with an unsure 7 read "9116" turned over at 0.99.)
UPSIDE_DOWN_CHECK_BELOW = 0.95  # mean top probability
UPSIDE_DOWN_MIN_DIGITS = 6
# Lines: a row is followed along its length through the blobs of its last ROW_REACH digit heights
# (at most ROW_NEIGHBOURS of them); a blob joins the row it overlaps most vertically, by at least
# ROW_MIN_OVERLAP of the smaller height (rising and falling handwriting overlaps its row by less
# than half). Within a row, a gap wider than GROUP_GAP digit heights and GROUP_GAP_RATIO times the
# row's usual gap (its median gap, at least GROUP_MIN_USUAL_GAP digit heights) starts a new group:
# evenly spaced digits stay one group however wide their spacing. A group is kept apart in the
# JSON, not made a line of its own.
ROW_REACH = 3.0                # digit heights
ROW_NEIGHBOURS = 4             # blobs
ROW_MIN_OVERLAP = 0.3          # fraction of the smaller height
GROUP_GAP = 1.6                # digit heights
GROUP_GAP_RATIO = 3.0          # times the row's usual gap
GROUP_MIN_USUAL_GAP = 0.25     # digit heights
# Scattered digits of very different sizes (near and far on an oblique sheet): a blob down to
# SMALL_DIGIT_MIN_HEIGHT of the typical digit height is still read when it was written with the
# page's pen (stroke width within SAME_PEN_STROKE of the page's, ink as dark, and at least
# SMALL_DIGIT_MIN_STROKES stroke widths tall).
SMALL_DIGIT_MIN_HEIGHT = 0.2   # fraction of the typical digit height
SAME_PEN_STROKE = (0.6, 1.5)   # fractions of the page's median stroke width
SMALL_DIGIT_MIN_STROKES = 4.0  # stroke widths
# Texture (desk grain, glare on a glossy surface, sensor noise) thresholds into crowds of specks
# a few pixels wide; a pen leaves few. A candidate whose 3x3 cells of CLUTTER_CELL digit heights
# hold more than CLUTTER_MAX_DENSITY specks (components under SPECK_SIZE of a digit height both
# ways) per pixel is texture. (Desk texture on the shared real photos: a median of 7-19 per 1000 px
# around its digit-sized blobs, the grain of generated paper at most 3.2. At 5e-3 generated frames
# lose 6 of 2363 digits, at 1e-2 texture is read again: memocpr's photos fall from 61% to 43%.)
CLUTTER_CELL = 2.0             # digit heights
CLUTTER_MAX_DENSITY = 7e-3     # specks per pixel
SPECK_SIZE = 0.3               # fraction of the typical digit height
# A sheet on a desk: the desk's median brightness is at most DESK_MAX_BRIGHTNESS of the paper's.
DESK_MAX_BRIGHTNESS = 0.9      # fraction of the paper's median brightness (the desk's median)
# A paper's edge is a step in brightness; vignetting, a lamp's falloff or a soft shadow across the
# page is a ramp. Measured on the ~320 px copy the paper is found on, across the found region's
# outline (away from the frame's border): the median brightness 1-3 px inside minus 1-3 px outside
# must be at least PAPER_EDGE_MIN_JUMP of the paper's brightness, and at least PAPER_EDGE_MIN_SHARE
# of the difference 8-14 px inside minus outside. (On the shared real photos shading ramps measured
# shares of 0.12-0.25, real sheets on desks 0.32-0.80 with jumps of 4.8% and more; generated frames
# 0.49 and more.)
PAPER_EDGE_MIN_JUMP = 0.04     # fraction of the paper's brightness
PAPER_EDGE_MIN_SHARE = 0.28    # fraction of the contrast across the wider band
PAPER_EDGE_NEAR_PX = 3.0       # pixels of the ~320 px copy: the band that holds a step
PAPER_EDGE_STEP_PX = 4.0       # pixels of the ~320 px copy between samples along the outline
PAPER_EDGE_FAR_PX = (8.0, 14.0)  # pixels of the ~320 px copy: the band that holds the whole ramp


@dataclass
class _Blob:
    """One candidate (a digit or several touching ones) in the upright working image."""

    x: int
    y: int
    w: int
    h: int
    labels: list[int]
    ink: float = 0.0  # 75th percentile of the blob's relative darkness
    stroke: float = 0.0  # mean stroke width in pixels

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def right(self) -> int:
        return self.x + self.w

    def merge(self, other: "_Blob") -> None:
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1, y1 = max(self.right, other.right), max(self.bottom, other.bottom)
        self.x, self.y, self.w, self.h = x0, y0, x1 - x0, y1 - y0
        self.labels += other.labels


def _member(labels: np.ndarray, wanted: list[int]) -> np.ndarray:
    """uint8 mask of the pixels whose label is in `wanted` (np.isin, but fast for a few labels)."""
    mask = labels == wanted[0]
    for label in wanted[1:]:
        mask |= labels == label
    return mask.view(np.uint8)


def _logit(p: float) -> float:
    """log-odds of a probability clipped to [0.001, 0.999], so saturated confidences stay comparable."""
    p = min(max(float(p), 0.001), 0.999)
    return math.log(p / (1.0 - p))


def _split_margin(aspect: float, whole_conf: float, halves_conf: float, halves_height: float = 1.0) -> float:
    """How strongly a wide blob reads as two digits (> 0: split it). The classifier is confident on
    half a digit and on two squeezed digits alike, so its vote (the less sure half against the
    whole, in log-odds) is weighed against the blob's width in row heights and against the height
    of the shorter half (a fraction of the blob's): two digits side by side are both about as tall
    as the pair, while cutting one digit often leaves a short piece (a 7's bar, a 2's tail).
    Fitted on the split decisions of generated frames. With halves_conf=1 it bounds what any cut
    (of that shorter height) could reach."""
    return _logit(halves_conf) - _logit(whole_conf) + 3.0 * (aspect - 1.2) + 10.0 * (halves_height - 1.0)


def _ink_height(mask: np.ndarray) -> int:
    """Rows from the first to the last one holding ink (0 for an empty mask)."""
    rows = np.flatnonzero(mask.any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def _percentile(values: np.ndarray, q: float) -> float:
    """np.percentile(values, q) of a flattened array (linear method, the same lerp), without its overhead:
    the reader takes percentiles of many small arrays."""
    values = values.ravel()
    position = q / 100 * (values.size - 1)
    lo = int(position)
    hi = min(lo + 1, values.size - 1)
    part = np.partition(values, (lo, hi))
    a, b, t = part[lo], part[hi], position - lo
    return float(a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t))


def _uint8_medians(image: np.ndarray, mask: np.ndarray, everything: np.ndarray | None = None) -> tuple[float, float]:
    """(np.median(image[mask > 0]), np.median(image[mask == 0])) of a uint8 image, from histograms
    instead of two sorts. `everything`: the image's histogram (:func:`_uint8_histogram`), if known."""
    cv2 = _cv2()
    if everything is None:
        everything = _uint8_histogram(image)
    if mask.dtype != np.uint8:
        mask = (mask > 0).view(np.uint8)
    inside = cv2.calcHist([image], [0], mask, [256], [0, 256]).ravel()
    return _histogram_median(inside), _histogram_median(everything - inside)


def _uint8_histogram(image: np.ndarray) -> np.ndarray:
    return _cv2().calcHist([image], [0], None, [256], [0, 256]).ravel()


def _histogram_median(counts: np.ndarray) -> float:
    total = int(counts.sum())
    if total == 0:
        return float("nan")
    cumulative = np.cumsum(counts)
    lower = int(np.searchsorted(cumulative, (total - 1) // 2, side="right"))
    upper = int(np.searchsorted(cumulative, total // 2, side="right"))
    return (lower + upper) / 2


def _array_median(values: np.ndarray) -> float:
    """np.median of a flattened array (the mean of the middle two for an even count), by partitioning."""
    values = values.ravel()
    n = values.size
    if n % 2:
        return float(np.partition(values, n // 2)[n // 2])
    part = np.partition(values, (n // 2 - 1, n // 2))
    return float((part[n // 2 - 1] + part[n // 2]) / 2)


def _median(values) -> float:
    """Median of a short Python sequence (np.median costs ~20 us of overhead per call)."""
    return float(statistics.median(values))


def _block_sums(image: np.ndarray, factor: int) -> np.ndarray:
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


def _labelled(mask: np.ndarray, connectivity: int):
    """cv2.connectedComponentsWithStats with Grana's algorithm named: the same labels and stats as
    the default, at a third of the CPU time (OpenCV 5's default path is much slower with stats)."""
    cv2 = _cv2()
    return cv2.connectedComponentsWithStatsWithAlgorithm(mask, connectivity, cv2.CV_32S, cv2.CCL_GRANA)


def _nearest_upscale(small: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """Each block of a :func:`_block_sums` image back to full size (edge blocks repeated)."""
    cv2 = _cv2()
    h, w = small.shape
    # INTER_NEAREST_EXACT is integer arithmetic: source pixel floor((x + 0.5) / factor) = x // factor.
    big = cv2.resize(small, (w * factor, h * factor), interpolation=cv2.INTER_NEAREST_EXACT)
    return cv2.copyMakeBorder(big, 0, shape[0] - big.shape[0], 0, shape[1] - big.shape[1], cv2.BORDER_REPLICATE)


def _linear_taps(n_out: int, n_in: int):
    """Source indices and weights of bilinear resampling with pixel centres aligned (like cv2 INTER_LINEAR)."""
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n_in - 1)
    t = (pos - lo).astype(np.float32)
    return lo, hi, t


def _linear_upscale(small: np.ndarray, shape: tuple[int, int], window: tuple[int, int, int, int]) -> np.ndarray:
    """The window x0 <= x < x1, y0 <= y < y1 of a float32 bilinear upscale of `small` to `shape`, with
    numpy element-wise operations only (IEEE-exact, no FMA, no SIMD variance)."""
    x0, y0, x1, y1 = window
    small = small.astype(np.float32)
    # Columns first, on the few rows of `small` (column gathers are slow); then whole rows.
    lo, hi, t = (taps[x0:x1] for taps in _linear_taps(shape[1], small.shape[1]))
    cols = small[:, lo] * (1 - t)[None, :] + small[:, hi] * t[None, :]
    lo, hi, t = (taps[y0:y1] for taps in _linear_taps(shape[0], small.shape[0]))
    out = cols[lo]  # in place from here: fewer full-size temporaries
    out *= (1 - t)[:, None]
    below = cols[hi]
    below *= t[:, None]
    out += below
    return out


def _warp_pixels(image: np.ndarray, inverse: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Bilinear samples (0 outside the source) of `image` at output pixels (ys, xs) mapped by
    `inverse`, with numpy element-wise float32 operations: the same bits on every CPU, unlike
    cv2.warpAffine whose SIMD kernels may fuse multiply-adds differently on x86 and ARM.
    ys and xs may be any arrays that broadcast together."""
    m = inverse.astype(np.float32)
    xs, ys = xs.astype(np.float32), ys.astype(np.float32)
    sx = (xs * m[0, 0] + m[0, 2]) + ys * m[0, 1]
    sy = (xs * m[1, 0] + m[1, 2]) + ys * m[1, 1]
    return _bilinear_at(image, sx, sy)


def _bilinear_at(image: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
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


def _active_tiles(active: np.ndarray, inverse: np.ndarray, window: tuple[int, int, int, int], reach: int,
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


def _is_step_edge(small: np.ndarray, hull: np.ndarray) -> bool:
    """Whether the outline `hull` ((N, 2) convex polygon, pixels of `small`) of a region in the
    blurred grey `small` is a brightness step (a paper's edge) rather than a ramp (shading): see
    PAPER_EDGE_MIN_JUMP and PAPER_EDGE_MIN_SHARE. Brightness is sampled across the outline every
    PAPER_EDGE_STEP_PX along it, away from the frame's border; True when nothing is left to sample
    (the outline runs along the frame's border)."""
    points = hull.reshape(-1, 2).astype(np.float64)
    edges = np.roll(points, -1, axis=0) - points
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    real = lengths >= 1
    if not real.any():
        return True
    points, edges, lengths = points[real], edges[real], lengths[real]
    normals = np.stack([-edges[:, 1], edges[:, 0]], axis=1) / lengths[:, None]
    inwards = np.einsum("ij,ij->i", points.mean(axis=0) - points, normals) >= 0  # a convex outline
    normals[~inwards] *= -1
    counts = np.maximum(1, (lengths // PAPER_EDGE_STEP_PX).astype(np.intp))
    edge = np.repeat(np.arange(len(points)), counts)
    along = (np.arange(edge.size) - np.repeat(np.cumsum(counts) - counts, counts) + 0.5) / counts[edge]
    samples = points[edge] + along[:, None] * edges[edge]
    normals = normals[edge]
    near = np.arange(1.0, PAPER_EDGE_NEAR_PX + 1)
    far = np.linspace(*PAPER_EDGE_FAR_PX, 3)
    reach = PAPER_EDGE_FAR_PX[1]
    h, w = small.shape
    keep = np.all((samples - reach * np.abs(normals) >= 3) & (samples + reach * np.abs(normals) <= [w - 4, h - 4]),
                  axis=1)  # both sides on the frame, clear of its border
    if not keep.any():
        return True
    samples, normals = samples[keep], normals[keep]

    def level(offsets: np.ndarray) -> float:
        at = samples[:, None, :] + offsets[None, :, None] * normals[:, None, :]
        return float(np.median(small[np.rint(at[..., 1]).astype(np.intp), np.rint(at[..., 0]).astype(np.intp)]))

    jump = level(near) - level(-near)
    ramp = level(far) - level(-far)
    return jump >= PAPER_EDGE_MIN_JUMP * level(far) and jump >= PAPER_EDGE_MIN_SHARE * ramp


def _no_stage(name: str, value) -> None:
    """The stage hook of readings that are only compared (the debug pictures show the first one)."""


def _orientation_score(result: ReadResult) -> float:
    """Mean top probability of a reading's digits (0 for none): how sure the classifier was."""
    confidences = [d.confidence for line in result.lines for d in line.digits]
    return float(np.mean(confidences)) if confidences else 0.0


def _open_by_line(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """Morphological opening of a 0/1 mask by a line `length` px long along `axis` (1: rows, 0:
    columns). Only rows (columns) holding at least `length` ink pixels can keep anything, and each
    is opened on its own, so just those are processed."""
    cv2 = _cv2()
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


def _validate_frame(frame) -> np.ndarray:
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


class FrameReader:
    """Reads lines of handwritten digits in camera frames with any digit classifier.

    ``classifier`` is any object with ``predict(images)`` taking (N, 28, 28) float32 MNIST-style
    images and returning something with ``probabilities`` of shape (N, 10).
    """

    def __init__(self, classifier, *, reject_threshold: float = 0.5, max_side: int = 2000,
                 min_digit_height: int = 8, min_contrast: float = 0.12):
        if not callable(getattr(classifier, "predict", None)):
            raise TypeError(f"classifier: expected an object with a predict(images) method, "
                            f"got {type(classifier).__name__}")
        self.classifier = classifier
        self.config = ReaderConfig(reject_threshold, max_side, min_digit_height, min_contrast)
        self._cv2 = _cv2()

    # ------------------------------------------------------------------ public
    def read(self, frame: np.ndarray, debug: dict | None = None) -> ReadResult:
        """The lines of digits in `frame` ((H, W) grey or (H, W, 3|4) BGR(A) uint8).

        `debug`, a dict, receives each stage's intermediate result as it is computed (the working
        grey copy, the paper mask, the relative darkness, the ink masks, the removed rules, the
        candidates and their lines, the crops with their readings): :mod:`edgedigits.debug`
        draws them, and ``edgedigits read --debug DIR`` writes them as pictures.
        """
        cv2 = self._cv2
        frame = _validate_frame(frame)

        def stage(name: str, value) -> None:
            if debug is not None:
                if name == "grey":  # a shrunk copy is read again: its stages replace the first ones
                    debug.clear()
                debug[name] = value

        grey = frame if frame.ndim == 2 else cv2.cvtColor(
            frame, cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
        scale = min(1.0, self.config.max_side / max(grey.shape))
        if scale < 1.0:
            size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return self._read_grey(grey, scale, frame.shape, stage, rescale=True)

    def _read_grey(self, grey: np.ndarray, scale: float, frame_shape, stage, rescale: bool,
                   known_height: float | None = None) -> ReadResult:
        """Read the working grey copy (`scale` of the frame); with `rescale`, once the digits' height
        is measured, a copy with digits much taller than needed is shrunk and read instead (with
        the height measured here as `known_height`, for when the shrunk copy cannot measure it)."""
        cv2 = self._cv2
        if grey.shape[0] < self.config.min_digit_height or grey.shape[1] < 4 or int(grey.max()) - int(grey.min()) < 10:
            return ReadResult([])
        stage("grey", grey)

        paper, paper_hull = self._paper_mask(grey)
        stage("paper", paper)
        darkness, paper_origin = self._relative_darkness(grey, paper)
        stage("darkness", (darkness, paper_origin))  # (its paper edge is cleared in place below)
        if paper is not None:  # from here on only the paper's bounding box is looked at
            paper = paper[paper_origin[1]: paper_origin[1] + darkness.shape[0],
                          paper_origin[0]: paper_origin[0] + darkness.shape[1]]
        threshold, ink_level = self._ink_threshold(darkness, paper, paper_origin, grey.size)
        if threshold is None:
            return ReadResult([])
        mask = (darkness > threshold).view(np.uint8)
        stage("ink", (mask, paper_origin, threshold))
        _, stats = self._components(mask, with_labels=False)
        mask_stats = stats
        height = self._typical_height(stats)
        if height is None and (stats[:, 2:4].max(axis=1, initial=0) >= 2.5 * _GUESSED_HEIGHTS[0]).any():
            # Digits written across a rule join it into one long component, so nothing looks like
            # a digit yet: take out long thin straight strokes first, sized for digits of 15 and of
            # 30 pixels, and keep the taller measurement (a rule sized too small only cuts digits
            # into pieces). This mask only serves to measure; the one that is read is made below.
            found = []
            for guess in _GUESSED_HEIGHTS:
                _, guess_stats = self._components(self._remove_long_lines(mask, guess)[0], with_labels=False)
                guess_height = self._typical_height(guess_stats)
                if guess_height is not None:
                    found.append((guess_height, guess_stats))
            if found:
                height, stats = max(found, key=lambda f: f[0])
        height = height or known_height
        if height is None:
            return ReadResult([])
        factor = max(WORKING_DIGIT_HEIGHT / height, MIN_WORKING_SIDE / max(grey.shape))
        if rescale and height > SHRINK_ABOVE_HEIGHT and factor < MAX_SHRINK_FACTOR:
            size = (max(1, round(grey.shape[1] * factor)), max(1, round(grey.shape[0] * factor)))
            small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
            return self._read_grey(small, scale * small.shape[1] / grey.shape[1], frame_shape, stage, rescale=False,
                                   known_height=height * small.shape[1] / grey.shape[1])

        if paper is not None:
            self._clear_paper_edge(darkness, paper, paper_origin, grey.shape, 0.35 * height)
        self._clear_frame_border(darkness, mask, mask_stats, paper_origin, grey.shape, height)
        angle, sure = self._text_angle(stats, height, paper_hull)
        args = (darkness, threshold, ink_level, height, stats, paper_origin, grey.shape, scale, frame_shape)
        result = self._read_upright(angle, *args, stage)
        angles = [angle]
        if not sure:
            # Scattered digits do not tell a page's rows from its columns: read it turned the other
            # way of the two the angle allows, and keep the reading the classifier is surer of.
            angles.append(angle - 90 if angle > 0 else angle + 90)
        for other_angle in angles[1:]:
            result = self._surer(result, self._read_upright(other_angle, *args, _no_stage))
        if (sum(len(line.digits) for line in result.lines) >= UPSIDE_DOWN_MIN_DIGITS
                and _orientation_score(result) < UPSIDE_DOWN_CHECK_BELOW):
            for turned_angle in (a + 180 for a in angles):
                result = self._surer(result, self._read_upright(turned_angle, *args, _no_stage))
        return result

    @staticmethod
    def _surer(result: ReadResult, other: ReadResult) -> ReadResult:
        """`other` if the classifier is surer of it by ORIENTATION_MARGIN, else `result`."""
        return other if _orientation_score(other) > _orientation_score(result) + ORIENTATION_MARGIN else result

    def _read_upright(self, angle, darkness, threshold, ink_level, height, stats, paper_origin, grey_shape, scale,
                      frame_shape, stage) -> ReadResult:
        """Turn the ink by `angle`, take out rules and boxes, find, group and classify the digits."""
        # From here on only the window around the ink is processed (and rotated).
        darkness, offset = self._ink_window(darkness, threshold, int(math.ceil(height)), paper_origin, grey_shape)
        if darkness is None:
            return ReadResult([])
        rotation = None
        close = max(1, int(height // 14))  # gap size the last component pass closes
        if abs(angle) > 1.5:
            # Crops look 1 px beyond the closed components.
            darkness, rotation = self._rotate(darkness, angle, threshold, reach=close // 2 + 2,
                                              margin=int(math.ceil(height)))
        mask = (darkness > threshold).view(np.uint8)
        # Boxes around digits and long rules are bigger than any digit: without such a component in
        # the first pass there is nothing to erase (a 1.2 h component rotated is at most 1.7 h long).
        if (stats[:, 2:4].max(axis=1) > 1.2 * height).any():
            mask, longest = self._erase_frame_borders(mask)
        else:
            longest = 0
        mask, rules = self._remove_long_lines(mask, height, hough=longest >= 2.5 * height)
        stage("upright", (mask, rules, angle))
        labels, stats = self._components(mask, close=close)
        height = self._typical_height(stats) or height
        blobs = self._candidate_blobs(labels, stats, darkness, threshold, ink_level, height, rules)
        if blobs is None:
            return ReadResult([], (TOO_MUCH_TEXTURE.format(limit=MAX_CANDIDATES),))
        lines = self._group_lines(blobs)
        stage("lines", (darkness, lines, height))
        return self._classify_lines(lines, labels, darkness, threshold, ink_level, rotation, offset, scale,
                                    frame_shape, stage)

    # ------------------------------------------------------------------ steps
    def _paper_mask(self, grey: np.ndarray):
        """(mask, convex hull) of the paper in the working image, (None, None) when it fills the frame."""
        cv2 = self._cv2
        factor = max(1, min(int(round(max(grey.shape) / 320)), *grey.shape))
        count = factor * factor
        small = ((_block_sums(grey, factor) + count // 2) // count).astype(np.uint8)
        small = cv2.GaussianBlur(small, (5, 5), 0)
        level, bright = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        count, labels = cv2.connectedComponentsWithAlgorithm(bright, 4, cv2.CV_32S, cv2.CCL_SAUF)
        if count < 2:
            return None, None
        # Areas by bincount: OpenCV 5's stats pass costs twice the labelling itself.
        biggest = 1 + int(np.argmax(np.bincount(labels.ravel(), minlength=count)[1:]))
        region = (labels == biggest).view(np.uint8)
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        outline = max(contours, key=cv2.contourArea)
        hull = cv2.convexHull(outline)
        filled = np.zeros_like(region)
        cv2.fillConvexPoly(filled, hull, 1)
        # Grow the paper into its shadowed parts: anything clearly brighter than the desk that
        # touches the bright region.
        histogram = _uint8_histogram(small)
        paper_level, desk_level = _uint8_medians(small, region, histogram)
        grow_level = desk_level + 0.35 * (paper_level - desk_level)
        _, wide = cv2.threshold(small, grow_level, 1, cv2.THRESH_BINARY)
        if math.floor(grow_level) <= level:
            # 8-bit thresholds compare with floor(level): the bright region lies within `wide`, so
            # (being connected) within exactly one of its 4-connected components: flood it from
            # any pixel of the region.
            x, y = outline[0, 0]
            flooded = np.zeros((wide.shape[0] + 2, wide.shape[1] + 2), np.uint8)
            cv2.floodFill(wide, flooded, (int(x), int(y)), 1, 0, 0, 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8))
            grown = flooded[1:-1, 1:-1]
        else:
            count, wide_labels = cv2.connectedComponentsWithAlgorithm(wide, 4, cv2.CV_32S, cv2.CCL_SAUF)
            touching = np.bincount(wide_labels[region > 0], minlength=count) > 0
            touching[0] = False
            grown = touching.view(np.uint8)[wide_labels] if touching.any() else None
        if grown is not None:
            contours, _ = cv2.findContours(grown, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            grown_hull = cv2.convexHull(max(contours, key=cv2.contourArea))
            grown_filled = np.zeros_like(grown)
            cv2.fillConvexPoly(grown_filled, grown_hull, 1)
            # Growing may only recover shadowed paper, not leak into a lighter part of the desk.
            if cv2.countNonZero(grown_filled) <= 1.3 * cv2.countNonZero(filled):
                hull, filled = grown_hull, grown_filled
        inside = int(np.count_nonzero(filled))
        if small.size - inside < 0.03 * small.size or inside < 0.05 * small.size:
            return None, None
        # A desk must be clearly darker than the paper, else the "paper" is just the bright half.
        inside_level, outside_level = _uint8_medians(small, filled, histogram)
        if outside_level > DESK_MAX_BRIGHTNESS * inside_level:
            return None, None
        if not _is_step_edge(small, hull):  # the bright part of an evenly lit page, not a sheet
            return None, None
        # Stay clear of the paper's edge: blur, JPEG and the coarse mask make it look like ink.
        margin = max(2, int(round(0.006 * max(small.shape))))
        filled = cv2.erode(filled, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
        mask = _nearest_upscale(filled, factor, grey.shape)
        mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
        return mask, (hull.reshape(-1, 2).astype(np.float32) + 0.5) * factor

    def _relative_darkness(self, grey: np.ndarray, paper: np.ndarray | None):
        """((paper brightness - grey) / paper brightness, 0 outside the paper; its top-left (x, y)
        in grey): computed over the paper's bounding box only."""
        cv2 = self._cv2
        # Integer block sums, min/max filters and unnormalized box sums of integers are exact in float64,
        # and the upscale is plain numpy element-wise arithmetic: the same bits on every CPU (uint8
        # cv2.resize differs by one grey level between x86 and ARM SIMD paths, which moved thresholds).
        factor = max(1, min(max(grey.shape) // 200, *grey.shape))
        small = _block_sums(grey, factor)
        if small.dtype != np.uint16:  # very large factors: cv2 has no uint32 min/max filters
            small = small.astype(np.float64)
        inside = np.ones(small.shape, small.dtype) if paper is None else \
            (paper[::factor, ::factor][: small.shape[0], : small.shape[1]] > 0).astype(small.dtype)
        # Grey closing (max then min filter) removes dark strokes narrower than ~1/12 of the frame.
        # The desk is kept out of it (0 for the max, the largest sum for the min) and out of the
        # smoothing (weighted box sums), so the paper's own brightness is followed right up to its edge.
        # (Min/max filters on the uint16 sums: exact, and several times faster than on floats.)
        k = max(3, (max(small.shape) // 12) | 1)
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
        background = _linear_upscale(background, grey.shape, (x0, y0, x1, y1))
        bg = np.clip(background, np.float32(8.0), None, out=background)  # np.maximum is 3x slower here
        window = grey[y0:y1, x0:x1]
        if paper is not None:  # off the paper grey becomes 255 (0/1 mask - 1 = 255/0): darkness 0 (or 1e-7)
            window = window | (paper[y0:y1, x0:x1] - np.uint8(1))
        darkness = window.astype(np.float32)
        np.subtract(bg, darkness, out=darkness)
        np.divide(darkness, bg, out=darkness)
        np.clip(darkness, 0.0, 1.0, out=darkness)
        return darkness, (int(x0), int(y0))

    def _clear_paper_edge(self, darkness, paper, origin, frame_shape, width: float) -> None:
        """Zero the darkness within `width` px of the paper's edge, in place: corners and edges of
        the paper (shadows, frame-edge cuts) make digit-sized junk, and writing keeps a margin.
        `darkness` and `paper` are the part of the frame at `origin`."""
        cv2 = self._cv2
        # A ring of zeros stands for the desk beyond the paper's bounding box, except at the
        # frame's own edges (distanceTransform does not count those as background).
        x0, y0 = origin
        top, left = int(y0 > 0), int(x0 > 0)
        bottom = int(y0 + paper.shape[0] < frame_shape[0])
        right = int(x0 + paper.shape[1] < frame_shape[1])
        # At half resolution: a quarter of the work, for a margin that is a heuristic anyway (the
        # result moves by a pixel or so). A 2x2 block counts as paper only if all of it is.
        half = cv2.erode(paper, _SQUARE_2, anchor=(0, 0))[::2, ::2]
        ringed = cv2.copyMakeBorder(half, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0)
        distance = cv2.distanceTransform(ringed, cv2.DIST_L2, 3)[top: top + half.shape[0], left: left + half.shape[1]]
        keep = (2 * distance - 1 >= width).view(np.uint8)  # a block's pixels lie up to 1 px nearer
        keep = _nearest_upscale(keep, 2, (2 * keep.shape[0], 2 * keep.shape[1]))[: paper.shape[0], : paper.shape[1]]
        darkness *= keep

    def _clear_frame_border(self, darkness, mask, stats, origin, frame_shape, height: float) -> None:
        """Zero, in place, the ink of the components (`stats`, of `mask`) the frame's edge cuts
        through (see BORDER_CUT_SHARE). `darkness` and `mask` are the part of the frame at `origin`."""
        ox, oy = origin
        x, y, w, h = stats[:, 0] + ox, stats[:, 1] + oy, stats[:, 2], stats[:, 3]
        touching = (x <= 0) | (y <= 0) | (x + w >= frame_shape[1]) | (y + h >= frame_shape[0])
        touching &= np.maximum(w, h) <= BORDER_CLEAR_SIZE * height
        if not touching.any():
            return
        labels, _ = self._components(mask)  # the labelling `stats` describes (same mask, no closing)
        band = max(2, int(BORDER_BAND * height))
        for i in np.flatnonzero(touching):
            sx, sy, sw, sh = (int(v) for v in stats[i, :4])
            own = labels[sy: sy + sh, sx: sx + sw] == i + 1
            spans = []
            for on_edge, strip, along, extent in ((x[i] <= 0, own[:, :band], 1, sh),
                                                  (x[i] + sw >= frame_shape[1], own[:, -band:], 1, sh),
                                                  (y[i] <= 0, own[:band], 0, sw),
                                                  (y[i] + sh >= frame_shape[0], own[-band:], 0, sw)):
                if on_edge:
                    hit = np.flatnonzero(strip.any(axis=along))
                    spans.append((hit[-1] - hit[0] + 1) / extent if hit.size else 0.0)
            if max(spans) >= BORDER_CUT_SHARE:
                darkness[sy: sy + sh, sx: sx + sw][own] = 0.0

    def _ink_threshold(self, darkness: np.ndarray, paper: np.ndarray | None, origin: tuple[int, int],
                       frame_size: int):
        """(threshold, ink level) of relative darkness, or (None, None) when there is no ink.
        `darkness` is the part of a frame of `frame_size` pixels at `origin`."""
        step = max(1, int(math.sqrt(frame_size / 20_000)))  # statistics from ~20k pixels are plenty
        # The frame's sampling grid, whatever part of it darkness covers.
        grid = (slice((-origin[1]) % step, None, step), slice((-origin[0]) % step, None, step))
        sample = darkness[grid].ravel() if paper is None else darkness[grid][paper[grid] > 0]
        if sample.size == 0:
            return None, None
        # Paper noise: spread of the darkness values around zero (MAD of the lower half).
        low = sample[sample < _percentile(sample, 50) + 0.05]
        noise = 1.4826 * _array_median(np.abs(low - _array_median(low))) if low.size else 0.0
        floor = max(self.config.min_contrast, 4 * noise)
        candidates = sample[sample > floor]
        if candidates.size < 50 and step > 1:  # little ink: look at every pixel
            candidates = darkness[darkness > floor]
        if candidates.size < 10:
            return None, None
        ink_level = _percentile(candidates, 90)
        threshold = max(self.config.min_contrast, 4 * noise, 0.4 * ink_level)
        return threshold, ink_level

    @staticmethod
    def _box_shaped(w, h, area) -> np.ndarray:
        """Which components (arrays of sizes) could be a box drawn around digits: bigger than a
        digit, not too elongated, and mostly empty inside their bounding box."""
        short, long = np.minimum(w, h), np.maximum(w, h)
        return (short >= 12) & (short >= 0.35 * long) & (area <= 0.3 * w * h)

    @staticmethod
    def _hugs_its_box(labels, index, x, y, w, h, area) -> bool:
        """A box-shaped component whose ink hugs its own bounding box (a frame, not a digit)."""
        m = max(2, int(0.06 * min(w, h)) + 1)
        own = labels[y: y + h, x: x + w] == index
        interior = own[m: h - m, m: w - m].sum()
        return interior < 0.15 * area

    def _erase_frame_borders(self, mask: np.ndarray) -> tuple[np.ndarray, int]:
        """(mask without boxes drawn around digits, longest side of any component's bounding box)."""
        # Labels from the start: nearly every frame that gets here has a box-shaped candidate.
        labels, stats = self._components(mask)
        longest = int(stats[:, 2:4].max()) if len(stats) else 0
        candidates = np.flatnonzero(self._box_shaped(stats[:, 2], stats[:, 3], stats[:, 4]))
        for i in candidates:
            x, y, w, h, area = stats[i]
            if self._hugs_its_box(labels, i + 1, x, y, w, h, area):
                window = mask[y: y + h, x: x + w]
                window[labels[y: y + h, x: x + w] == i + 1] = 0
        return mask, longest

    @staticmethod
    def _ink_window(darkness: np.ndarray, threshold: float, margin: int, origin: tuple[int, int],
                    frame_shape: tuple[int, int]):
        """(the ink in `darkness` (the part of a frame at `origin`), grown by margin within the frame
        and 0 beyond darkness; the window's top-left (x, y) in the frame), or (None, None)."""
        ink = darkness > threshold
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
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

    def _components(self, mask: np.ndarray, close: int = 0, with_labels: bool = True):
        """(labels or None, stats of the 8-connected components without the background) of the
        mask after a closing with a `close` px disc. Only the ink's bounding box (grown by what
        the closing can reach) is processed: it is often half the mask or less."""
        cv2 = self._cv2
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
        _, window_labels, stats, _ = _labelled(np.ascontiguousarray(window), 8)
        stats = stats[1:]
        stats[:, 0] += x0
        stats[:, 1] += y0
        if not with_labels:
            return None, stats
        labels = np.zeros(mask.shape, np.int32)
        labels[y0:y1, x0:x1] = window_labels
        return labels, stats

    @staticmethod
    def _containers(stats: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Which candidates wholly enclose another sizeable candidate (boxes drawn around digits)."""
        idx = np.flatnonzero(candidates)
        result = np.zeros(len(stats), bool)
        if idx.size < 2 or idx.size > 400:
            return result
        x, y, w, h = (stats[idx, k].astype(np.float64) for k in range(4))
        inside = (x[None, :] >= x[:, None]) & ((x + w)[None, :] <= (x + w)[:, None]) & \
                 (y[None, :] >= y[:, None]) & ((y + h)[None, :] <= (y + h)[:, None]) & (h[None, :] >= 0.3 * h[:, None])
        np.fill_diagonal(inside, False)
        result[idx[inside.any(axis=1)]] = True
        return result

    def _typical_height(self, stats: np.ndarray) -> float | None:
        """Median height of components that look like digits (by size and aspect)."""
        if len(stats) == 0:
            return None
        w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
        plausible = (h >= self.config.min_digit_height) & (w <= 2.5 * h) & (h <= 6 * w + 4) & (area >= 20) \
            & (area >= 0.08 * w * h)
        plausible &= ~self._containers(stats, plausible)
        if not np.any(plausible):
            return None
        height = self._tallest_third(h[plausible])
        # Texture makes crowds of digit-sized specks that pull the measure down: measure again
        # without the components that crowds of specks of that size surround.
        clean = plausible & ~self._cluttered(stats[:, 0], stats[:, 1], w, h, height)
        return self._tallest_third(h[clean]) if clean.any() else height

    @staticmethod
    def _tallest_third(heights: np.ndarray) -> float:
        """Median of the tallest two thirds: fragments and specks are smaller than real digits."""
        return _array_median(np.sort(heights)[len(heights) // 3:])

    def _text_angle(self, stats: np.ndarray, height: float, paper_hull: np.ndarray | None) -> float:
        """In-plane rotation of the text in degrees, in [-50, 50]."""
        w, h = stats[:, 2], stats[:, 3]
        # Solid, digit-sized components only: a box drawn around digits would pair with its contents.
        keep = (h >= 0.5 * height) & (h <= 2.0 * height) & (w <= 2.5 * height) & (stats[:, 4] >= 0.12 * w * h)
        keep &= ~self._containers(stats, keep)
        chosen = np.flatnonzero(keep)
        if chosen.size > MAX_ANGLE_POINTS:  # neighbours are found among all pairs: keep the largest
            chosen = chosen[np.argsort(-stats[chosen, 4], kind="stable")[:MAX_ANGLE_POINTS]]
        pts = (stats[chosen, :2] + stats[chosen, 2:4] / 2.0).astype(np.float64)
        angle, sure = None, len(pts) < ORIENTATION_MIN_DIGITS  # too few digits to compare readings
        if len(pts) >= 2:
            d = pts[None, :, :] - pts[:, None, :]  # d[i, j] = pts[j] - pts[i]
            dist = np.hypot(d[..., 0], d[..., 1])
            np.fill_diagonal(dist, np.inf)
            order = np.argsort(dist, axis=1)
            close = dist < 2.2 * height
            pairs = {(min(i, j), max(i, j)) for i in range(len(pts)) for j in order[i, :2] if close[i, j]}
            nearest = np.array([d[i, order[i, 0]] for i in range(len(pts)) if close[i, order[i, 0]]])
            if pairs and (len(pairs) >= 3 or paper_hull is None):
                vecs = np.array([d[i, j] for i, j in pairs])
                theta = np.arctan2(vecs[:, 1], vecs[:, 0])
                # Directions to neighbours in the same line and in the same column agree modulo 90 degrees.
                angle = math.degrees(math.atan2(np.sin(4 * theta).sum(), np.cos(4 * theta).sum()) / 4)
                angle, sure = self._pick_orientation(angle, nearest if len(nearest) else vecs)
        if paper_hull is not None:
            # Text runs along the paper's edges, and the edges (hundreds of pixels long) give the
            # direction more precisely than a few neighbouring digits: keep the neighbours' say
            # only on which of the two edge directions the lines follow.
            (_, _), (_, _), rect_angle = self._cv2.minAreaRect(paper_hull)
            paper_angle = ((rect_angle + 45) % 90) - 45
            if angle is None:
                angle = paper_angle
            else:
                vecs = nearest if len(nearest) else np.array([d[i, j] for i, j in pairs])
                angle, sure = self._pick_orientation(paper_angle, vecs) if len(vecs) else (paper_angle, False)
        return float(angle or 0.0), sure

    @staticmethod
    def _pick_orientation(angle: float, vecs: np.ndarray) -> float:
        """(angle, sure): angle is only known modulo 90; choose the value that makes neighbours mostly
        side by side, and say whether they were clearly so (scattered digits are not)."""
        scores = []
        for candidate in (angle, angle - 90 if angle > 0 else angle + 90):
            t = math.radians(candidate)
            c, s = math.cos(t), math.sin(t)
            x = vecs[:, 0] * c + vecs[:, 1] * s
            y = -vecs[:, 0] * s + vecs[:, 1] * c
            scores.append(float(np.mean(np.abs(x) > np.abs(y))))
        sure = len(vecs) >= ORIENTATION_MIN_DIGITS and abs(scores[0] - 0.5) >= ORIENTATION_SURE_SIDE
        if abs(angle) < 30:
            return angle, sure
        best = int(np.argmax(np.array(scores) + [1e-9, 0]))
        return (angle, angle - 90 if angle > 0 else angle + 90)[best], sure

    def _rotate(self, image: np.ndarray, angle: float, threshold: float, reach: int, margin: int):
        """Rotate so text of the given angle becomes horizontal.

        Only the values that later steps look at are computed: ink (above `threshold`) and what
        lies within `reach` px of it (the crops' soft edges); elsewhere the result is 0. Returns the
        rotated image cropped to the ink plus `margin`, and (the inverse map from the uncropped
        rotated canvas, the crop's top-left in it).
        """
        cv2 = self._cv2
        h, w = image.shape
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        c, s = abs(matrix[0, 0]), abs(matrix[0, 1])
        new_w, new_h = int(math.ceil(h * s + w * c)), int(math.ceil(h * c + w * s))
        matrix[0, 2] += new_w / 2 - w / 2
        matrix[1, 2] += new_h / 2 - h / 2
        inverse = cv2.invertAffineTransform(matrix)
        # (A bilinear value exceeds the threshold only if a neighbour does; the margin is for rounding.)
        tile = 8
        tile_y, tile_x = _active_tiles(image > 0.999 * threshold, inverse, (0, 0, new_w, new_h), reach, tile)
        if tile_y.size == 0:
            return np.zeros((1, 1), np.float32), (inverse, (0, 0))
        x0, y0 = max(0, int(tile_x.min()) - margin), max(0, int(tile_y.min()) - margin)
        x1 = min(new_w, min(new_w - 1, int(tile_x.max()) + tile - 1) + 1 + margin)
        y1 = min(new_h, min(new_h - 1, int(tile_y.max()) + tile - 1) + 1 + margin)
        # Whole tiles are computed into a tile-aligned canvas (as (tile, tile) blocks: no per-pixel
        # indices), then the canvas is cropped; pixels beyond the rotated frame are cut off there.
        top, left = y0 // tile * tile, x0 // tile * tile
        rows, cols = -(-(y1 - top) // tile), -(-(x1 - left) // tile)
        canvas = np.zeros((rows, tile, cols, tile), np.float32)
        offsets = np.arange(tile, dtype=np.int32)
        values = _warp_pixels(image, inverse, tile_y[:, None, None] + offsets[None, :, None],
                              tile_x[:, None, None] + offsets[None, None, :])
        canvas[(tile_y - top) // tile, :, (tile_x - left) // tile, :] = values
        canvas = canvas.reshape(rows * tile, cols * tile)
        rotated = canvas[y0 - top: y1 - top, x0 - left: x1 - left]
        return rotated, (inverse, (x0, y0))

    def _remove_long_lines(self, mask: np.ndarray, height: float, hough: bool = True):
        """Erase horizontal and vertical straight strokes much longer than a digit (rules, borders)."""
        cv2 = self._cv2
        length = int(max(15, 1.8 * height))
        # A little slack across the line, so slightly tilted or ragged rules still form long runs.
        slack = int(min(7, max(3, height // 10))) | 1
        horizontal = None
        if mask.shape[1] > length:
            # Also bridge small breaks along the line: faint rules threshold into dashes.
            band = cv2.dilate(mask, np.ones((slack, 5), np.uint8))
            horizontal = _open_by_line(band, length, axis=1)
            horizontal = self._thin_lines_only(horizontal, mask, height)
            if horizontal.any():
                mask = mask & (1 - horizontal)
            else:
                horizontal = None
        if mask.shape[0] > length:
            band = cv2.dilate(mask, np.ones((5, slack), np.uint8))
            vertical = _open_by_line(band, length, axis=0)
            vertical = np.ascontiguousarray(self._thin_lines_only(vertical.T, mask.T, height).T)
            if vertical.any():
                mask = mask & (1 - vertical)
        # Rules that are not quite level after deskewing (perspective): straight segments at any
        # angle, much longer than a digit is tall.
        min_length = int(max(20, 2.5 * height))
        segments = None
        if hough:  # only when some component is long enough to hold such a segment
            segments = cv2.HoughLinesP(mask, 1, np.pi / 360, threshold=int(max(15, 1.5 * height)),
                                       minLineLength=min_length, maxLineGap=max(2, int(0.08 * height)))
        if segments is not None:
            flat, upright = np.zeros_like(mask), np.zeros_like(mask)
            for x1, y1, x2, y2 in segments.reshape(-1, 4):
                target = flat if abs(x2 - x1) >= abs(y2 - y1) else upright
                cv2.line(target, (int(x1), int(y1)), (int(x2), int(y2)), 1, slack)
            erase = self._thin_lines_only(flat, mask, height) | self._thin_lines_only(upright.T, mask.T, height).T
            erase = np.ascontiguousarray(erase)
            if erase.any():
                mask = mask & (1 - erase)
                horizontal = erase if horizontal is None else (horizontal | erase)
        return mask, horizontal

    def _thin_lines_only(self, found: np.ndarray, mask: np.ndarray, height: float) -> np.ndarray:
        """Keep the horizontal runs of `found` that are a thin line in `mask` along most of their length.

        The slack that lets tilted rules form long runs also joins a row of small, closely spaced
        digits into one; but across a rule nearly every column holds a few ink pixels, while across
        digits many columns hold none (gaps, the insides of loops) or many (upright strokes).
        """
        cv2 = self._cv2
        x0, y0, w0, h0 = cv2.boundingRect(np.ascontiguousarray(found))
        if w0 == 0:
            return found
        if w0 * h0 < found.size:  # work on the found strokes' bounding box only
            kept = self._thin_lines_only(found[y0: y0 + h0, x0: x0 + w0], mask[y0: y0 + h0, x0: x0 + w0], height)
            out = np.zeros_like(found)
            out[y0: y0 + h0, x0: x0 + w0] = kept
            return out
        count, labels, stats, _ = _labelled(np.ascontiguousarray(found), 8)
        thick = max(3.0, 0.2 * height)
        keep = np.zeros(count, bool)
        for i in range(1, count):
            x, y, w, h = stats[i, :4]
            own = labels[y: y + h, x: x + w] == i
            ink = own & (mask[y: y + h, x: x + w] > 0)
            per_column = ink.sum(axis=0)
            thin = (per_column >= 1) & (per_column <= thick)
            if np.mean(thin) < 0.8:
                continue
            # And straight: the ink's centre row drifts steadily along a rule (tilt), not up and down.
            columns = np.flatnonzero(thin)
            centres = (ink[:, columns] * np.arange(h)[:, None]).sum(axis=0) / per_column[columns]
            slope, offset = np.polyfit(columns, centres, 1)
            residual = centres - (slope * columns + offset)
            keep[i] = float(np.sqrt(np.mean(residual ** 2))) <= max(1.0, 0.06 * height)
        if keep[1:].all():
            return found
        return keep[labels].astype(np.uint8)

    @staticmethod
    def _is_box_side(rules, x, y, w, h, height) -> bool:
        """An upright stroke that a removed horizontal rule ends: a box's side. A thin one running
        from rule to rule, or one taller than a digit from a rule (a box's other border may be too
        faint or short to be removed), then also with the stubs of the box's corners."""
        if rules is None or (w > 0.35 * h and h < 1.3 * height):
            return False
        x0, x1 = max(0, x - 2), min(rules.shape[1], x + w + 2)
        above = rules[max(0, y - 3): y + 2, x0:x1].any()
        below = rules[max(0, y + h - 2): y + h + 3, x0:x1].any()
        return bool(above and below) or (h >= 1.15 * height and bool(above or below))

    def _candidate_blobs(self, labels, stats, darkness, threshold, ink_level, height, rules) -> list[_Blob] | None:
        """The digit candidates among the components, or None when there are more than
        MAX_CANDIDATES (texture no filter recognised: the frame is not read)."""
        x, y, w, h, area = (stats[:, k].astype(np.float64) for k in range(5))
        sizeable = (h >= 0.3 * height) & (h <= 3.5 * height)
        containers = self._containers(stats, sizeable)
        # A box drawn around digits is taller than a digit; a digit-sized stroke may enclose another
        # piece of the same digit (a 4 written in two strokes).
        keep = ~(containers & (h > 1.15 * height))
        # A solid dark patch (a bold 8 fills up to ~70% of its box).
        keep &= ~((w > 0.5 * height) & (h > 0.5 * height) & (area > 0.8 * w * h))
        keep &= ~((h < max(self.config.min_digit_height * 0.5, 0.25 * height)) & (w < 0.4 * height))  # speck
        # A flat piece (the detached bar of a 5 or 7) may only join a digit, never stand alone.
        flat = (h < 0.2 * height) & (w >= 0.2 * height) & (w <= 0.9 * height) & (area >= 0.02 * height * height)
        keep &= area >= 0.02 * height * height
        keep &= (h >= 0.2 * height) & (w <= 8 * height) & (h <= 3.5 * height)  # rule remnant, border, too big
        keep |= flat & ~containers
        keep &= ~self._cluttered(x, y, w, h, height)
        if np.count_nonzero(keep) > MAX_CANDIDATES:
            return None
        blobs = [_Blob(int(x[i]), int(y[i]), int(w[i]), int(h[i]), [i + 1]) for i in np.flatnonzero(keep)
                 if not self._is_box_side(rules, int(x[i]), int(y[i]), int(w[i]), int(h[i]), height)]  # a box's remains
        blobs = self._attach_small_pieces(self._merge_fragments(blobs, height), height)
        kept, small = [], []
        for b in blobs:
            if b.h < SMALL_DIGIT_MIN_HEIGHT * height or b.h < self.config.min_digit_height:
                continue
            region = darkness[b.y: b.bottom, b.x: b.right]
            ink = region[region > threshold]
            # Faint show-through from the back of the page: its ink is much lighter than the writing.
            b.ink = _percentile(ink, 75) if ink.size else 0.0
            if b.ink < max(1.15 * threshold, 0.3 * ink_level):
                continue
            b.stroke = self._stroke_width(_member(labels[b.y: b.bottom, b.x: b.right], b.labels))
            if b.stroke > 0.45 * b.h:
                continue  # a broad smudge (shadow edge, dark corner), not pen strokes
            (kept if b.h >= 0.45 * height else small).append(b)
        if kept:
            # Sensor noise in a dim, low-contrast frame clumps into digit-sized blobs whose ink is
            # barely above the threshold, far lighter than the writing on the same page.
            typical = _median([b.ink for b in kept])
            kept = [b for b in kept if b.ink >= 0.65 * typical or b.ink >= 1.6 * threshold]
        if kept and small:
            kept += self._same_pen(small, kept)
        return kept

    @staticmethod
    def _same_pen(small: list[_Blob], kept: list[_Blob]) -> list[_Blob]:
        """The blobs of `small` (shorter than most digits) written with the page's pen: a pen draws
        strokes of one width in pixels whatever the digit's size, so a small digit has the stroke
        width and the ink of the big ones, and is several strokes tall; specks, texture and
        fragments do not."""
        stroke = _median([b.stroke for b in kept])
        ink = _median([b.ink for b in kept])
        return [b for b in small
                if SAME_PEN_STROKE[0] * stroke <= b.stroke <= SAME_PEN_STROKE[1] * stroke
                and b.h >= SMALL_DIGIT_MIN_STROKES * b.stroke and b.ink >= 0.65 * ink]

    @staticmethod
    def _cluttered(x, y, w, h, height: float) -> np.ndarray:
        """Which components (arrays of boxes) lie in texture: where specks much smaller than a digit
        crowd (desk grain, paper fibres, sensor noise), not where a pen wrote. Counted on a grid of
        CLUTTER_CELL digit heights, over each cell and its eight neighbours: linear in the count."""
        cv2 = _cv2()
        speck = (h < SPECK_SIZE * height) & (w < SPECK_SIZE * height)
        if not speck.any():
            return np.zeros(len(x), bool)
        cell = max(4.0, CLUTTER_CELL * height)
        cx = ((x + w / 2) // cell).astype(np.intp)
        cy = ((y + h / 2) // cell).astype(np.intp)
        rows, cols = int(cy.max()) + 1, int(cx.max()) + 1
        counts = np.bincount(cy[speck] * cols + cx[speck], minlength=rows * cols).reshape(rows, cols)

        # Each cell plus its eight neighbours, per pixel of the cells that exist (a candidate at the
        # image's edge has fewer neighbours).
        around = cv2.boxFilter(counts.astype(np.float32), -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
        cells = (np.minimum(cy + 1, rows - 1) - np.maximum(cy - 1, 0) + 1) * \
                (np.minimum(cx + 1, cols - 1) - np.maximum(cx - 1, 0) + 1)
        return around[cy, cx] > CLUTTER_MAX_DENSITY * cells * cell * cell

    def _stroke_width(self, binary: np.ndarray) -> float:
        """Mean stroke width of a 0/1 uint8 shape: its area over half its perimeter (boundary pixels)."""
        cv2 = self._cv2
        area = cv2.countNonZero(binary)
        if area == 0:
            return 0.0
        inner = cv2.erode(binary, _SQUARE_3, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        edge = area - cv2.countNonZero(inner)
        return 2.0 * area / max(edge, 1)

    @staticmethod
    def _merge_fragments(blobs: list[_Blob], height: float) -> list[_Blob]:
        """Merge pieces of one digit: boxes that mostly overlap horizontally and nearly touch vertically."""
        blobs = sorted(blobs, key=lambda b: -b.w * b.h)
        merged: list[_Blob] = []
        for b in blobs:
            for m in merged:
                overlap = min(b.right, m.right) - max(b.x, m.x)
                gap = max(b.y, m.y) - min(b.bottom, m.bottom)  # negative: the boxes overlap vertically
                stacked = gap >= -0.3 * min(b.h, m.h)
                if overlap >= 0.6 * min(b.w, m.w) and stacked and gap <= 0.25 * height and \
                        max(b.bottom, m.bottom) - min(b.y, m.y) <= 1.3 * height:
                    m.merge(b)
                    break
            else:
                merged.append(b)
        return merged

    @staticmethod
    def _attach_small_pieces(blobs: list[_Blob], height: float) -> list[_Blob]:
        """Join pieces much shorter than a digit to the nearest digit-sized blob right beside them:
        a thin or faint stroke thresholds into several pieces (a 0's far side, a 4's crossbar)."""
        big = [b for b in blobs if b.h >= 0.6 * height]
        kept = list(big)
        for piece in (b for b in blobs if b.h < 0.6 * height):
            best, best_gap = None, 0.25 * height
            for b in big:
                gap_x = max(b.x - piece.right, piece.x - b.right, 0)
                gap_y = max(b.y - piece.bottom, piece.y - b.bottom, 0)
                gap = math.hypot(gap_x, gap_y)
                wide = max(b.right, piece.right) - min(b.x, piece.x)
                tall = max(b.bottom, piece.bottom) - min(b.y, piece.y)
                if gap <= best_gap and wide <= 1.25 * height and tall <= 1.3 * height:
                    best, best_gap = b, gap
            if best is None:
                kept.append(piece)
            else:
                best.merge(piece)
        return kept

    @staticmethod
    def _group_lines(blobs: list[_Blob]) -> list[list[list[_Blob]]]:
        """Rows by vertical overlap, each split into groups at wide gaps; reading order.

        A row is a line as the writer wrote it, however wide its gaps: a blob joins the row whose
        blobs of the last ROW_REACH digit heights to its left overlap it vertically the most (so a
        row may drift up or down along its length, as handwriting does)."""
        rows: list[list[_Blob]] = []
        for b in sorted(blobs, key=lambda b: (b.x, b.y)):
            best, best_overlap = None, 0.0
            for row in rows:
                near = [r for r in row[-ROW_NEIGHBOURS:] if r.right >= row[-1].right - ROW_REACH * max(r.h, b.h)]
                top = _median([r.y for r in near])
                bottom = _median([r.bottom for r in near])
                overlap = (min(bottom, b.bottom) - max(top, b.y)) / max(1.0, min(bottom - top, b.h))
                if overlap > best_overlap:
                    best, best_overlap = row, overlap
            if best is not None and best_overlap >= ROW_MIN_OVERLAP:
                best.append(b)
            else:
                rows.append([b])
        lines = []
        for row in sorted(rows, key=lambda r: _median([b.y + b.h / 2 for b in r])):
            row_height = _median([b.h for b in row])
            gaps = [b.x - prev.right for prev, b in zip(row, row[1:])]
            usual = max(_median(gaps) if gaps else 0.0, GROUP_MIN_USUAL_GAP * row_height)
            groups, current = [], [row[0]]
            for gap, b in zip(gaps, row[1:]):
                if gap > GROUP_GAP * row_height and gap > GROUP_GAP_RATIO * usual:
                    groups.append(current)
                    current = []
                current.append(b)
            groups.append(current)
            lines.append(groups)
        return lines

    @staticmethod
    def _runs(group: list[_Blob]) -> list[list[_Blob]]:
        """The group cut at every gap wider than GROUP_GAP digit heights: the stretches a box drawn
        around digits can enclose (its sides are looked for at their ends)."""
        height = _median([b.h for b in group])
        runs = [[group[0]]]
        for prev, b in zip(group, group[1:]):
            if b.x - prev.right > GROUP_GAP * height:
                runs.append([])
            runs[-1].append(b)
        return runs

    @staticmethod
    def _without_box_sides(group: list[_Blob]) -> list[_Blob]:
        """Drop thin upright strokes that stick out above and below the rest of the line, are much
        fainter than it, or end the line in a much thinner pen: the sides of a box drawn around the
        digits (a '1' is about as tall, as dark and as thick as its neighbours)."""
        if len(group) < 2:
            return group
        top = _median([b.y for b in group])
        bottom = _median([b.bottom for b in group])
        size = bottom - top
        ink = _median([b.ink for b in group])
        stroke = _median([b.stroke for b in group])
        height = _median([b.h for b in group])
        ends = (group[0], group[-1])
        return [b for b in group
                if not (b.w < 0.3 * b.h and b.y < top - 0.1 * size and b.bottom > bottom + 0.1 * size)
                and not (b.w < 0.3 * b.h and b.ink < 0.7 * ink)  # a faint thin line piece
                # a thin-pen box side at the end of the line (digits share one pen and stroke width)
                and not ((b.w < 0.3 * b.h or b.h > 1.3 * height) and any(b is e for e in ends)
                         and b.stroke < 0.6 * stroke)]

    # ------------------------------------------------------------------ classification
    def _crop(self, blob: _Blob, labels, darkness, threshold, ink_level, x0=None, x1=None, part=None) -> np.ndarray | None:
        cv2 = self._cv2
        x0 = blob.x if x0 is None else x0
        x1 = blob.right if x1 is None else x1
        pad = 2
        ya, yb = max(0, blob.y - pad), min(labels.shape[0], blob.bottom + pad)
        xa, xb = max(0, x0 - pad), min(labels.shape[1], x1 + pad)
        own = _member(labels[ya:yb, xa:xb], blob.labels)
        if part is not None:  # a mask over the blob's box: only these pixels
            own[blob.y - ya: blob.y - ya + blob.h, blob.x - xa: blob.x - xa + blob.w] &= part
        if x0 > blob.x:
            own[:, : x0 - xa] = 0
        if x1 < blob.right:
            own[:, x1 - xa:] = 0
        if cv2.countNonZero(own) == 0:
            return None
        own = cv2.dilate(own, _SQUARE_3)
        low = 0.5 * threshold
        region = darkness[ya:yb, xa:xb]
        # Stretch with this digit's own ink level: a light or blurred digit still gets solid strokes.
        strokes = region[own.view(bool) & (region > threshold)]
        level = _percentile(strokes, 80) if strokes.size >= 4 else ink_level
        soft = region - low
        soft /= max(level - low, 1e-3)
        np.maximum(soft, 0.0, out=soft)  # np.clip costs 3x more on these small arrays
        np.minimum(soft, 1.0, out=soft)
        soft *= own
        x, y, w, h = cv2.boundingRect((soft > 0.05).view(np.uint8))
        if w == 0:
            return None
        soft = soft[y: y + h, x: x + w]
        # Tight: every border row/column holds ink above 0.05, and thickening grows it by whole discs.
        return normalize_ink(self._thicken(soft), tight=True)

    def _thicken(self, soft: np.ndarray) -> np.ndarray:
        """Dilate thin pen strokes so that, relative to the digit's size, they are as thick as MNIST's."""
        cv2 = self._cv2
        h, w = soft.shape
        if max(h, w) < 12:
            return soft
        stroke = self._stroke_width((soft > 0.5).view(np.uint8))
        if stroke == 0:  # no solid stroke at all
            return soft
        target = 0.11 * max(h, w)
        if stroke >= 0.75 * target:
            return soft
        radius = int(round((target - stroke) / 2))
        if radius < 1:
            return soft
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        padded = cv2.copyMakeBorder(soft, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0)
        return cv2.dilate(padded, kernel)

    def _separate(self, blob: _Blob, own: np.ndarray):
        """Two masks (over the blob's box) for touching digits joined by a thin contact: erode `own`
        (the blob's pixels in its box) until it comes apart into two digit-tall pieces, then give
        every pixel to the nearer one."""
        cv2 = self._cv2
        eroded = own
        for _ in range(max(1, int(round(blob.stroke / 2)))):
            eroded = cv2.erode(eroded, _SQUARE_3, borderType=cv2.BORDER_CONSTANT, borderValue=0)
            count, seeds, stats, _ = _labelled(eroded, 8)
            tall = [i for i in range(1, count) if stats[i, 3] >= 0.5 * blob.h]
            if len(tall) >= 2:
                tall = sorted(tall, key=lambda i: -stats[i, 4])[:2]
                tall.sort(key=lambda i: stats[i, 0])
                far = [cv2.distanceTransform((seeds != i).view(np.uint8), cv2.DIST_L2, 3) for i in tall]
                left = (far[0] <= far[1]).astype(np.uint8) & own
                right = own & (1 - left)
                return left, right
            if count <= 1:
                break
        return None

    @staticmethod
    def _split_columns(blob: _Blob, own: np.ndarray) -> list[tuple[int, float]]:
        """Candidate cuts through a wide blob whose pixels in its box are `own`: the weakest ink
        column in its middle, and the weakest left and right of the centre (touching digits of
        unequal width). Each as (absolute x, height of the shorter side's ink / the blob's height)."""
        profile = own.sum(axis=0).astype(np.float32)
        lo, mid, hi = int(0.25 * blob.w), int(0.5 * blob.w), int(0.75 * blob.w)
        if hi - lo < 2:
            return []
        centre_penalty = np.abs(np.arange(blob.w) - blob.w / 2) / blob.w * profile.max() * 0.5
        cuts = [lo + int(np.argmin((profile + centre_penalty)[lo:hi]))]
        for a, b in ((lo, mid), (mid, hi)):
            if b > a:
                cut = a + int(np.argmin(profile[a:b]))
                if all(abs(cut - c) >= 2 for c in cuts):
                    cuts.append(cut)
        good = []
        for cut in cuts:
            # Both sides must look like digits: ink over at least half the height (not a lone tail).
            shorter = min(_ink_height(own[:, :cut]), _ink_height(own[:, cut:]))
            if shorter >= 0.5 * blob.h:
                good.append((blob.x + cut, shorter / blob.h))
        return good

    def _split_crops(self, blob: _Blob, labels, darkness, threshold, ink_level, aspect: float, whole_conf: float,
                     crops: list, first: int) -> list:
        """Crops of the two halves of every candidate split of a wide blob that could win against the
        whole (were its halves sure), appended to `crops` (which will sit from index `first` in the
        frame's list); returns [(cut x, left index, right index, shorter half's height fraction)]."""
        splits = []

        def add(cut, shorter, left_side, right_side):  # sides: _crop's (x0, x1, part)
            if _split_margin(aspect, whole_conf, 1.0, shorter) <= 0:
                return
            left = self._crop(blob, labels, darkness, threshold, ink_level, *left_side)
            right = self._crop(blob, labels, darkness, threshold, ink_level, *right_side)
            if left is not None and right is not None:
                splits.append((cut, first + len(crops), first + len(crops) + 1, shorter))
                crops.extend((left, right))

        own = _member(labels[blob.y: blob.bottom, blob.x: blob.right], blob.labels)
        for cut, shorter in self._split_columns(blob, own):
            add(cut, shorter, (blob.x, cut), (cut, blob.right))
        parts = self._separate(blob, own)  # touching digits may overlap: no straight cut parts them
        if parts is not None:
            cols = np.flatnonzero(parts[0].any(axis=0))
            cut = blob.x + int(cols[-1]) + 1 if cols.size else blob.x + blob.w // 2
            shorter = min(_ink_height(parts[0]), _ink_height(parts[1])) / blob.h
            add(cut, shorter, (None, None, parts[0]), (None, None, parts[1]))
        return splits

    def _probabilities(self, crops: list) -> tuple[np.ndarray, np.ndarray]:
        """((N, 10) probabilities of the digits, (N,) probability that each crop is a digit at all:
        1 - the classifier's "not a digit" output, or ones for a classifier without one)."""
        prediction = self.classifier.predict(np.stack(crops).astype(np.float32))
        probabilities = np.asarray(prediction.probabilities)
        if probabilities.shape != (len(crops), 10):
            raise ValueError(f"classifier returned probabilities of shape {probabilities.shape}, "
                             f"expected ({len(crops)}, 10)")
        reject = getattr(prediction, "reject", None)
        is_digit = np.ones(len(crops), np.float32) if reject is None else 1 - np.asarray(reject, np.float32)
        return probabilities, is_digit

    def _classify_lines(self, rows, labels, darkness, threshold, ink_level, rotation, offset, scale, frame_shape,
                        stage=lambda name, value: None):
        # Every whole candidate of the frame goes into one batch; then the halves of the wide ones
        # into a second, but only for the cuts that could win against the whole's confidence.
        crops, plans, line_of = [], [], []
        for line_index, groups in enumerate(rows):
            for group in groups:
                group = [b for part in self._runs(group) for b in self._without_box_sides(part)]
                if not group:
                    continue
                row_height = _median([b.h for b in group])
                plan = []
                for b in group:
                    whole = self._crop(b, labels, darkness, threshold, ink_level)
                    if whole is not None:
                        plan.append({"blob": b, "whole": len(crops), "aspect": b.w / max(b.h, row_height),
                                     "splits": []})
                        crops.append(whole)
                plans.append(plan)
                line_of.append(line_index)
        if not crops:
            return ReadResult([])
        probabilities, is_digit = self._probabilities(crops)
        # A crop's confidence is that it is a digit and this one: a pair of touching digits that
        # the classifier calls no digit leaves its cut halves room to win.
        conf = probabilities.max(axis=1) * is_digit
        halves = []
        for entry in (entry for plan in plans for entry in plan):
            aspect, whole_conf = entry["aspect"], float(conf[entry["whole"]])
            if aspect > 0.95 and _split_margin(aspect, whole_conf, 1.0) > 0:  # else no cut could win
                entry["splits"] = self._split_crops(entry["blob"], labels, darkness, threshold, ink_level,
                                                    aspect, whole_conf, halves, len(crops))
        if halves:
            half_probabilities, half_is_digit = self._probabilities(halves)
            probabilities = np.concatenate([probabilities, half_probabilities])
            is_digit = np.concatenate([is_digit, half_is_digit])
            conf = probabilities.max(axis=1) * is_digit
        best = probabilities.argmax(axis=1)
        stage("crops", (crops, halves, best, conf, self.config.reject_threshold))

        texts: dict[int, list[str]] = {}
        line_digits: dict[int, list[Digit]] = {}
        line_crops: dict[int, list[int]] = {}  # crop index of each digit reported, for the debug stage
        for line_index, plan in zip(line_of, plans):
            digits = []
            for entry in plan:
                b = entry["blob"]
                pieces = [(b.x, b.right, entry["whole"])]
                if entry["splits"]:
                    margins = [_split_margin(entry["aspect"], conf[entry["whole"]], min(conf[li], conf[ri]), shorter)
                               for _, li, ri, shorter in entry["splits"]]
                    if max(margins) > 0:
                        cut, li, ri, _ = entry["splits"][int(np.argmax(margins))]
                        pieces = [(b.x, cut, li), (cut, b.right, ri)]
                for xa, xb, k in pieces:
                    if is_digit[k] < 0.5:
                        continue  # the classifier says this is no digit: nothing to report
                    box = self._frame_box(xa, b.y, xb - xa, b.h, rotation, offset, scale, frame_shape)
                    accepted = conf[k] >= self.config.reject_threshold
                    digits.append(Digit(int(best[k]) if accepted else None, float(conf[k]), box))
                    line_crops.setdefault(line_index, []).append(k)
            if digits:
                texts.setdefault(line_index, []).append("".join("?" if d.digit is None else str(d.digit) for d in digits))
                line_digits.setdefault(line_index, []).extend(digits)
        everything = crops + halves
        stage("digit_crops", [[everything[k] for k in line_crops[i]] for i in sorted(texts)])
        return ReadResult([Line("".join(texts[i]), line_digits[i], tuple(texts[i])) for i in sorted(texts)])

    @staticmethod
    def _frame_box(x, y, w, h, rotation, offset, scale, frame_shape) -> tuple[int, int, int, int]:
        corners = ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
        if rotation is not None:  # plain floats: numpy costs ~10 us per box here
            inverse, (cx, cy) = rotation
            (a, b, c), (d, e, f) = inverse.tolist()
            corners = tuple(((px + cx) * a + (py + cy) * b + c, (px + cx) * d + (py + cy) * e + f) for px, py in corners)
        xs = [(px + offset[0]) / scale for px, _ in corners]
        ys = [(py + offset[1]) / scale for _, py in corners]
        x0, y0 = max(0, math.floor(min(xs))), max(0, math.floor(min(ys)))
        x1, y1 = min(frame_shape[1], math.ceil(max(xs))), min(frame_shape[0], math.ceil(max(ys)))
        return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


LINE_COLOURS = ((0, 200, 0), (255, 128, 0), (0, 128, 255), (200, 0, 200), (0, 200, 200), (128, 128, 255))


def draw_annotations(frame: np.ndarray, result: ReadResult) -> np.ndarray:
    """A BGR copy of the frame with each digit's box, value and confidence; one colour per line."""
    cv2 = _cv2()
    frame = _validate_frame(frame)
    out = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame[..., :3].copy()
    thickness = max(1, round(max(out.shape[:2]) / 600))
    for i, line in enumerate(result.lines):
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        for d in line.digits:
            x, y, w, h = d.box
            box_colour = colour if d.digit is not None else (0, 0, 255)
            cv2.rectangle(out, (x, y), (x + w, y + h), box_colour, thickness)
            label = f"{'?' if d.digit is None else d.digit} {d.confidence:.2f}"
            font = max(0.35, min(1.2, h / 60))
            cv2.putText(out, label, (x, max(10, y - 3)), cv2.FONT_HERSHEY_SIMPLEX, font, box_colour, thickness,
                        cv2.LINE_AA)
    return out

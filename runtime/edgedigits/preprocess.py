"""MNIST-style digit normalization, numpy only.

MNIST digits were made by taking the tight bounding box of the ink, scaling it to fit a 20x20
box while keeping the aspect ratio (with anti-aliasing, hence grey edges) and pasting it into a
28x28 image so that the ink's centre of mass sits at the centre. A classifier trained on MNIST
only works on crops prepared the same way, so everything the runtime classifies goes through
:func:`normalize_digit`.
"""

from __future__ import annotations

import functools

import numpy as np

MNIST_SIZE = 28
MNIST_BOX = 20
_INK_FLOOR = 0.02  # ink below this fraction of the crop's maximum does not count for the bounding box
_POSITIONS = np.arange(MNIST_BOX)  # row/column indices for centres of mass


@functools.lru_cache(maxsize=1024)
def _resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) linear resampling weights: area averaging when shrinking, bilinear when enlarging.

    Cached (the frame reader asks for the same few sizes over and over): read-only."""
    weights = _compute_resample_matrix(n_in, n_out)
    weights.flags.writeable = False
    return weights


def _compute_resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    scale = n_in / n_out
    if scale >= 1.0:
        edges = np.arange(n_out + 1, dtype=np.float64) * scale
        lo, hi = edges[:-1, None], edges[1:, None]
        pix = np.arange(n_in, dtype=np.float64)[None, :]
        overlap = np.clip(np.minimum(hi, pix + 1) - np.maximum(lo, pix), 0.0, None)
        return (overlap / scale).astype(np.float32)
    centres = (np.arange(n_out, dtype=np.float64) + 0.5) * scale - 0.5
    centres = np.clip(centres, 0, n_in - 1)
    left = np.floor(centres).astype(int)
    right = np.minimum(left + 1, n_in - 1)
    frac = centres - left
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    np.add.at(weights, (rows, left), 1.0 - frac)
    np.add.at(weights, (rows, right), frac)
    return weights.astype(np.float32)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a 2-D float image with separable area (shrink) / bilinear (enlarge) resampling."""
    image = np.asarray(image, dtype=np.float32)
    rows = _resample_matrix(image.shape[0], height)
    cols = _resample_matrix(image.shape[1], width)
    return rows @ image @ cols.T


def _check_2d(image: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(image).__name__}")
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"{name}: expected a non-empty 2-D array (H, W), got shape {image.shape}")
    if not (np.issubdtype(image.dtype, np.number) or image.dtype == bool):
        raise ValueError(f"{name}: expected a numeric array, got dtype {image.dtype}")
    return image


def normalize_digit(mask_or_grey: np.ndarray) -> np.ndarray:
    """MNIST-normalize one digit given as white ink on black (ink = high values, any numeric dtype).

    Returns a (28, 28) float32 image in [0, 1]: the ink's tight bounding box scaled to fit 20x20
    keeping the aspect ratio (area-averaged, so anti-aliased), placed in 28x28 with the centre of
    mass at the centre. An image without ink gives an all-zero result.
    """
    image = _check_2d(mask_or_grey, "normalize_digit").astype(np.float32)
    image = image - min(float(image.min()), 0.0) if image.min() < 0 else image
    return normalize_ink(image)


def normalize_ink(image: np.ndarray, tight: bool = False) -> np.ndarray:
    """:func:`normalize_digit` of a 2-D float32 image without negative values, unchecked (the
    frame reader's hot path). `tight`: the caller knows every border row and column holds ink
    (above 0.05 of the maximum), so the image is its own bounding box."""
    peak = float(image.max())
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    if peak <= 0:
        return out
    if peak != 1.0:
        image = image / peak
    if tight or (image[0].max() > _INK_FLOOR and image[-1].max() > _INK_FLOOR and
                 image[:, 0].max() > _INK_FLOOR and image[:, -1].max() > _INK_FLOOR):
        crop = image  # already tight (the frame reader's crops): skip the bounding-box search
    else:
        ink = image > _INK_FLOOR
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        crop = image[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    h, w = crop.shape
    scale = MNIST_BOX / max(h, w)
    new_h = max(1, min(MNIST_BOX, int(round(h * scale))))
    new_w = max(1, min(MNIST_BOX, int(round(w * scale))))
    small = resize(crop, new_h, new_w)
    top_peak = float(small.max())
    if top_peak <= 0:
        return out
    if top_peak != 1.0:
        small = small / top_peak  # in [0, 1]: non-negative weights and ink, divided by the maximum

    total = float(small.sum())
    cy = float((small.sum(axis=1) * _POSITIONS[:new_h]).sum()) / total
    cx = float((small.sum(axis=0) * _POSITIONS[:new_w]).sum()) / total
    top = int(round(MNIST_SIZE / 2 - cy))
    left = int(round(MNIST_SIZE / 2 - cx))
    top = min(max(top, 0), MNIST_SIZE - new_h)
    left = min(max(left, 0), MNIST_SIZE - new_w)
    out[top: top + new_h, left: left + new_w] = small
    return out


def to_grey(image: np.ndarray) -> np.ndarray:
    """float32 grey (H, W) from (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) numeric input."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array image, got {type(image).__name__}")
    if image.size == 0:
        raise ValueError(f"expected a non-empty image, got shape {image.shape}")
    if image.ndim == 3 and image.shape[2] in (1, 3, 4):
        channels = image[..., :3].astype(np.float32)
        return channels.mean(axis=2) if channels.shape[2] == 3 else channels[..., 0]
    if image.ndim == 2:
        return image.astype(np.float32)
    raise ValueError(f"expected an image of shape (H, W) or (H, W, 1|3|4), got shape {image.shape}")


def _box_blur(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean filter with edge replication, via cumulative sums (numpy only)."""
    if radius <= 0:
        return image
    k = 2 * radius + 1
    padded = np.pad(image, radius, mode="edge").astype(np.float64)
    c = np.cumsum(np.cumsum(padded, axis=0), axis=1)
    c = np.pad(c, ((1, 0), (1, 0)))
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return (s / (k * k)).astype(np.float32)


# A crop whose darkest and brightest pixels differ by less than this fraction of the 0-255 range
# holds no ink worth classifying (blank paper, a uniform patch, a 1-pixel image).
MIN_CROP_CONTRAST = 0.1


def crop_has_ink(image: np.ndarray) -> bool:
    """Whether a single-digit crop holds any ink at all: contrast of at least MIN_CROP_CONTRAST of
    the full range, and at least two pixels each way (a classifier answers *some* digit for
    anything, so blank and uniform crops must be caught before it)."""
    grey = to_grey(image)
    if min(grey.shape) < 2:
        return False
    scale = 1.0 if grey.dtype.kind == "f" and float(grey.max()) <= 1.0 else 255.0
    return (float(grey.max()) - float(grey.min())) / scale >= MIN_CROP_CONTRAST


def prepare_crop(image: np.ndarray) -> np.ndarray:
    """(28, 28) float32 MNIST-style input from a single-digit crop of any size and polarity.

    Converts to grey, decides the polarity from the border (the border is background), subtracts a
    smooth background estimate so mild uneven lighting does not count as ink, stretches the ink
    contrast to [0, 1] and then applies :func:`normalize_digit`.
    """
    grey = to_grey(image)
    h, w = grey.shape
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background_level = float(np.median(border))
    lo, hi = float(grey.min()), float(grey.max())
    if hi - lo < 1e-6:
        return np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    # Ink is whatever lies on the far side of the border's level: dark-on-light if the border is
    # nearer the bright end.
    ink = (background_level - grey) if (hi - background_level) < (background_level - lo) else (grey - background_level)
    # Background: a wide blur of the non-ink part, so shading across a big crop is removed.
    radius = max(h, w) // 4
    if radius >= 4 and min(h, w) >= 16:
        ink = ink - _box_blur(np.clip(ink, None, float(np.percentile(ink, 50))), radius)
    ink = np.clip(ink, 0.0, None)
    peak = float(np.percentile(ink[ink > 0], 99)) if np.any(ink > 0) else 0.0
    if peak <= 0:
        return np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    # Pixels under a quarter of the ink level are paper noise, not ink.
    ink = np.clip((ink / peak - 0.25) / 0.75, 0.0, 1.0)
    return normalize_digit(ink)

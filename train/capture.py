"""What a camera and the frame reader do to a digit, and what the reader hands over that is no digit.

The frame reader classifies crops it normalized itself (:func:`edgedigits.preprocess.normalize_ink`)
from photos: strokes from hairline to marker, blurred, low-contrast, noisy, cut at an edge, with a
neighbour's fragment in a corner, and a small digit's crop enlarged from a few pixels (seen from
far). :func:`capture_augment` applies those effects to MNIST digits.
It also hands over crops that are not digits at all: two touching digits, half of one, pieces of
rules and box corners, specks, paper texture. :func:`make_negatives` builds such crops from the
batch's own digits and normalizes them exactly as the reader does; models trained with them
get one more output, "not a digit" (``REJECT_LABEL``).

All functions take uint8 (N, 28, 28) white-on-black images and a numpy Generator, so a batch
depends only on its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgedigits.preprocess import MNIST_SIZE, normalize_ink


@dataclass(frozen=True)
class Capture:
    """Probabilities (per image) of each camera effect, and its strength."""

    thicker: float = 0.25         # stroke dilated by 1 px (marker, bold pen, blur of the threshold)
    thinner: float = 0.2          # stroke eroded by 1 px where it stays visible (hairline pen)
    blur: float = 0.25            # Gaussian defocus
    blur_sigma: float = 1.0       # px, the strongest blur
    gamma: float = 0.3            # ink levels bent (faint pencil, burnt-out marker)
    noise: float = 0.2            # sensor noise
    noise_sigma: float = 24.0     # grey levels (0-255), the strongest noise
    edge_cut: float = 0.08        # a band of 1-4 px cleared at one side (a crop cut at the digit's edge)
    fragment: float = 0.1         # a piece of a neighbouring digit in a corner
    jpeg: float = 0.1             # JPEG compression at quality 30-70
    far: float = 0.0              # seen from far: the digit shrunk to far_heights px tall and enlarged back
    far_heights: tuple[float, float] = (7.0, 14.0)  # px, the shrunk digit's ink height (MNIST's is 20 px)

    def __post_init__(self):
        for name in ("thicker", "thinner", "blur", "gamma", "noise", "edge_cut", "fragment", "jpeg"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a probability in [0, 1], got {getattr(self, name)}")
        if not 0 < self.blur_sigma <= 3:
            raise ValueError(f"blur_sigma must be in (0, 3] px, got {self.blur_sigma}")
        if not 0 <= self.noise_sigma <= 64:
            raise ValueError(f"noise_sigma must be in [0, 64] grey levels, got {self.noise_sigma}")
        if not 0 <= self.far <= 1:
            raise ValueError(f"far is a probability in [0, 1], got {self.far}")
        try:
            low, high = (float(h) for h in self.far_heights)
        except (TypeError, ValueError):
            raise ValueError(f"far_heights must be two numbers (min, max) in px, got {self.far_heights!r}") from None
        if not 4 <= low <= high <= 20:
            raise ValueError(f"far_heights must be 4 <= min <= max <= 20 px, got {self.far_heights}")
        object.__setattr__(self, "far_heights", (low, high))


def capture_augment(images: np.ndarray, capture: Capture, rng: np.random.Generator) -> np.ndarray:
    """Each image with the effects of `capture`, each drawn on its own (uint8 in, uint8 out).

    Vectorized over the batch (training threads share the GIL): only the rare effects (edge cut,
    fragment, JPEG) loop over their images."""
    import cv2

    n = len(images)
    draws = rng.random((n, 7))
    out = images.astype(np.float32)
    thicker = draws[:, 0] < capture.thicker
    thinner = (~thicker) & (draws[:, 0] < capture.thicker + capture.thinner)
    out[thicker] = _shifted_max(out[thicker])
    if thinner.any():
        eroded = -_shifted_max(-out[thinner])
        keep = (eroded > 127).sum(axis=(1, 2)) >= 0.5 * (out[thinner] > 127).sum(axis=(1, 2))
        out[np.flatnonzero(thinner)[keep]] = eroded[keep]
    blur = np.flatnonzero(draws[:, 1] < capture.blur)
    if blur.size:
        sigmas = rng.uniform(0.3, capture.blur_sigma, blur.size)
        for sigma in np.unique(np.round(sigmas, 1)):  # one call per sigma, images side by side with gaps
            chosen = blur[np.round(sigmas, 1) == sigma]
            out[chosen] = _side_by_side(out[chosen], lambda strip: cv2.GaussianBlur(strip, (7, 7), float(sigma)))
    bend = np.flatnonzero(draws[:, 2] < capture.gamma)
    if bend.size:
        out[bend] = 255.0 * (out[bend] / 255.0) ** rng.uniform(0.5, 2.0, bend.size)[:, None, None]
    changed = np.union1d(blur, bend)
    out = np.clip(out, 0, 255).astype(np.uint8)
    out[changed] = _stretch(out[changed].astype(np.float32))
    for i in np.flatnonzero(draws[:, 3] < capture.edge_cut):
        out[i] = _cut_edge(out[i], int(rng.integers(1, 5)), int(rng.integers(4)))
    for i in np.flatnonzero(draws[:, 4] < capture.fragment):
        out[i] = np.maximum(out[i], _corner_fragment(images[rng.integers(n)], rng))
    noisy = np.flatnonzero(draws[:, 5] < capture.noise)
    if noisy.size:
        sigma = rng.uniform(4, capture.noise_sigma, noisy.size)[:, None, None]
        out[noisy] = np.clip(out[noisy] + rng.normal(0, 1, (noisy.size, MNIST_SIZE, MNIST_SIZE)) * sigma, 0, 255)
    for i in np.flatnonzero(draws[:, 6] < capture.jpeg):
        _, data = cv2.imencode(".jpg", out[i], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 71))])
        out[i] = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    # Drawn last, and only when on, so recipes without it keep their random stream; so it also
    # shrinks the noise and JPEG blocks added above, which a small digit carries at its own scale.
    if capture.far:
        far = np.flatnonzero(rng.random(n) < capture.far)
        heights = rng.uniform(*capture.far_heights, far.size)
        for i, height in zip(far, heights):
            out[i] = seen_from_far(out[i], height)
    return out


def seen_from_far(image: np.ndarray, height: float) -> np.ndarray:
    """A normalized digit (20 px of ink in 28x28) roughly as the reader gets it from a digit
    `height` px tall: shrunk by area (the camera's pixels) and enlarged back bilinearly, then
    stretched to a peak of 255. The reader's own crop differs: it stretches to a stroke percentile
    (solid strokes), cuts at a faint edge and scales the ink box back to 20 px (these come out
    fainter, and 22-25 px from edge to faint edge)."""
    import cv2

    side = max(2, int(round(MNIST_SIZE * height / 20.0)))
    small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    back = cv2.resize(small, (MNIST_SIZE, MNIST_SIZE), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    return _stretch(back[None])[0]


def _shifted_max(images: np.ndarray) -> np.ndarray:
    """Grey dilation of each (28, 28) image by a 2x2 square (as cv2.dilate with np.ones((2, 2)))."""
    out = images.copy()
    out[:, 1:, :] = np.maximum(out[:, 1:, :], images[:, :-1, :])
    out[:, :, 1:] = np.maximum(out[:, :, 1:], images[:, :, :-1])
    out[:, 1:, 1:] = np.maximum(out[:, 1:, 1:], images[:, :-1, :-1])
    return out


def _side_by_side(images: np.ndarray, operation, gap: int = 4) -> np.ndarray:
    """`operation` applied to each image as if alone: they are laid side by side with `gap` px of
    zeros between them (wider than the operation's reach), processed in one call, cut apart."""
    n, height, width = images.shape
    strip = np.zeros((height, n * (width + gap)), np.float32)
    for k, image in enumerate(images):
        strip[:, k * (width + gap): k * (width + gap) + width] = image
    done = operation(strip)
    return np.stack([done[:, k * (width + gap): k * (width + gap) + width] for k in range(n)])


def _stretch(images: np.ndarray) -> np.ndarray:
    """uint8 images with the brightest pixel of each at 255, as the reader leaves every crop."""
    peak = images.max(axis=(-2, -1), keepdims=True)
    return np.clip(images * (255.0 / np.maximum(peak, 1e-6)), 0, 255).astype(np.uint8)


def _cut_edge(image: np.ndarray, width: int, side: int) -> np.ndarray:
    """Clear a band `width` px wide along the ink's side `side` (0 top, 1 right, 2 bottom, 3 left)."""
    rows, cols = np.flatnonzero(image.max(axis=1) > 40), np.flatnonzero(image.max(axis=0) > 40)
    if rows.size == 0:
        return image
    image = image.copy()
    if side == 0:
        image[: rows[0] + width] = 0
    elif side == 1:
        image[:, cols[-1] + 1 - width:] = 0
    elif side == 2:
        image[rows[-1] + 1 - width:] = 0
    else:
        image[:, : cols[0] + width] = 0
    return image


def _corner_fragment(other: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 4-8 px piece of another digit's ink, moved into one corner of an empty image."""
    size = int(rng.integers(4, 9))
    y, x = (int(v) for v in rng.integers(4, 24 - size, 2))
    piece = other[y: y + size, x: x + size]
    out = np.zeros_like(other)
    top = 0 if rng.random() < 0.5 else MNIST_SIZE - size
    left = 0 if rng.random() < 0.5 else MNIST_SIZE - size
    out[top: top + size, left: left + size] = piece
    return out


# ---------------------------------------------------------------- negatives

NEGATIVE_KINDS = ("pair", "half", "rule", "specks", "texture")


def make_negatives(images: np.ndarray, labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` crops that are not digits, made from `images` and normalized as the reader does."""
    makers = {"pair": _pair, "half": _half, "rule": _rule, "specks": _specks, "texture": _texture}
    kinds = rng.integers(len(NEGATIVE_KINDS), size=count)
    out = np.zeros((count, MNIST_SIZE, MNIST_SIZE), np.uint8)
    for i, kind in enumerate(kinds):
        picture = makers[NEGATIVE_KINDS[kind]](images, labels, rng)
        out[i] = np.rint(255 * normalize_ink(picture.astype(np.float32))).astype(np.uint8)
    return out


def _pair(images, labels, rng) -> np.ndarray:
    """Two digits side by side, touching or overlapping: one blob the reader failed to split."""
    first, second = images[rng.integers(len(images), size=2)]
    overlap = int(rng.integers(4, 13))  # px of the 28 px images' empty margins and strokes shared
    canvas = np.zeros((MNIST_SIZE, 2 * MNIST_SIZE - overlap), np.uint8)
    canvas[:, :MNIST_SIZE] = first
    canvas[:, MNIST_SIZE - overlap:] = np.maximum(canvas[:, MNIST_SIZE - overlap:], second)
    return canvas


# Digits whose top or left part is no digit (the right part of a 3, the bottom of a 5, 6 or 8, the
# top of a 7 and any part of a 1 still look like digits).
_HALVED_DIGITS = (2, 3, 5)


def _half(images, labels, rng) -> np.ndarray:
    """The top or left 40-55% of a 2, 3 or 5: a piece the reader split off."""
    candidates = np.flatnonzero(np.isin(labels, _HALVED_DIGITS))
    if candidates.size == 0:
        return _specks(images, labels, rng)
    image = images[candidates[rng.integers(len(candidates))]]
    rows, cols = np.flatnonzero(image.max(axis=1) > 40), np.flatnonzero(image.max(axis=0) > 40)
    if rng.random() < 0.5:
        piece = image[: rows[0] + int(rng.uniform(0.4, 0.55) * (rows[-1] - rows[0] + 1))]
    else:
        piece = image[:, : cols[0] + int(rng.uniform(0.4, 0.55) * (cols[-1] - cols[0] + 1))]
    return piece if piece.max() > 0 else _specks(images, labels, rng)


def _rule(images, labels, rng) -> np.ndarray:
    """A piece of a ruled line or box: a stroke at least 45 degrees from vertical (a vertical or
    slanted stroke is a 1), alone or meeting a second stroke at a corner or crossing."""
    import cv2

    canvas = np.zeros((56, 56), np.uint8)
    angle = np.deg2rad(rng.uniform(-45, 45))
    thickness = int(rng.integers(1, 4))
    cx, cy = 28 + rng.integers(-6, 7), 28 + rng.integers(-6, 7)
    dx, dy = 30 * np.cos(angle), 30 * np.sin(angle)
    cv2.line(canvas, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)), 255, thickness)
    if rng.random() < 0.5:  # a corner or crossing of a box
        cross = angle + np.pi / 2
        length = rng.uniform(8, 30)
        start = (int(cx + rng.uniform(-20, 20) * np.cos(angle)), int(cy + rng.uniform(-20, 20) * np.sin(angle)))
        end = (int(start[0] + length * np.cos(cross)), int(start[1] + length * np.sin(cross)))
        cv2.line(canvas, start, end, 255, thickness)
    return canvas


def _specks(images, labels, rng) -> np.ndarray:
    """A few to many dots and small blobs: dust, paper fibres, show-through, pencil grain."""
    import cv2

    canvas = np.zeros((40, 40), np.uint8)
    count = int(rng.integers(3, 40))
    centres, axes = rng.integers(0, 40, (count, 2)).tolist(), rng.integers(1, 4, (count, 2)).tolist()
    angles, levels = rng.uniform(0, 180, count).tolist(), rng.integers(90, 256, count).tolist()
    for centre, axis, angle, level in zip(centres, axes, angles, levels):
        cv2.ellipse(canvas, centre, axis, angle, 0, 360, level, -1)
    return canvas


def _texture(images, labels, rng) -> np.ndarray:
    """Smooth random light and dark patches thresholded into blotches: wood, leather, paper grain."""
    import cv2

    size = int(rng.integers(20, 48))
    noise = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), rng.uniform(1.0, 3.0))
    level = np.quantile(noise, rng.uniform(0.55, 0.85))
    return np.clip((noise - level) * 255 / max(float(noise.max() - level), 1e-6), 0, 255).astype(np.uint8)

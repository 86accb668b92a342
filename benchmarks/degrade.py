"""Degraded copies of real photos: what another camera, hand or distance does to the same page.

The shared real photos come from 11 sources; the frames a user brings come from others. Reading
each photo again after one seeded degradation (`python -m benchmarks real --degrade blur,small`)
shows how the reader's figures fall on frames a little worse than the set's, per source, without
any new photo. Each degradation is one function ``(frame, rng) -> frame`` on a BGR or grey uint8
frame; the rng is seeded per image (:func:`image_rng`), so a run is repeatable.
"""

from __future__ import annotations

import zlib
from typing import Callable, NamedTuple

import numpy as np

DEGRADE_SEED = 2029  # each image's rng is seeded with (DEGRADE_SEED, a checksum of its file name)
BLUR_SIGMA_PER_PX = 1 / 800  # defocus: Gaussian sigma (px) per px of the frame's longer side
BLUR_MIN_SIGMA = 1.0         # px: a small frame is still blurred visibly
SMALL_SIDE = 640             # px: the longer side of a webcam frame, or of a page shot from far
HALF_SCALE = 0.5             # of each side: the page shot from twice as far (a quarter of the pixels)
JPEG_QUALITY = 40            # OpenCV's 0-100 scale: a messaging app's recompression
NOISE_SIGMA = 8.0            # grey levels: sensor noise of a dim room
DIM_GAIN = 0.6               # exposure: the frame's levels scaled by this (underexposed)
WARP_MAX = 0.08              # fraction of each side: how far each corner moves inward (phone held at an angle)
SHADOW_GAIN = (0.45, 0.6)    # the shaded side's light, drawn per image: a lamp's or the sun's hard shadow with room light
MILD_SHADOW_GAIN = (0.7, 0.85)  # a milder shadow's: more room light around the lamp whose light is cut
STRIPE_GAIN = (0.6, 0.8)     # a shadow's band across the page (a pen, a window's bar): its light
STRIPE_WIDTH = (0.04, 0.12)  # of the longer side: how wide that band is
SHADOW_CENTRE = (0.3, 0.7)   # fraction of each side: the shadow's edge passes through a point drawn in this range
SHADOW_SOFTNESS = 0.004      # of the longer side: the scale of the edge's logistic ramp (a sharp penumbra)
VIGNETTE_CORNER = 0.5        # the corners' light as a share of the middle's (a cheap webcam's lens)
TURN_DEGREES = (15.0, 30.0)  # a camera held askew: the frame turned by an angle in this range, either way
MOTION_PER_PX = 1 / 250      # camera shake: the smear's length (px) per px of the longer side (16 px on a 4032 px photo)
MOTION_MIN_PX = 3            # px: a small frame is still smeared visibly
THIN_PER_PX = 1 / 1000       # a finer pen: the thinning disc's width (px) per px of the longer side (5 px at 4032)
THIN_MIN_PX = 3              # px: the least such disc (strokes of a small frame lose 2 px)


class Degradation(NamedTuple):
    """One kind of degradation: its function and a line saying what it does."""

    apply: Callable[[np.ndarray, np.random.Generator], np.ndarray]
    what: str


def image_rng(name: str) -> np.random.Generator:
    """The rng of the image file `name`: the same degradation of it in every run, whichever
    images of the set are read with it."""
    return np.random.default_rng((DEGRADE_SEED, zlib.crc32(name.encode("utf-8"))))


def blur(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Defocus: a Gaussian blur of BLUR_SIGMA_PER_PX times the longer side (at least BLUR_MIN_SIGMA)."""
    import cv2

    sigma = max(BLUR_MIN_SIGMA, max(frame.shape[:2]) * BLUR_SIGMA_PER_PX)
    return cv2.GaussianBlur(frame, (0, 0), sigma)


def small(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Distance or a webcam: the frame shrunk (INTER_AREA) to SMALL_SIDE px on its longer side."""
    import cv2

    h, w = frame.shape[:2]
    factor = SMALL_SIDE / max(h, w)
    if factor >= 1:
        return frame
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def half(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Twice as far: the frame shrunk (INTER_AREA) by HALF_SCALE on each side, whatever its size
    (unlike `small`, a webcam frame shrinks too)."""
    import cv2

    h, w = frame.shape[:2]
    size = (max(1, round(w * HALF_SCALE)), max(1, round(h * HALF_SCALE)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def jpeg(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Recompression at JPEG_QUALITY."""
    import cv2

    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 frame
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def noise(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise: Gaussian, NOISE_SIGMA grey levels, independent per pixel and channel."""
    return np.clip(frame + rng.normal(0.0, NOISE_SIGMA, frame.shape), 0, 255).astype(np.uint8)


def dim(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Underexposure: every level times DIM_GAIN."""
    return (frame * DIM_GAIN).astype(np.uint8)


def warp(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Perspective: each corner moved inward by up to WARP_MAX of the frame's sides. Inward only,
    so that no written digit leaves the frame (moving corners outward pushes a page that fills the
    frame past its edge). The band uncovered is one flat colour, the median of the frame's outermost
    pixels: more of the desk, without the streaks a replicated edge draws or the mirrored digits of
    a reflected one."""
    import cv2

    h, w = frame.shape[:2]
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    inward = np.float32([[1, 1], [-1, 1], [-1, -1], [1, -1]])
    moved = corners + inward * rng.uniform(0, WARP_MAX, (4, 2)).astype(np.float32) * np.float32([w, h])
    matrix = cv2.getPerspectiveTransform(corners, moved)
    return cv2.warpPerspective(frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=_rim_colour(frame))


def turn(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A camera held askew: the frame turned about its middle by TURN_DEGREES either way (drawn per
    image), on a canvas grown to hold all of it (nothing written leaves the frame), the corners
    uncovered in the rim's colour as :func:`warp` fills them. The reader is asked to handle up to
    45 degrees past the label's quarter turn. (The grown canvas is up to ~1.4x the frame's side, so
    a big photo shrunk to the reader's working size comes out a little smaller too.)"""
    import cv2

    h, w = frame.shape[:2]
    angle = rng.uniform(*TURN_DEGREES) * rng.choice([-1.0, 1.0])
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)  # pixel centres: the corners stay in
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin)))
    matrix[:, 2] += (size[0] - w) / 2, (size[1] - h) / 2
    return cv2.warpAffine(frame, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=_rim_colour(frame))


def _rim_colour(frame: np.ndarray) -> tuple[float, ...]:
    """The median colour of the frame's outermost pixels, for what a warp or a turn uncovers."""
    channels = 1 if frame.ndim == 2 else frame.shape[2]
    rim = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]]).reshape(-1, channels)
    return tuple(float(v) for v in np.median(rim, axis=0))


def shadow(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A hard shadow (a hand, a phone, a window's frame): the frame on one side of a straight edge
    at a random angle through a point near its middle (SHADOW_CENTRE) darkened to SHADOW_GAIN of
    its light, the edge a ramp of SHADOW_SOFTNESS of the longer side."""
    return _shadow(frame, rng, SHADOW_GAIN)


def mild_shadow(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """As :func:`shadow`, the shaded side at MILD_SHADOW_GAIN of the light: more room light around."""
    return _shadow(frame, rng, MILD_SHADOW_GAIN)


def _shadow(frame: np.ndarray, rng: np.random.Generator, gains: tuple[float, float]) -> np.ndarray:
    side, ramp = _edge_line(frame.shape[:2], rng)
    gain = rng.uniform(*gains)
    shaded = 0.5 + 0.5 * np.tanh(side / ramp)  # logistic, no overflow
    light = 1 - np.float32(1 - gain) * shaded
    return _lit(frame, light)


def stripe(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A shadow's band (a pen, a window's bar) across the frame: a straight band at a random angle
    through a point near the middle (SHADOW_CENTRE), STRIPE_WIDTH of the longer side wide, darkened
    to STRIPE_GAIN of the light, its edges ramps of SHADOW_SOFTNESS of the longer side."""
    side, ramp = _edge_line(frame.shape[:2], rng)  # (the band's middle line)
    gain = rng.uniform(*STRIPE_GAIN)
    half = np.float32(rng.uniform(*STRIPE_WIDTH) * max(frame.shape[:2]) / 2)
    shaded = 0.5 - 0.5 * np.tanh((np.abs(side) - half) / ramp)
    light = 1 - np.float32(1 - gain) * shaded
    return _lit(frame, light)


def _edge_line(shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.float32]:
    """(each pixel's signed distance in px from a straight line at a random angle through a point
    drawn in SHADOW_CENTRE of each side, the scale in px of a shadow edge's ramp across it:
    SHADOW_SOFTNESS of the longer side)."""
    h, w = shape
    angle = rng.uniform(0, np.pi)
    cx, cy = w * rng.uniform(*SHADOW_CENTRE), h * rng.uniform(*SHADOW_CENTRE)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    side = (xs - np.float32(cx)) * np.float32(np.cos(angle)) + (ys - np.float32(cy)) * np.float32(np.sin(angle))
    return side, np.float32(2 * SHADOW_SOFTNESS * max(h, w))


def motion(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera shake: a straight smear MOTION_PER_PX times the longer side long (at least
    MOTION_MIN_PX; odd) in a direction drawn per image, as a hand-held phone moves during the exposure."""
    import cv2

    length = _odd_px(frame, MOTION_PER_PX, MOTION_MIN_PX)
    angle, middle = rng.uniform(0, np.pi), (length - 1) / 2
    reach = np.array([np.cos(angle), np.sin(angle)]) * middle
    kernel = np.zeros((length, length), np.float32)
    ends = [tuple(int(v) for v in np.round(middle + sign * reach)) for sign in (-1, 1)]
    cv2.line(kernel, ends[0], ends[1], 1.0, 1)
    return cv2.filter2D(frame, -1, kernel / kernel.sum())


def thin(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A finer pen or a harder pencil: a grey dilation (each pixel the brightest within a disc
    THIN_PER_PX times the longer side wide, at least THIN_MIN_PX, odd; OpenCV's 3 px "disc" is a
    cross) takes the disc's width less one pixel off every dark stroke: a stroke as wide as the disc
    keeps a 1 px core, a narrower one vanishes. The paper, its light and the desk stay as they were,
    apart from their own fine dark specks. A colour frame is dilated per channel (where two inks
    touch, a mix of them may appear)."""
    import cv2

    side = _odd_px(frame, THIN_PER_PX, THIN_MIN_PX)
    return cv2.dilate(frame, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))


def _odd_px(frame: np.ndarray, per_px: float, min_px: int) -> int:
    """`per_px` times the frame's longer side in px, at least `min_px`, made odd (a kernel centred on
    its pixel)."""
    return max(min_px, round(max(frame.shape[:2]) * per_px)) | 1


def vignette(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Vignetting: the light falling off with the square of the distance from the frame's middle,
    to VIGNETTE_CORNER of it in the corners."""
    h, w = frame.shape[:2]
    ys, xs = np.ogrid[0:h, 0:w]
    radius2 = ((2 * xs / max(w - 1, 1) - 1) ** 2 + (2 * ys / max(h - 1, 1) - 1) ** 2) / 2  # 1 in the corners
    light = (1 - (1 - VIGNETTE_CORNER) * radius2).astype(np.float32)
    return _lit(frame, light)


def _lit(frame: np.ndarray, light: np.ndarray) -> np.ndarray:
    """`frame` (grey or colour) times the light map `light` (h, w), clipped to uint8."""
    return np.clip(frame * (light if frame.ndim == 2 else light[..., None]), 0, 255).astype(np.uint8)


DEGRADATIONS: dict[str, Degradation] = {
    "blur": Degradation(blur, f"Gaussian defocus, sigma = longer side x {BLUR_SIGMA_PER_PX:g} "
                              f"(at least {BLUR_MIN_SIGMA:g} px)"),
    "small": Degradation(small, f"shrunk to {SMALL_SIDE} px on the longer side"),
    "half": Degradation(half, f"shrunk by {HALF_SCALE:g} on each side (twice as far)"),
    "jpeg": Degradation(jpeg, f"JPEG at quality {JPEG_QUALITY}"),
    "noise": Degradation(noise, f"Gaussian noise, sigma {NOISE_SIGMA:g} grey levels"),
    "dim": Degradation(dim, f"levels x {DIM_GAIN:g} (underexposed)"),
    "warp": Degradation(warp, f"perspective, each corner up to {WARP_MAX:.0%} of the sides inward"),
    "shadow": Degradation(shadow, f"a hard shadow's straight edge across the frame, its side at "
                                  f"{SHADOW_GAIN[0]:g}-{SHADOW_GAIN[1]:g} of the light"),
    "mildshadow": Degradation(mild_shadow, f"as shadow, its side at {MILD_SHADOW_GAIN[0]:g}-{MILD_SHADOW_GAIN[1]:g} "
                                           f"of the light"),
    "stripe": Degradation(stripe, f"a shadow's band across the frame, {STRIPE_WIDTH[0]:g}-{STRIPE_WIDTH[1]:g} of "
                                  f"the longer side wide, at {STRIPE_GAIN[0]:g}-{STRIPE_GAIN[1]:g} of the light"),
    "vignette": Degradation(vignette, f"vignetting, the corners at {VIGNETTE_CORNER:g} of the middle's light"),
    "turn": Degradation(turn, f"turned {TURN_DEGREES[0]:g}-{TURN_DEGREES[1]:g} degrees either way (camera askew)"),
    "motion": Degradation(motion, f"camera shake, a straight smear of longer side x {MOTION_PER_PX:g} "
                                  f"(at least {MOTION_MIN_PX} px)"),
    "thin": Degradation(thin, f"a finer pen, strokes thinned by a disc of longer side x {THIN_PER_PX:g} "
                              f"(at least {THIN_MIN_PX} px)"),
}

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
SMALL_SIDE = 640             # px: the longer side of a webcam frame, or of a page shot from far
JPEG_QUALITY = 40            # a messaging app's recompression
NOISE_SIGMA = 8.0            # grey levels: sensor noise of a dim room
DIM_GAIN = 0.6               # exposure: the frame's levels scaled by this (underexposed)
WARP_MAX = 0.08              # fraction of each side: how far each corner moves inward (phone held at an angle)


class Degradation(NamedTuple):
    apply: Callable[[np.ndarray, np.random.Generator], np.ndarray]
    what: str


def image_rng(name: str) -> np.random.Generator:
    """The rng of the image file `name`: the same degradation of it in every run, whichever
    images of the set are read with it."""
    return np.random.default_rng((DEGRADE_SEED, zlib.crc32(name.encode("utf-8"))))


def blur(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Defocus: a Gaussian blur of BLUR_SIGMA_PER_PX times the longer side (at least 1 px)."""
    import cv2

    sigma = max(1.0, max(frame.shape[:2]) * BLUR_SIGMA_PER_PX)
    return cv2.GaussianBlur(frame, (0, 0), sigma)


def small(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Distance or a webcam: the frame shrunk (INTER_AREA) to SMALL_SIDE px on its longer side."""
    import cv2

    factor = SMALL_SIDE / max(frame.shape[:2])
    if factor >= 1:
        return frame
    return cv2.resize(frame, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


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
    rim = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]]).reshape(-1, 1 if frame.ndim == 2 else frame.shape[2])
    fill = tuple(float(v) for v in np.median(rim, axis=0))
    return cv2.warpPerspective(frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=fill)


DEGRADATIONS: dict[str, Degradation] = {
    "blur": Degradation(blur, f"Gaussian defocus, sigma = longer side x {BLUR_SIGMA_PER_PX:g} (at least 1 px)"),
    "small": Degradation(small, f"shrunk to {SMALL_SIDE} px on the longer side"),
    "jpeg": Degradation(jpeg, f"JPEG at quality {JPEG_QUALITY}"),
    "noise": Degradation(noise, f"Gaussian noise, sigma {NOISE_SIGMA:g} grey levels"),
    "dim": Degradation(dim, f"levels x {DIM_GAIN:g} (underexposed)"),
    "warp": Degradation(warp, f"perspective, each corner up to {WARP_MAX:.0%} of the sides inward"),
}


def render_markdown(clean: dict, degraded: dict[str, dict]) -> str:
    """A section comparing :func:`benchmarks.real.summarize`'s `clean` summary with the summaries
    of the same photos degraded (`degraded`: kind -> summary), in total and per source."""
    def pct(value):
        return "–" if value is None else f"{100 * value:.1f}%"

    def number(value, spec):
        return "–" if value is None else format(value, spec)

    runs = {"as photographed": clean, **degraded}
    out = ["## Degraded copies", "",
           "The same photos read again after one degradation each (`benchmarks/degrade.py`, seeded per image).", "",
           "| frames | digits right | source average | lines exactly right | false digits / image | median ms |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, summary in runs.items():
        total = summary["total"]
        label = name if name not in DEGRADATIONS else f"{name}: {DEGRADATIONS[name].what}"
        out.append(f"| {label} | {total['digits'] - total['errors']}/{total['digits']} "
                   f"({pct(total['digit_accuracy'])}) | {pct(summary['repo_average_digit_accuracy'])} | "
                   f"{pct(total['line_accuracy'])} | {number(total['false_digits_per_image'], '.2f')} | "
                   f"{number(total['median_ms'], '.0f')} |")
    out += ["", "| source | " + " | ".join(runs) + " |", "| --- |" + " ---: |" * len(runs)]
    for repo in clean["repos"]:
        cells = [pct(summary["repos"].get(repo, {}).get("digit_accuracy")) for summary in runs.values()]
        out.append(f"| {repo} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"

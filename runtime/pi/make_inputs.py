"""Write the fixed pi-check inputs: MNIST test digits as PNG crops and camera-like frames.

Run from the repo root with the host venv (numpy, OpenCV, train.data). Frames come from
benchmarks/framegen.py (generate_frame) when it exists, otherwise they are composed here
from MNIST test digits (dark ink on a lit paper background), deterministically.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Emulated Pi runs are slow: keep frames at VGA rather than framegen's random sizes up to 1080p.
FRAME_SIZE = (640, 480)

@dataclass(frozen=True)
class InputsConfig:
    out_dir: Path
    digits: int = 20
    frames: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if not 10 <= self.digits <= 200:
            raise ValueError(f"digits must be in 10..200 (one of each class at least), found {self.digits}")
        if not 1 <= self.frames <= 50:
            raise ValueError(f"frames must be in 1..50, found {self.frames}")


def load_test_set() -> tuple[np.ndarray, np.ndarray]:
    from train.data import load_mnist

    data = load_mnist(os.environ.get("MNIST_DIR") or None, download=False)
    return data.test_images, data.test_labels


def pick_digit_indices(labels: np.ndarray, count: int) -> list[int]:
    """The first test image of every class, then the next test images in order, up to count."""
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in range(10)]
    rest = [i for i in range(len(labels)) if i not in set(firsts)]
    return sorted(firsts + rest[: count - len(firsts)])


def write_png(path: Path, image: np.ndarray) -> None:
    import cv2

    tmp = path.with_name(path.name + ".tmp.png")
    if not cv2.imwrite(str(tmp), image):
        raise OSError(f"OpenCV could not write {tmp}")
    os.replace(tmp, path)


def write_digits(images: np.ndarray, labels: np.ndarray, cfg: InputsConfig) -> list[dict]:
    out = cfg.out_dir / "digits"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i in pick_digit_indices(labels, cfg.digits):
        path = out / f"mnist-test-{i:05d}-label{labels[i]}.png"
        write_png(path, images[i])
        written.append({"file": str(path.relative_to(cfg.out_dir)), "label": int(labels[i])})
    return written


def compose_frame(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """A 240x320 grey frame with 1-2 lines of 3-5 dark digits on an unevenly lit background."""
    import cv2

    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w]
    light = 200 + 30 * (xx / w) - 15 * (yy / h)
    frame = light + rng.normal(0, 3, size=(h, w))
    texts = []
    n_lines = int(rng.integers(1, 3))
    for line in range(n_lines):
        n_digits = int(rng.integers(3, 6))
        size = int(rng.integers(40, 56))
        y0 = 30 + line * 100 + int(rng.integers(0, 20))
        x = 20 + int(rng.integers(0, 20))
        text = ""
        for _ in range(n_digits):
            i = int(rng.integers(0, len(images)))
            glyph = cv2.resize(images[i], (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float64) / 255
            region = frame[y0:y0 + size, x:x + size]
            frame[y0:y0 + size, x:x + size] = region * (1 - glyph) + 25 * glyph
            text += str(labels[i])
            x += size + int(rng.integers(4, 12))
        texts.append(text)
    return np.clip(frame, 0, 255).astype(np.uint8), texts


def framegen_frames(images: np.ndarray, labels: np.ndarray, cfg: InputsConfig):
    """Frames from benchmarks/framegen.py (640x480, its default options), or None when it is absent."""
    try:
        from benchmarks.framegen import generate_frame
    except ImportError:
        return None
    rng = np.random.default_rng(cfg.seed)
    frames = []
    for _ in range(cfg.frames):
        image, truth = generate_frame(rng, images, labels, frame_size=FRAME_SIZE)
        frames.append((image, [line.text for line in truth]))
    return frames


def write_frames(images: np.ndarray, labels: np.ndarray, cfg: InputsConfig) -> tuple[list[dict], str]:
    out = cfg.out_dir / "frames"
    out.mkdir(parents=True, exist_ok=True)
    generated = framegen_frames(images, labels, cfg)
    source = "benchmarks/framegen.py" if generated is not None else "composed in runtime/pi/make_inputs.py"
    if generated is None:
        rng = np.random.default_rng(cfg.seed)
        generated = [compose_frame(images, labels, rng) for _ in range(cfg.frames)]
    written = []
    for n, (image, texts) in enumerate(generated):
        path = out / f"frame-{n:02d}.png"
        write_png(path, image)
        written.append({"file": str(path.relative_to(cfg.out_dir)), "lines": texts})
    return written, source


def parse_args(argv: list[str] | None) -> InputsConfig:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out-dir", type=Path, required=True, help="directory to write digits/ and frames/ into")
    p.add_argument("--digits", type=int, default=20, help="number of MNIST test digits")
    p.add_argument("--frames", type=int, default=4, help="number of frames")
    p.add_argument("--seed", type=int, default=0, help="seed for composed frames")
    a = p.parse_args(argv)
    return InputsConfig(a.out_dir, a.digits, a.frames, a.seed)


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    from train.data import MnistError

    try:
        images, labels = load_test_set()
    except MnistError as error:
        print(f"make_inputs: MNIST test set needed for the fixed inputs: {error}", file=sys.stderr)
        return 2
    digits = write_digits(images, labels, cfg)
    frames, source = write_frames(images, labels, cfg)
    index = {"digits": digits, "frames": frames, "frame_source": source}
    (cfg.out_dir / "inputs.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"inputs: {len(digits)} MNIST test digits, {len(frames)} frames ({source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

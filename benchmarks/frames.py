"""The frame reader on a fixed set of generated camera frames: frames/s, per-frame p50/p99 and
digit accuracy.

Two sets, deterministic for a seed, made by benchmarks.framegen from MNIST *test* digits:
  640x480-10  640x480 frames holding 9-11 digits (the "read ten digits" goal)
  mixed       the generator's own mix of frame sizes (640x480 .. 1920x1080) and layouts
Digit accuracy compares the digits read with the truth in reading order:
1 - (edit distance / truth digits), summed over the set; `exact` counts frames read exactly.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.framegen import edit_distance
from benchmarks.measure import matching_repeats, percentile, reference_workload

TEN_DIGITS = (9, 11)   # accepted digit count for the 640x480 set
MAX_DRAWS_PER_FRAME = 40


def frame_text(lines) -> str:
    return " ".join(line.text for line in lines)


def digit_errors(read_text: str, truth_text: str) -> int:
    """Edit distance between the digit sequences (line breaks are not scored)."""
    return edit_distance(read_text.replace(" ", ""), truth_text.replace(" ", ""))


def make_frames(name: str, count: int, seed: int, images: np.ndarray, labels: np.ndarray) -> list:
    """[(frame, truth_text)] for a named set; the same arguments always give the same frames."""
    from benchmarks import framegen

    if name == "mixed":
        return [(frame, frame_text(truth)) for frame, truth in framegen.generate_frames(count, seed, images, labels)]
    if name == "640x480-10":
        rng = np.random.default_rng(seed)
        frames = []
        for _ in range(count * MAX_DRAWS_PER_FRAME):
            frame, truth = framegen.generate_frame(rng, images, labels, frame_size=(640, 480))
            text = frame_text(truth)
            if TEN_DIGITS[0] <= len(text.replace(" ", "")) <= TEN_DIGITS[1]:
                frames.append((frame, text))
                if len(frames) == count:
                    return frames
        raise RuntimeError(f"frame set {name}: only {len(frames)} of {count} frames had "
                           f"{TEN_DIGITS[0]}-{TEN_DIGITS[1]} digits after {count * MAX_DRAWS_PER_FRAME} draws")
    raise ValueError(f"unknown frame set {name!r}")


def measure_reader(reader, frames: list, budget_s: float) -> tuple[dict, np.ndarray]:
    """Read every frame once for accuracy (timed), then time further whole passes over the set
    until the time box is spent. Every read is preceded by an equally long block of the reference
    workload (its p50 is reported; the gate uses the ratio). Returns (numbers, per-frame ns)."""
    reference = reference_workload()
    reader.read(frames[0][0])  # warm-up: first interpreter call, buffers
    repeats = matching_repeats(lambda: reader.read(frames[0][0]), reference, tries=2)
    errors = digits = exact = 0
    samples, reference_samples = [], []
    clock = time.perf_counter_ns

    def timed_read(frame):
        start = clock()
        for _ in range(repeats):
            reference()
        middle = clock()
        result = reader.read(frame)
        samples.append(clock() - middle)
        reference_samples.append((middle - start) // repeats)
        return result

    for frame, truth in frames:
        text = frame_text(timed_read(frame).lines)
        errors += digit_errors(text, truth)
        digits += len(truth.replace(" ", ""))
        exact += text.replace(" ", "") == truth.replace(" ", "")
    # Whole passes only, so every frame weighs the same in the percentiles whatever the budget.
    deadline = clock() + int(budget_s * 1e9)
    while clock() < deadline:
        for frame, _ in frames:
            timed_read(frame)
    times = np.asarray(samples, dtype=np.int64)
    millis = times / 1e6
    numbers = {
        "frames": len(frames),
        "digits": digits,
        "reads": int(times.size),
        "frames_per_s": float(1e3 / millis.mean()),
        "p50_ms": percentile(millis, 50),
        "p99_ms": percentile(millis, 99),
        "digit_accuracy": max(0.0, 1.0 - errors / digits) if digits else None,
        "digit_errors": errors,
        "exact_frames": int(exact),
        "reference_p50_us": percentile(reference_samples, 50) / 1e3,
    }
    return numbers, times


def make_reader(model_path, kind: str):
    """A FrameReader on the given exported format, one interpreter thread (the Pi-like setting)."""
    from edgedigits.classifier import load
    from edgedigits.reader import FrameReader

    return FrameReader(load(model_path, format=kind, threads=1))

"""The frame reader on kinds of scene the shared real photos barely hold: light and white desks,
glare, sticky notes (one or two on a desk), dense sheets of long numbers.

Each scene is the frame generator (benchmarks/framegen.py, MNIST test digits) with a few options
changed; "default" is the generator as the other benchmarks use it. The same seed gives the same
frames. These numbers say where the reader is weak on scenes one would photograph; they are not
real photos, and a mechanism tuned on them alone would fit the generator, not the world.
"""

from __future__ import annotations

import time

import numpy as np

SCENE_FRAMES = 100
SCENE_SEED = 7


def scene_options() -> dict:
    """{name: FrameOptions} of every scene."""
    from dataclasses import replace

    from benchmarks.framegen import FrameOptions

    notes = FrameOptions(papers="sticky", max_lines=2, max_digits_per_line=10)
    return {
        "default": FrameOptions(),
        "light desk": FrameOptions(desk="light"),
        "glossy desk, glare": FrameOptions(desk="glare"),
        "sticky notes, dark desk": notes,
        "sticky notes, white table": replace(notes, desk="white"),
        "dense sheet, long numbers": FrameOptions(max_lines=12, max_digits_per_line=14, min_digit_height=12,
                                                  max_digit_height=40),
        "lit from one side": FrameOptions(light="side"),
        "squared paper": FrameOptions(ruling="squared"),
        "two sticky notes, dark desk": replace(notes, sheets=2),
        "two sticky notes, white table": replace(notes, desk="white", sheets=2),
    }


def measure_scene(reader, options, images, labels, frames: int = SCENE_FRAMES, seed: int = SCENE_SEED) -> dict:
    """Digits right and lines exactly right (framegen.score_read), and ms per frame, for one scene."""
    from benchmarks.framegen import generate_frames, score_read

    true_digits = digits_right = true_lines = lines_right = 0
    millis = []
    for frame, truth in generate_frames(frames, seed, images, labels, options=options):
        started = time.perf_counter()
        result = reader.read(frame)
        millis.append(1e3 * (time.perf_counter() - started))
        score = score_read(result, truth)
        true_digits += score.true_digits
        digits_right += score.digits_right
        true_lines += score.true_lines
        lines_right += score.lines_right
    return {"frames": frames, "digits": true_digits, "digit_accuracy": digits_right / true_digits,
            "lines": true_lines, "line_accuracy": lines_right / true_lines,
            "median_ms": float(np.median(millis)), "p90_ms": float(np.percentile(millis, 90)),
            "max_ms": float(np.max(millis))}


def render_markdown(results: dict, title: str) -> str:
    rows = [f"# {title}\n", "| scene | frames | digits | digits right | lines exactly right | median ms | p90 ms | max ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in results.items():
        rows.append(f"| {name} | {r['frames']} | {r['digits']} | {100 * r['digit_accuracy']:.1f}% | "
                    f"{100 * r['line_accuracy']:.1f}% | {r['median_ms']:.0f} | {r['p90_ms']:.0f} | "
                    f"{r['max_ms']:.0f} |")
    return "\n".join(rows) + "\n"

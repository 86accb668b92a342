"""Throughput of `edgedigits read FOLDER --output FILE` with 1 and 2 worker processes.

The folder holds generated frames (the "mixed" set: paper, light and digit sizes vary) written as
PNG; each run is the whole command as a user runs it (a fresh process: start-up, model load,
decoding, reading, writing JSON Lines), timed from outside.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCH_FRAMES = 60
WORKERS = (1, 2)


def measure(model: Path, images, labels, frames: int = BATCH_FRAMES, workers=WORKERS) -> dict:
    """{workers: {"images", "seconds", "images_per_s"}} for reading `frames` generated PNG frames."""
    from benchmarks.frames import make_frames
    from edgedigits.imageio import write_image

    results = {}
    with tempfile.TemporaryDirectory(prefix="edgedigits-batch-") as tmp:
        folder = Path(tmp) / "frames"
        folder.mkdir()
        for i, (frame, _text) in enumerate(make_frames("mixed", frames, 7, images, labels)):
            write_image(folder / f"frame-{i:03d}.png", frame)
        for count in workers:
            output = Path(tmp) / f"results-{count}.jsonl"
            command = [sys.executable, "-m", "edgedigits", "--model", str(model), "read", str(folder),
                       "--output", str(output), "--workers", str(count)]
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - started
            read = sum(1 for _ in output.open())
            results[count] = {"images": read, "seconds": round(seconds, 3), "images_per_s": round(read / seconds, 2)}
    return results

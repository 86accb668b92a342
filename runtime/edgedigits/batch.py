"""Reading many images: folders expanded to their images, results written as they come (JSON
Lines, flushed), `resume` skipping what an earlier run already wrote, 1..N worker processes, and a
progress line on stderr (count, images/s, ETA)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".pnm", ".tif", ".tiff", ".webp", ".npy")


def expand_images(items: list[str], recursive: bool) -> list[str]:
    """Files as given (a missing one is reported when it is read, the others still read); each
    folder replaced by its image files (by suffix, sorted; with `recursive`, its subfolders' too)."""
    out = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = path.rglob("*") if recursive else path.glob("*")
            out += sorted(str(p) for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        else:
            out.append(item)
    return out


def done_paths(output: Path) -> set[str]:
    """The paths an earlier run already wrote records for (unreadable lines are ignored)."""
    done = set()
    if output.is_file():
        with output.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("path"), str):
                    done.add(record["path"])
    return done


class Progress:
    """`read 12/340  4.1 img/s  ETA 1:20` on one rewritten stderr line."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.count = total, enabled and total > 0, 0
        self.started = time.perf_counter()

    def step(self) -> None:
        self.count += 1
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        rate = self.count / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.count) / rate if rate > 0 else 0.0
        sys.stderr.write(f"\rread {self.count}/{self.total}  {rate:.1f} img/s  ETA {int(left // 60)}:{int(left % 60):02d} ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


_WORKER = {}


def init_worker(load_reader) -> None:
    """Process-pool initializer: each worker loads its own model and reader once."""
    _WORKER["read"] = load_reader()


def read_in_worker(task):
    return _WORKER["read"](*task)


def run(tasks: list[tuple], read_one, load_reader, workers: int, on_record) -> None:
    """`read_one(*task)` for every task, in this process or in `workers` processes (each with the
    reader `load_reader()` makes); `on_record(record)` for each result as it comes."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            on_record(read_one(*task))
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, initializer=init_worker, initargs=(load_reader,)) as pool:
        for record in pool.map(read_in_worker, tasks, chunksize=1):
            on_record(record)

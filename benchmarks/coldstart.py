"""Cold start: a fresh Python process imports, loads a model and makes its first prediction.

The child is a tiny script (below) run with the same interpreter. It reports its own phase times
and its peak resident set size (VmHWM from /proc/self/status, ru_maxrss where there is no /proc)
and which heavy modules ended up imported, so a runtime that pulls in TensorFlow is caught.
The parent measures the whole process wall time (interpreter start included): that is what a
user waits for, and what is quoted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

HEAVY_MODULES = ("tensorflow", "keras", "torch", "jax")

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
mode, args = sys.argv[1], json.loads(sys.argv[2])
phases = {}
if mode == "runtime":
    from edgedigits.classifier import load
    import numpy as np
    t1 = time.perf_counter()
    clf = load(args["path"], format=args["format"])
    t2 = time.perf_counter()
    clf.predict(np.zeros((28, 28), dtype=np.uint8))
    t3 = time.perf_counter()
    phases = {"import_s": t1 - t0, "load_s": t2 - t1, "first_predict_s": t3 - t2}
elif mode == "keras":
    import keras
    import numpy as np
    t1 = time.perf_counter()
    model = keras.models.load_model(args["path"], compile=False)
    t2 = time.perf_counter()
    model.predict(np.zeros((1, 28, 28, 1), dtype=np.float32), verbose=0)
    t3 = time.perf_counter()
    phases = {"import_s": t1 - t0, "load_s": t2 - t1, "first_predict_s": t3 - t2}
elif mode == "tensorflow":
    import tensorflow
    phases = {"import_s": time.perf_counter() - t0}
elif mode == "numpy":
    import numpy
    phases = {"import_s": time.perf_counter() - t0}
else:
    raise SystemExit("unknown mode " + mode)
total = time.perf_counter() - t0
peak_kb = None
try:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak_kb = int(line.split()[1])
except OSError:
    import resource
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
heavy = [m for m in HEAVY if m in sys.modules]
print("COLDSTART " + json.dumps({"in_process_s": total, "phases": phases, "peak_rss_kb": peak_kb,
                                 "heavy_modules": heavy}))
""".replace("HEAVY", repr(HEAVY_MODULES))

MODES = ("runtime", "keras", "tensorflow", "numpy")


class ColdStartError(RuntimeError):
    """The child process failed or printed no result."""


def run_child(mode: str, args: dict | None = None, *, timeout_s: float = 120.0) -> dict:
    """One fresh process; returns the child's report plus the parent-measured wall time."""
    if mode not in MODES:
        raise ValueError(f"unknown cold-start mode {mode!r}; expected one of {MODES}")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, "-c", CHILD, mode, json.dumps(args or {})]
    start = time.perf_counter_ns()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env,
                               cwd=os.getcwd())
    wall_s = (time.perf_counter_ns() - start) / 1e9
    report_lines = [line for line in completed.stdout.splitlines() if line.startswith("COLDSTART ")]
    if completed.returncode != 0 or not report_lines:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
        raise ColdStartError(f"cold-start child ({mode}) exited with {completed.returncode}: " + " | ".join(tail))
    report = json.loads(report_lines[-1][len("COLDSTART "):])
    report["wall_s"] = wall_s
    return report


def measure_cold_start(mode: str, args: dict | None = None, *, repeats: int = 3, paired: bool = False) -> dict:
    """Median over `repeats` fresh processes (the first may pay for a cold disk cache).

    paired: run a bare `import numpy` process right before each one and also report the median
    ratio of the two wall times; on a busy machine both slow down alike, so the ratio is what the
    regression gate compares."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    reports, ratios = [], []
    for _ in range(repeats):
        if paired:
            bare = run_child("numpy")
        reports.append(run_child(mode, args))
        if paired:
            ratios.append(reports[-1]["wall_s"] / bare["wall_s"])
    walls = [r["wall_s"] for r in reports]
    in_process = [r["in_process_s"] for r in reports]
    peaks = [r["peak_rss_kb"] for r in reports if r["peak_rss_kb"] is not None]
    phases = {key: float(np.median([r["phases"][key] for r in reports])) for key in reports[0]["phases"]}
    return {
        "seconds": float(np.median(walls)),          # process wall time: start + import + load + predict
        "in_process_s": float(np.median(in_process)),  # the same without interpreter start-up
        "phases": phases,
        "peak_rss_mb": float(np.median(peaks)) / 1024 if peaks else None,
        "heavy_modules": sorted({m for r in reports for m in r["heavy_modules"]}),
        "relative_to_numpy": float(np.median(ratios)) if ratios else None,
        "repeats": repeats,
    }

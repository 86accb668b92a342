"""The two Keras rows: `model.predict` (what tutorials do) and a direct call `model(x, training=False)`.

TensorFlow fixes its thread pools when it starts, so each thread setting runs in its own child
process (`python -m benchmarks.keras_rows SPEC.json`); the benchmark process itself never
imports TensorFlow. The child writes its numbers as JSON and, when asked, the float probabilities
on the test images (the reference for the exported formats' agreement).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.measure import TimingPlan, latency_summary, throughput, time_calls


class KerasRowError(RuntimeError):
    """The Keras child process failed."""


def run_keras_child(model_path: Path, images: np.ndarray | None, *, threads: int, batch_sizes,
                    latency_plan: TimingPlan, throughput_plan: TimingPlan, timeout_s: float = 900) -> dict:
    """Measure both Keras rows with `threads` TensorFlow threads in a fresh process.

    images: the test images (N, 28, 28) uint8 to compute probabilities on, or None to skip.
    Returns {"predict": {...}, "call": {...}, "probabilities": array or None}."""
    with tempfile.TemporaryDirectory(prefix="bench-keras-") as tmp:
        tmp = Path(tmp)
        spec = {"model": str(model_path), "threads": threads, "batch_sizes": list(batch_sizes),
                "latency_plan": vars(latency_plan), "throughput_plan": vars(throughput_plan),
                "images": None, "probabilities": str(tmp / "probabilities.npy"), "result": str(tmp / "result.json")}
        if images is not None:
            np.save(tmp / "images.npy", images)
            spec["images"] = str(tmp / "images.npy")
        (tmp / "spec.json").write_text(json.dumps(spec))
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        completed = subprocess.run([sys.executable, "-m", "benchmarks.keras_rows", str(tmp / "spec.json")],
                                   capture_output=True, text=True, timeout=timeout_s, env=env)
        if completed.returncode != 0 or not (tmp / "result.json").is_file():
            tail = " | ".join(completed.stderr.strip().splitlines()[-4:])
            raise KerasRowError(f"Keras benchmark child ({threads} threads) exited with {completed.returncode}: {tail}")
        result = json.loads((tmp / "result.json").read_text())
        result["probabilities"] = np.load(tmp / "probabilities.npy") if images is not None else None
        return result


# ---------------------------------------------------------------- the child


def _child(spec: dict) -> dict:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(spec["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(1 if spec["threads"] == 1 else 2)
    import keras

    model = keras.models.load_model(spec["model"], compile=False)
    latency_plan = TimingPlan(**spec["latency_plan"])
    throughput_plan = TimingPlan(**spec["throughput_plan"])
    rng = np.random.default_rng(0)
    batches = {b: rng.random((b, 28, 28, 1), dtype=np.float32) for b in spec["batch_sizes"]}
    one = rng.random((1, 28, 28, 1), dtype=np.float32)

    def predict_one():
        return model.predict(one, verbose=0)

    def call_one():
        return np.asarray(model(one, training=False))

    result = {"tensorflow": tf.__version__, "keras": keras.__version__, "threads": spec["threads"]}
    for name, one_call, batch_call in (
        ("predict", predict_one, lambda x: model.predict(x, batch_size=len(x), verbose=0)),
        ("call", call_one, lambda x: np.asarray(model(x, training=False))),
    ):
        entry = {"latency": latency_summary(time_calls(one_call, latency_plan)), "throughput": {}}
        for size, batch in batches.items():
            entry["throughput"][str(size)] = throughput(lambda: batch_call(batch), size, throughput_plan)
        result[name] = entry
    if spec["images"]:
        images = np.load(spec["images"]).astype(np.float32)[..., None] / np.float32(255.0)
        probabilities = model.predict(images, batch_size=256, verbose=0)
        np.save(spec["probabilities"], probabilities.astype(np.float32))
    return result


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m benchmarks.keras_rows SPEC.json (internal: run by the benchmark)", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text())
    result = _child(spec)
    Path(spec["result"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

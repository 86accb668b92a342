"""One benchmark run: every requested model x row, the frame reader, cold starts, the machine.

`run_benchmarks(config)` returns (results, samples): `results` is the JSON-ready dict written to
results.json; `samples` holds the raw latency samples (for the plots and samples.npz).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


from benchmarks import coldstart, frames, machine, rows
from benchmarks.config import KERAS_ROWS, BenchConfig, BenchmarkError  # noqa: F401 - re-exported
from benchmarks.measure import REFERENCE_SHAPE, reference_macs

SCHEMA_VERSION = 1
FLOAT_REFERENCE_ORDER = ("keras", "tflite-f32", "onnx-f32")


@dataclass
class Samples:
    latency: dict = field(default_factory=dict)   # (model, kind, thread label) -> ns array
    frames: dict = field(default_factory=dict)    # (model, frame set) -> ns array

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        out = {f"latency/{m}/{k}/{t}": a for (m, k, t), a in self.latency.items()}
        out.update({f"frames/{m}/{s}": a for (m, s), a in self.frames.items()})
        return out


def discover_models(config: BenchConfig) -> list[str]:
    """The requested models, or every folder of artifacts_dir with a manifest.json or model.keras."""
    if config.models:
        return list(config.models)
    root = config.artifacts_dir
    found = sorted(p.name for p in root.glob("*")
                   if p.is_dir() and ((p / "manifest.json").is_file() or (p / "model.keras").is_file()))
    if not found:
        raise BenchmarkError(f"no trained or exported models under {root}/ (run `make train export`, "
                             "or pass --artifacts-dir)")
    return found


def load_test_set(config: BenchConfig) -> tuple[np.ndarray, np.ndarray]:
    from train.data import MnistError, load_mnist

    try:
        data = load_mnist(config.data_dir, download=False, progress=False)
    except MnistError as error:
        raise BenchmarkError(f"cannot load the MNIST test set: {error}") from None
    images, labels = data.test_images, data.test_labels.astype(np.int64)
    if config.test_limit is not None:
        images, labels = images[:config.test_limit], labels[:config.test_limit]
    return np.ascontiguousarray(images), np.ascontiguousarray(labels)


def model_facts(model_dir: Path, manifest: dict | None) -> dict:
    """params, MACs and the training-time test accuracy, from the manifest or metrics.json."""
    source = (manifest or {}).get("source") or {}
    metrics = rows.read_json(model_dir / "metrics.json") or {}
    return {
        "params": source.get("params", metrics.get("params")),
        "macs": source.get("macs", metrics.get("macs")),
        "source_test_accuracy": source.get("test_accuracy", metrics.get("test_accuracy")),
        "weights_sha256": weights_sha256(model_dir / "model.keras"),
    }


def weights_sha256(keras_path: Path) -> str | None:
    """sha256 of the weights inside a .keras archive (its model.weights.h5 member), or None.

    Not of the archive itself: Keras writes the save time and Python object ids into it, so a
    retrain that gives bit-identical weights still gives another file."""
    import zipfile

    try:
        with zipfile.ZipFile(keras_path) as archive:
            return hashlib.sha256(archive.read("model.weights.h5")).hexdigest()
    except (OSError, KeyError, zipfile.BadZipFile):
        return None


class Progress:
    """A tqdm bar over the run's steps (a no-op when disabled or tqdm is missing)."""

    def __init__(self, total: int, enabled: bool):
        self._bar = None
        if enabled:
            try:
                from tqdm import tqdm

                self._bar = tqdm(total=total, unit="step", file=sys.stderr, dynamic_ncols=True,
                                 bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]")
            except ImportError:
                pass

    def step(self, text: str):
        if self._bar is not None:
            self._bar.set_description(text[:48])

    def done(self, n: int = 1):
        if self._bar is not None:
            self._bar.update(n)

    def close(self):
        if self._bar is not None:
            self._bar.close()


def count_steps(config: BenchConfig, models: list[str]) -> int:
    per_model = (2 if config.keras_rows else 0) + len(config.formats) + len(config.frame_sets)
    if config.cold_start_repeats:
        per_model += len(config.formats) + (1 if config.keras_rows else 0)
    return len(models) * per_model + 1 + int(config.tensorflow_reference)


def run_benchmarks(config: BenchConfig) -> tuple[dict, Samples]:
    started = time.perf_counter()
    models = discover_models(config)
    images, labels = load_test_set(config)
    samples = Samples()
    results = {
        "schema_version": SCHEMA_VERSION,
        "created_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config": config.describe(),
        "machine": machine.machine_info(),
        "load_average": {"start": machine.load_average()},
        "reference_workload": {"name": "int32 matrix product %dx%dx%d (numpy, one thread)" % REFERENCE_SHAPE,
                               "macs": reference_macs()},
        "test_images": int(labels.size),
        "models": {},
        "cold_start_reference": {},
    }
    progress = Progress(count_steps(config, models), config.progress)
    try:
        for name in models:
            results["models"][name] = benchmark_model(name, config, images, labels, samples, progress)
        progress.step("cold start: numpy import")
        results["cold_start_reference"]["numpy_import"] = _cold_start_or_error("numpy", None, max(1, config.cold_start_repeats))
        progress.done()
        if config.tensorflow_reference:
            progress.step("cold start: tensorflow import")
            results["cold_start_reference"]["tensorflow_import"] = _cold_start_or_error(
                "tensorflow", None, max(1, min(3, config.cold_start_repeats)))
            progress.done()
    finally:
        progress.close()
    results["load_average"]["end"] = machine.load_average()
    results["duration_s"] = round(time.perf_counter() - started, 1)
    return results, samples


def _cold_start_or_error(mode: str, args: dict | None, repeats: int, paired: bool = False) -> dict:
    try:
        return coldstart.measure_cold_start(mode, args, repeats=repeats, paired=paired)
    except (coldstart.ColdStartError, OSError, ValueError) as error:
        return {"error": str(error)}
    except Exception as error:  # noqa: BLE001 - subprocess timeouts and the like: record, keep going
        return {"error": f"{type(error).__name__}: {error}"}


def benchmark_model(name: str, config: BenchConfig, images, labels, samples: Samples, progress: Progress) -> dict:
    model_dir = config.artifacts_dir / name
    manifest_path = model_dir / "manifest.json"
    manifest = rows.read_json(manifest_path) if manifest_path.is_file() else None
    facts = model_facts(model_dir, manifest)
    entry = {**facts, "rows": {}, "frames": {}, "float_reference": None, "float_accuracy": None}
    digits: dict[str, np.ndarray] = {}

    if config.keras_rows:
        keras_rows, keras_digits = measure_keras_rows(model_dir, config, images, labels, samples, name, progress)
        entry["rows"].update(keras_rows)
        if keras_digits is not None:
            digits["keras"] = keras_digits

    for kind in config.formats:
        progress.step(f"{name} {kind}")
        status, reason = rows.format_status(manifest, model_dir, kind)
        row = rows.empty_row(kind, status, reason)
        if status != rows.MISSING:
            try:
                numbers, latency_samples = rows.measure_format(manifest_path, kind, images, labels, config, facts["macs"])
                digits[kind] = numbers.pop("digits")
                row.update(numbers)
                for label, array in latency_samples.items():
                    samples.latency[(name, kind, label)] = array
            except Exception as error:  # noqa: BLE001 - a broken format is a result, not a crash
                row.update(status=rows.ERROR, reason=f"{type(error).__name__}: {error}")
        entry["rows"][kind] = row
        progress.done()

    add_float_comparison(entry, digits, labels)

    if config.cold_start_repeats:
        for kind in config.formats:
            progress.step(f"{name} {kind} cold start")
            row = entry["rows"][kind]
            if row["status"] in (rows.OK, rows.INVALID):
                row["cold_start"] = _cold_start_or_error(
                    "runtime", {"path": str(manifest_path.resolve()), "format": kind}, config.cold_start_repeats,
                    paired=True)
            progress.done()

    for set_name in config.frame_sets:
        progress.step(f"{name} frames {set_name}")
        entry["frames"][set_name] = measure_frame_set(name, set_name, manifest_path, entry, config, samples)
        progress.done()
    return entry


def measure_keras_rows(model_dir: Path, config: BenchConfig, images, labels, samples: Samples, name: str,
                       progress: Progress) -> tuple[dict, np.ndarray | None]:
    from benchmarks.keras_rows import KerasRowError, run_keras_child

    keras_path = model_dir / "model.keras"
    result_rows = {kind: rows.empty_row(kind, rows.OK) for kind in config.keras_rows}
    steps = 2 + (1 if config.cold_start_repeats else 0)
    if not keras_path.is_file():
        for row in result_rows.values():
            row.update(status=rows.MISSING, reason=f"no {keras_path}")
        progress.done(steps)
        return result_rows, None
    probabilities = None
    try:
        for label, threads in sorted(config.thread_settings.items(), key=lambda kv: kv[0] != "all"):
            progress.step(f"{name} keras ({threads} thread{'s' if threads > 1 else ''})")
            child = run_keras_child(keras_path, images if label == "all" else None, threads=threads,
                                    batch_sizes=config.batch_sizes, latency_plan=config.keras_latency,
                                    throughput_plan=config.keras_throughput)
            if child["probabilities"] is not None:
                probabilities = child["probabilities"]
            for kind in config.keras_rows:
                part = child["predict" if kind == "keras-predict" else "call"]
                result_rows[kind]["latency"][label] = part["latency"]
                result_rows[kind]["throughput"][label] = part["throughput"]
            progress.done()
    except (KerasRowError, OSError, ValueError) as error:
        for row in result_rows.values():
            row.update(status=rows.ERROR, reason=str(error))
        progress.done(steps)
        return result_rows, None
    except Exception as error:  # noqa: BLE001 - e.g. a subprocess timeout: the row says so
        for row in result_rows.values():
            row.update(status=rows.ERROR, reason=f"{type(error).__name__}: {error}")
        progress.done(steps)
        return result_rows, None

    numbers = rows.accuracy_numbers(probabilities, labels, None)
    macs = model_facts(model_dir, None)["macs"]
    for row in result_rows.values():
        row.update(file="model.keras", size_bytes=keras_path.stat().st_size, **numbers)
        if macs and row["throughput"].get("all"):
            row["macs_per_s"] = max(t["images_per_s"] for t in row["throughput"]["all"].values()) * macs
    if config.cold_start_repeats:
        progress.step(f"{name} keras cold start")
        cold = _cold_start_or_error("keras", {"path": str(keras_path.resolve())}, max(1, min(2, config.cold_start_repeats)))
        for row in result_rows.values():
            row["cold_start"] = cold
        progress.done()
    return result_rows, probabilities.argmax(axis=1)


def add_float_comparison(entry: dict, digits: dict[str, np.ndarray], labels: np.ndarray) -> None:
    """Δ accuracy (pp) and top-1 agreement of every row against the float reference: Keras when it
    was measured, else the float TFLite model, else float ONNX."""
    reference = next((r for r in FLOAT_REFERENCE_ORDER if r in digits), None)
    if reference is None:
        return
    reference_digits = digits[reference]
    float_accuracy = float((reference_digits == labels).mean())
    entry["float_reference"] = reference
    entry["float_accuracy"] = float_accuracy
    for kind, row in entry["rows"].items():
        if row["accuracy"] is None:
            continue
        row["delta_pp"] = (row["accuracy"] - float_accuracy) * 100.0
        own = digits.get("keras" if kind in KERAS_ROWS else kind)
        if own is not None:
            row["agreement"] = float((own == reference_digits).mean())


def measure_frame_set(model: str, set_name: str, manifest_path: Path, entry: dict, config: BenchConfig,
                      samples: Samples) -> dict:
    """The frame reader with the int8 TFLite model (the deployed default), or why it could not run."""
    kind = "tflite-int8"
    status = rows.format_status(rows.read_json(manifest_path) if manifest_path.is_file() else None,
                                manifest_path.parent, kind)[0]
    if status == rows.MISSING:
        return {"status": "unavailable", "reason": f"no {kind} model", "format": kind}
    try:
        reader = frames.make_reader(manifest_path, kind)
    except ImportError as error:
        return {"status": "unavailable", "reason": f"frame reader not importable: {error}", "format": kind}
    except Exception as error:  # noqa: BLE001
        return {"status": "error", "reason": f"{type(error).__name__}: {error}", "format": kind}
    try:
        frame_list = frames.make_frames(set_name, config.frames_per_set, config.frame_seed,
                                        *_frame_digits(config))
        numbers, times = frames.measure_reader(reader, frame_list, config.frame_budget_s)
    except Exception as error:  # noqa: BLE001
        return {"status": "error", "reason": f"{type(error).__name__}: {error}", "format": kind}
    samples.frames[(model, set_name)] = times
    return {"status": "ok", "format": kind, "threads": 1, **numbers}


_FRAME_DIGITS: dict = {}


def _frame_digits(config: BenchConfig):
    """MNIST test digits for the frames (the whole test set, whatever --test-limit says)."""
    key = str(config.data_dir)
    if key not in _FRAME_DIGITS:
        from train.data import load_mnist

        data = load_mnist(config.data_dir, download=False, progress=False)
        _FRAME_DIGITS[key] = (data.test_images, data.test_labels)
    return _FRAME_DIGITS[key]


def strip_for_json(results: dict) -> dict:
    """results with numpy scalars turned into plain Python numbers."""
    def convert(value):
        if isinstance(value, dict):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, Path):
            return str(value)
        return value
    return convert(results)


def results_folder(root: Path, suffix: str = "") -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = root / f"{stamp}{suffix}"
    n = 1
    while folder.exists():
        n += 1
        folder = root / f"{stamp}{suffix}-{n}"
    folder.mkdir(parents=True)
    return folder


def point_latest(root: Path, folder: Path) -> None:
    """results/latest -> the newest full run (a relative symlink, replaced atomically)."""
    link = root / "latest"
    temp = root / f".latest.{os.getpid()}"
    try:
        if temp.is_symlink() or temp.exists():
            temp.unlink()
        temp.symlink_to(folder.name)
        os.replace(temp, link)
    except OSError:
        pass  # no symlinks on this file system: the timestamped folder is still there

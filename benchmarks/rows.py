"""One result row per model x format: status from the manifest, then accuracy, latency,
throughput and cold start measured through the runtime (`edgedigits.classifier.load`).

A row is never dropped: a format that failed export, failed validation or does not load here
still gets a row with its status and the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgedigits.formats import FORMATS

from benchmarks.measure import (TimingPlan, latency_summary, percentile, reference_workload, throughput,
                                time_interleaved)

OK = "ok"                          # exported and validated
INVALID = "validation-failed"      # exported, but failed (or has no) validation against Keras
MISSING = "missing"                # export failed or was never run
ERROR = "error"                    # exported, but the benchmark could not load or run it here
STATUSES = (OK, INVALID, MISSING, ERROR)
STATUS_TEXT = {OK: "ok", INVALID: "failed validation", MISSING: "export failed/missing", ERROR: "error"}


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def format_status(manifest: dict | None, model_dir: Path, name: str) -> tuple[str, str]:
    """(status, reason) of one format of one model, from its manifest entry and the file."""
    if manifest is None:
        return MISSING, "no manifest.json (not exported)"
    entry = (manifest.get("formats") or {}).get(name)
    if not isinstance(entry, dict):
        return MISSING, "not in manifest.json (export failed or not requested)"
    file_name = entry.get("file") or FORMATS[name].filename(manifest.get("model", model_dir.name))
    if not (model_dir / file_name).is_file():
        return MISSING, f"{file_name} listed in manifest.json but not found"
    validation = entry.get("validation")
    if not isinstance(validation, dict) or "passed" not in validation:
        return INVALID, "no validation record in manifest.json"
    if validation.get("passed") is not True:
        failures = validation.get("failures") or validation.get("reasons")
        return INVALID, f"validation failed{': ' + '; '.join(map(str, failures)) if failures else ''}"
    return OK, ""


def empty_row(kind: str, status: str, reason: str = "") -> dict:
    fmt = FORMATS.get(kind)
    return {
        "kind": kind,
        "backend": fmt.backend if fmt else "keras",
        "quantized": bool(fmt.quantized) if fmt else False,
        "status": status,
        "reason": reason,
        "file": None,
        "size_bytes": None,
        "accuracy": None,
        "delta_pp": None,
        "agreement": None,
        "per_class_accuracy": None,
        "latency": {},
        "throughput": {},
        "macs_per_s": None,
        "cold_start": None,
    }


def accuracy_numbers(probabilities: np.ndarray, labels: np.ndarray, reference: np.ndarray | None) -> dict:
    """Top-1 accuracy, per-class accuracy and top-1 agreement with the float reference predictions."""
    predicted = probabilities.argmax(axis=1)
    per_class = [float((predicted[labels == c] == c).mean()) if np.any(labels == c) else None for c in range(10)]
    return {
        "accuracy": float((predicted == labels).mean()),
        "per_class_accuracy": per_class,
        "agreement": float((predicted == reference).mean()) if reference is not None else None,
        "images": int(labels.size),
    }


def measure_latency(call, plan: TimingPlan) -> tuple[dict, np.ndarray]:
    """Batch-1 latency summary. Every call is timed right after one run of the reference workload,
    so both see the same moments of a busy machine. Besides the percentiles, the fastest call and
    the fastest reference run are kept: other processes can slow a run down but never speed it up,
    so the gate compares those (a p50 ratio measured on this shared machine swung by up to 2x)."""
    samples, reference_samples = time_interleaved(call, reference_workload(), plan, reference_repeats=1)
    summary = latency_summary(samples)
    summary["min_us"] = float(samples.min()) / 1e3
    summary["reference_p50_us"] = percentile(reference_samples, 50) / 1e3
    summary["reference_min_us"] = float(reference_samples.min()) / 1e3
    return summary, samples


def measure_format(model_path: Path, kind: str, images: np.ndarray, labels: np.ndarray, config,
                   macs: int | None) -> tuple[dict, dict]:
    """Measure one exported format. Returns (row numbers, latency samples by thread label).
    numbers["digits"] holds the predicted digits (for agreement with the float reference)."""
    from edgedigits.classifier import load

    numbers: dict = {"latency": {}, "throughput": {}}
    samples: dict = {}
    classifiers = {label: load(model_path, format=kind, threads=threads)
                   for label, threads in config.thread_settings.items()}
    first = classifiers["all"]
    numbers["file"] = first.source.path.name
    numbers["size_bytes"] = first.source.size_bytes
    probabilities = first.predict(images).probabilities
    numbers.update(accuracy_numbers(probabilities, labels, None))
    numbers["digits"] = probabilities.argmax(axis=1)
    one = images[0]
    for label, classifier in classifiers.items():
        numbers["latency"][label], samples[label] = measure_latency(
            lambda c=classifier: c.predict(one), config.latency)
        numbers["throughput"][label] = {
            str(b): throughput(lambda c=classifier, x=_batch(images, b): c.predict(x), b, config.throughput)
            for b in config.batch_sizes}
    if macs:
        best = max(t["images_per_s"] for t in numbers["throughput"]["all"].values())
        numbers["macs_per_s"] = best * macs
    return numbers, samples


def _batch(images: np.ndarray, size: int) -> np.ndarray:
    """The first `size` images, repeated when the slice is smaller than the batch."""
    if len(images) >= size:
        return np.ascontiguousarray(images[:size])
    return np.ascontiguousarray(np.resize(images, (size, *images.shape[1:])))

"""The regression gate: the metrics that matter, extracted from a run, compared with a baseline.

`gate_view(results)` keeps only comparable, rounded numbers (what baseline.json stores);
`compare(baseline, current, tolerances)` is pure and returns one Regression per metric that moved
the wrong way by more than its tolerance:

  status        a row that was "ok" is missing or no longer ok
  accuracy_pct  absolute drop (percentage points)
  gap_pp        int8 minus float accuracy, shrinking (getting worse) by more than the tolerance
  size_bytes    growth beyond a small fraction
  latency_rel   the fastest batch-1 call on 1 thread divided by the fastest run of the reference
                workload, each call timed right after a reference run (other processes slow runs
                down, never speed them up; older results: the two p50s)
  batch64_rel   the batch-64 time (1 thread) divided by the reference's p50, the two measured
                interleaved (an equally long reference block before every batch)
  cold_start_*  peak RSS growth; process time relative to a bare `import numpy` process run
                right before it; a heavy module (TensorFlow…) newly imported by the runtime
  frames        digit accuracy drop; per-frame p50 relative to the reference workload
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from benchmarks.rows import MISSING, OK

GATE_SCHEMA = 1


@dataclass(frozen=True)
class Tolerances:
    accuracy_pp: float = 0.10        # absolute accuracy drop allowed, percentage points
    gap_pp: float = 0.10             # int8-vs-float gap allowed to widen by this much
    size_fraction: float = 0.02      # file size growth allowed
    latency_ratio: float = 1.6       # fastest batch-1 call relative to the reference may grow by this factor
    batch_ratio: float = 2.5         # batch-64 time relative to the reference (noisier: longer calls)
    frame_latency_ratio: float = 2.5  # frame-reader p50 relative to the reference (few, varied frames)
    cold_start_ratio: float = 3.0    # cold start relative to a bare numpy process run just before
    rss_fraction: float = 0.25       # cold-start peak RSS growth allowed
    frame_accuracy_pp: float = 3.0   # frame-reader digit accuracy drop allowed (small frame set)
    # A model retrained since the baseline (another Keras sha256, e.g. CI on another CPU: training is
    # bit-reproducible on one CPU only) is a different sample of the recipe, not the same file: its
    # accuracy may sit this many binomial standard errors of the evaluated slice below the baseline's,
    # and its int8 gap this many Poisson standard errors of the images the gap counts.
    retrained_z: float = 3.0

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
                raise ValueError(f"tolerance {name} must be a number >= 0, got {value!r}")
        for name in ("latency_ratio", "batch_ratio", "frame_latency_ratio", "cold_start_ratio"):
            if getattr(self, name) < 1:
                raise ValueError(f"tolerance {name} is a factor and must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class Regression:
    model: str
    row: str
    metric: str
    baseline: object
    current: object
    allowed: str

    def message(self) -> str:
        where = f"{self.model} {self.row}".strip()
        return f"{where}: {self.metric} regressed: baseline {_show(self.baseline)} -> now {_show(self.current)} ({self.allowed})"


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _round(value, digits: int = 3):
    """Round to `digits` significant digits (ratios, timings) so the baseline diff stays readable."""
    if value is None:
        return None
    if value == 0:
        return 0.0
    return float(f"{value:.{digits}g}")


# ---------------------------------------------------------------- extraction


def _rel(value, reference):
    return None if value is None or not reference else value / reference


def row_view(row: dict, float_accuracy: float | None) -> dict:
    latency = (row.get("latency") or {}).get("single") or {}
    batch64 = (((row.get("throughput") or {}).get("single") or {}).get("64") or {})
    if latency.get("min_us") and latency.get("reference_min_us"):
        latency_rel = _rel(latency["min_us"], latency["reference_min_us"])
    else:  # results written before the fastest runs were kept
        latency_rel = _rel(latency.get("p50_us"), latency.get("reference_p50_us"))
    batch_us = batch64["batch_p50_ms"] * 1e3 if batch64.get("batch_p50_ms") else None
    cold = row.get("cold_start") or {}
    accuracy = row.get("accuracy")
    view = {
        "status": row["status"],
        "size_bytes": row.get("size_bytes"),
        "accuracy_pct": None if accuracy is None else round(accuracy * 100, 2),
        "latency_rel": _round(latency_rel),
        "batch64_rel": _round(_rel(batch_us, batch64.get("reference_p50_us"))),
        "cold_start_rss_mb": None if not cold.get("peak_rss_mb") else round(cold["peak_rss_mb"], 1),
        "cold_start_rel": _round(cold.get("relative_to_numpy")),
        "cold_start_heavy_modules": cold.get("heavy_modules") if "seconds" in cold else None,
    }
    if row.get("quantized") and accuracy is not None and float_accuracy is not None:
        view["gap_pp"] = round((accuracy - float_accuracy) * 100, 2)
    return view


def gate_view(results: dict) -> dict:
    """The comparable part of a run: stable keys, rounded numbers, machine info kept apart."""
    models = {}
    for name, entry in results["models"].items():
        float_accuracy = entry.get("float_accuracy")
        rows_view = {kind: row_view(row, float_accuracy) for kind, row in entry["rows"].items()
                     if not kind.startswith("keras")}
        frames_view = {}
        for set_name, frame in (entry.get("frames") or {}).items():
            if frame.get("status") != "ok":
                frames_view[set_name] = {"status": frame.get("status")}
                continue
            frames_view[set_name] = {
                "status": OK,
                "digit_accuracy_pct": round(frame["digit_accuracy"] * 100, 1),
                "latency_rel": _round(_rel(frame["p50_ms"] * 1e3, frame.get("reference_p50_us"))),
            }
        models[name] = {"float_reference": entry.get("float_reference"), "weights_sha256": entry.get("weights_sha256"),
                        "rows": rows_view, "frames": frames_view}
    config = results["config"]
    return {
        "gate_schema": GATE_SCHEMA,
        "config": {"models": sorted(results["models"]), "rows": [r for r in config["rows"] if not r.startswith("keras")],
                   "frame_sets": config["frame_sets"], "test_limit": config["test_limit"], "quick": config["quick"]},
        "models": models,
        "machine": {k: v for k, v in results["machine"].items()},
    }


# ---------------------------------------------------------------- comparison


# The numbers a baseline row / frame set may hold: each must be a finite number (or absent/null).
ROW_NUMBERS = ("accuracy_pct", "gap_pp", "size_bytes", "latency_rel", "batch64_rel", "cold_start_rss_mb",
               "cold_start_rel")
FRAME_NUMBERS = ("digit_accuracy_pct", "latency_rel")


class BaselineError(ValueError):
    """The baseline file cannot be used as a gate (not its schema); says what and where."""


def validate_baseline(baseline) -> None:
    """Raise BaselineError unless `baseline` is a gate baseline with at least one model, each with
    rows (or frame sets) whose metrics are finite numbers: a baseline that compares nothing, or
    compares with NaN, would pass every run."""
    if not isinstance(baseline, dict):
        raise BaselineError(f"expected a JSON object, found a {type(baseline).__name__}")
    models = baseline.get("models")
    if not isinstance(models, dict) or not models:
        raise BaselineError("no models to compare (\"models\" must be a non-empty object)")
    for model, entry in models.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("rows"), dict) or not entry["rows"]:
            raise BaselineError(f"models.{model}: expected an object with non-empty \"rows\"")
        groups = [("rows", ROW_NUMBERS), ("frames", FRAME_NUMBERS)]
        for group, names in groups:
            for kind, row in (entry.get(group) or {}).items():
                where = f"models.{model}.{group}.{kind}"
                if not isinstance(row, dict):
                    raise BaselineError(f"{where}: expected an object, found {row!r:.40}")
                for name in names:
                    value = row.get(name)
                    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                              or not math.isfinite(value)):
                        raise BaselineError(f"{where}.{name}: expected a finite number, found {value!r:.40}")


def same_model(base_entry: dict, now_entry: dict) -> bool:
    """True when both runs measured the same trained weights (so accuracy is deterministic)."""
    sha = base_entry.get("weights_sha256")
    return sha is not None and sha == now_entry.get("weights_sha256")


def retrained_tolerances(tol: Tolerances, base_row: dict, images: int) -> Tolerances:
    """Accuracy and gap allowances for a retrained model, sized from the evaluated slice.

    The accuracy of another training run on `images` test images differs from the baseline's by
    sampling noise of about sqrt(p (1 - p) / images); the int8 gap counts a handful of images
    (|gap| x images), whose count varies by about its square root (+1 so a zero gap still has room).
    Neither allowance is ever tighter than the same-model one.
    """
    accuracy = base_row.get("accuracy_pct")
    if accuracy is None or not images:
        return tol
    p = min(max(accuracy / 100, 0.0), 1.0)
    accuracy_pp = max(tol.accuracy_pp, tol.retrained_z * 100 * math.sqrt(p * (1 - p) / images))
    gap_images = abs(base_row.get("gap_pp") or 0.0) / 100 * images
    gap_pp = max(tol.gap_pp, tol.retrained_z * 100 * math.sqrt(gap_images + 1) / images)
    return replace(tol, accuracy_pp=round(accuracy_pp, 3), gap_pp=round(gap_pp, 3))


def compare(baseline: dict, current: dict, tolerances: Tolerances = Tolerances()) -> list[Regression]:
    """Every metric of `current` worse than `baseline` beyond its tolerance (empty list: pass).

    Sizes, latencies and the frame reader are held to the same tolerances whatever the model; the
    accuracy and the int8-float gap get the tight ones only when the baseline measured the same
    Keras model (sha256), else the margins of `retrained_tolerances`.
    """
    found: list[Regression] = []
    images = (current.get("config") or {}).get("test_limit") or 10_000
    for model, base_entry in baseline.get("models", {}).items():
        now_entry = current.get("models", {}).get(model)
        if now_entry is None:
            found.append(Regression(model, "", "status", "benchmarked", "missing from this run",
                                    "every baseline model must be measured"))
            continue
        same = same_model(base_entry, now_entry)
        for kind, base_row in base_entry.get("rows", {}).items():
            now_row = now_entry.get("rows", {}).get(kind)
            tol = tolerances if same else retrained_tolerances(tolerances, base_row, images)
            found += compare_row(model, kind, base_row, now_row, tol)
        for set_name, base_frames in base_entry.get("frames", {}).items():
            now_frames = now_entry.get("frames", {}).get(set_name)
            found += compare_frames(model, set_name, base_frames, now_frames, tolerances)
    return found


def compare_row(model: str, kind: str, base: dict, now: dict | None, tol: Tolerances) -> list[Regression]:
    def reg(metric, b, c, allowed):
        return Regression(model, kind, metric, b, c, allowed)

    if now is None:
        return [reg("status", base.get("status"), "row missing", "every baseline row must be present")]
    if base.get("status") == OK and now.get("status") != OK:
        return [reg("status", OK, now.get("status", MISSING), "was exported and validated")]
    if now.get("status") != OK:
        return []  # was not ok before either: nothing comparable
    found = []
    b, c = base.get("accuracy_pct"), now.get("accuracy_pct")
    if _both(b, c) and b - c > tol.accuracy_pp + 1e-9:
        found.append(reg("accuracy_pct", b, c, f"drop {b - c:.2f} pp > {tol.accuracy_pp:g} pp allowed"))
    b, c = base.get("gap_pp"), now.get("gap_pp")
    if _both(b, c) and b - c > tol.gap_pp + 1e-9:
        found.append(reg("gap_pp", b, c, f"int8-float gap widened by {b - c:.2f} pp > {tol.gap_pp:g} pp allowed"))
    b, c = base.get("size_bytes"), now.get("size_bytes")
    if _both(b, c) and c > b * (1 + tol.size_fraction):
        found.append(reg("size_bytes", b, c, f"grew {100 * (c / b - 1):.1f}% > {100 * tol.size_fraction:.0f}% allowed"))
    for metric, allowed in (("latency_rel", tol.latency_ratio), ("batch64_rel", tol.batch_ratio)):
        b, c = base.get(metric), now.get(metric)
        if _both(b, c) and b > 0 and c / b > allowed:
            found.append(reg(metric, b, c, f"{c / b:.2f}x slower relative to the reference workload "
                                           f"> {allowed}x allowed"))
    b, c = base.get("cold_start_rss_mb"), now.get("cold_start_rss_mb")
    if _both(b, c) and c > b * (1 + tol.rss_fraction):
        found.append(reg("cold_start_rss_mb", b, c, f"grew {100 * (c / b - 1):.0f}% > {100 * tol.rss_fraction:.0f}% allowed"))
    b, c = base.get("cold_start_rel"), now.get("cold_start_rel")
    if _both(b, c) and b > 0 and c / b > tol.cold_start_ratio:
        found.append(reg("cold_start_rel", b, c, f"{c / b:.2f}x slower relative to a bare numpy process "
                                                 f"> {tol.cold_start_ratio}x allowed"))
    new_heavy = sorted(set(now.get("cold_start_heavy_modules") or []) - set(base.get("cold_start_heavy_modules") or []))
    if new_heavy:
        found.append(reg("cold_start_heavy_modules", base.get("cold_start_heavy_modules") or [], new_heavy,
                         "the runtime now imports " + ", ".join(new_heavy)))
    return found


def compare_frames(model: str, set_name: str, base: dict, now: dict | None, tol: Tolerances) -> list[Regression]:
    row = f"frames {set_name}"
    if now is None:
        return [Regression(model, row, "status", base.get("status"), "missing", "every baseline frame set must run")]
    if base.get("status") == OK and now.get("status") != OK:
        return [Regression(model, row, "status", OK, now.get("status"), "the frame reader ran before")]
    if now.get("status") != OK:
        return []
    found = []
    b, c = base.get("digit_accuracy_pct"), now.get("digit_accuracy_pct")
    if _both(b, c) and b - c > tol.frame_accuracy_pp + 1e-9:
        found.append(Regression(model, row, "digit_accuracy_pct", b, c,
                                f"drop {b - c:.1f} pp > {tol.frame_accuracy_pp} pp allowed"))
    b, c = base.get("latency_rel"), now.get("latency_rel")
    if _both(b, c) and b > 0 and c / b > tol.frame_latency_ratio:
        found.append(Regression(model, row, "latency_rel", b, c, f"{c / b:.2f}x slower relative to the reference "
                                                                 f"workload > {tol.frame_latency_ratio}x allowed"))
    return found


def _both(a, b) -> bool:
    return a is not None and b is not None


def config_mismatch(baseline: dict, current: dict) -> list[str]:
    """Settings that make the two runs incomparable (different test slice, rows, frame sets)."""
    problems = []
    for key in ("test_limit", "rows", "frame_sets"):
        b, c = baseline.get("config", {}).get(key), current.get("config", {}).get(key)
        if b != c:
            problems.append(f"{key}: baseline {b!r}, this run {c!r}")
    return problems


def comparison_table(baseline: dict, current: dict) -> list[tuple[str, str, str, object, object]]:
    """(model, row, metric, baseline, current) for every compared number: what the check prints."""
    out = []
    for model, base_entry in baseline.get("models", {}).items():
        now_entry = current.get("models", {}).get(model, {})
        for kind, base_row in base_entry.get("rows", {}).items():
            now_row = now_entry.get("rows", {}).get(kind, {})
            for metric, value in base_row.items():
                out.append((model, kind, metric, value, now_row.get(metric)))
        for set_name, base_frames in base_entry.get("frames", {}).items():
            now_frames = now_entry.get("frames", {}).get(set_name, {})
            for metric, value in base_frames.items():
                out.append((model, f"frames {set_name}", metric, value, now_frames.get(metric)))
    return out

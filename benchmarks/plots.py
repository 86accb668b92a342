"""The three plots of a full run (matplotlib, Agg backend, PNG):

accuracy_vs_latency.png     one point per model x row: batch-1 p50 (1 thread, log x) vs accuracy,
                            marker area proportional to the file size
latency_distributions.png   batch-1 latency samples, float vs int8, per backend (1 thread)
per_class_accuracy.png      per-class accuracy, float (Keras or float TFLite) vs int8 TFLite / ONNX
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PLOT_FILES = ("accuracy_vs_latency.png", "latency_distributions.png", "per_class_accuracy.png")
PAIRS = (("tflite-f32", "tflite-int8"), ("onnx-f32", "onnx-int8"))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _measured(row: dict) -> bool:
    return row.get("status") in ("ok", "validation-failed") and row.get("accuracy") is not None


def plot_accuracy_vs_latency(results: dict, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 6))
    markers = {"litert": "o", "onnxruntime": "s", "keras": "^"}
    kinds = list(dict.fromkeys(k for e in results["models"].values() for k in e["rows"]))
    colours = {kind: plt.cm.tab10(i % 10) for i, kind in enumerate(kinds)}
    sizes = [row["size_bytes"] for e in results["models"].values() for row in e["rows"].values()
             if _measured(row) and row.get("size_bytes")]
    biggest = max(sizes) if sizes else 1
    labelled = set()
    for model, entry in results["models"].items():
        for kind, row in entry["rows"].items():
            p50 = (row.get("latency", {}).get("single") or {}).get("p50_us")
            if not _measured(row) or p50 is None:
                continue
            area = 30 + 1200 * (row.get("size_bytes") or 0) / biggest
            ax.scatter(p50, row["accuracy"] * 100, s=area, marker=markers.get(row["backend"], "o"), alpha=0.55,
                       color=colours[kind], edgecolors="black", linewidths=0.5,
                       label=None if kind in labelled else kind)
            labelled.add(kind)
            if len(results["models"]) > 1:
                ax.annotate(model, (p50, row["accuracy"] * 100), fontsize=7, xytext=(6, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("batch-1 latency p50, 1 thread (µs, log scale)")
    ax.set_ylabel(f"test accuracy (%) on {results['test_images']:,} images")
    ax.set_title("Accuracy vs latency, one point per model x format (marker area ∝ file size)")
    ax.grid(True, which="both", alpha=0.3)
    legend = ax.legend(fontsize=8, loc="best", markerscale=0.5)
    for handle in legend.legend_handles:
        handle.set_sizes([40])
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_latency_distributions(results: dict, samples, path: Path) -> Path:
    plt = _pyplot()
    models = list(results["models"])
    fig, axes = plt.subplots(len(models), len(PAIRS), figsize=(6 * len(PAIRS), 3.2 * len(models)), squeeze=False)
    for i, model in enumerate(models):
        for j, pair in enumerate(PAIRS):
            ax = axes[i][j]
            series = {kind: samples.latency.get((model, kind, "single")) for kind in pair}
            series = {k: v / 1e3 for k, v in series.items() if v is not None and v.size}
            if series:
                # Log-spaced bins: the body (tens of µs) and the scheduler's tail (ms) both show.
                low = min(v.min() for v in series.values())
                high = max(np.percentile(v, 99.9) for v in series.values())
                bins = np.geomspace(max(low, 0.1), max(high, low * 1.01), 80)
                for kind, micros in series.items():
                    ax.hist(np.clip(micros, bins[0], bins[-1]), bins=bins, alpha=0.55,
                            weights=np.full(micros.size, 1.0 / micros.size),
                            label=f"{kind} (p50 {np.median(micros):.0f} µs, p99 {np.percentile(micros, 99):.0f} µs)")
                ax.set_xscale("log")
                ax.set_yscale("log")
            ax.set_title(f"{model}: {pair[0].split('-')[0]} float vs int8 (1 thread)", fontsize=9)
            ax.set_xlabel("batch-1 latency (µs, log scale; p99.9 and above in the last bin)")
            ax.set_ylabel("fraction of calls (log)")
            if ax.has_data():
                ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_per_class_accuracy(results: dict, path: Path) -> Path:
    plt = _pyplot()
    models = list(results["models"])
    fig, axes = plt.subplots(len(models), 1, figsize=(9, 3.4 * len(models)), squeeze=False)
    for i, model in enumerate(models):
        ax = axes[i][0]
        entry = results["models"][model]
        float_kind = "keras-call" if "keras-call" in entry["rows"] and _measured(entry["rows"]["keras-call"]) else "tflite-f32"
        kinds = [k for k in (float_kind, "tflite-int8", "onnx-int8")
                 if k in entry["rows"] and _measured(entry["rows"][k]) and entry["rows"][k].get("per_class_accuracy")]
        width = 0.8 / max(1, len(kinds))
        for n, kind in enumerate(kinds):
            values = [np.nan if v is None else v * 100 for v in entry["rows"][kind]["per_class_accuracy"]]
            label = "float (Keras)" if kind.startswith("keras") else kind
            ax.bar(np.arange(10) + (n - (len(kinds) - 1) / 2) * width, values, width, label=label)
        ax.set_xticks(range(10))
        ax.set_xlabel("digit")
        ax.set_ylabel("accuracy (%)")
        measured = [v * 100 for k in kinds for v in entry["rows"][k]["per_class_accuracy"] if v is not None]
        if measured:
            ax.set_ylim(max(0.0, min(measured) - 1.0), 100.0)
        ax.set_title(f"{model}: per-class accuracy, float vs int8", fontsize=9)
        if kinds:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(results: dict, samples, folder: Path) -> list[Path]:
    return [
        plot_accuracy_vs_latency(results, folder / PLOT_FILES[0]),
        plot_latency_distributions(results, samples, folder / PLOT_FILES[1]),
        plot_per_class_accuracy(results, folder / PLOT_FILES[2]),
    ]

"""results.md: the main table, the frame reader, cold-start references, goals, the machine.

Everything here is a pure function of the results dict, so the text printed at the end of a run,
results.md and the tests all see the same thing.
"""

from __future__ import annotations

from benchmarks.rows import STATUS_TEXT

DEFAULT_MODEL = "edge"
ROW_LABELS = {"keras-predict": "Keras model.predict", "keras-call": "Keras model(x)"}


# ---------------------------------------------------------------- number formatting


def fmt_int(value) -> str:
    return "–" if value is None else f"{int(value):,}"


def fmt_size(n_bytes) -> str:
    if n_bytes is None:
        return "–"
    if n_bytes < 1024:
        return f"{n_bytes} B"
    if n_bytes < 1024 * 1024:
        return f"{n_bytes / 1024:.1f} KiB"
    return f"{n_bytes / 1024 / 1024:.2f} MiB"


def fmt_si(value, unit: str = "") -> str:
    """1234567 -> '1.23 M' (k, M, G, T)."""
    if value is None:
        return "–"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}".rstrip()
    return f"{value:.3g} {unit}".rstrip()


def fmt_pct(fraction, digits: int = 2) -> str:
    return "–" if fraction is None else f"{fraction * 100:.{digits}f}"


def fmt_pp(value) -> str:
    return "–" if value is None else f"{value:+.2f}"


def fmt_us(value) -> str:
    if value is None:
        return "–"
    if value >= 10_000:
        return f"{value / 1000:.0f} ms"
    if value >= 1000:
        return f"{value / 1000:.1f} ms"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def fmt_latency(entry: dict | None) -> str:
    """'p50 / p90 / p99' in µs (ms when large)."""
    if not entry:
        return "–"
    return " / ".join(fmt_us(entry.get(k)) for k in ("p50_us", "p90_us", "p99_us"))


def markdown_table(header: list[str], body: list[list[str]], align: str | None = None) -> str:
    """A GitHub markdown table; align is one of 'l'/'r' per column (default: first two left)."""
    align = align or ("ll" + "r" * (len(header) - 2))
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]

    def line(cells):
        padded = [str(c).ljust(w) if a == "l" else str(c).rjust(w) for c, w, a in zip(cells, widths, align)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else (":" + "-" * (w + 1)) for w, a in zip(widths, align)) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in body)])


# ---------------------------------------------------------------- tables


def main_table(results: dict) -> str:
    threads = results["config"]["threads"]
    batches = results["config"]["batch_sizes"]
    header = ["Model", "Format", "Status", "Size", "Params", "MACs", "Acc %", "Δ pp", "Agree %",
              "Latency µs 1 thread p50/p90/p99", f"Latency µs {threads['all']} threads p50/p90/p99",
              *[f"img/s b{b}" for b in batches], "MAC/s", "Cold start s", "Peak RSS MB"]
    body = []
    for model, entry in results["models"].items():
        for kind, row in entry["rows"].items():
            throughput = (row.get("throughput") or {}).get("all") or {}
            cold = row.get("cold_start") or {}
            status = STATUS_TEXT.get(row["status"], row["status"])
            reference = entry.get("float_reference")
            is_reference = kind == reference or (reference == "keras" and kind in ROW_LABELS)
            body.append([
                model, ROW_LABELS.get(kind, kind), status,
                fmt_size(row.get("size_bytes")), fmt_si(entry.get("params")), fmt_si(entry.get("macs")),
                fmt_pct(row.get("accuracy")), "ref" if is_reference and row.get("accuracy") is not None
                else fmt_pp(row.get("delta_pp")), fmt_pct(row.get("agreement")),
                fmt_latency(row["latency"].get("single")), fmt_latency(row["latency"].get("all")),
                *[fmt_si((throughput.get(str(b)) or {}).get("images_per_s")) for b in batches],
                fmt_si(row.get("macs_per_s")),
                "–" if not cold.get("seconds") else f"{cold['seconds']:.2f}",
                "–" if not cold.get("peak_rss_mb") else f"{cold['peak_rss_mb']:.0f}",
            ])
    return markdown_table(header, body, "lll" + "r" * (len(header) - 3))


def status_notes(results: dict) -> str:
    notes = [f"- {model} {kind}: {STATUS_TEXT.get(row['status'], row['status'])} — {row['reason']}"
             for model, entry in results["models"].items() for kind, row in entry["rows"].items()
             if row["status"] != "ok" and row.get("reason")]
    return "\n".join(notes)


def frames_table(results: dict) -> str:
    header = ["Model", "Frame set", "Status", "Frames", "Digits", "frames/s", "p50 ms", "p99 ms",
              "Digit acc %", "Exact frames"]
    body = []
    for model, entry in results["models"].items():
        for set_name, f in entry.get("frames", {}).items():
            if f.get("status") != "ok":
                body.append([model, set_name, f"{f.get('status')}: {f.get('reason', '')}", *["–"] * 7])
                continue
            body.append([model, set_name, "ok", str(f["frames"]), str(f["digits"]), f"{f['frames_per_s']:.1f}",
                         f"{f['p50_ms']:.2f}", f"{f['p99_ms']:.2f}", fmt_pct(f["digit_accuracy"], 1),
                         f"{f['exact_frames']}/{f['frames']}"])
    return markdown_table(header, body, "lll" + "r" * (len(header) - 3)) if body else ""


def reference_lines(results: dict) -> str:
    lines = []
    for name, label in (("tensorflow_import", "`import tensorflow` alone"), ("numpy_import", "`import numpy` alone")):
        cold = results.get("cold_start_reference", {}).get(name)
        if not cold:
            continue
        if "error" in cold:
            lines.append(f"- {label}: failed — {cold['error']}")
        else:
            lines.append(f"- {label}: {cold['seconds']:.2f} s in a fresh process, peak RSS {cold['peak_rss_mb']:.0f} MB")
    return "\n".join(lines)


# ---------------------------------------------------------------- goals


def _row(results: dict, model: str, kind: str) -> dict | None:
    row = results["models"].get(model, {}).get("rows", {}).get(kind)
    return row if row and row.get("status") in ("ok", "validation-failed") else None


def _p50(row: dict | None, threads: str = "single") -> float | None:
    return ((row or {}).get("latency", {}).get(threads) or {}).get("p50_us")


def _ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def goals(results: dict, model: str = DEFAULT_MODEL) -> list[dict]:
    """Each goal of the project with the measured value and whether it is met (None: not measured)."""
    int8 = _row(results, model, "tflite-int8")
    f32 = _row(results, model, "tflite-f32")
    onnx_f32 = _row(results, model, "onnx-f32")
    keras_predict = _row(results, model, "keras-predict")
    entry = results["models"].get(model, {})
    cold = (int8 or {}).get("cold_start") or {}
    tf_import = results.get("cold_start_reference", {}).get("tensorflow_import") or {}
    frame = (entry.get("frames") or {}).get("640x480-10") or {}
    delta = (int8 or {}).get("delta_pp")
    size_ratio = _ratio((int8 or {}).get("size_bytes"), (f32 or {}).get("size_bytes"))
    vs_onnx = _ratio(_p50(int8), _p50(onnx_f32))
    vs_keras = _ratio(_p50(keras_predict), _p50(int8))
    float_name = entry.get("float_reference") or "float"

    def goal(text, value, met):
        return {"goal": text, "measured": value, "met": met}

    return [
        goal("int8 TFLite accuracy within 0.05 pp of float",
             None if delta is None else f"{delta:+.2f} pp vs {float_name}", None if delta is None else delta >= -0.05),
        goal("int8 TFLite file ≤ 0.26x the float TFLite file",
             None if size_ratio is None else f"{size_ratio:.3g}x", None if size_ratio is None else size_ratio <= 0.26),
        goal("int8 TFLite batch-1 p50 ≤ 0.6x onnxruntime float (1 thread)",
             None if vs_onnx is None else f"{vs_onnx:.3g}x", None if vs_onnx is None else vs_onnx <= 0.6),
        goal("int8 TFLite ≥ 1000x faster than Keras model.predict on one image (1 thread)",
             None if vs_keras is None else f"{vs_keras:,.0f}x", None if vs_keras is None else vs_keras >= 1000),
        goal("cold start (fresh process: import + load + first prediction) ≤ 0.3 s",
             f"{cold['seconds']:.2f} s" if cold.get("seconds") else None,
             cold["seconds"] <= 0.3 if cold.get("seconds") else None),
        goal("cold start peak RSS ≤ 80 MB",
             f"{cold['peak_rss_mb']:.0f} MB" if cold.get("peak_rss_mb") else None,
             cold["peak_rss_mb"] <= 80 if cold.get("peak_rss_mb") else None),
        goal("reference: TensorFlow import alone (~3 s / ~550 MB)",
             f"{tf_import['seconds']:.2f} s / {tf_import['peak_rss_mb']:.0f} MB" if tf_import.get("seconds") else None,
             None),
        goal("single-digit predict p50 ≤ 50 µs on one core (int8 TFLite)",
             None if _p50(int8) is None else f"{_p50(int8):.1f} µs",
             None if _p50(int8) is None else _p50(int8) <= 50),
        goal("read a 640x480 frame with ten digits ≤ 10 ms p50",
             f"{frame['p50_ms']:.2f} ms" if frame.get("status") == "ok" else None,
             frame["p50_ms"] <= 10 if frame.get("status") == "ok" else None),
    ]


def goals_section(results: dict, model: str = DEFAULT_MODEL) -> str:
    if model not in results["models"]:
        return f"Goals: model {model!r} was not benchmarked in this run."
    body = [[g["goal"], g["measured"] or "not measured",
             "reference" if g["goal"].startswith("reference") else
             ("met" if g["met"] else "NOT MET" if g["met"] is not None else "not measured")]
            for g in goals(results, model)]
    return markdown_table(["Goal", "Measured", "Status"], body, "lrl")


# ---------------------------------------------------------------- the whole document


def machine_lines(results: dict) -> str:
    m = results["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v != "not installed")
    load = results.get("load_average") or {}
    return "\n".join([
        f"- CPU: {m['cpu']} ({m['cores']} usable cores, {m['machine']}), {m['os']}, Python {m['python']}",
        f"- Packages: {packages}",
        f"- Load average (1/5/15 min) at start {load.get('start')}, at end {load.get('end')}",
    ])


def methodology_lines(results: dict) -> str:
    c = results["config"]
    lat = c["latency_plan"]
    return "\n".join([
        f"- Test images: {results['test_images']:,} (MNIST test set{'' if c['test_limit'] is None else ', first slice'}); "
        f"{'quick run' if c['quick'] else 'full run'}; Δ and agreement vs the float reference "
        "(Keras when measured, else the float TFLite model).",
        f"- Batch-1 latency: one MNIST image through `Classifier.predict` (pre- and post-processing included), "
        f"{lat['warmup']} warm-up calls, then ≥ {lat['min_iterations']} calls and ≥ {lat['budget_s']} s, "
        "timed one by one with perf_counter_ns; p50/p90/p99 of those.",
        f"- Throughput: median batch time at batch {', '.join(map(str, c['batch_sizes']))} on "
        f"{c['threads']['all']} threads; MAC/s = MACs per image x images/s (best batch).",
        f"- Cold start: median of {c['cold_start_repeats']} fresh processes (interpreter start, import, load, first "
        "prediction), peak RSS = the child's VmHWM.",
        "- Keras rows run in their own processes (TensorFlow's threads are fixed at start-up).",
    ])


def render_markdown(results: dict, model: str | None = None) -> str:
    """The whole results.md; goals for `model` (default: edge if measured, else the first model)."""
    if model is None:
        model = DEFAULT_MODEL if DEFAULT_MODEL in results["models"] or not results["models"] else next(iter(results["models"]))
    parts = [f"# edgedigits benchmark ({results['created_utc']})", "", main_table(results), ""]
    notes = status_notes(results)
    if notes:
        parts += ["Status notes:", "", notes, ""]
    frames = frames_table(results)
    if frames:
        parts += ["## Frame reader (int8 TFLite, 1 thread)", "", frames, ""]
    references = reference_lines(results)
    if references:
        parts += ["## Cold-start references", "", references, ""]
    parts += [f"## Goals ({model})", "", goals_section(results, model), "",
              "## Machine", "", machine_lines(results), "",
              "## Method", "", methodology_lines(results), ""]
    return "\n".join(parts)

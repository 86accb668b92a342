"""The export run: each format converted, checked against Keras, embedded, written; the manifest last."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from edgedigits.formats import FORMATS, ModelFormat
from edgedigits.metadata import read_embedded_metadata

from export import manifest as mf
from export import onnx_export, parity, quant_report, temperature, tflite_export
from export.config import ExportConfig
from export.data import ExportData, load_export_data
from export.errors import ConfigError, MetadataError, OutputDirError
from export.keras_model import keras_probabilities, load_keras_model, model_labels, write_saved_model

log = logging.getLogger("export")

BACKENDS = {
    "litert": SimpleNamespace(predict=tflite_export.predict, io_details=tflite_export.io_details,
                              embed=lambda model, text: tflite_export.embed_metadata(model, mf.METADATA_KEY,
                                                                                     text.encode())),
    "onnxruntime": SimpleNamespace(predict=onnx_export.predict, io_details=onnx_export.io_details,
                                   embed=lambda model, text: onnx_export.embed_metadata(model, mf.METADATA_KEY,
                                                                                        text)),
}
QUANT_REPORT_FILES = ("quant_report.md", "quant_report.png")


@dataclass
class ExportContext:
    config: ExportConfig
    keras_model: object
    saved_model_dir: Path
    data: ExportData
    keras_probs: np.ndarray
    cache: dict = field(default_factory=dict)  # converted float models, reused by int8 steps and the report
    final: dict = field(default_factory=dict)  # format name -> bytes as written

    def float_tflite(self) -> bytes:
        if "tflite-f32" not in self.cache:
            self.cache["tflite-f32"] = tflite_export.convert_float(self.saved_model_dir)
        return self.cache["tflite-f32"]

    def float_onnx(self) -> bytes:
        if "onnx-f32" not in self.cache:
            self.cache["onnx-f32"] = onnx_export.convert_float(self.saved_model_dir, self.config.model,
                                                               self.config.opset)
        return self.cache["onnx-f32"]


# One small function per format: the raw converted model, before metadata.

def export_tflite_f32(ctx: ExportContext) -> bytes:
    return ctx.float_tflite()


def export_tflite_int8(ctx: ExportContext) -> bytes:
    return tflite_export.convert_int8(ctx.saved_model_dir, ctx.data.calibration)


def export_onnx_f32(ctx: ExportContext) -> bytes:
    return ctx.float_onnx()


def export_onnx_int8(ctx: ExportContext) -> bytes:
    model = onnx_export.quantize_int8(ctx.float_onnx(), ctx.data.calibration)
    onnx_export.check_quantized(model)
    return model


FLOAT_SCHEME = {"scheme": "none", "description": "float32 weights and activations", "io_dtype": "float32"}

EXPORTERS = {
    "tflite-f32": (export_tflite_f32, FLOAT_SCHEME),
    "tflite-int8": (export_tflite_int8, tflite_export.INT8_SCHEME),
    "onnx-f32": (export_onnx_f32, FLOAT_SCHEME),
    "onnx-int8": (export_onnx_int8, onnx_export.INT8_SCHEME),
}


STAGING_PREFIX = ".staging-"
LOCK_NAME = ".export.lock"


def prepare_out_dir(config: ExportConfig) -> Path:
    """Create the output directory and prove it writable. Nothing in it is touched: an export
    writes into a staging folder and replaces the previous one only once every file is verified."""
    out = config.resolved_out_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputDirError(f"output directory {out} is not writable: {err.strerror or err}") from err
    return out


@contextlib.contextmanager
def export_lock(out: Path):
    """Hold an exclusive lock on `out` for the whole export: a second export into the same folder
    fails at once instead of interleaving its files with ours. Stale staging folders (of a killed
    run, whose lock died with it) are removed once we hold it."""
    import fcntl

    handle = open(out / LOCK_NAME, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputDirError(f"another export into {out} is running (it holds {out / LOCK_NAME})") from None
        for stale in out.glob(STAGING_PREFIX + "*"):
            shutil.rmtree(stale, ignore_errors=True)
        for leftover in out.glob(".*.tmp"):  # temp files of an export killed before its rename
            leftover.unlink(missing_ok=True)
        yield
    finally:
        handle.close()


def publish(staging: Path, out: Path, manifest: dict) -> Path:
    """Move the verified files from `staging` into `out`, then write the manifest, last. The old
    manifest goes first, so no manifest ever lists a file that is not the one it describes."""
    mf.remove_stale_manifest(out)
    for path in sorted(staging.iterdir()):
        os.replace(path, out / path.name)
    return mf.write_manifest(out, manifest)


def source_info(config: ExportConfig, out: Path) -> dict:
    path = config.keras_path
    metrics = {}
    if config.metrics_path.is_file():
        try:
            metrics = json.loads(config.metrics_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            log.warning("ignoring unreadable %s: %s", config.metrics_path, err)
    else:
        log.warning("%s not found: params/macs/test_accuracy left null in the manifest", config.metrics_path)
    return {
        "file": os.path.relpath(path, out),
        "sha256": mf.sha256_file(path),
        "size_bytes": path.stat().st_size,
        "params": metrics.get("params"),
        "macs": metrics.get("macs"),
        "test_accuracy": metrics.get("test_accuracy"),
    }


def calibration_info(config: ExportConfig) -> dict:
    return {
        "source": "mnist-train",
        "size": config.calibration_size,
        "seed": config.calibration_seed,
        "selection": f"uniform without replacement (numpy default_rng(seed)) from the training split "
                     f"(the last {config.val_size} training images are validation and never used)",
        "preprocessing": "uint8 / 255 -> float32 (N, 28, 28, 1), as at inference",
    }


def fit_format_temperature(ctx: ExportContext, fmt: ModelFormat, predict, model: bytes) -> dict | None:
    """The format's own softmax temperature, fitted on its outputs for the validation split (None without one)."""
    images, labels = ctx.data.validation_images, ctx.data.validation_labels
    if not len(labels):
        log.warning("%s: no validation split (val_size 0): no softmax temperature fitted, T = 1", fmt.name)
        return None
    started = time.perf_counter()
    fitted = temperature.temperature_scaling(predict(model, images), labels)
    (nll_before, nll_after), (ece_before, ece_after) = fitted["nll"], fitted["ece"]
    log.info("%s: softmax temperature %.4f fitted on %d validation images in %.1f s: NLL %.4f -> %.4f, "
             "ECE (%d bins) %.4f -> %.4f", fmt.name, fitted["temperature"], len(labels),
             time.perf_counter() - started, nll_before, nll_after, temperature.ECE_BINS, ece_before, ece_after)
    low, high = temperature.TEMPERATURE_RANGE
    if not low * 1.01 < fitted["temperature"] < high / 1.01:
        log.warning("%s: the temperature sits at the edge of the searched range %s", fmt.name,
                    temperature.TEMPERATURE_RANGE)
    return fitted


def export_format(ctx: ExportContext, fmt: ModelFormat, out: Path, source: dict, tools: dict) -> dict:
    """Convert, gate, fit the temperature, embed metadata, write atomically, re-verify; its manifest entry."""
    config, started = ctx.config, time.perf_counter()
    convert, scheme = EXPORTERS[fmt.name]
    backend = BACKENDS[fmt.backend]
    raw = convert(ctx)
    converted = time.perf_counter()

    n = parity.gate_images(fmt.quantized, config.gates, len(ctx.data.test_labels))
    images, labels = ctx.data.test_images[:n], ctx.data.test_labels[:n]
    probs = backend.predict(raw, images)
    result = parity.measure(probs, ctx.keras_probs[:n], labels)
    result = parity.check_gates(fmt.name, result, fmt.quantized, config.gates)
    scaling = fit_format_temperature(ctx, fmt, backend.predict, raw)

    meta = mf.embedded_metadata(model=config.model, labels=model_labels(ctx.keras_model), format_name=fmt.name,
                                quantization=scheme, source=source,
                                calibration=calibration_info(config) if fmt.quantized else None,
                                validation=result.as_dict(), tools=tools, temperature_scaling=scaling)
    final = backend.embed(raw, mf.metadata_json(meta))
    path = out / fmt.filename(config.model)
    mf.atomic_write_bytes(path, final)

    written = path.read_bytes()
    if not np.array_equal(backend.predict(written, images), probs):
        raise MetadataError(f"{fmt.name}: {path} gives different outputs after embedding the metadata")
    if read_embedded_metadata(path) != meta:
        raise MetadataError(f"{fmt.name}: the metadata read back from {path} differs from what was embedded")
    ctx.final[fmt.name] = written
    inputs, outputs = backend.io_details(written)
    log.info("%s: wrote %s (%s bytes; raw %s + metadata) in %.1f s (conversion %.1f s); parity on %d images: "
             "accuracy %.4f (keras %.4f), agreement %.4f, max |dp| %.2g", fmt.name, path, f"{len(written):,}",
             f"{len(raw):,}", time.perf_counter() - started, converted - started, n, result.accuracy,
             result.keras_accuracy, result.agreement, result.max_abs_diff)
    return {
        "file": path.name,
        "backend": fmt.backend,
        "quantized": fmt.quantized,
        "sha256": mf.sha256_bytes(written),
        "size_bytes": len(written),
        "inputs": inputs,
        "outputs": outputs,
        "validation": result.as_dict(),
        mf.TEMPERATURE_KEY: scaling,
        "quantization": scheme,
        "export_seconds": round(time.perf_counter() - started, 2),
    }


def write_quant_report(ctx: ExportContext, out: Path) -> dict:
    """Per-layer report for the int8 formats exported in this run; the manifest's 'reports' entry."""
    images = ctx.data.test_images[:ctx.config.report_images]
    compare = {"tflite-int8": (ctx.float_tflite, quant_report.tflite_layer_errors),
               "onnx-int8": (ctx.float_onnx, quant_report.onnx_layer_errors)}
    reports = {}
    for name in ctx.config.formats:
        if name in compare and name in ctx.final:
            float_model, layer_errors = compare[name]
            reports[name] = layer_errors(float_model(), ctx.final[name], images)
    if not reports:
        return {}
    started = time.perf_counter()
    mf.atomic_write_text(out / "quant_report.md", quant_report.markdown(ctx.config.model, reports, len(images)))
    mf.atomic_write_bytes(out / "quant_report.png", quant_report.plot_png(ctx.config.model, reports))
    summaries = {name: quant_report.summary(errors) for name, errors in reports.items()}
    for name, s in summaries.items():
        if s:
            log.info("quant report %s: %d layers, worst %s (%s) %.1f dB, output %.1f dB", name, s["layers"],
                     s["worst_layer"], s["worst_op"], s["worst_snr_db"], s["output_snr_db"])
    log.info("wrote %s and %s in %.1f s", out / "quant_report.md", out / "quant_report.png",
             time.perf_counter() - started)
    return {"quant_report": {"files": list(QUANT_REPORT_FILES), "images": len(images), "formats": summaries}}


def format_table(formats: dict) -> str:
    header = f"{'format':<12} {'file':<28} {'bytes':>10} {'accuracy':>9} {'keras':>8} {'agree':>8} " \
             f"{'max|dp|':>9} {'images':>7} {'T':>7} {'s':>6}"
    rows = [header, "-" * len(header)]
    for name, e in formats.items():
        v, scaling = e["validation"], e[mf.TEMPERATURE_KEY]
        fitted = f"{scaling['temperature']:>7.4f}" if scaling else f"{'-':>7}"
        rows.append(f"{name:<12} {e['file']:<28} {e['size_bytes']:>10,} {v['accuracy']:>9.4f} "
                    f"{v['keras_accuracy']:>8.4f} {v['agreement']:>8.4f} {v['max_abs_diff']:>9.2g} "
                    f"{v['images']:>7} {fitted} {e['export_seconds']:>6.1f}")
    return "\n".join(rows)


def run_export(config: ExportConfig) -> dict:
    """Export every configured format; returns the manifest (also written, last, to the output directory)."""
    missing = [name for name in config.formats if name not in EXPORTERS]
    if missing:
        raise ConfigError(f"no exporter for format(s) {', '.join(missing)} (FORMATS has them, export/ does not)")
    started = time.perf_counter()
    out = prepare_out_dir(config)
    with export_lock(out), tempfile.TemporaryDirectory(prefix=STAGING_PREFIX, dir=out) as staging:
        manifest = _export_into(config, out, Path(staging), started)
    return manifest


def _export_into(config: ExportConfig, out: Path, staging: Path, started: float) -> dict:
    """Every format and report into `staging`, verified; then published into `out`."""
    model = load_keras_model(config.keras_path)
    source = source_info(config, out)
    data = load_export_data(config)
    n_keras = max(parity.gate_images(FORMATS[n].quantized, config.gates, len(data.test_labels))
                  for n in config.formats)
    t = time.perf_counter()
    keras_probs = keras_probabilities(model, data.test_images[:n_keras])
    log.info("keras: %s loaded (sha256 %s...), predictions on %d test images in %.1f s",
             config.keras_path, source["sha256"][:12], n_keras, time.perf_counter() - t)
    tools = mf.tool_versions()
    formats = {}
    with tempfile.TemporaryDirectory(prefix="edgedigits-savedmodel-") as tmp:
        t = time.perf_counter()
        write_saved_model(model, Path(tmp))
        log.info("savedmodel: written in %.1f s", time.perf_counter() - t)
        ctx = ExportContext(config, model, Path(tmp), data, keras_probs)
        for name in config.formats:
            formats[name] = export_format(ctx, FORMATS[name], staging, source, tools)
        reports = write_quant_report(ctx, staging) if config.report_images else {}
    manifest = mf.build_manifest(model=config.model, labels=model_labels(model), source=source, calibration=calibration_info(config),
                                 tools=tools, formats=formats, reports=reports,
                                 gates=asdict(config.gates))
    path = publish(staging, out, manifest)
    print(format_table(formats))
    log.info("wrote %s (last) - export of %s done in %.1f s", path, config.model, time.perf_counter() - started)
    return manifest

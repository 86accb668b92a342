"""Per-layer quantization error: every int8 layer output against its float counterpart.

Both models see the same images (test images, independent of calibration); errors accumulate
through the network, so a layer's numbers include the error of everything before it.
TFLite: tensors matched by name between the float and int8 TFLite models (LiteRT with
experimental_preserve_all_tensors). ONNX: onnxruntime.quantization.qdq_loss_debug matching of the
float model's activations with the QDQ model's dequantized ones.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("export")

MAX_SNR_DB = 200.0  # reported when the int8 output is exactly the float output
PLOT_MAX_DB = 80.0  # bars beyond this (exact tensors such as the input reshape) are clipped and labelled


@dataclass(frozen=True)
class LayerError:
    order: int         # position in the graph
    layer: str         # short tensor name
    op: str            # the op producing it
    snr_db: float      # 10 log10(sum float^2 / sum (int8 - float)^2)
    rmse: float        # in the tensor's float units
    rmse_steps: float | None  # rmse / quantization scale (None when the scale is unknown)
    max_abs_error: float


def layer_error(order: int, layer: str, op: str, reference: np.ndarray, quantized: np.ndarray,
                scale: float | None) -> LayerError:
    reference = reference.astype(np.float64).ravel()
    noise = quantized.astype(np.float64).ravel() - reference
    signal_power, noise_power = float(np.sum(reference ** 2)), float(np.sum(noise ** 2))
    if noise_power == 0.0:
        snr = MAX_SNR_DB
    elif signal_power == 0.0:
        snr = -MAX_SNR_DB
    else:
        snr = min(MAX_SNR_DB, 10.0 * np.log10(signal_power / noise_power))
    rmse = float(np.sqrt(np.mean(noise ** 2)))
    return LayerError(order, layer, op, float(snr), rmse, rmse / scale if scale else None,
                      float(np.max(np.abs(noise))))


def short_name(name: str) -> str:
    """'StatefulPartitionedCall/edge_1/conv_1/Relu;...:0' -> 'conv_1/Relu' (first fused name, no scopes)."""
    first = name.split(";")[0]
    if first.endswith(":0"):
        first = first[:-2]
    parts = first.split("/")
    if parts[0] == "StatefulPartitionedCall" and len(parts) > 1:
        parts = parts[1:]
    return "/".join(parts[1:]) if len(parts) > 2 else "/".join(parts)


def tflite_layer_errors(float_model: bytes, int8_model: bytes, images: np.ndarray) -> list[LayerError]:
    from export.tflite_export import interpreter, quantize

    def run(model: bytes):
        it = interpreter(model, preserve_all_tensors=True, delegates=False)
        inp = it.get_input_details()[0]
        it.resize_tensor_input(inp["index"], [len(images), *images.shape[1:]])
        it.allocate_tensors()
        x = images
        if np.dtype(inp["dtype"]) == np.int8:
            x = quantize(images, *inp["quantization"], np.int8)
        it.set_tensor(inp["index"], x)
        it.invoke()
        return it

    f_it, q_it = run(float_model), run(int8_model)
    float_tensors = {d["name"]: d for d in f_it.get_tensor_details()}
    q_details = {d["index"]: d for d in q_it.get_tensor_details()}
    errors = []
    for op in q_it._get_ops_details():  # noqa: SLF001 - execution order with op names
        for index in op["outputs"]:
            q = q_details[int(index)]
            f = float_tensors.get(q["name"])
            scale, zero_point = q["quantization"]
            if f is None or np.dtype(q["dtype"]) != np.int8 or not scale or np.dtype(f["dtype"]) != np.float32:
                continue
            reference = f_it.get_tensor(f["index"])
            dequantized = (q_it.get_tensor(q["index"]).astype(np.float32) - zero_point) * np.float32(scale)
            if reference.shape != dequantized.shape:
                continue
            errors.append(layer_error(len(errors), short_name(q["name"]), op["op_name"], reference, dequantized,
                                      float(scale)))
    return errors


def onnx_layer_errors(float_model: bytes, int8_model: bytes, images: np.ndarray) -> list[LayerError]:
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations, create_activation_matching, modify_model_output_intermediate_tensors)

    float_proto, int8_proto = onnx.load_from_string(float_model), onnx.load_from_string(int8_model)
    input_name = float_proto.graph.input[0].name
    with tempfile.TemporaryDirectory(prefix="edgedigits-qdebug-") as tmp:
        tmp = Path(tmp)
        activations = {}
        for kind, model in (("float", float_model), ("int8", int8_model)):
            (tmp / f"{kind}.onnx").write_bytes(model)
            modify_model_output_intermediate_tensors(str(tmp / f"{kind}.onnx"), str(tmp / f"{kind}.aug.onnx"))
            activations[kind] = collect_activations(str(tmp / f"{kind}.aug.onnx"), [{input_name: images}])
    matching = create_activation_matching(activations["int8"], activations["float"])

    initializers = {t.name: t for t in int8_proto.graph.initializer}
    scales = {}
    for node in int8_proto.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[1] in initializers:
            scale = numpy_helper.to_array(initializers[node.input[1]])
            if scale.size == 1:
                scales[node.input[0]] = float(scale.reshape(()))
    producers = {out: node.op_type for node in dynamic_nodes(float_proto) for out in node.output}
    order = {out: i for i, node in enumerate(float_proto.graph.node) for out in node.output}

    errors = []
    for name in sorted((n for n in matching if "float" in matching[n] and n in producers), key=order.get):
        reference = np.concatenate([a.ravel() for a in matching[name]["float"]])
        quantized = np.concatenate([a.ravel() for a in matching[name]["post_qdq"]])
        if reference.shape != quantized.shape:
            continue
        scale = scales.get(name, scales.get(f"{name}_QuantizeLinear_Input"))  # graph outputs are renamed
        errors.append(layer_error(len(errors), short_name(name), producers[name], reference, quantized, scale))
    return errors


def dynamic_nodes(proto) -> list:
    """Nodes whose output depends on the graph input (not constant folding leftovers such as weight reshapes)."""
    dynamic = {value.name for value in proto.graph.input}
    nodes = []
    for node in proto.graph.node:  # ONNX graphs are topologically sorted
        if any(name in dynamic for name in node.input):
            dynamic.update(node.output)
            nodes.append(node)
    return nodes


def worst_first(errors: list[LayerError]) -> list[LayerError]:
    return sorted(errors, key=lambda e: e.snr_db)


def markdown(model: str, reports: dict[str, list[LayerError]], images: int) -> str:
    lines = [f"# Per-layer quantization error: {model}", "",
             f"Each int8 layer output compared with the float model's same tensor on {images} test images "
             "(not used for calibration). Errors accumulate through the network. SNR = 10 log10(signal "
             "power / error power), higher is better; RMSE in the tensor's units and in quantization steps "
             "(RMSE / scale). Worst layers first.", ""]
    for format_name, errors in reports.items():
        lines += [f"## {format_name}", ""]
        if not errors:
            lines += ["No matching layers found.", ""]
            continue
        worst = worst_first(errors)[0]
        lines += [f"Worst layer: `{worst.layer}` ({worst.op}), SNR {worst.snr_db:.1f} dB.", "",
                  "| # | layer | op | SNR (dB) | RMSE | RMSE (steps) | max abs error |",
                  "|---|---|---|---:|---:|---:|---:|"]
        for e in worst_first(errors):
            steps = f"{e.rmse_steps:.3f}" if e.rmse_steps is not None else "n/a"
            lines.append(f"| {e.order} | `{e.layer}` | {e.op} | {e.snr_db:.1f} | {e.rmse:.3g} | {steps} "
                         f"| {e.max_abs_error:.3g} |")
        lines.append("")
    return "\n".join(lines)


def plot_png(model: str, reports: dict[str, list[LayerError]]) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max((len(e) for e in reports.values()), default=1)
    fig, axes = plt.subplots(1, max(1, len(reports)), figsize=(6.5 * max(1, len(reports)), 1.2 + 0.32 * rows),
                             squeeze=False)
    for ax, (format_name, errors) in zip(axes[0], reports.items()):
        labels = [f"{e.order} {e.layer[:28]} ({e.op})" for e in errors]
        worst = min(errors, key=lambda e: e.snr_db).order if errors else None
        colors = ["tab:red" if e.order == worst else "tab:blue" for e in errors]
        ax.barh(range(len(errors)), [min(e.snr_db, PLOT_MAX_DB) for e in errors], color=colors)
        for i, e in enumerate(errors):
            ax.text(min(e.snr_db, PLOT_MAX_DB), i, f" {e.snr_db:.1f}", va="center", fontsize=7)
        ax.set_yticks(range(len(errors)), labels, fontsize=7)
        ax.set_xlim(0, PLOT_MAX_DB * 1.1)
        ax.invert_yaxis()
        ax.set_xlabel("SNR (dB), graph order top to bottom; worst in red")
        ax.set_title(f"{model} {format_name}")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def summary(errors: list[LayerError]) -> dict | None:
    if not errors:
        return None
    worst = worst_first(errors)[0]
    return {"layers": len(errors), "worst_layer": worst.layer, "worst_op": worst.op,
            "worst_snr_db": round(worst.snr_db, 2), "output_snr_db": round(errors[-1].snr_db, 2)}

"""ONNX: float conversion (tf2onnx from the SavedModel), static int8 QDQ quantization, metadata, inference."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np

from export.errors import ConversionError

BATCH_DIM = "batch"
GENERATED_SUFFIX = re.compile(r"__(\d+)")  # tf2onnx's counter-numbered names: 'Transpose__26'
INT8_SETTINGS = {
    "quant_format": "QDQ", "per_channel": True, "weight_type": "QInt8", "activation_type": "QInt8",
    "calibrate_method": "MinMax", "weight_symmetric": True, "activation_symmetric": False,
}
INT8_SCHEME = {
    "scheme": "onnxruntime-static-qdq",
    "description": "onnxruntime quantize_static, QDQ format: int8 weights symmetric per-channel, int8 activations "
                   "asymmetric per-tensor (MinMax calibration), float32 input and output (the graph quantizes "
                   "the input and dequantizes the output itself); quant_pre_process(skip_symbolic_shape=True) first",
    "weights": "int8", "activations": "int8", "io_dtype": "float32",
    **INT8_SETTINGS,
}


def convert_float(saved_model_dir, graph_name: str, opset: int) -> bytes:
    """tf2onnx conversion of the SavedModel's serving signature, with a named batch dimension."""
    import tensorflow as tf
    from tf2onnx import tf_loader
    from tf2onnx.convert import _convert_common  # what `python -m tf2onnx.convert --saved-model` calls

    try:
        graph_def, inputs, outputs, tables, renames = tf_loader.from_saved_model(
            str(saved_model_dir), None, None, return_initialized_tables=True, return_tensors_to_rename=True)
        with tf.device("/cpu:0"):
            proto, _ = _convert_common(graph_def, name=graph_name, opset=opset, input_names=inputs,
                                       output_names=outputs, tensors_to_rename=renames,
                                       initialized_tables=tables)
    except Exception as err:
        raise ConversionError(f"onnx-f32: tf2onnx conversion failed: {type(err).__name__}: {err}") from err
    for value in list(proto.graph.input) + list(proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = BATCH_DIM  # tf2onnx invents 'unk__N' names that vary between runs
    renumber_generated_names(proto.graph)
    return proto.SerializeToString()


def renumber_generated_names(graph) -> None:
    """Make tf2onnx output reproducible: canonical names for its generated tensors and nodes.

    tf2onnx's optimizers visit nodes in an order that varies between runs, so the same model gets
    different counter values ('Transpose__26' / '__28') and, when equal constants are merged, a
    different surviving name ('const_axes__7' / 'const_starts__7'). Generated constants are renamed
    'const__<k>' and sorted by first use, other counters renumbered by first appearance; names stay
    unique (a bijection), the computation is unchanged.
    """
    first_use: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            first_use.setdefault(name, len(first_use))
    generated = sorted((t.name for t in graph.initializer if GENERATED_SUFFIX.search(t.name)),
                       key=lambda n: (first_use.get(n, len(first_use)), n))
    renamed = {name: f"const__{k}" for k, name in enumerate(generated)}

    counters: dict[str, str] = {}
    for node in graph.node:
        for name in [node.name, *node.input, *node.output]:
            if name not in renamed:
                for number in GENERATED_SUFFIX.findall(name):
                    counters.setdefault(number, str(len(counters)))

    def rename(name: str) -> str:
        if name in renamed:
            return renamed[name]
        return GENERATED_SUFFIX.sub(lambda m: f"__{counters.setdefault(m.group(1), str(len(counters)))}", name)

    for node in graph.node:
        node.name = rename(node.name)
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    for item in [*graph.initializer, *graph.value_info, *graph.input, *graph.output]:
        item.name = rename(item.name)
    first_use = {}
    for node in graph.node:
        for name in node.input:
            first_use.setdefault(name, len(first_use))
    ordered = sorted(graph.initializer, key=lambda t: (first_use.get(t.name, len(first_use)), t.name))
    ordered = [type(t).FromString(t.SerializeToString()) for t in ordered]
    del graph.initializer[:]
    graph.initializer.extend(ordered)


class _ArrayReader:
    """onnxruntime CalibrationDataReader over an array, one image per call."""

    def __init__(self, input_name: str, images: np.ndarray):
        self._items = iter([{input_name: images[i:i + 1]} for i in range(len(images))])

    def get_next(self):
        return next(self._items, None)

    def rewind(self):  # not needed by MinMax, part of the reader protocol
        raise NotImplementedError


def quantize_int8(float_model: bytes, calibration: np.ndarray) -> bytes:
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    input_name = ort.InferenceSession(float_model, providers=["CPUExecutionProvider"]).get_inputs()[0].name
    with tempfile.TemporaryDirectory(prefix="edgedigits-onnxq-") as tmp:
        tmp = Path(tmp)
        (tmp / "float.onnx").write_bytes(float_model)
        try:
            quant_pre_process(str(tmp / "float.onnx"), str(tmp / "pre.onnx"), skip_symbolic_shape=True)
            quantize_static(
                str(tmp / "pre.onnx"), str(tmp / "int8.onnx"), _ArrayReader(input_name, calibration),
                quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
            )
        except Exception as err:
            raise ConversionError(f"onnx-int8: onnxruntime quantization failed: {type(err).__name__}: {err}") from err
        return (tmp / "int8.onnx").read_bytes()


def check_quantized(model: bytes) -> None:
    """Every Conv/MatMul/Gemm must read int8 weights through DequantizeLinear (no float weights left)."""
    import onnx

    proto = onnx.load_from_string(model)
    int8_initializers = {t.name for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8}
    dequantized = {n.output[0]: n.input[0] for n in proto.graph.node if n.op_type == "DequantizeLinear"}
    float_weights = []
    for node in proto.graph.node:
        if node.op_type in ("Conv", "MatMul", "Gemm"):
            weight = node.input[1]
            if dequantized.get(weight) not in int8_initializers:
                float_weights.append(f"{node.op_type} {node.name!r}")
    if float_weights:
        raise ConversionError("onnx-int8: ops without int8 weights after quantization: " + ", ".join(float_weights))


def embed_metadata(model: bytes, key: str, value: str) -> bytes:
    import onnx

    proto = onnx.load_from_string(model)
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key != key]
    del proto.metadata_props[:]
    for k, v in kept + [(key, value)]:
        proto.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def session(model: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def io_details(model: bytes) -> tuple[list[dict], list[dict]]:
    s = session(model)
    return [tensor_entry(v) for v in s.get_inputs()], [tensor_entry(v) for v in s.get_outputs()]


def tensor_entry(value) -> dict:
    dtype = {"tensor(float)": "float32", "tensor(int8)": "int8", "tensor(uint8)": "uint8"}.get(value.type, value.type)
    signature = [d if isinstance(d, int) else -1 for d in value.shape]
    return {
        "name": value.name,
        "shape": [1 if d == -1 else d for d in signature],
        "shape_signature": signature,
        "dtype": dtype,
        "scale": None,
        "zero_point": None,
    }


def predict(model: bytes, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    s = session(model)
    name = s.get_inputs()[0].name
    return np.concatenate([s.run(None, {name: images[i:i + batch_size]})[0]
                           for i in range(0, len(images), batch_size)]).astype(np.float32)

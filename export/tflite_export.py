"""TFLite: float and full-integer conversion, the integer-only check, metadata embedding, inference."""

from __future__ import annotations

import numpy as np

from export.errors import ConversionError, NotFullyIntegerError

TFLITE_IDENTIFIER = b"TFL3"
BUFFER_ALIGNMENT = 16  # the TFLite converter aligns weight buffers to 16 bytes; keep that when repacking
INT8_SCHEME = {
    "scheme": "tflite-full-integer-ptq",
    "description": "TFLite post-training full-integer quantization: int8 weights (per-channel for conv, "
                   "symmetric), int8 activations (per-tensor, asymmetric), int32 biases, int8 input and "
                   "output; TFLITE_BUILTINS_INT8 ops only",
    "weights": "int8", "activations": "int8", "io_dtype": "int8",
}


def convert_float(saved_model_dir) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    return bytes(converter.convert())


def int8_converter(saved_model_dir, calibration: np.ndarray):
    """A converter set for full-integer int8 (no float fallback: conversion fails instead)."""
    import tensorflow as tf

    def representative_dataset():
        for i in range(len(calibration)):
            yield [calibration[i:i + 1]]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter


def convert_int8(saved_model_dir, calibration: np.ndarray) -> bytes:
    try:
        model = bytes(int8_converter(saved_model_dir, calibration).convert())
    except Exception as err:  # the converter raises ConverterError / RuntimeError for unsupported ops
        raise ConversionError(f"tflite-int8: full-integer conversion failed: {err}") from err
    check_full_integer(model)
    return model


def interpreter(model: bytes, *, preserve_all_tensors: bool = False, delegates: bool = True):
    """A LiteRT interpreter; delegates=False runs the builtin kernels only, so every op stays visible."""
    import warnings

    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
        it = Interpreter(model_content=model, experimental_preserve_all_tensors=preserve_all_tensors,
                         experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    return it


def non_integer_findings(model: bytes) -> list[str]:
    """Every place an int8 model is not integer: non-int8 I/O, float operands/results, DEQUANTIZE ops."""
    it = interpreter(model, delegates=False)
    findings = []
    for kind, details in (("input", it.get_input_details()), ("output", it.get_output_details())):
        for d in details:
            if np.dtype(d["dtype"]) != np.int8:
                findings.append(f"{kind} {d['name']!r} is {np.dtype(d['dtype']).name}, expected int8")
    for op in it._get_ops_details():  # noqa: SLF001 - the only API listing per-op operand types
        if op["op_name"] == "DEQUANTIZE":
            findings.append(f"op {op['index']} DEQUANTIZE (int8 -> float fallback)")
        types = [np.dtype(t) for t in list(op["operand_types"]) + list(op["result_types"])]
        floats = sorted({t.name for t in types if np.issubdtype(t, np.floating)})
        if floats:
            findings.append(f"op {op['index']} {op['op_name']} has {'/'.join(floats)} tensors")
    return findings


def check_full_integer(model: bytes) -> None:
    findings = non_integer_findings(model)
    if findings:
        raise NotFullyIntegerError("tflite-int8: the converted model is not fully integer: " + "; ".join(findings))


def io_details(model: bytes) -> tuple[list[dict], list[dict]]:
    """Inputs and outputs as the interpreter reports them (manifest form)."""
    it = interpreter(model)
    return [tensor_entry(d) for d in it.get_input_details()], [tensor_entry(d) for d in it.get_output_details()]


def tensor_entry(detail: dict) -> dict:
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    quantized = np.issubdtype(dtype, np.integer) and scale != 0.0
    return {
        "name": detail["name"],
        "shape": [int(v) for v in detail["shape"]],
        "shape_signature": [int(v) for v in detail["shape_signature"]],
        "dtype": dtype.name,
        "scale": float(scale) if quantized else None,
        "zero_point": int(zero_point) if quantized else None,
    }


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def predict(model: bytes, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Probabilities (N, 10) float32 for float32 images; int8 models get quantized input, dequantized output."""
    it = interpreter(model)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    in_dtype, out_dtype = np.dtype(inp["dtype"]), np.dtype(out["dtype"])
    results, current = [], None
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        if current != len(batch):
            it.resize_tensor_input(inp["index"], [len(batch), *batch.shape[1:]])
            it.allocate_tensors()
            current = len(batch)
        if np.issubdtype(in_dtype, np.integer):
            batch = quantize(batch, *inp["quantization"], in_dtype)
        it.set_tensor(inp["index"], batch.astype(in_dtype, copy=False))
        it.invoke()
        y = it.get_tensor(out["index"])
        if np.issubdtype(out_dtype, np.integer):
            scale, zero_point = out["quantization"]
            y = (y.astype(np.float32) - zero_point) * np.float32(scale)
        results.append(y.astype(np.float32))
    return np.concatenate(results)


def embed_metadata(model: bytes, name: str, payload: bytes) -> bytes:
    """`model` with a metadata entry `name` -> buffer holding `payload` (replacing one of that name).

    Repacks the flatbuffer with the schema's object API, keeping weight buffers 16-byte aligned.
    Deterministic: the same model and payload give the same bytes.
    """
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    class AlignedBuilder(flatbuffers.Builder):
        def StartVector(self, elemSize, numElems, alignment):  # noqa: N802,N803 - flatbuffers API
            if elemSize == 1 and numElems >= BUFFER_ALIGNMENT:
                alignment = max(alignment, BUFFER_ALIGNMENT)
            return super().StartVector(elemSize, numElems, alignment)

    if model[4:8] != TFLITE_IDENTIFIER:
        raise ConversionError(f"not a TFLite flatbuffer (identifier {model[4:8]!r}, expected {TFLITE_IDENTIFIER!r})")
    obj = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(payload, dtype=np.uint8).copy()
    entries = [m for m in (obj.metadata or []) if m.name.decode() != name] if obj.metadata else []
    obj.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = name.encode()
    entry.buffer = len(obj.buffers) - 1
    obj.metadata = entries + [entry]
    builder = AlignedBuilder(len(model) + len(payload) + 1024)
    builder.Finish(obj.Pack(builder), file_identifier=TFLITE_IDENTIFIER)
    return bytes(builder.Output())

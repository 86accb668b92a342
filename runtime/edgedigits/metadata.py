"""Read the "edgedigits" metadata embedded in a .tflite or .onnx file, with the standard library only.

The export stage embeds one JSON document per model file (key "edgedigits"): labels, preprocessing
contract, quantization scheme, source model hash, calibration, the accuracy measured at export and
the softmax temperature fitted at export.
It lives in the TFLite model's `metadata` vector (name -> buffer) and in ONNX `metadata_props`.
This module reads just enough of each container to find it, with the readers in wire.py, so a
lone model file is self-describing without TensorFlow, onnx or onnxruntime.
"""

from __future__ import annotations

import json
from pathlib import Path

from .wire import (
    ONNX_ENTRY_KEY, ONNX_ENTRY_VALUE, ONNX_MODEL_IR_VERSION, ONNX_MODEL_METADATA_PROPS, TFLITE_BUFFER_DATA,
    TFLITE_BUFFER_OFFSET, TFLITE_BUFFER_SIZE, TFLITE_IDENTIFIER, TFLITE_METADATA_BUFFER, TFLITE_METADATA_NAME,
    TFLITE_MODEL_BUFFERS, TFLITE_MODEL_METADATA, WIRE_LENGTH, WIRE_VARINT, FlatBuffer, WireFormatError,
    protobuf_fields,
)

METADATA_KEY = "edgedigits"
TEMPERATURE_KEY = "temperature_scaling"  # {"temperature": T, ...}: see export/temperature.py
# A model's outputs, in order: the ten digits, then (for models trained with negatives) the
# probability that the crop is no digit at all.
DIGIT_LABELS = tuple(str(d) for d in range(10))
REJECT_LABEL = "not a digit"


def labels_for_outputs(count: int) -> list[str]:
    """The labels of a model with `count` outputs: the digits, and "not a digit" as an 11th."""
    if count == len(DIGIT_LABELS):
        return list(DIGIT_LABELS)
    if count == len(DIGIT_LABELS) + 1:
        return [*DIGIT_LABELS, REJECT_LABEL]
    raise ValueError(f"a digit model has {len(DIGIT_LABELS)} outputs, or {len(DIGIT_LABELS) + 1} with "
                     f"{REJECT_LABEL!r}; found {count}")


class EmbeddedMetadataError(ValueError):
    """The file is not a readable TFLite/ONNX model, or its embedded metadata is not valid JSON."""


def read_embedded_metadata(path: str | Path, key: str = METADATA_KEY) -> dict | None:
    """The embedded metadata as a dict, or None if the model carries none under `key`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise EmbeddedMetadataError(f"cannot read {path}: {err.strerror or err}") from err
    if data[4:8] == TFLITE_IDENTIFIER:
        kind = "tflite"
    elif path.suffix == ".onnx":
        kind = "onnx"
    else:
        raise EmbeddedMetadataError(f"{path}: neither a TFLite flatbuffer (no 'TFL3' identifier) "
                                    f"nor a file named *.onnx")
    return parse_embedded_metadata(data, kind, path, key)


def parse_embedded_metadata(data: bytes, kind: str, path: str | Path, key: str = METADATA_KEY) -> dict | None:
    """The metadata embedded in model bytes of `kind` 'tflite' or 'onnx' (`path` only names it in errors)."""
    path = Path(path)
    raw = tflite_metadata(data, key, path) if kind == "tflite" else onnx_metadata(data, key, path)
    if raw is None:
        return None
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EmbeddedMetadataError(f"{path}: metadata {key!r} is not valid UTF-8 JSON: {err}") from err
    if not isinstance(value, dict):
        raise EmbeddedMetadataError(f"{path}: metadata {key!r} is a JSON {type(value).__name__}, expected an object")
    return value


# --- TFLite: flatbuffer ---------------------------------------------------------------------------

def tflite_metadata(data: bytes, key: str, path: Path) -> bytes | None:
    try:
        return _tflite_metadata(FlatBuffer(data), key, path)
    except WireFormatError as error:
        raise EmbeddedMetadataError(f"{path}: corrupt TFLite flatbuffer: {error}") from None


def _tflite_metadata(fb: FlatBuffer, key: str, path: Path) -> bytes | None:
    model = fb.root()
    for entry in model.tables(TFLITE_MODEL_METADATA, "metadata"):
        if entry.string(TFLITE_METADATA_NAME, "metadata name") != key.encode():
            continue
        buffer_index = entry.scalar(TFLITE_METADATA_BUFFER)
        buffers = model.tables(TFLITE_MODEL_BUFFERS, "buffers")
        if buffer_index >= len(buffers):
            raise EmbeddedMetadataError(f"{path}: metadata {key!r} points at buffer {buffer_index}, "
                                        f"the model has {len(buffers)}")
        buffer = buffers[buffer_index]
        offset = buffer.scalar(TFLITE_BUFFER_OFFSET, "u64")
        if offset > 1:  # data stored after the flatbuffer (models > 2 GB)
            return fb.bytes_at(offset, buffer.scalar(TFLITE_BUFFER_SIZE, "u64"), "metadata buffer")
        return buffer.string(TFLITE_BUFFER_DATA, "metadata buffer")
    return None


# --- ONNX: protobuf wire format -------------------------------------------------------------------

def onnx_metadata(data: bytes, key: str, path: Path) -> bytes | None:
    data = memoryview(data)  # slices without copying the (possibly large) graph
    found, seen_ir_version = None, False
    try:
        for number, wire_type, value in protobuf_fields(data):
            if number == ONNX_MODEL_IR_VERSION and wire_type == WIRE_VARINT:
                seen_ir_version = True
            elif number == ONNX_MODEL_METADATA_PROPS and wire_type == WIRE_LENGTH:
                entry = {n: v for n, t, v in protobuf_fields(value) if t == WIRE_LENGTH}
                if entry.get(ONNX_ENTRY_KEY) == key.encode():
                    found = bytes(entry.get(ONNX_ENTRY_VALUE, b""))
    except WireFormatError as error:
        raise EmbeddedMetadataError(f"{path}: not a readable ONNX model: {error}") from None
    if not seen_ir_version:
        raise EmbeddedMetadataError(f"{path}: not an ONNX model (no ir_version field)")
    return found

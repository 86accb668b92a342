"""Read the "edgedigits" metadata embedded in a .tflite or .onnx file, with the standard library only.

The export stage embeds one JSON document per model file (key "edgedigits"): labels, preprocessing
contract, quantization scheme, source model hash, calibration, the accuracy measured at export and
the softmax temperature fitted at export.
It lives in the TFLite model's `metadata` vector (name -> buffer) and in ONNX `metadata_props`.
This module parses just enough of each container to find it: a minimal flatbuffer reader for
TFLite and a minimal protobuf wire-format reader for ONNX, so a lone model file is self-describing
without TensorFlow, onnx or onnxruntime.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

METADATA_KEY = "edgedigits"
TEMPERATURE_KEY = "temperature_scaling"  # {"temperature": T, ...}: see export/temperature.py
TFLITE_IDENTIFIER = b"TFL3"
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

# Field ids (declaration order) in tensorflow/lite/schema/schema.fbs.
_MODEL_BUFFERS, _MODEL_METADATA = 4, 6
_METADATA_NAME, _METADATA_BUFFER = 0, 1
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2
# Field numbers in onnx/onnx.proto.
_ONNX_IR_VERSION, _ONNX_METADATA_PROPS = 1, 14
_ENTRY_KEY, _ENTRY_VALUE = 1, 2


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

class _Flatbuffer:
    def __init__(self, data: bytes, path: Path):
        self.data, self.path = data, path

    def _unpack(self, fmt: str, pos: int):
        try:
            return struct.unpack_from(fmt, self.data, pos)[0]
        except struct.error as err:
            raise EmbeddedMetadataError(f"{self.path}: truncated or corrupt TFLite flatbuffer "
                                        f"(offset {pos} outside {len(self.data)} bytes)") from err

    def root(self) -> int:
        return self._unpack("<I", 0)

    def field_pos(self, table: int, field_id: int) -> int | None:
        """Absolute position of a table field, or None when absent (default value)."""
        vtable = table - self._unpack("<i", table)
        vtable_size = self._unpack("<H", vtable)
        entry = 4 + 2 * field_id
        if entry >= vtable_size:
            return None
        offset = self._unpack("<H", vtable + entry)
        return table + offset if offset else None

    def indirect(self, pos: int) -> int:
        return pos + self._unpack("<I", pos)

    def vector(self, table: int, field_id: int) -> tuple[int, int]:
        """(start of elements, length) of a vector field; (0, 0) when absent."""
        pos = self.field_pos(table, field_id)
        if pos is None:
            return 0, 0
        vec = self.indirect(pos)
        return vec + 4, self._unpack("<I", vec)

    def table_at(self, start: int, index: int) -> int:
        return self.indirect(start + 4 * index)

    def bytes_field(self, table: int, field_id: int) -> bytes | None:
        start, length = self.vector(table, field_id)
        if self.field_pos(table, field_id) is None:
            return None
        if start + length > len(self.data):
            raise EmbeddedMetadataError(f"{self.path}: corrupt TFLite flatbuffer (vector past the end of file)")
        return self.data[start:start + length]

    def scalar(self, table: int, field_id: int, fmt: str, default=0):
        pos = self.field_pos(table, field_id)
        return default if pos is None else self._unpack(fmt, pos)


def tflite_metadata(data: bytes, key: str, path: Path) -> bytes | None:
    fb = _Flatbuffer(data, path)
    model = fb.root()
    entries, count = fb.vector(model, _MODEL_METADATA)
    for i in range(count):
        entry = fb.table_at(entries, i)
        if fb.bytes_field(entry, _METADATA_NAME) != key.encode():
            continue
        buffer_index = fb.scalar(entry, _METADATA_BUFFER, "<I")
        buffers, n_buffers = fb.vector(model, _MODEL_BUFFERS)
        if buffer_index >= n_buffers:
            raise EmbeddedMetadataError(f"{path}: metadata {key!r} points at buffer {buffer_index}, "
                                        f"the model has {n_buffers}")
        buffer = fb.table_at(buffers, buffer_index)
        offset = fb.scalar(buffer, _BUFFER_OFFSET, "<Q")
        if offset > 1:  # data stored after the flatbuffer (models > 2 GB)
            size = fb.scalar(buffer, _BUFFER_SIZE, "<Q")
            if offset + size > len(data):
                raise EmbeddedMetadataError(f"{path}: metadata buffer lies past the end of the file")
            return data[offset:offset + size]
        return fb.bytes_field(buffer, _BUFFER_DATA) or b""
    return None


# --- ONNX: protobuf wire format -------------------------------------------------------------------

def _varint(data: bytes, pos: int, path: Path) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise EmbeddedMetadataError(f"{path}: truncated or corrupt ONNX protobuf (bad varint)")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes, path: Path, start: int = 0, end: int | None = None):
    """Yield (field number, wire type, value) of one message; length-delimited values as bytes."""
    pos, end = start, len(data) if end is None else end
    while pos < end:
        tag, pos = _varint(data, pos, path)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, pos = _varint(data, pos, path)
        elif wire_type == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire_type == 2:
            length, pos = _varint(data, pos, path)
            value, pos = data[pos:pos + length], pos + length
        elif wire_type == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise EmbeddedMetadataError(f"{path}: not an ONNX model (protobuf wire type {wire_type} at byte {pos})")
        if pos > end or number == 0:
            raise EmbeddedMetadataError(f"{path}: truncated or corrupt ONNX protobuf")
        yield number, wire_type, value


def onnx_metadata(data: bytes, key: str, path: Path) -> bytes | None:
    data = memoryview(data)  # slices without copying the (possibly large) graph
    found, seen_ir_version = None, False
    for number, wire_type, value in _fields(data, path):
        if number == _ONNX_IR_VERSION and wire_type == 0:
            seen_ir_version = True
        elif number == _ONNX_METADATA_PROPS and wire_type == 2:
            entry = {n: v for n, t, v in _fields(value, path) if t == 2}
            if entry.get(_ENTRY_KEY) == key.encode():
                found = bytes(entry.get(_ENTRY_VALUE, b""))
    if not seen_ir_version:
        raise EmbeddedMetadataError(f"{path}: not an ONNX model (no ir_version field)")
    return found

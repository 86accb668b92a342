"""Bounds-checked readers for the two container formats of model files, standard library only.

A TFLite model is a flatbuffer and an ONNX model is a protobuf message. Both readers check every
offset and length against the buffer before using it, and raise WireFormatError (with the byte
position) instead of reading outside it or returning a short slice. The schema field ids they are
used with are named here, once.
"""

from __future__ import annotations

import struct

# ---------------------------------------------------------------- schema field ids

# TFLite: field ids (declaration order; a union takes two, its type then its value) in
# tensorflow/lite/schema/schema.fbs.
TFLITE_IDENTIFIER = b"TFL3"
TFLITE_MODEL_OPERATOR_CODES = 1
TFLITE_MODEL_SUBGRAPHS = 2
TFLITE_MODEL_BUFFERS = 4
TFLITE_MODEL_METADATA_BUFFER = 5
TFLITE_MODEL_METADATA = 6
TFLITE_MODEL_SIGNATURE_DEFS = 7
TFLITE_OPERATOR_CODE_CUSTOM_CODE = 1
TFLITE_SUBGRAPH_TENSORS = 0
TFLITE_SUBGRAPH_INPUTS = 1
TFLITE_SUBGRAPH_OUTPUTS = 2
TFLITE_SUBGRAPH_OPERATORS = 3
TFLITE_OPERATOR_OPCODE_INDEX = 0
TFLITE_OPERATOR_INPUTS = 1
TFLITE_OPERATOR_OUTPUTS = 2
TFLITE_OPERATOR_BUILTIN_OPTIONS = 4
TFLITE_OPERATOR_CUSTOM_OPTIONS = 5
TFLITE_OPERATOR_MUTATING_VARIABLE_INPUTS = 7
TFLITE_OPERATOR_INTERMEDIATES = 8
TFLITE_OPERATOR_BUILTIN_OPTIONS_2 = 12
TFLITE_TENSOR_SHAPE = 0
TFLITE_TENSOR_TYPE = 1
TFLITE_TENSOR_BUFFER = 2
TFLITE_TENSOR_NAME = 3
TFLITE_TENSOR_QUANTIZATION = 4
TFLITE_TENSOR_SPARSITY = 6
TFLITE_TENSOR_SHAPE_SIGNATURE = 7
TFLITE_QUANTIZATION_MIN = 0
TFLITE_QUANTIZATION_MAX = 1
TFLITE_QUANTIZATION_SCALE = 2
TFLITE_QUANTIZATION_ZERO_POINT = 3
TFLITE_QUANTIZATION_DETAILS = 5
TFLITE_BUFFER_DATA = 0
TFLITE_BUFFER_OFFSET = 1
TFLITE_BUFFER_SIZE = 2
TFLITE_METADATA_NAME = 0
TFLITE_METADATA_BUFFER = 1
TFLITE_SIGNATURE_INPUTS = 0
TFLITE_SIGNATURE_OUTPUTS = 1
TFLITE_SIGNATURE_KEY = 2
TFLITE_SIGNATURE_SUBGRAPH_INDEX = 4
TFLITE_TENSOR_MAP_NAME = 0

# Protobuf wire types.
WIRE_VARINT, WIRE_FIXED64, WIRE_LENGTH, WIRE_FIXED32 = 0, 1, 2, 5
_FIXED_SIZES = {WIRE_FIXED64: 8, WIRE_FIXED32: 4}

# ONNX: field numbers in onnx/onnx.proto.
ONNX_MODEL_IR_VERSION = 1
ONNX_MODEL_GRAPH = 7
ONNX_MODEL_METADATA_PROPS = 14
ONNX_ENTRY_KEY, ONNX_ENTRY_VALUE = 1, 2  # StringStringEntryProto
# Every top-level ModelProto field and its wire type.
ONNX_MODEL_WIRE_TYPES = {
    ONNX_MODEL_IR_VERSION: WIRE_VARINT,
    2: WIRE_LENGTH,  # producer_name
    3: WIRE_LENGTH,  # producer_version
    4: WIRE_LENGTH,  # domain
    5: WIRE_VARINT,  # model_version
    6: WIRE_LENGTH,  # doc_string
    ONNX_MODEL_GRAPH: WIRE_LENGTH,
    8: WIRE_LENGTH,  # opset_import
    ONNX_MODEL_METADATA_PROPS: WIRE_LENGTH,
    20: WIRE_LENGTH,  # training_info
    25: WIRE_LENGTH,  # functions
    26: WIRE_LENGTH,  # configuration
}


class WireFormatError(ValueError):
    """An offset, length or tag that does not fit the buffer; `position` is the byte it was found at."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position


# ---------------------------------------------------------------- flatbuffer


class FlatBuffer:
    def __init__(self, data: bytes):
        self.data = data
        self.size = len(data)

    def need(self, pos: int, length: int, what: str) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise WireFormatError(f"{what} points outside the file (offset {pos}, {length} bytes, "
                                  f"file has {self.size} bytes): truncated or corrupt", pos)

    def bytes_at(self, pos: int, length: int, what: str) -> bytes:
        self.need(pos, length, what)
        return bytes(self.data[pos:pos + length])

    def _unpack(self, fmt: str, size: int, pos: int) -> int:
        self.need(pos, size, "field")
        return struct.unpack_from(fmt, self.data, pos)[0]

    def u8(self, pos: int) -> int:
        return self._unpack("<B", 1, pos)

    def u16(self, pos: int) -> int:
        return self._unpack("<H", 2, pos)

    def u32(self, pos: int) -> int:
        return self._unpack("<I", 4, pos)

    def i32(self, pos: int) -> int:
        return self._unpack("<i", 4, pos)

    def u64(self, pos: int) -> int:
        return self._unpack("<Q", 8, pos)

    def follow(self, pos: int, what: str) -> int:
        target = pos + self.u32(pos)
        self.need(target, 4, what)
        return target

    def root(self) -> "Table":
        return self.table(self.u32(0), "model")

    def table(self, pos: int, what: str) -> "Table":
        self.need(pos, 4, what)
        vtable = pos - self.i32(pos)
        self.need(vtable, 4, f"{what} vtable")
        vtable_size, inline_size = self.u16(vtable), self.u16(vtable + 2)
        if vtable_size < 4 or vtable_size % 2:
            raise WireFormatError(f"{what} has a malformed vtable (size {vtable_size}): corrupt file", vtable)
        self.need(vtable, vtable_size, f"{what} vtable")
        self.need(pos, max(inline_size, 4), what)
        fields = [self.u16(vtable + 4 + 2 * i) for i in range((vtable_size - 4) // 2)]
        for offset in fields:
            if offset and offset >= max(inline_size, 4):
                raise WireFormatError(f"{what} has a field outside its table: corrupt file", pos + offset)
        return Table(self, pos, fields)


class Table:
    """One flatbuffer table; fields are addressed by their schema id."""

    def __init__(self, fb: FlatBuffer, pos: int, fields: list[int]):
        self.fb, self.pos, self.fields = fb, pos, fields

    def _field(self, index: int) -> int | None:
        if index < len(self.fields) and self.fields[index]:
            return self.pos + self.fields[index]
        return None

    def scalar(self, index: int, reader: str = "u32", default: int = 0) -> int:
        pos = self._field(index)
        return default if pos is None else getattr(self.fb, reader)(pos)

    def table(self, index: int, what: str) -> "Table | None":
        pos = self._field(index)
        return None if pos is None else self.fb.table(self.fb.follow(pos, what), what)

    def vector(self, index: int, element_size: int, what: str) -> tuple[int, int]:
        """(start of elements, count); (0, 0) when absent."""
        pos = self._field(index)
        if pos is None:
            return 0, 0
        start = self.fb.follow(pos, what)
        count = self.fb.u32(start)
        self.fb.need(start + 4, count * element_size, what)
        return start + 4, count

    def int_vector(self, index: int, what: str) -> list[int]:
        start, count = self.vector(index, 4, what)
        return list(struct.unpack_from(f"<{count}i", self.fb.data, start)) if count else []

    def tables(self, index: int, what: str) -> list["Table"]:
        start, count = self.vector(index, 4, what)
        return [self.fb.table(self.fb.follow(start + 4 * i, what), f"{what}[{i}]") for i in range(count)]

    def string(self, index: int, what: str) -> bytes:
        start, count = self.vector(index, 1, what)
        return bytes(self.fb.data[start:start + count]) if count else b""


# ---------------------------------------------------------------- protobuf


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WireFormatError(f"protobuf ends inside a number at byte {pos}: truncated or corrupt", pos)
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def protobuf_fields(data: bytes, expected: dict[int, int] | None = None):
    """Yield (field number, wire type, value) of one message; varints as ints, the rest as slices.

    With `expected` (field number -> wire type), any other field is refused before its value is read.
    """
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if expected is not None and expected.get(number) != wire:
            raise WireFormatError(f"unexpected protobuf field {number}/{wire} at byte {pos}", start)
        if number == 0 or wire not in (WIRE_VARINT, WIRE_LENGTH, *_FIXED_SIZES):
            raise WireFormatError(f"invalid protobuf field {number}/{wire} at byte {pos}", start)
        if wire == WIRE_VARINT:
            value, pos = _varint(data, pos)
        else:
            length = _FIXED_SIZES.get(wire)
            if length is None:
                length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise WireFormatError(f"protobuf field {number} needs {length} bytes at byte {pos} but the "
                                      f"message ends after {len(data) - pos}: truncated or corrupt", pos)
            value, pos = data[pos:pos + length], pos + length
        yield number, wire, value

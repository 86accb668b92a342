"""Cheap structural checks of model files before an interpreter sees them.

The TFLite interpreter trusts the flatbuffer it is given: a truncated or bit-flipped file can
make it read outside the buffer and crash the whole process. So we walk the parts of the
flatbuffer the interpreter walks (tables, vectors, strings, tensor/buffer/operator indices)
and check every offset and index is in bounds. ONNX files are protobuf: we walk the top-level
fields (which catches truncation and non-ONNX files); onnxruntime validates the rest itself.
"""

from __future__ import annotations

import struct

TFLITE_IDENTIFIER = b"TFL3"
MIN_MODEL_BYTES = 64
MAX_MODEL_BYTES = 2 * 1024**3
MAX_TENSOR_ELEMENTS = 1 << 28

# TensorType -> bytes per element, for the types whose constant data size we can check.
_TFLITE_TYPE_SIZES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 8: 8, 9: 1, 10: 8, 11: 16, 12: 8, 13: 4,
                      14: 1, 15: 4, 16: 2}
_MAX_TFLITE_TYPE = 31


class ModelFormatError(ValueError):
    """The file is not a well-formed model of the expected kind (message says what is wrong)."""


def sniff_kind(data: bytes) -> str | None:
    """'tflite', 'onnx' or None, from the content alone."""
    if len(data) >= 8 and data[4:8] == TFLITE_IDENTIFIER:
        return "tflite"
    if _looks_like_onnx(data):
        return "onnx"
    return None


def check_size(data: bytes) -> None:
    if len(data) < MIN_MODEL_BYTES:
        raise ModelFormatError(f"file is {len(data)} bytes, too small to be a model (truncated or empty?)")
    if len(data) > MAX_MODEL_BYTES:
        raise ModelFormatError(f"file is {len(data)} bytes, larger than any supported model (2 GiB)")


# ---------------------------------------------------------------- TFLite flatbuffer


class _FlatBuffer:
    def __init__(self, data: bytes):
        self.data = data
        self.size = len(data)

    def _need(self, pos: int, length: int, what: str) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise ModelFormatError(f"{what} points outside the file (offset {pos}, {length} bytes, "
                                   f"file has {self.size} bytes): truncated or corrupt")

    def u8(self, pos: int) -> int:
        self._need(pos, 1, "field")
        return self.data[pos]

    def u16(self, pos: int) -> int:
        self._need(pos, 2, "field")
        return struct.unpack_from("<H", self.data, pos)[0]

    def u32(self, pos: int) -> int:
        self._need(pos, 4, "field")
        return struct.unpack_from("<I", self.data, pos)[0]

    def i32(self, pos: int) -> int:
        self._need(pos, 4, "field")
        return struct.unpack_from("<i", self.data, pos)[0]

    def u64(self, pos: int) -> int:
        self._need(pos, 8, "field")
        return struct.unpack_from("<Q", self.data, pos)[0]

    def follow(self, pos: int, what: str) -> int:
        target = pos + self.u32(pos)
        self._need(target, 4, what)
        return target

    def table(self, pos: int, what: str) -> "_Table":
        self._need(pos, 4, what)
        vtable = pos - self.i32(pos)
        self._need(vtable, 4, f"{what} vtable")
        vtable_size, inline_size = self.u16(vtable), self.u16(vtable + 2)
        if vtable_size < 4 or vtable_size % 2:
            raise ModelFormatError(f"{what} has a malformed vtable (size {vtable_size}): corrupt file")
        self._need(vtable, vtable_size, f"{what} vtable")
        self._need(pos, max(inline_size, 4), what)
        fields = [self.u16(vtable + 4 + 2 * i) for i in range((vtable_size - 4) // 2)]
        for offset in fields:
            if offset and offset >= max(inline_size, 4):
                raise ModelFormatError(f"{what} has a field outside its table: corrupt file")
        return _Table(self, pos, fields, what)


class _Table:
    def __init__(self, fb: _FlatBuffer, pos: int, fields: list[int], what: str):
        self.fb, self.pos, self.fields, self.what = fb, pos, fields, what

    def _field(self, index: int) -> int | None:
        if index < len(self.fields) and self.fields[index]:
            return self.pos + self.fields[index]
        return None

    def scalar(self, index: int, reader: str = "u32", default: int = 0) -> int:
        pos = self._field(index)
        return default if pos is None else getattr(self.fb, reader)(pos)

    def table(self, index: int, what: str) -> "_Table | None":
        pos = self._field(index)
        return None if pos is None else self.fb.table(self.fb.follow(pos, what), what)

    def vector(self, index: int, element_size: int, what: str) -> tuple[int, int]:
        """(start of elements, count); (0, 0) when absent."""
        pos = self._field(index)
        if pos is None:
            return 0, 0
        start = self.fb.follow(pos, what)
        count = self.fb.u32(start)
        self.fb._need(start + 4, count * element_size, what)
        return start + 4, count

    def int_vector(self, index: int, what: str) -> list[int]:
        start, count = self.vector(index, 4, what)
        return list(struct.unpack_from(f"<{count}i", self.fb.data, start)) if count else []

    def tables(self, index: int, what: str) -> list[_Table]:
        start, count = self.vector(index, 4, what)
        return [self.fb.table(self.fb.follow(start + 4 * i, what), f"{what}[{i}]") for i in range(count)]

    def string(self, index: int, what: str) -> bytes:
        start, count = self.vector(index, 1, what)
        return bytes(self.fb.data[start:start + count]) if count else b""


def check_tflite(data: bytes) -> None:
    """Raise ModelFormatError unless `data` is a structurally sound TFLite flatbuffer."""
    check_size(data)
    if data[4:8] != TFLITE_IDENTIFIER:
        raise ModelFormatError(f"not a TFLite flatbuffer (identifier {bytes(data[4:8])!r}, expected b'TFL3')")
    fb = _FlatBuffer(data)
    model = fb.table(fb.u32(0), "model")
    opcodes = model.tables(1, "operator_codes")
    for code in opcodes:
        code.string(1, "custom_code")
    buffers = model.tables(4, "buffers")
    buffer_sizes = [_check_buffer(fb, b) for b in buffers]
    subgraphs = model.tables(2, "subgraphs")
    if not subgraphs:
        raise ModelFormatError("TFLite model has no subgraphs: corrupt or not a model")
    for s, subgraph in enumerate(subgraphs):
        _check_subgraph(subgraph, s, len(opcodes), buffer_sizes)
    model.int_vector(5, "metadata_buffer")
    for meta in model.tables(6, "metadata"):
        meta.string(0, "metadata name")
        if meta.scalar(1) >= len(buffers):
            raise ModelFormatError("metadata refers to a missing buffer: corrupt file")
    for signature in model.tables(7, "signature_defs"):
        signature.string(2, "signature key")
        for io in (0, 1):
            for tensor_map in signature.tables(io, "signature tensors"):
                tensor_map.string(0, "signature tensor name")
        if signature.scalar(4) >= len(subgraphs):
            raise ModelFormatError("signature refers to a missing subgraph: corrupt file")


def _check_buffer(fb: _FlatBuffer, buffer: _Table) -> int:
    _, count = buffer.vector(0, 1, "buffer data")
    offset, size = buffer.scalar(1, "u64"), buffer.scalar(2, "u64")
    if offset > 1:  # data stored after the flatbuffer (large models)
        fb._need(offset, size, "buffer data")
        return size
    return count


def _check_subgraph(subgraph: _Table, index: int, n_opcodes: int, buffer_sizes: list[int]) -> None:
    where = f"subgraph {index}"
    tensors = subgraph.tables(0, f"{where} tensors")
    n = len(tensors)
    for t, tensor in enumerate(tensors):
        _check_tensor(tensor, f"{where} tensor {t}", buffer_sizes)
    for io, name in ((1, "inputs"), (2, "outputs")):
        for i in subgraph.int_vector(io, f"{where} {name}"):
            if not 0 <= i < n:
                raise ModelFormatError(f"{where} {name} refer to tensor {i} of {n}: corrupt file")
    for o, op in enumerate(subgraph.tables(3, f"{where} operators")):
        if op.scalar(0) >= n_opcodes:
            raise ModelFormatError(f"{where} operator {o} has opcode {op.scalar(0)} of {n_opcodes}: corrupt file")
        for io in (1, 2, 8):
            for i in op.int_vector(io, f"{where} operator {o} tensors"):
                if not -1 <= i < n:
                    raise ModelFormatError(f"{where} operator {o} refers to tensor {i} of {n}: corrupt file")
        op.table(4, f"{where} operator {o} options")
        op.vector(5, 1, f"{where} operator {o} custom options")
        op.vector(7, 1, f"{where} operator {o} variable inputs")
        op.table(12, f"{where} operator {o} options")


def _check_tensor(tensor: _Table, where: str, buffer_sizes: list[int]) -> None:
    shape = tensor.int_vector(0, f"{where} shape")
    tensor.int_vector(7, f"{where} shape signature")
    kind = tensor.scalar(1, "u8")
    if kind > _MAX_TFLITE_TYPE:
        raise ModelFormatError(f"{where} has unknown type {kind}: corrupt file")
    buffer = tensor.scalar(2)
    if buffer >= len(buffer_sizes):
        raise ModelFormatError(f"{where} refers to buffer {buffer} of {len(buffer_sizes)}: corrupt file")
    tensor.string(3, f"{where} name")
    if any(d < 0 for d in shape):
        raise ModelFormatError(f"{where} has a negative dimension {shape}: corrupt file")
    elements = 1
    for d in shape:
        elements *= d
    if elements > MAX_TENSOR_ELEMENTS:
        raise ModelFormatError(f"{where} has an implausible shape {shape}: corrupt file")
    stored = buffer_sizes[buffer]
    if stored and kind in _TFLITE_TYPE_SIZES and tensor.table(6, f"{where} sparsity") is None:
        expected = elements * _TFLITE_TYPE_SIZES[kind]
        if stored != expected:
            raise ModelFormatError(f"{where} has {stored} bytes of data for shape {shape} "
                                   f"({expected} expected): corrupt file")
    quantization = tensor.table(4, f"{where} quantization")
    if quantization is not None:
        for field in (0, 1, 2):
            quantization.vector(field, 4, f"{where} quantization")
        quantization.vector(3, 8, f"{where} quantization")
        quantization.table(5, f"{where} quantization details")


# ---------------------------------------------------------------- ONNX protobuf

# ModelProto fields: 1 ir_version, 2 producer_name, 3 producer_version, 4 domain, 5 model_version,
# 6 doc_string, 7 graph, 8 opset_import, 14 metadata_props, 20 training_info, 25 functions, 26 configuration
_ONNX_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ModelFormatError("ONNX protobuf ends inside a number: truncated or corrupt")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def onnx_top_level_fields(data: bytes) -> dict[int, list]:
    """Walk the top-level fields of an ONNX ModelProto; values are ints or byte slices."""
    fields: dict[int, list] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if _ONNX_MODEL_FIELDS.get(number) != wire:
            raise ModelFormatError(f"not an ONNX model (unexpected protobuf field {number}/{wire} at byte {pos})")
        if wire == 0:
            value, pos = _varint(data, pos)
        else:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ModelFormatError(f"ONNX field {number} needs {length} bytes but the file ends after "
                                       f"{len(data) - pos}: truncated or corrupt")
            value, pos = data[pos:pos + length], pos + length
        fields.setdefault(number, []).append(value)
    return fields


def _looks_like_onnx(data: bytes) -> bool:
    try:
        fields = onnx_top_level_fields(data)
    except ModelFormatError:
        return False
    return 7 in fields and 1 in fields


def check_onnx(data: bytes) -> None:
    check_size(data)
    fields = onnx_top_level_fields(data)
    if 7 not in fields:
        raise ModelFormatError("ONNX model has no graph: truncated or not a model")
    if 1 not in fields:
        raise ModelFormatError("ONNX model has no ir_version: not an ONNX model")


def check_model_bytes(data: bytes, kind: str) -> None:
    if kind == "tflite":
        check_tflite(data)
    elif kind == "onnx":
        check_onnx(data)
    else:
        raise ModelFormatError(f"unknown model kind {kind!r}")

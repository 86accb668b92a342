"""Cheap structural checks of model files before an interpreter sees them.

The TFLite interpreter trusts the flatbuffer it is given: a truncated or bit-flipped file can
make it read outside the buffer and crash the whole process. So we walk the parts of the
flatbuffer the interpreter walks (tables, vectors, strings, tensor/buffer/operator indices)
and check every offset and index is in bounds. ONNX files are protobuf: we walk the top-level
fields (which catches truncation and non-ONNX files); onnxruntime validates the rest itself.
"""

from __future__ import annotations

from .wire import (
    ONNX_MODEL_GRAPH, ONNX_MODEL_IR_VERSION, ONNX_MODEL_WIRE_TYPES, TFLITE_BUFFER_DATA, TFLITE_BUFFER_OFFSET,
    TFLITE_BUFFER_SIZE, TFLITE_IDENTIFIER, TFLITE_METADATA_BUFFER, TFLITE_METADATA_NAME, TFLITE_MODEL_BUFFERS,
    TFLITE_MODEL_METADATA, TFLITE_MODEL_METADATA_BUFFER, TFLITE_MODEL_OPERATOR_CODES, TFLITE_MODEL_SIGNATURE_DEFS,
    TFLITE_MODEL_SUBGRAPHS, TFLITE_OPERATOR_BUILTIN_OPTIONS, TFLITE_OPERATOR_BUILTIN_OPTIONS_2,
    TFLITE_OPERATOR_CODE_CUSTOM_CODE, TFLITE_OPERATOR_CUSTOM_OPTIONS, TFLITE_OPERATOR_INPUTS,
    TFLITE_OPERATOR_INTERMEDIATES, TFLITE_OPERATOR_MUTATING_VARIABLE_INPUTS, TFLITE_OPERATOR_OPCODE_INDEX,
    TFLITE_OPERATOR_OUTPUTS, TFLITE_QUANTIZATION_DETAILS, TFLITE_QUANTIZATION_MAX, TFLITE_QUANTIZATION_MIN,
    TFLITE_QUANTIZATION_SCALE, TFLITE_QUANTIZATION_ZERO_POINT, TFLITE_SIGNATURE_INPUTS, TFLITE_SIGNATURE_KEY,
    TFLITE_SIGNATURE_OUTPUTS, TFLITE_SIGNATURE_SUBGRAPH_INDEX, TFLITE_SUBGRAPH_INPUTS, TFLITE_SUBGRAPH_OPERATORS,
    TFLITE_SUBGRAPH_OUTPUTS, TFLITE_SUBGRAPH_TENSORS, TFLITE_TENSOR_BUFFER, TFLITE_TENSOR_MAP_NAME,
    TFLITE_TENSOR_NAME, TFLITE_TENSOR_QUANTIZATION, TFLITE_TENSOR_SHAPE, TFLITE_TENSOR_SHAPE_SIGNATURE,
    TFLITE_TENSOR_SPARSITY, TFLITE_TENSOR_TYPE, FlatBuffer, Table, WireFormatError, protobuf_fields,
)

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


def check_tflite(data: bytes) -> None:
    """Raise ModelFormatError unless `data` is a structurally sound TFLite flatbuffer."""
    check_size(data)
    if data[4:8] != TFLITE_IDENTIFIER:
        raise ModelFormatError(f"not a TFLite flatbuffer (identifier {bytes(data[4:8])!r}, expected b'TFL3')")
    try:
        _check_model(FlatBuffer(data))
    except WireFormatError as error:
        raise ModelFormatError(str(error)) from None


def _check_model(fb: FlatBuffer) -> None:
    model = fb.root()
    opcodes = model.tables(TFLITE_MODEL_OPERATOR_CODES, "operator_codes")
    for code in opcodes:
        code.string(TFLITE_OPERATOR_CODE_CUSTOM_CODE, "custom_code")
    buffers = model.tables(TFLITE_MODEL_BUFFERS, "buffers")
    buffer_sizes = [_check_buffer(fb, b) for b in buffers]
    subgraphs = model.tables(TFLITE_MODEL_SUBGRAPHS, "subgraphs")
    if not subgraphs:
        raise ModelFormatError("TFLite model has no subgraphs: corrupt or not a model")
    for s, subgraph in enumerate(subgraphs):
        _check_subgraph(subgraph, s, len(opcodes), buffer_sizes)
    model.int_vector(TFLITE_MODEL_METADATA_BUFFER, "metadata_buffer")
    for meta in model.tables(TFLITE_MODEL_METADATA, "metadata"):
        meta.string(TFLITE_METADATA_NAME, "metadata name")
        if meta.scalar(TFLITE_METADATA_BUFFER) >= len(buffers):
            raise ModelFormatError("metadata refers to a missing buffer: corrupt file")
    for signature in model.tables(TFLITE_MODEL_SIGNATURE_DEFS, "signature_defs"):
        signature.string(TFLITE_SIGNATURE_KEY, "signature key")
        for io in (TFLITE_SIGNATURE_INPUTS, TFLITE_SIGNATURE_OUTPUTS):
            for tensor_map in signature.tables(io, "signature tensors"):
                tensor_map.string(TFLITE_TENSOR_MAP_NAME, "signature tensor name")
        if signature.scalar(TFLITE_SIGNATURE_SUBGRAPH_INDEX) >= len(subgraphs):
            raise ModelFormatError("signature refers to a missing subgraph: corrupt file")


def _check_buffer(fb: FlatBuffer, buffer: Table) -> int:
    _, count = buffer.vector(TFLITE_BUFFER_DATA, 1, "buffer data")
    offset, size = buffer.scalar(TFLITE_BUFFER_OFFSET, "u64"), buffer.scalar(TFLITE_BUFFER_SIZE, "u64")
    if offset > 1:  # data stored after the flatbuffer (large models)
        fb.need(offset, size, "buffer data")
        return size
    return count


def _check_subgraph(subgraph: Table, index: int, n_opcodes: int, buffer_sizes: list[int]) -> None:
    where = f"subgraph {index}"
    tensors = subgraph.tables(TFLITE_SUBGRAPH_TENSORS, f"{where} tensors")
    n = len(tensors)
    for t, tensor in enumerate(tensors):
        _check_tensor(tensor, f"{where} tensor {t}", buffer_sizes)
    for io, name in ((TFLITE_SUBGRAPH_INPUTS, "inputs"), (TFLITE_SUBGRAPH_OUTPUTS, "outputs")):
        for i in subgraph.int_vector(io, f"{where} {name}"):
            if not 0 <= i < n:
                raise ModelFormatError(f"{where} {name} refer to tensor {i} of {n}: corrupt file")
    for o, op in enumerate(subgraph.tables(TFLITE_SUBGRAPH_OPERATORS, f"{where} operators")):
        opcode = op.scalar(TFLITE_OPERATOR_OPCODE_INDEX)
        if opcode >= n_opcodes:
            raise ModelFormatError(f"{where} operator {o} has opcode {opcode} of {n_opcodes}: corrupt file")
        for io in (TFLITE_OPERATOR_INPUTS, TFLITE_OPERATOR_OUTPUTS, TFLITE_OPERATOR_INTERMEDIATES):
            for i in op.int_vector(io, f"{where} operator {o} tensors"):
                if not -1 <= i < n:
                    raise ModelFormatError(f"{where} operator {o} refers to tensor {i} of {n}: corrupt file")
        op.table(TFLITE_OPERATOR_BUILTIN_OPTIONS, f"{where} operator {o} options")
        op.vector(TFLITE_OPERATOR_CUSTOM_OPTIONS, 1, f"{where} operator {o} custom options")
        op.vector(TFLITE_OPERATOR_MUTATING_VARIABLE_INPUTS, 1, f"{where} operator {o} variable inputs")
        op.table(TFLITE_OPERATOR_BUILTIN_OPTIONS_2, f"{where} operator {o} options")


def _check_tensor(tensor: Table, where: str, buffer_sizes: list[int]) -> None:
    shape = tensor.int_vector(TFLITE_TENSOR_SHAPE, f"{where} shape")
    tensor.int_vector(TFLITE_TENSOR_SHAPE_SIGNATURE, f"{where} shape signature")
    kind = tensor.scalar(TFLITE_TENSOR_TYPE, "u8")
    if kind > _MAX_TFLITE_TYPE:
        raise ModelFormatError(f"{where} has unknown type {kind}: corrupt file")
    buffer = tensor.scalar(TFLITE_TENSOR_BUFFER)
    if buffer >= len(buffer_sizes):
        raise ModelFormatError(f"{where} refers to buffer {buffer} of {len(buffer_sizes)}: corrupt file")
    tensor.string(TFLITE_TENSOR_NAME, f"{where} name")
    if any(d < 0 for d in shape):
        raise ModelFormatError(f"{where} has a negative dimension {shape}: corrupt file")
    elements = 1
    for d in shape:
        elements *= d
    if elements > MAX_TENSOR_ELEMENTS:
        raise ModelFormatError(f"{where} has an implausible shape {shape}: corrupt file")
    stored = buffer_sizes[buffer]
    if stored and kind in _TFLITE_TYPE_SIZES and tensor.table(TFLITE_TENSOR_SPARSITY, f"{where} sparsity") is None:
        expected = elements * _TFLITE_TYPE_SIZES[kind]
        if stored != expected:
            raise ModelFormatError(f"{where} has {stored} bytes of data for shape {shape} "
                                   f"({expected} expected): corrupt file")
    quantization = tensor.table(TFLITE_TENSOR_QUANTIZATION, f"{where} quantization")
    if quantization is not None:
        for field in (TFLITE_QUANTIZATION_MIN, TFLITE_QUANTIZATION_MAX, TFLITE_QUANTIZATION_SCALE):
            quantization.vector(field, 4, f"{where} quantization")
        quantization.vector(TFLITE_QUANTIZATION_ZERO_POINT, 8, f"{where} quantization")
        quantization.table(TFLITE_QUANTIZATION_DETAILS, f"{where} quantization details")


# ---------------------------------------------------------------- ONNX protobuf


def onnx_top_level_fields(data: bytes) -> dict[int, list]:
    """Walk the top-level fields of an ONNX ModelProto; values are ints or byte slices."""
    fields: dict[int, list] = {}
    try:
        for number, _, value in protobuf_fields(data, ONNX_MODEL_WIRE_TYPES):
            fields.setdefault(number, []).append(value)
    except WireFormatError as error:
        raise ModelFormatError(f"not a readable ONNX model: {error}") from None
    return fields


def _looks_like_onnx(data: bytes) -> bool:
    try:
        fields = onnx_top_level_fields(data)
    except ModelFormatError:
        return False
    return ONNX_MODEL_GRAPH in fields and ONNX_MODEL_IR_VERSION in fields


def check_onnx(data: bytes) -> None:
    check_size(data)
    fields = onnx_top_level_fields(data)
    if ONNX_MODEL_GRAPH not in fields:
        raise ModelFormatError("ONNX model has no graph: truncated or not a model")
    if ONNX_MODEL_IR_VERSION not in fields:
        raise ModelFormatError("ONNX model has no ir_version: not an ONNX model")


def check_model_bytes(data: bytes, kind: str) -> None:
    if kind == "tflite":
        check_tflite(data)
    elif kind == "onnx":
        check_onnx(data)
    else:
        raise ModelFormatError(f"unknown model kind {kind!r}")

"""Thin wrappers around the interpreters that run a model: TFLite (ai_edge_litert or
tflite_runtime) and onnxruntime.

Every backend exposes the same small surface so the classifier never cares which one runs:
`input` / `output` (TensorSpec: dtype, shape, quantization read from the model itself),
`allocated_input` / `allocated_output` (the shapes the interpreter really gave those tensors),
`module` (which interpreter module was used) and `run(batch) -> output array` (RuntimeError when
the model fails to run).
No TensorFlow, no Keras: only the interpreter packages are imported, lazily.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .native import captured

TFLITE_MODULES = ("ai_edge_litert", "tflite_runtime")
BACKEND_CHOICES = ("auto", "litert", *TFLITE_MODULES, "onnxruntime")
TFLITE_ENV = "EDGEDIGITS_TFLITE"
MAX_CACHED_BATCH_SIZES = 4


class BackendError(RuntimeError):
    """The requested interpreter is not installed or does not work in this environment."""


class ModelLoadError(RuntimeError):
    """The interpreter refused the model (raised as ModelError by the classifier)."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]      # as the model declares it; -1 for a dynamic dimension
    dtype: np.dtype
    scale: float | None         # per-tensor quantization; None for float tensors
    zero_point: int | None

    @property
    def quantized(self) -> bool:
        return self.scale is not None

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": np.dtype(self.dtype).name,
                "scale": self.scale, "zero_point": self.zero_point}


def normalize_backend_name(name: str | None) -> str:
    """Accept module names with '-' or '_' (ai-edge-litert == ai_edge_litert); None -> 'auto'."""
    if name is None:
        return "auto"
    key = name.strip().lower().replace("-", "_")
    if key == "onnx":
        key = "onnxruntime"
    if key not in BACKEND_CHOICES:
        raise ValueError(f"unknown backend {name!r}; expected one of: {', '.join(BACKEND_CHOICES)}")
    return key


# ---------------------------------------------------------------- TFLite


def _import_interpreter_class(module: str):
    if module == "ai_edge_litert":
        from ai_edge_litert.interpreter import Interpreter
    elif module == "tflite_runtime":
        from tflite_runtime.interpreter import Interpreter
    else:
        raise BackendError(f"unknown TFLite interpreter module {module!r}; expected one of {TFLITE_MODULES}")
    return Interpreter


def tflite_module_candidates(requested: str = "auto") -> tuple[str, ...]:
    """Interpreter modules to try, in order. EDGEDIGITS_TFLITE forces one when nothing was requested."""
    requested = normalize_backend_name(requested)
    if requested in ("auto", "litert"):
        forced = os.environ.get(TFLITE_ENV, "").strip()
        if forced:
            forced = forced.lower().replace("-", "_")
            if forced not in TFLITE_MODULES:
                raise BackendError(f"{TFLITE_ENV}={forced!r}: expected one of {', '.join(TFLITE_MODULES)}")
            return (forced,)
        return TFLITE_MODULES
    if requested in TFLITE_MODULES:
        return (requested,)
    raise BackendError(f"backend {requested!r} cannot run a TFLite model (use one of: litert, "
                       f"{', '.join(TFLITE_MODULES)})")


def _module_version(module: str) -> str:
    try:
        from importlib.metadata import version
        return version(module.replace("_", "-"))
    except Exception:  # noqa: BLE001 - version is informative only
        return "unknown"


class TFLiteBackend:
    """A TFLite interpreter, one per batch size (resizing the input re-plans memory, so
    each size keeps its own interpreter; batch 1 — the hot path — is never evicted)."""

    kind = "tflite"

    def __init__(self, model_bytes: bytes, *, module: str = "auto", threads: int | None = None):
        self._model_bytes = model_bytes
        self._threads = threads
        import_errors, load_errors = [], []
        for candidate in tflite_module_candidates(module):
            try:
                interpreter_class = _import_interpreter_class(candidate)
            except BackendError:
                raise
            except Exception as error:  # noqa: BLE001 - ImportError, or a numpy ABI mismatch
                import_errors.append(f"{candidate} is not importable ({type(error).__name__}: {error})")
                continue
            try:
                interpreter = self._create(interpreter_class)
            except Exception as error:  # noqa: BLE001 - e.g. tflite_runtime built for numpy 1.x
                load_errors.append(f"{candidate} could not create an interpreter "
                                   f"({type(error).__name__}: {error})")
                continue
            self.module = candidate
            self.module_version = _module_version(candidate)
            self._interpreter_class = interpreter_class
            break
        else:
            if load_errors:
                raise ModelLoadError("; ".join(load_errors + import_errors))
            candidates = tflite_module_candidates(module)
            hint = ("pip install ai-edge-litert" if "ai_edge_litert" in candidates
                    else f"install {candidates[0].replace('_', '-')}, or unset {TFLITE_ENV} / --backend")
            raise BackendError("no TFLite interpreter: " + "; ".join(import_errors) + f" ({hint})")
        self._by_batch: OrderedDict[int, _Runner] = OrderedDict()
        first = _Runner(interpreter)
        self.input = first.input_spec
        self.output = first.output_spec
        # The file declares shapes (shape_signature, `input`) and separately holds the tensors' own
        # shapes, which the interpreter allocates; a damaged or hand-edited file can disagree.
        self.allocated_input, self.allocated_output = first.allocated
        self._batch_one = self._runner_for_shape(first)
        self._resizable = True

    def _create(self, interpreter_class):
        with _native_output_to_stderr():
            interpreter = interpreter_class(model_content=self._model_bytes, num_threads=self._threads)
            interpreter.allocate_tensors()
        return interpreter

    def _runner_for_shape(self, runner: "_Runner") -> "_Runner":
        batch = runner.batch_size
        if batch == 1:
            return runner
        # The model was exported with another fixed batch: make a batch-1 interpreter.
        return self._resized_runner(1)

    def _resized_runner(self, batch: int) -> "_Runner":
        with _native_output_to_stderr():
            interpreter = self._interpreter_class(model_content=self._model_bytes, num_threads=self._threads)
            details = interpreter.get_input_details()[0]
            shape = [batch, *[int(d) for d in details["shape"][1:]]]
            interpreter.resize_tensor_input(details["index"], shape, strict=False)
            interpreter.allocate_tensors()
        return _Runner(interpreter)

    def runner(self, batch: int) -> "_Runner | None":
        """The interpreter for this batch size, or None when the model cannot be resized."""
        if batch == 1:
            return self._batch_one
        if not self._resizable:
            return None
        runner = self._by_batch.get(batch)
        if runner is not None:
            self._by_batch.move_to_end(batch)
            return runner
        try:
            runner = self._resized_runner(batch)
        except Exception:  # noqa: BLE001 - fixed-shape model: fall back to a loop over batch 1
            self._resizable = False
            return None
        self._by_batch[batch] = runner
        while len(self._by_batch) > MAX_CACHED_BATCH_SIZES:
            self._by_batch.popitem(last=False)
        return runner

    def run(self, batch: np.ndarray) -> np.ndarray:
        """batch: (N, 28, 28, 1) in the model's input dtype -> (N, classes) in the output dtype."""
        n = batch.shape[0]
        runner = self.runner(n)
        if runner is not None:
            return runner.run(batch)
        out = np.empty((n, *self.output.shape[1:]), dtype=self.output.dtype)
        for i in range(n):
            out[i] = self._batch_one.run(batch[i:i + 1])[0]
        return out


@contextlib.contextmanager
def _native_output_to_stderr():
    """While an interpreter is built, what its C++ code prints goes to stderr, never stdout (a banner
    there would break --json), without LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate"
    (no setting turns it off). When building fails nothing is passed on: the error says it, once."""
    with captured() as lines:
        yield
    kept = [line for line in lines if not line.startswith("INFO: ")]
    if kept:
        print("\n".join(kept), file=sys.stderr, flush=True)


class _Runner:
    """One allocated interpreter; set/invoke/get with the indices looked up once."""

    def __init__(self, interpreter):
        self.interpreter = interpreter
        inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelLoadError(f"expected a model with 1 input and 1 output, found {len(inputs)} inputs "
                                 f"and {len(outputs)} outputs")
        self.input_spec = _tflite_spec(inputs[0])
        self.output_spec = _tflite_spec(outputs[0])
        self.allocated = (_int_tuple(inputs[0]["shape"]), _int_tuple(outputs[0]["shape"]))
        self.batch_size = int(inputs[0]["shape"][0])
        self._in = int(inputs[0]["index"])
        self._out = int(outputs[0]["index"])
        self._set = interpreter.set_tensor
        self._invoke = interpreter.invoke
        self._get = interpreter.get_tensor

    def run(self, batch: np.ndarray) -> np.ndarray:
        self._set(self._in, batch)
        self._invoke()
        return self._get(self._out)


def _int_tuple(values) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _tflite_spec(details: dict) -> TensorSpec:
    params = details.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", []), dtype=np.float64)
    zero_points = np.asarray(params.get("zero_points", []), dtype=np.int64)
    if scales.size == 0:
        scale, zero_point = details.get("quantization", (0.0, 0))
        scales, zero_points = np.array([scale]), np.array([zero_point])
    dtype = np.dtype(details["dtype"])
    quantized = dtype.kind in "iu" and scales.size > 0 and float(scales[0]) != 0.0
    if dtype.kind in "iu" and not quantized:
        raise ModelLoadError(f"tensor {details['name']!r} is {dtype.name} but has no quantization scale")
    if quantized and scales.size != 1:
        raise ModelLoadError(f"tensor {details['name']!r} uses per-channel quantization ({scales.size} scales); "
                             "per-tensor quantization was expected for model inputs and outputs")
    signature = details.get("shape_signature")
    shape = signature if signature is not None and len(signature) else details["shape"]
    return TensorSpec(name=str(details["name"]), shape=tuple(int(d) for d in shape), dtype=dtype,
                      scale=float(scales[0]) if quantized else None,
                      zero_point=int(zero_points[0]) if quantized else None)


# ---------------------------------------------------------------- ONNX


_ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8,
                "tensor(double)": np.float64}


class OnnxBackend:
    """An onnxruntime session on the CPU. Quantized ONNX exports keep float inputs and outputs
    (QDQ inside); int8 I/O would take its scale/zero point from the model's embedded metadata."""

    kind = "onnx"

    def __init__(self, model_bytes: bytes, *, threads: int | None = None, io_quantization: dict | None = None):
        with _native_output_to_stderr():
            self._session, ort = _onnx_session(model_bytes, threads)
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelLoadError(f"expected a model with 1 input and 1 output, found {len(inputs)} inputs "
                                 f"and {len(outputs)} outputs")
        quant = io_quantization or {}
        self.input = _onnx_spec(inputs[0], quant.get("input"))
        self.output = _onnx_spec(outputs[0], quant.get("output"))
        self.module = "onnxruntime"
        self.module_version = ort.__version__
        self.allocated_input, self.allocated_output = self.input.shape, self.output.shape  # what the session checks
        self._in_name = inputs[0].name
        self._out_names = [outputs[0].name]
        self._run = self._session.run

    def run(self, batch: np.ndarray) -> np.ndarray:
        try:
            return self._run(self._out_names, {self._in_name: batch})[0]
        except Exception as error:  # noqa: BLE001 - onnxruntime's own types (Fail, ...) are not RuntimeErrors
            raise RuntimeError(str(error)) from None


def _onnx_session(model_bytes: bytes, threads: int | None):
    """(session, onnxruntime module) on the CPU."""
    try:
        import onnxruntime as ort
    except ImportError as error:
        raise BackendError("ONNX models need onnxruntime: pip install 'edgedigits-runtime[onnx]'") from error
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    options.log_severity_level = 4  # fatal only: errors reach the user as the exception's text, once
    try:
        return ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"]), ort
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelLoadError(f"onnxruntime could not load the model: {error}") from error


def _onnx_spec(node, quantization: dict | None) -> TensorSpec:
    if node.type not in _ONNX_DTYPES:
        raise ModelLoadError(f"ONNX tensor {node.name!r} has type {node.type}; expected float or int8")
    dtype = np.dtype(_ONNX_DTYPES[node.type])
    shape = tuple(d if isinstance(d, int) else -1 for d in node.shape)
    if dtype.kind in "iu":
        if not quantization or quantization.get("scale") in (None, 0):
            raise ModelLoadError(f"ONNX tensor {node.name!r} is {dtype.name} but the model's embedded "
                                 "metadata gives no scale/zero_point for it")
        return TensorSpec(node.name, shape, dtype, float(quantization["scale"]), int(quantization["zero_point"]))
    return TensorSpec(node.name, shape, dtype, None, None)

"""Load an exported model and classify 28x28 digits with it.

    clf = load("artifacts/edge/manifest.json")        # or a .tflite / .onnx file, or the directory
    pred = clf.predict(image_28x28_uint8)              # Prediction(digits=7, probabilities=(10,), confidence=0.99)

Images follow the model's contract: white ink on black, values uint8 0..255 or float 0..1.
Quantized models get the scale and zero point of their own input/output tensors, read from the
interpreter. When the manifest or the file's embedded metadata records a softmax temperature T
(fitted at export), probabilities are p ** (1/T) renormalized; without one they are the model's own.
Never imports TensorFlow or Keras.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .backends import (BackendError, ModelLoadError, OnnxBackend, TFLiteBackend, TensorSpec,
                       normalize_backend_name)
from .files import FileRefused, read_regular_file
from .formats import DEFAULT_FORMAT, FORMATS, ModelFormat
from .metadata import DIGIT_LABELS, REJECT_LABEL, TEMPERATURE_KEY, EmbeddedMetadataError, parse_embedded_metadata
from .modelcheck import MAX_MODEL_BYTES, ModelFormatError, check_model_bytes, sniff_kind
from .preprocess import MNIST_SIZE as IMAGE_SIDE  # the 28x28 input contract

MANIFEST_NAME = "manifest.json"
PACKAGED_MODEL_DIR = Path(__file__).resolve().parent / "models" / "edge"  # written by `make release-model`
MAX_BATCH = 256  # larger batches are split: bounds interpreter memory
BATCH_STEP = 8  # batch sizes are rounded up to a multiple of this
MIN_POWER_SUM = 1e-30  # apply_temperature: below this a row's sum of p ** (1/T) is near float32 underflow
TINY = np.float32(1e-30)  # the floor of a row's largest probability when scaling by it
MAX_MANIFEST_BYTES = 1024**2  # a manifest is a few KB
PROBABILITY_SLACK = 1e-3  # float outputs may stray this far outside [0, 1] (rounding), no further
REJECT_ABOVE = 0.5  # a crop the model finds more likely "not a digit" than a digit is no digit


class ModelError(Exception):
    """The model is missing, corrupt, mismatched with its manifest, or unusable here."""


class BackendUnavailableError(ModelError):
    """The interpreter the model needs (ai-edge-litert / tflite_runtime / onnxruntime) is not installed."""


class TemperatureError(ModelError, ValueError):
    """The manifest or the embedded metadata records a temperature that is not a finite number > 0."""


@dataclass(frozen=True)
class Prediction:
    """For one (28, 28) image: digits is an int, confidence a float, probabilities (10,).
    For a batch of N: digits (N,) int64, confidence (N,) float32, probabilities (N, 10) float32.

    `probabilities` are over the ten digits (they sum to 1: what the crop is, if it is a digit).
    `reject` is the probability that it is no digit at all, from a model with a "not a digit"
    output (float, or (N,) float32), else None; `is_digit` says whether the digit answer stands."""

    digits: int | np.ndarray
    probabilities: np.ndarray
    confidence: float | np.ndarray
    reject: float | np.ndarray | None = None

    @property
    def is_digit(self) -> bool | np.ndarray:
        """reject < 0.5 (always True for a model without a "not a digit" output)."""
        if self.reject is None:
            return True if np.ndim(self.digits) == 0 else np.ones(np.shape(self.digits), bool)
        return self.reject < REJECT_ABOVE if np.ndim(self.reject) else bool(self.reject < REJECT_ABOVE)


@dataclass(frozen=True)
class ModelSource:
    """Where the model came from: the file, its format, and the manifest entry if any."""

    path: Path
    format: ModelFormat
    manifest_path: Path | None
    manifest: dict | None
    sha256: str
    size_bytes: int

    @property
    def format_entry(self) -> dict:
        if not self.manifest:
            return {}
        return self.manifest.get("formats", {}).get(self.format.name, {}) or {}


class Classifier:
    def __init__(self, backend, source: ModelSource, labels: list[str], temperature: float = 1.0):
        self.backend = backend
        self.source = source
        self.labels = labels
        self.has_reject = labels[-1:] == [REJECT_LABEL]  # a "not a digit" output after the digits
        self.temperature = check_temperature(temperature, str(source.path))
        self.input: TensorSpec = backend.input
        self.output: TensorSpec = backend.output
        _check_contract(self.input, self.output, len(labels), (backend.allocated_input, backend.allocated_output),
                        str(source.path))
        self._single_buffer = np.empty((1, IMAGE_SIDE, IMAGE_SIDE, 1), dtype=self.input.dtype)
        self._u8_table = self._uint8_lookup_table()
        self._check_runs()

    @property
    def format(self) -> str:
        return self.source.format.name

    @property
    def interpreter_module(self) -> str:
        return self.backend.module

    def _check_runs(self) -> None:
        """One blank image through the model now: a model whose graph needs another input than it
        declares fails here, as a model error, instead of later on the user's image."""
        try:
            raw = self.backend.run(np.zeros_like(self._single_buffer))
        except Exception as error:  # noqa: BLE001 - each interpreter raises its own types
            raise ModelError(f"{self.source.path}: the model declares input {list(self.input.shape)} but does not "
                             f"run on one image, {list(self._single_buffer.shape)} ({_first_line(error)})") from None
        if raw.shape != (1, len(self.labels)):
            raise ModelError(f"{self.source.path}: the model declares output {list(self.output.shape)} but gives "
                             f"{list(raw.shape)} for one image; expected [1, {len(self.labels)}]")

    # ------------------------------------------------------------ preprocess

    def _quantize(self, images: np.ndarray, out: np.ndarray) -> np.ndarray:
        """float [0, 1] -> model input dtype, with the model's own scale and zero point."""
        spec = self.input
        if not spec.quantized:
            np.copyto(out, images, casting="unsafe")
            return out
        info = np.iinfo(spec.dtype)
        scaled = images * np.float32(1.0 / spec.scale)
        scaled += np.float32(spec.zero_point)
        np.rint(scaled, out=scaled)
        np.clip(scaled, info.min, info.max, out=scaled)
        np.copyto(out, scaled, casting="unsafe")
        return out

    def _uint8_lookup_table(self) -> np.ndarray:
        """uint8 pixel -> model input value; built with the float path so both agree exactly."""
        levels = (np.arange(256, dtype=np.float32) / np.float32(255.0))
        return self._quantize(levels, np.empty(256, dtype=self.input.dtype))

    def _to_model_input(self, images: np.ndarray, out: np.ndarray) -> np.ndarray:
        if images.dtype == np.uint8:
            np.take(self._u8_table, images, out=out)
            return out
        floats = images if images.dtype == np.float32 else images.astype(np.float32)
        low, high = floats.min(), floats.max()
        if not (low >= 0.0 and high <= 1.0):  # also false for NaN
            raise ValueError(f"expected float images with values in [0, 1]; found min {low:g}, max {high:g} "
                             "(pass uint8 for 0..255 pixel values)")
        return self._quantize(floats, out)

    # ------------------------------------------------------------ predict

    def predict(self, images) -> Prediction:
        """Classify one (28, 28) digit or a batch (N, 28, 28) / (N, 28, 28, 1)."""
        batch, single = _as_batch(images)
        if single:
            return self._predict_one(batch)
        n = batch.shape[0]
        try:
            if n == 0:
                raw = np.empty((0, self.output.shape[-1]), dtype=self.output.dtype)
            else:
                raw = np.concatenate([self._run_chunk(batch[i:i + MAX_BATCH]) for i in range(0, n, MAX_BATCH)])
        except RuntimeError as error:  # the interpreter failed while running (a broken model)
            raise ModelError(f"{self.source.path}: the model failed to run ({error})") from None
        probabilities = self._dequantize(raw)
        if self.temperature != 1.0:
            probabilities = apply_temperature(probabilities, self.temperature)
        reject = None
        if self.has_reject:
            probabilities, reject = _split_reject(probabilities)
        digits = probabilities.argmax(axis=1)
        confidence = probabilities[np.arange(len(digits)), digits]
        return Prediction(digits, probabilities, confidence, reject)

    def _predict_one(self, batch: np.ndarray) -> Prediction:
        """The hot path (one digit): a reused input buffer and no batch bookkeeping."""
        try:
            raw = self.backend.run(self._to_model_input(batch, self._single_buffer))
        except RuntimeError as error:
            raise ModelError(f"{self.source.path}: the model failed to run ({error})") from None
        probabilities = self._dequantize(raw[0])
        if self.temperature != 1.0:
            probabilities = apply_temperature(probabilities, self.temperature)
        reject = None
        if self.has_reject:
            probabilities, reject = _split_reject(probabilities)
            reject = float(reject)
        digit = int(probabilities.argmax())
        return Prediction(digit, probabilities, float(probabilities[digit]), reject)

    def _run_chunk(self, batch: np.ndarray) -> np.ndarray:
        # An interpreter is built (~1 ms) and cached per batch size: rounding sizes up to a multiple
        # of BATCH_STEP keeps their number small when callers' batch sizes vary (the frame reader).
        n = batch.shape[0]
        size = n if n == 1 else -(-n // BATCH_STEP) * BATCH_STEP
        model_input = np.zeros((size, *batch.shape[1:]), dtype=self.input.dtype)
        self._to_model_input(batch, model_input[:n])
        return self.backend.run(model_input)[:n]

    def _dequantize(self, raw: np.ndarray) -> np.ndarray:
        spec = self.output
        if not spec.quantized:
            values = raw if raw.dtype == np.float32 else raw.astype(np.float32)
            low, high = values.min(initial=0.0), values.max(initial=0.0)
            if not (low >= -PROBABILITY_SLACK and high <= 1 + PROBABILITY_SLACK):  # also false for NaN
                raise ModelError(f"{self.source.path}: the model's outputs are not probabilities (found values "
                                 f"from {low:g} to {high:g}); a digit model ends in a softmax")
            return values
        values = raw.astype(np.float32)
        values -= np.float32(spec.zero_point)
        values *= np.float32(spec.scale)
        return values

    # ------------------------------------------------------------ description

    def describe(self) -> dict:
        """What `edgedigits info` prints: format, file, I/O contract, quantization, accuracy, temperature."""
        entry = self.source.format_entry
        validation = entry.get("validation") or {}
        return {
            "path": str(self.source.path),
            "format": self.format,
            "size_bytes": self.source.size_bytes,
            "sha256": self.source.sha256,
            "manifest": str(self.source.manifest_path) if self.source.manifest_path else None,
            "interpreter": f"{self.backend.module} {self.backend.module_version}",
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "labels": self.labels,
            "accuracy": validation.get("accuracy"),
            "temperature": self.temperature,
        }


def _split_reject(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(digit probabilities renormalized to sum 1, probability of "not a digit") from the outputs of
    a model with the reject output last."""
    reject = probabilities[..., -1].copy()
    digits = probabilities[..., :-1]
    total = digits.sum(axis=-1, keepdims=True)
    return digits / np.maximum(total, TINY), reject


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """p ** (1/T) renormalized along the last axis (= softmax(logits / T)); a new array, same dtype.

    `probabilities` are a softmax's (>= 0, dequantized or not). Three vector ops when every row's
    sum of powers is comfortably above underflow (always for a softmax and T >= 0.05); otherwise
    the careful version, which scales each row by its maximum first.
    """
    powered = np.power(probabilities, probabilities.dtype.type(1.0 / temperature))
    if powered.ndim == 1:  # one digit, the hot path: a scalar sum
        total = powered.sum()
        safe = total > MIN_POWER_SUM
    else:
        total = powered.sum(axis=-1, keepdims=True)
        safe = total.min(initial=np.inf) > MIN_POWER_SUM
    if safe:  # false for NaN too
        powered /= total
        return powered
    return _apply_temperature_scaled(probabilities, temperature)


def _apply_temperature_scaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """apply_temperature for extreme T or odd rows: each row is divided by its largest value first, so
    the powers cannot all underflow (the largest becomes exactly 1, the sum >= 1); negative values
    count as 0, and a row with no positive value (never a softmax) comes back as zeros, not NaN."""
    peak = probabilities.max(axis=-1, keepdims=True)
    scaled = probabilities / np.maximum(peak, TINY)
    np.maximum(scaled, 0, out=scaled)
    np.power(scaled, scaled.dtype.type(1.0 / temperature), out=scaled)
    scaled /= np.maximum(scaled.sum(axis=-1, keepdims=True), 1)
    return scaled


def check_temperature(value, where: str) -> float:
    """`value` as a float if it is a finite number > 0, else TemperatureError naming `where` and it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise TemperatureError(f"{where}: softmax temperature must be a finite number > 0; found {value!r}")
    return float(value)


def model_labels(source: ModelSource, data: bytes) -> list[str]:
    """The labels from the manifest, else from the file's embedded metadata, else the ten digits."""
    labels = (source.manifest or {}).get("labels")
    if labels is None:
        kind = "tflite" if source.format.backend == "litert" else "onnx"
        try:
            labels = (parse_embedded_metadata(data, kind, source.path) or {}).get("labels")
        except (EmbeddedMetadataError, AttributeError):
            labels = None
    if not isinstance(labels, list) or not labels:
        return list(DIGIT_LABELS)
    return [str(label) for label in labels]


def model_temperature(source: ModelSource, data: bytes) -> float:
    """T from the manifest entry if it has the section, else from the file's embedded metadata, else 1.

    A missing or null section means none was fitted (T = 1); any other must hold a valid temperature.
    """
    entry = source.format_entry
    if TEMPERATURE_KEY in entry:
        record, where = entry, f"{source.manifest_path} (formats.{source.format.name}.{TEMPERATURE_KEY})"
    else:
        kind = "tflite" if source.format.backend == "litert" else "onnx"
        try:
            record = parse_embedded_metadata(data, kind, source.path) or {}
        except EmbeddedMetadataError as error:
            raise ModelError(f"unreadable embedded metadata: {error}") from None
        where = f"{source.path} (embedded metadata {TEMPERATURE_KEY})"
    section = record.get(TEMPERATURE_KEY)
    if section is None:
        return 1.0
    return check_temperature(section.get("temperature") if isinstance(section, dict) else section, where)


def _check_contract(inp: TensorSpec, out: TensorSpec, n_labels: int, allocated: tuple, where: str) -> None:
    """The model at `where` takes [N, 28, 28, 1] and gives [N, labels], both as the file declares its
    tensors (`inp`, `out`) and as the interpreter allocated them (`allocated`: the input's and the
    output's shapes; a damaged or hand-edited file can hold other shapes than it declares)."""
    for role, spec, real, expected in (("input", inp, allocated[0], (IMAGE_SIDE, IMAGE_SIDE, 1)),
                                       ("output", out, allocated[1], (n_labels,))):
        shown = f"[N, {', '.join(map(str, expected))}]"
        if tuple(spec.shape[1:]) != expected:
            raise ModelError(f"{where}: model {role} shape is {list(spec.shape)}; expected {shown}")
        if tuple(real[1:]) != expected:
            raise ModelError(f"{where}: model {role} tensor is {list(real)} in the interpreter, though the file "
                             f"declares {list(spec.shape)}; expected {shown}")


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0].strip() if lines else type(error).__name__


def _as_batch(images) -> tuple[np.ndarray, bool]:
    """(N, 28, 28, 1) view of the input and whether it was a single image. Raises ValueError."""
    if not isinstance(images, np.ndarray):
        images = np.asarray(images)
    if images.dtype != np.uint8 and images.dtype.kind != "f":
        raise ValueError(f"expected uint8 (0..255) or float (0..1) images; found dtype {images.dtype}")
    shape = images.shape
    if shape == (IMAGE_SIDE, IMAGE_SIDE):
        return images.reshape(1, IMAGE_SIDE, IMAGE_SIDE, 1), True
    if len(shape) == 3 and shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
        return images.reshape(shape[0], IMAGE_SIDE, IMAGE_SIDE, 1), False
    if len(shape) == 4 and shape[1:] == (IMAGE_SIDE, IMAGE_SIDE, 1):
        return images, False
    raise ValueError(f"expected images of shape (28, 28), (N, 28, 28) or (N, 28, 28, 1); found {shape}")


# ---------------------------------------------------------------- loading


def load(path, *, backend: str | None = None, threads: int | None = None, format: str | None = None) -> Classifier:
    """Load a model file, a manifest.json, or a directory holding manifest.json.

    backend: None/'auto', 'litert' (ai_edge_litert, then tflite_runtime), 'ai_edge_litert',
    'tflite_runtime' or 'onnxruntime'. format: which manifest entry (default tflite-int8, or
    onnx-int8 when backend is onnxruntime). Raises ModelError for every model problem.
    """
    try:
        backend_name = normalize_backend_name(backend)
    except ValueError as error:
        raise ModelError(str(error)) from None
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ModelError(f"threads must be a positive integer; found {threads!r}")
    source, data = resolve_model(path, format=format, backend=backend_name)
    temperature = model_temperature(source, data)
    labels = model_labels(source, data)
    try:
        if source.format.backend == "onnxruntime":
            if backend_name not in ("auto", "onnxruntime"):
                raise ModelError(f"{source.path.name} is {source.format.name}; it runs on onnxruntime, "
                                 f"not {backend_name}")
            runner = OnnxBackend(data, threads=threads, io_quantization=_onnx_io_quantization(source))
        else:
            if backend_name == "onnxruntime":
                raise ModelError(f"{source.path.name} is {source.format.name}; it runs on a TFLite "
                                 "interpreter, not onnxruntime")
            runner = TFLiteBackend(data, module=backend_name, threads=threads)
            if not _named_format(source.path):
                source = _format_matching_input(source, runner.input)
        if source.format.quantized and not (runner.input.quantized or _is_qdq_onnx(source)):
            raise ModelError(f"{source.path}: listed as {source.format.name}, but the model takes float input "
                             f"({runner.input.dtype}): it is not the int8 model")
        return Classifier(runner, source, labels, temperature)
    except BackendError as error:
        raise BackendUnavailableError(f"{source.path}: {error}") from None
    except ModelLoadError as error:
        raise ModelError(f"{source.path}: {error}") from None
    except ModelError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever the interpreter trips over is a model problem
        raise ModelError(f"{source.path}: the interpreter cannot use this model "
                         f"({type(error).__name__}: {error})") from None


def resolve_model(path, *, format: str | None = None, backend: str = "auto") -> tuple[ModelSource, bytes]:
    """Find the model file (via the manifest when given one), read it and check it."""
    if path is None or str(path) == "":
        raise ModelError("no model given")
    path = Path(path)
    if path.is_dir():
        if not (path / MANIFEST_NAME).is_file():
            raise ModelError(f"{path}: directory has no {MANIFEST_NAME} (run `make export`, or pass a model file)")
        path = path / MANIFEST_NAME
    if not path.exists():
        raise ModelError(f"{path}: model not found (run `make export`, or pass --model PATH)")
    if path.name.endswith(".json"):
        manifest = read_manifest(path)
        fmt = _format_from_manifest(manifest, path, format, backend)
        entry = manifest["formats"][fmt.name]
        name = entry.get("file", fmt.filename(str(manifest.get("model", "model")))) if isinstance(entry, dict) else None
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            raise ModelError(f"{path}: the {fmt.name} entry must name a file next to the manifest "
                             "(a plain file name, no folders)")
        model_path = path.parent / name
        if not model_path.is_file():
            raise ModelError(f"{model_path}: listed in {path} for {fmt.name} but not found")
        return _read_model(model_path, fmt, path, manifest)
    data = _read_bytes(path)
    fmt = _format_from_file(path, data, format)
    manifest_path, manifest = _sibling_manifest(path)
    return _finish(path, fmt, manifest_path, manifest, data)


def read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads(_read_bytes(Path(path), MAX_MANIFEST_BYTES, "manifest").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ModelError(f"{path}: cannot read manifest ({error})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("formats"), dict):
        raise ModelError(f"{path}: not an edgedigits manifest (no \"formats\" object)")
    return manifest


def _format_from_manifest(manifest: dict, path: Path, requested: str | None, backend: str) -> ModelFormat:
    if requested is None:
        requested = "onnx-int8" if backend == "onnxruntime" else DEFAULT_FORMAT
    if requested not in FORMATS:
        raise ModelError(f"unknown format {requested!r}; expected one of: {', '.join(FORMATS)}")
    if requested not in manifest["formats"]:
        available = ", ".join(manifest["formats"]) or "none"
        raise ModelError(f"{path}: has no {requested} model (available: {available})")
    return FORMATS[requested]


def _read_bytes(path: Path, limit: int | None = None, what: str = "model") -> bytes:
    """The file's bytes; a FIFO, a device or a file over `limit` is refused without being read."""
    try:
        return read_regular_file(path, MAX_MODEL_BYTES if limit is None else limit)
    except FileRefused as error:
        raise ModelError(f"{path}: cannot read {what}: {error}") from None
    except OSError as error:
        raise ModelError(f"{path}: cannot read {what} ({error.strerror or error})") from None


def _read_model(path: Path, fmt: ModelFormat, manifest_path: Path | None, manifest: dict | None):
    data = _read_bytes(path)
    kind = sniff_kind(data)
    expected_kind = "tflite" if fmt.backend == "litert" else "onnx"
    if kind is not None and kind != expected_kind:
        raise ModelError(f"{path}: content is a {kind} model but {fmt.name} expects {expected_kind}")
    return _finish(path, fmt, manifest_path, manifest, data)


def _finish(path: Path, fmt: ModelFormat, manifest_path, manifest, data: bytes):
    digest = hashlib.sha256(data).hexdigest()
    entry = (manifest or {}).get("formats", {}).get(fmt.name) or {}
    expected = entry.get("sha256")
    if expected and expected != digest:
        raise ModelError(f"{path}: sha256 {digest[:12]}… does not match the manifest {manifest_path} "
                         f"({str(expected)[:12]}…): the file was changed or corrupted; re-run `make export`")
    try:
        check_model_bytes(data, "tflite" if fmt.backend == "litert" else "onnx")
    except ModelFormatError as error:
        raise ModelError(f"{path}: {error}") from None
    source = ModelSource(path=path, format=fmt, manifest_path=manifest_path if manifest else None,
                         manifest=manifest, sha256=digest, size_bytes=len(data))
    return source, data


def _format_from_file(path: Path, data: bytes, requested: str | None) -> ModelFormat:
    """By suffix when it names a format, else by content (int8 vs float decided by the file name)."""
    kind = sniff_kind(data)
    by_suffix = _named_format(path)
    if by_suffix is not None:
        expected = "tflite" if by_suffix.backend == "litert" else "onnx"
        if kind is not None and kind != expected:
            raise ModelError(f"{path}: named like {by_suffix.name} but the content is a {kind} model")
        fmt = by_suffix
    elif kind is None:
        raise ModelError(f"{path}: not a TFLite or ONNX model (unrecognised content, "
                         f"{len(data)} bytes)" if data else f"{path}: empty file, not a model")
    else:
        fmt = _guess_format(kind, data)
    if requested is not None and requested != fmt.name:
        raise ModelError(f"{path}: is {fmt.name}, but format {requested} was asked for")
    return fmt


def _named_format(path: Path) -> ModelFormat | None:
    matches = [f for f in FORMATS.values() if path.name.endswith(f.suffix)]
    return max(matches, key=lambda f: len(f.suffix)) if matches else None


def _guess_format(kind: str, data: bytes) -> ModelFormat:
    """A model file with an unconventional name. For TFLite the float/int8 choice is corrected
    from the interpreter's input dtype once loaded (see load)."""
    if kind == "tflite":
        return FORMATS["tflite-f32"]
    return FORMATS["onnx-int8" if b"QuantizeLinear" in data else "onnx-f32"]


def _is_qdq_onnx(source: ModelSource) -> bool:
    """onnx-int8 models keep float input and output (QDQ: quantized weights and activations inside)."""
    return source.format.backend == "onnxruntime"


def _format_matching_input(source: ModelSource, input_spec: TensorSpec) -> ModelSource:
    if source.format.backend != "litert" or source.manifest:
        return source
    name = "tflite-int8" if input_spec.quantized else "tflite-f32"
    return replace(source, format=FORMATS[name]) if name != source.format.name else source


def _sibling_manifest(path: Path) -> tuple[Path | None, dict | None]:
    """The manifest.json next to a model file, if it lists this file (then its hash is checked)."""
    candidate = path.parent / MANIFEST_NAME
    if not candidate.is_file():
        return None, None
    try:
        manifest = read_manifest(candidate)
    except ModelError:
        return None, None
    for name, entry in manifest["formats"].items():
        if isinstance(entry, dict) and entry.get("file") == path.name and name in FORMATS:
            return candidate, manifest
    return None, None


def _onnx_io_quantization(source: ModelSource) -> dict | None:
    entry = source.format_entry
    if not entry:
        return None
    inputs, outputs = entry.get("inputs") or [{}], entry.get("outputs") or [{}]
    return {"input": inputs[0], "output": outputs[0]}


def default_model_path() -> str:
    """$EDGEDIGITS_MODEL, else artifacts/edge/manifest.json when it exists (a fresh export, in the
    project), else the model shipped inside this package."""
    if os.environ.get("EDGEDIGITS_MODEL"):
        return os.environ["EDGEDIGITS_MODEL"]
    exported = Path("artifacts") / "edge" / MANIFEST_NAME
    return str(exported if exported.is_file() else PACKAGED_MODEL_DIR / MANIFEST_NAME)

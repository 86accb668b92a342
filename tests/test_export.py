"""Export stage: every format round-trips, int8 is really int8, the manifest and embedded metadata
tell the truth, bad inputs fail cleanly, an interrupted export leaves nothing trusted, and re-export
is byte-identical.

One tiny Keras model (trained for a few steps on 1,000 MNIST images) is exported once per module.
Its int8 gates are relaxed explicitly (a barely trained model sits close to decision boundaries);
the float gates are the real defaults.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgedigits.formats import FORMATS
from edgedigits.metadata import EmbeddedMetadataError, read_embedded_metadata
from export import cli, pipeline
from export.config import ExportConfig, ParityGates
from export.data import draw_calibration, to_model_input
from export.errors import (CalibrationError, ModelLoadError, NotFullyIntegerError, OutputDirError, ParityError,
                           UnknownFormatError)
from export.manifest import MANIFEST_NAME, atomic_write_bytes
from export.parity import ParityResult, gate_failures
from export.temperature import expected_calibration_error, fit_temperature, temperature_scaling

MODEL = "tiny"
TINY_GATES = ParityGates(int8_min_agreement=0.97, int8_max_accuracy_drop=0.02)
CHECK_IMAGES = 300


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_tiny(mnist, path: Path, junk: np.ndarray | None = None) -> None:
    """A small CNN on 1,000 MNIST digits; with `junk` (uint8 crops that are no digit, label 10) it
    gets an 11th output, "not a digit"."""
    import keras

    images, labels = mnist.train_images[:1000], mnist.train_labels[:1000]
    if junk is not None:
        images = np.concatenate([images, junk])
        labels = np.concatenate([labels, np.full(len(junk), 10, labels.dtype)])
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1), name="image"),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(10 if junk is None else 11, activation="softmax", name="probabilities"),
    ], name=MODEL)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(to_model_input(images), labels, epochs=3, batch_size=32, verbose=0)
    path.parent.mkdir(parents=True)
    model.save(path)
    (path.parent / "metrics.json").write_text(json.dumps({"params": model.count_params(), "macs": 12345,
                                                          "test_accuracy": 0.9}))


def tiny_config(artifacts: Path, **overrides) -> ExportConfig:
    settings = dict(model=MODEL, artifacts_dir=artifacts, calibration_size=200, report_images=50, gates=TINY_GATES)
    return ExportConfig(**{**settings, **overrides})


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, mnist) -> Path:
    root = tmp_path_factory.mktemp("artifacts")
    train_tiny(mnist, root / MODEL / "model.keras")
    return root


@pytest.fixture(scope="module")
def exported(artifacts) -> tuple[dict, Path]:
    manifest = pipeline.run_export(tiny_config(artifacts))
    return manifest, artifacts / MODEL


@pytest.fixture(scope="module")
def keras_reference(artifacts, mnist) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import keras

    model = keras.models.load_model(artifacts / MODEL / "model.keras")
    images = to_model_input(mnist.test_images[:CHECK_IMAGES])
    return images, mnist.test_labels[:CHECK_IMAGES], model.predict(images, verbose=0)


def litert(path: Path):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return it


def run_tflite(path: Path, images: np.ndarray) -> np.ndarray:
    """Plain LiteRT, one image at a time, quantization params read from the model."""
    it = litert(path)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    probs = []
    for image in images:
        x = image[None]
        if inp["dtype"] == np.int8:
            scale, zero_point = inp["quantization"]
            x = np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)
        it.set_tensor(inp["index"], x)
        it.invoke()
        y = it.get_tensor(out["index"])[0]
        if out["dtype"] == np.int8:
            scale, zero_point = out["quantization"]
            y = (y.astype(np.float32) - zero_point) * scale
        probs.append(y)
    return np.array(probs)


def run_onnx(path: Path, images: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images})[0]


# --- round trip and integer-ness ------------------------------------------------------------------

@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_round_trips(exported, keras_reference, name):
    manifest, out = exported
    images, labels, keras_probs = keras_reference
    fmt = FORMATS[name]
    path = out / fmt.filename(MODEL)
    probs = run_tflite(path, images) if fmt.backend == "litert" else run_onnx(path, images)
    assert probs.shape == (CHECK_IMAGES, 10)
    agreement = np.mean(probs.argmax(1) == keras_probs.argmax(1))
    if fmt.quantized:
        assert agreement >= 0.95
        assert np.max(np.abs(probs - keras_probs)) < 0.3
    else:
        assert agreement == 1.0
        assert np.max(np.abs(probs - keras_probs)) <= 1e-4
    # the export's own measurement agrees with this independent one
    validation = manifest["formats"][name]["validation"]
    assert validation["passed"] is True
    assert validation["images"] == (1000 if not fmt.quantized else 10000)
    assert 0.5 < validation["keras_accuracy"] <= 1.0


def test_int8_tflite_is_integer_end_to_end(exported):
    _, out = exported
    it = litert(out / FORMATS["tflite-int8"].filename(MODEL))
    assert [d["dtype"] for d in it.get_input_details()] == [np.int8]
    assert [d["dtype"] for d in it.get_output_details()] == [np.int8]
    ops = it._get_ops_details()
    assert {op["op_name"] for op in ops} >= {"CONV_2D", "FULLY_CONNECTED", "SOFTMAX"}
    assert "DEQUANTIZE" not in {op["op_name"] for op in ops}
    for op in ops:
        for dtype in list(op["operand_types"]) + list(op["result_types"]):
            assert dtype in (np.int8, np.int32), (op["op_name"], dtype)


def test_float_model_is_rejected_as_int8(exported):
    from export.tflite_export import check_full_integer

    _, out = exported
    with pytest.raises(NotFullyIntegerError, match=r"input .* is float32, expected int8.*CONV_2D has float32"):
        check_full_integer((out / FORMATS["tflite-f32"].filename(MODEL)).read_bytes())


def test_onnx_int8_has_int8_weights_and_qdq(exported):
    import onnx

    _, out = exported
    model = onnx.load(str(out / FORMATS["onnx-int8"].filename(MODEL)))
    ops = [n.op_type for n in model.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    int8_weights = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert len(int8_weights) >= 2  # conv and dense kernels
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 13


# --- manifest and embedded metadata ---------------------------------------------------------------

def test_manifest_matches_files(exported, artifacts):
    manifest, out = exported
    on_disk = json.loads((out / MANIFEST_NAME).read_text())
    assert on_disk == manifest
    assert manifest["schema_version"] == 1 and manifest["model"] == MODEL
    assert manifest["labels"] == [str(d) for d in range(10)]
    assert manifest["preprocessing"]["input_shape"] == [28, 28, 1]
    assert manifest["source"]["sha256"] == sha256(artifacts / MODEL / "model.keras")
    assert manifest["source"]["params"] > 0 and manifest["source"]["macs"] == 12345
    assert manifest["calibration"]["size"] == 200 and manifest["calibration"]["source"] == "mnist-train"
    assert manifest["tools"]["tensorflow"] and manifest["tools"]["onnxruntime"]
    assert list(manifest["formats"]) == list(FORMATS)
    for name, entry in manifest["formats"].items():
        path = out / entry["file"]
        assert entry["file"] == FORMATS[name].filename(MODEL)
        assert entry["sha256"] == sha256(path)
        assert entry["size_bytes"] == path.stat().st_size
        assert entry["quantized"] == FORMATS[name].quantized and entry["backend"] == FORMATS[name].backend


@pytest.mark.parametrize("name", ["tflite-f32", "tflite-int8"])
def test_manifest_quantization_params_are_the_interpreters(exported, name):
    manifest, out = exported
    entry = manifest["formats"][name]
    it = litert(out / entry["file"])
    for listed, actual in ((entry["inputs"], it.get_input_details()), (entry["outputs"], it.get_output_details())):
        assert len(listed) == len(actual) == 1
        listed, actual = listed[0], actual[0]
        assert listed["name"] == actual["name"]
        assert listed["shape"] == actual["shape"].tolist()
        assert listed["dtype"] == np.dtype(actual["dtype"]).name
        scale, zero_point = actual["quantization"]
        if FORMATS[name].quantized:
            assert listed["scale"] == scale and listed["zero_point"] == zero_point
        else:
            assert listed["scale"] is None and listed["zero_point"] is None


def test_manifest_onnx_io_is_the_sessions(exported):
    import onnxruntime as ort

    manifest, out = exported
    for name in ("onnx-f32", "onnx-int8"):
        entry = manifest["formats"][name]
        session = ort.InferenceSession(str(out / entry["file"]), providers=["CPUExecutionProvider"])
        assert [i["name"] for i in entry["inputs"]] == [i.name for i in session.get_inputs()]
        assert [o["name"] for o in entry["outputs"]] == [o.name for o in session.get_outputs()]
        assert entry["inputs"][0]["shape_signature"] == [-1, 28, 28, 1]
        assert entry["inputs"][0]["dtype"] == "float32"
        embedded = json.loads(session.get_modelmeta().custom_metadata_map["edgedigits"])
        assert embedded == read_embedded_metadata(out / entry["file"])  # onnxruntime and our reader agree
    assert manifest["formats"]["onnx-int8"]["quantization"]["quant_format"] == "QDQ"
    assert manifest["formats"]["onnx-int8"]["quantization"]["per_channel"] is True


@pytest.mark.parametrize("name", list(FORMATS))
def test_embedded_metadata_is_readable_and_matches_manifest(exported, name):
    manifest, out = exported
    entry = manifest["formats"][name]
    meta = read_embedded_metadata(out / entry["file"])
    assert meta["format"] == name and meta["model"] == MODEL
    assert meta["labels"] == manifest["labels"] and meta["preprocessing"] == manifest["preprocessing"]
    assert meta["source"]["sha256"] == manifest["source"]["sha256"]
    assert meta["validation"] == entry["validation"]
    assert meta["quantization"] == entry["quantization"]
    assert (meta["calibration"] is not None) == FORMATS[name].quantized
    assert "created_utc" not in meta  # no timestamp: re-exports stay byte-identical


def test_metadata_reader_needs_no_tensorflow_or_onnx(exported):
    _, out = exported
    code = ("import sys, json; from edgedigits.metadata import read_embedded_metadata as r; "
            f"print(json.dumps([r({str(out / 'tiny.int8.tflite')!r})['format'], "
            f"r({str(out / 'tiny.int8.onnx')!r})['format']])); "
            "print(sorted(m for m in ('tensorflow', 'onnx', 'onnxruntime', 'keras', 'flatbuffers') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    formats, imported = result.stdout.splitlines()
    assert json.loads(formats) == ["tflite-int8", "onnx-int8"]
    assert imported == "[]"


def test_metadata_reader_on_plain_and_broken_files(exported, tmp_path):
    _, out = exported
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff\xff\xff\xff not protobuf")
    with pytest.raises(EmbeddedMetadataError, match="garbage.onnx"):
        read_embedded_metadata(garbage)
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes((out / "tiny.int8.tflite").read_bytes()[:64])
    with pytest.raises(EmbeddedMetadataError, match="corrupt"):
        read_embedded_metadata(truncated)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(EmbeddedMetadataError, match="neither a TFLite"):
        read_embedded_metadata(other)


def test_metadata_absent_gives_none(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    plain = helper.make_model(graph)
    path = tmp_path / "plain.onnx"
    onnx.save(plain, str(path))
    assert read_embedded_metadata(path) is None
    plain.metadata_props.add(key="edgedigits", value='{"format": "x"}')
    onnx.save(plain, str(path))
    assert read_embedded_metadata(path) == {"format": "x"}


# --- softmax temperature -------------------------------------------------------------------------

def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sharpened(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """The test's own reference: p ** (1/T) renormalized, in float64."""
    powered = probabilities.astype(np.float64) ** (1.0 / temperature)
    return powered / powered.sum(axis=1, keepdims=True)


def synthetic(true_temperature: float, n: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Outputs softmax(z) of a model whose labels really follow softmax(z / true_temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, (n, 10))
    cumulative = np.cumsum(softmax(logits / true_temperature), axis=1)
    labels = np.minimum((rng.random((n, 1)) > cumulative).sum(axis=1), 9)
    return softmax(logits).astype(np.float32), labels


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.0])
def test_fit_recovers_a_known_temperature(true_temperature):
    probs, labels = synthetic(true_temperature)
    assert fit_temperature(probs, labels) == pytest.approx(true_temperature, rel=0.03)


def test_fit_survives_exact_zeros_and_improves_nll_and_ece():
    probs, labels = synthetic(2.0, n=5000)  # over-confident outputs: some labels fall on a rounded-off class
    quantized = np.round(probs * 256) / 256  # like an int8 output: many exact zeros, some on the label
    assert np.mean(quantized[np.arange(len(labels)), labels] == 0) > 0.01
    scaling = temperature_scaling(quantized, labels)
    assert 1.0 < scaling["temperature"] < 5.0 and scaling["images"] == 5000 and scaling["split"] == "validation"
    (nll_before, nll_after), (ece_before, ece_after) = scaling["nll"], scaling["ece"]
    assert np.isfinite(nll_before) and nll_after < nll_before and ece_after < ece_before


def test_expected_calibration_error_by_hand():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2]])
    assert expected_calibration_error(probs, np.array([0, 1, 0])) == pytest.approx((0.1 + 0.6 + 0.2) / 3)
    same_bin = np.array([[0.9, 0.1], [0.88, 0.12]])  # both in (13/15, 14/15]: accuracy 0.5, confidence 0.89
    assert expected_calibration_error(same_bin, np.array([0, 1])) == pytest.approx(0.39)


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_format_carries_its_own_temperature(exported, mnist, tmp_path, name):
    from edgedigits.classifier import Classifier, load

    manifest, out = exported
    entry = manifest["formats"][name]
    scaling = entry["temperature_scaling"]
    assert scaling["split"] == "validation" and scaling["images"] == 5000
    assert 0.05 < scaling["temperature"] < 5.0
    assert scaling["nll"][1] <= scaling["nll"][0] and len(scaling["ece"]) == 2
    assert read_embedded_metadata(out / entry["file"])["temperature_scaling"] == scaling
    # fitted on this file's own outputs for the last 5,000 training images (the validation split)
    model = (out / entry["file"]).read_bytes()
    predict = pipeline.BACKENDS[FORMATS[name].backend].predict
    validation = to_model_input(mnist.train_images[-5000:])
    assert temperature_scaling(predict(model, validation), mnist.train_labels[-5000:]) == scaling
    # a lone copy of the file (no manifest) gets the same temperature from its metadata and applies it
    lone = tmp_path / entry["file"]
    lone.write_bytes(model)
    classifier = load(lone)
    assert classifier.source.manifest is None and classifier.temperature == scaling["temperature"]
    images = mnist.test_images[:50]
    untempered = Classifier(classifier.backend, classifier.source, classifier.labels)  # T = 1: the raw outputs
    np.testing.assert_allclose(classifier.predict(images).probabilities,
                               sharpened(untempered.predict(images).probabilities, scaling["temperature"]),
                               rtol=1e-5, atol=1e-7)


def test_quant_report_covers_both_int8_formats(exported):
    manifest, out = exported
    report = (out / "quant_report.md").read_text()
    assert "## tflite-int8" in report and "## onnx-int8" in report
    assert (out / "quant_report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = manifest["reports"]["quant_report"]["formats"]
    for name in ("tflite-int8", "onnx-int8"):
        assert summary[name]["layers"] >= 4
        assert summary[name]["worst_layer"] in report
        assert 10 < summary[name]["worst_snr_db"] < 100  # int8 noise: neither zero nor garbage


# --- determinism ---------------------------------------------------------------------------------

def test_reexport_is_byte_identical(exported, artifacts, tmp_path):
    _, out = exported
    again = tmp_path / "again"
    pipeline.run_export(tiny_config(artifacts, out_dir=again, report_images=0))
    for fmt in FORMATS.values():
        name = fmt.filename(MODEL)
        assert (again / name).read_bytes() == (out / name).read_bytes(), f"{name} differs between exports"


# --- failures ------------------------------------------------------------------------------------

def copy_model(artifacts: Path, root: Path) -> Path:
    (root / MODEL).mkdir(parents=True)
    (root / MODEL / "model.keras").write_bytes((artifacts / MODEL / "model.keras").read_bytes())
    return root


def test_corrupt_keras_model_fails_cleanly(artifacts, tmp_path, capsys):
    root = copy_model(artifacts, tmp_path / "art")
    keras_path = root / MODEL / "model.keras"
    keras_path.write_bytes(b"definitely not a zip archive")
    with pytest.raises(ModelLoadError, match="not a Keras 3 .keras archive"):
        pipeline.run_export(tiny_config(root))
    good = (artifacts / MODEL / "model.keras").read_bytes()
    with zipfile.ZipFile(artifacts / MODEL / "model.keras") as archive:
        broken = {n: archive.read(n) for n in archive.namelist()}
    with zipfile.ZipFile(keras_path, "w") as archive:  # a valid zip whose weights are damaged
        for n, data in broken.items():
            archive.writestr(n, data[: len(data) // 3] if n.endswith(".h5") else data)
    assert keras_path.read_bytes() != good
    with pytest.raises(ModelLoadError, match="cannot load Keras model"):
        pipeline.run_export(tiny_config(root))
    assert not (root / MODEL / MANIFEST_NAME).exists()
    assert cli.main(["--model", MODEL, "--artifacts-dir", str(root), "--calibration-size", "200"]) == 1
    assert "ModelLoadError" in capsys.readouterr().err


def test_missing_keras_model_says_how_to_make_it(tmp_path):
    with pytest.raises(ModelLoadError, match=r"not found.*make train MODEL=tiny"):
        pipeline.run_export(tiny_config(tmp_path))


def test_too_small_or_misshapen_calibration_fails():
    with pytest.raises(CalibrationError, match="too small: 10 images requested, at least 100"):
        ExportConfig(model=MODEL, calibration_size=10)
    images = np.zeros((150, 28, 28), np.uint8)
    with pytest.raises(CalibrationError, match="200 images requested but only 150"):
        draw_calibration(images, 200, seed=0)
    with pytest.raises(CalibrationError, match=r"uint8 \(N, 28, 28\), found float32 \(150, 28, 28, 1\)"):
        draw_calibration(np.zeros((150, 28, 28, 1), np.float32), 100, seed=0)
    picked = draw_calibration(np.arange(150, dtype=np.uint8)[:, None, None].repeat(28, 1).repeat(28, 2), 100, 0)
    assert picked.shape == (100, 28, 28, 1) and picked.dtype == np.float32
    assert len(np.unique(picked[:, 0, 0, 0])) == 100  # distinct images


def test_unknown_format_suggests_the_closest(capsys):
    with pytest.raises(UnknownFormatError, match="unknown format 'tflite-int9' - did you mean 'tflite-int8'"):
        ExportConfig(model=MODEL, formats="tflite-f32,tflite-int9")
    assert cli.main(["--model", MODEL, "--formats", "onnx_int8"]) == 1
    assert "did you mean 'onnx-int8'" in capsys.readouterr().err
    assert ExportConfig(model=MODEL, formats="onnx-int8,tflite-f32").formats == ("tflite-f32", "onnx-int8")


def test_unwritable_output_dir_fails_cleanly(artifacts, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(OutputDirError, match="not writable"):
        pipeline.run_export(tiny_config(artifacts, out_dir=blocker / "out"))


def test_parity_failure_is_typed_and_writes_nothing(artifacts, tmp_path):
    out = tmp_path / "strict"
    strict = ParityGates(float_max_abs_diff=1e-12)
    with pytest.raises(ParityError, match=r"tflite-f32: parity check failed: max \|delta prob\| .* > 1e-12") as err:
        pipeline.run_export(tiny_config(artifacts, out_dir=out, formats="tflite-f32", gates=strict))
    assert err.value.format_name == "tflite-f32" and err.value.measured["max_abs_diff"] > 0
    assert not (out / MANIFEST_NAME).exists() and not (out / "tiny.f32.tflite").exists()


def test_gate_logic_on_measured_numbers():
    gates = ParityGates()
    good = ParityResult(accuracy=0.990, keras_accuracy=0.991, agreement=0.996, max_abs_diff=0.2, images=10000)
    assert gate_failures(good, quantized=True, gates=gates) == []
    drop = ParityResult(accuracy=0.987, keras_accuracy=0.991, agreement=0.996, max_abs_diff=0.2, images=10000)
    assert gate_failures(drop, quantized=True, gates=gates) == [
        "accuracy drop 0.40 points (keras 99.10% -> 98.70%) > 0.30 points"]
    disagree = ParityResult(accuracy=0.99, keras_accuracy=0.99, agreement=0.999, max_abs_diff=2e-6, images=1000)
    assert gate_failures(disagree, quantized=False, gates=gates) == [
        "top-1 agreement 99.90% < 100.00% on 1000 images"]


def test_an_interrupted_or_failed_export_leaves_the_previous_one_intact(exported, artifacts, tmp_path, monkeypatch):
    out = tmp_path / "interrupted"
    out.mkdir()
    _, first = exported
    for item in first.iterdir():  # a complete earlier export, manifest included
        (out / item.name).write_bytes(item.read_bytes())
    (out / ".tiny.f32.onnx.abc.tmp").write_bytes(b"half a file from a killed run")
    (out / ".staging-killed").mkdir()  # the staging folder of a run killed with -9
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and not p.name.startswith(".")}

    def killed(ctx):
        raise KeyboardInterrupt("killed during the onnx step")

    monkeypatch.setitem(pipeline.EXPORTERS, "onnx-f32", (killed, {}))
    with pytest.raises(KeyboardInterrupt):
        pipeline.run_export(tiny_config(artifacts, out_dir=out, report_images=0))
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert after == before  # the good export is untouched: manifest, models and reports
    assert not list(out.glob(".*.tmp")) and not list(out.glob(".staging-*"))
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    for entry in manifest["formats"].values():
        assert sha256(out / entry["file"]) == entry["sha256"]
    monkeypatch.undo()
    with pytest.raises(ModelLoadError):  # a model that cannot be loaded: the same
        pipeline.run_export(tiny_config(artifacts, model="nosuch", out_dir=out))
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and not p.name.startswith(".")} == before


def test_a_second_export_into_the_same_folder_is_refused_while_one_runs(artifacts, tmp_path):
    import fcntl

    from export.errors import OutputDirError

    out = tmp_path / "busy"
    out.mkdir()
    with open(out / pipeline.LOCK_NAME, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another export holds the folder
        with pytest.raises(OutputDirError, match="another export"):
            pipeline.run_export(tiny_config(artifacts, out_dir=out, formats="tflite-f32"))
    assert not (out / MANIFEST_NAME).exists()


def test_atomic_write_never_leaves_a_partial_file(tmp_path, monkeypatch):
    import os

    target = tmp_path / "model.tflite"
    target.write_bytes(b"old complete file")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old complete file"
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]


def test_help_shows_kebab_flags_and_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--formats", "--calibration-size", "--artifacts-dir", "--out", "--data-dir"):
        assert flag in text
    assert "default: 1000" in text and "tflite-f32,tflite-int8,onnx-f32,onnx-int8" in text


def test_a_model_with_a_not_a_digit_output_exports_and_loads_with_it(mnist, tmp_path):
    """An 11th output is "not a digit": the manifest and each file's metadata label it, parity counts
    the digit answer, and the runtime splits it off (from the manifest or from a lone file)."""
    from edgedigits.classifier import load
    from edgedigits.metadata import REJECT_LABEL

    noise = np.random.default_rng(0).random((200, 28, 28)) * 255  # "not a digit"
    train_tiny(mnist, tmp_path / MODEL / "model.keras", junk=noise.astype(np.uint8))

    manifest = pipeline.run_export(tiny_config(tmp_path, formats=("tflite-int8", "onnx-f32"), report_images=0))
    assert manifest["labels"][-1] == REJECT_LABEL and len(manifest["labels"]) == 11
    for name, entry in manifest["formats"].items():
        assert read_embedded_metadata(tmp_path / MODEL / entry["file"])["labels"] == manifest["labels"]
        assert entry["validation"]["accuracy"] > 0.7  # of the digit answer (the 11-way argmax is no digit)
        for source in (tmp_path / MODEL / "manifest.json", tmp_path / MODEL / entry["file"]):
            classifier = load(source, format=name)
            assert classifier.has_reject
            prediction = classifier.predict(np.stack([mnist.test_images[:20] / 255, noise[:20] / 255]).reshape(-1, 28, 28).astype(np.float32))
            assert prediction.probabilities.shape == (40, 10) and prediction.reject.shape == (40,)
            assert prediction.is_digit[:20].mean() > 0.8 and prediction.is_digit[20:].mean() < 0.2

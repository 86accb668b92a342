"""The runtime classifier and image I/O: loading, format detection, validation, predict contract.

Models: small real exports (tests/runtime_fixtures.py), built once in a subprocess and cached.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edgedigits import imageio
from edgedigits.classifier import ModelError, Prediction, apply_temperature, load
from edgedigits.metadata import read_embedded_metadata
from runtime_fixtures import ensure_models, load_mnist_slice

ALL_FORMATS = ("tflite-int8", "tflite-f32", "onnx-f32", "onnx-int8")


@pytest.fixture(scope="session")
def models() -> Path:
    return ensure_models()


@pytest.fixture(scope="session")
def digits():
    return load_mnist_slice("t10k", 2000)


@pytest.fixture(scope="session")
def classifiers(models):
    return {name: load(models, format=name, threads=1) for name in ALL_FORMATS}


def copy_models(models: Path, tmp_path: Path) -> Path:
    target = tmp_path / "models"
    shutil.copytree(models, target)
    return target


# ---------------------------------------------------------------- loading and format detection


def test_manifest_directory_defaults_to_int8_tflite(models):
    clf = load(models)
    assert clf.format == "tflite-int8"
    assert clf.interpreter_module == "ai_edge_litert"
    assert clf.source.path.name == "tiny.int8.tflite"
    assert load(models / "manifest.json").format == "tflite-int8"
    assert load(models, backend="onnxruntime").format == "onnx-int8"


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_format_from_manifest_and_from_file_name(models, name):
    from edgedigits.formats import FORMATS

    assert load(models, format=name).format == name
    assert load(models / f"tiny{FORMATS[name].suffix}").format == name


@pytest.mark.parametrize("name,expected", [("tiny.int8.tflite", "tflite-int8"), ("tiny.f32.tflite", "tflite-f32"),
                                           ("tiny.f32.onnx", "onnx-f32"), ("tiny.int8.onnx", "onnx-int8")])
def test_format_detected_from_content_when_name_says_nothing(models, tmp_path, name, expected):
    odd = tmp_path / "model.bin"
    shutil.copy(models / name, odd)
    assert load(odd).format == expected


def test_content_contradicting_the_name_is_rejected(models, tmp_path):
    fake = tmp_path / "model.f32.onnx"
    shutil.copy(models / "tiny.f32.tflite", fake)
    with pytest.raises(ModelError, match="content is a tflite model"):
        load(fake)


def test_unknown_content_and_missing_files(tmp_path):
    junk = tmp_path / "model.bin"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(ModelError, match="not a TFLite or ONNX model"):
        load(junk)
    with pytest.raises(ModelError, match="not found"):
        load(tmp_path / "nope.int8.tflite")
    with pytest.raises(ModelError, match="no manifest.json"):
        load(tmp_path)


def test_manifest_without_the_requested_format(models, tmp_path):
    target = copy_models(models, tmp_path)
    manifest = json.loads((target / "manifest.json").read_text())
    del manifest["formats"]["tflite-int8"]
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match=r"has no tflite-int8 model \(available: tflite-f32"):
        load(target)
    (target / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot read manifest"):
        load(target)


def test_sha256_mismatch_with_manifest_is_a_model_error(models, tmp_path):
    target = copy_models(models, tmp_path)
    path = target / "tiny.int8.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit in the middle: a valid-looking but different model
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256 .* does not match the manifest"):
        load(target)
    with pytest.raises(ModelError, match="does not match the manifest"):  # file given directly: sibling manifest
        load(path)


@pytest.mark.parametrize("name", ["tiny.int8.tflite", "tiny.f32.onnx"])
@pytest.mark.parametrize("cut", [0, 7, 100, 0.5, -1])
def test_truncated_model_is_a_model_error_in_process(models, tmp_path, name, cut):
    data = (models / name).read_bytes()
    keep = int(len(data) * cut) if isinstance(cut, float) else (len(data) + cut if cut < 0 else cut)
    path = tmp_path / name
    path.write_bytes(data[:keep])
    with pytest.raises(ModelError) as error:
        load(path)
    assert str(path) in str(error.value)


def test_corrupt_header_is_a_model_error(models, tmp_path):
    data = bytearray((models / "tiny.int8.tflite").read_bytes())
    data[0:4] = (len(data) + 1000).to_bytes(4, "little")  # root table offset beyond the end
    path = tmp_path / "tiny.int8.tflite"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="outside the file"):
        load(path)


FUZZ_SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    from pathlib import Path
    from edgedigits.classifier import ModelError, load
    source, work, seed, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    original = source.read_bytes()
    rng = np.random.default_rng(seed)
    outcomes = {"loaded": 0, "model_error": 0}
    for i in range(count):
        data = bytearray(original)
        if i % 3 == 0:
            data = data[:rng.integers(0, len(data))]
        elif i % 3 == 1:
            for _ in range(rng.integers(1, 9)):
                data[rng.integers(0, len(data))] = rng.integers(0, 256)
        else:
            at = rng.integers(0, len(data) - 4)
            data[at:at + 4] = int(rng.integers(0, 2**32)).to_bytes(4, "little")
        work.write_bytes(bytes(data))
        try:
            clf = load(work)
            clf.predict(np.zeros((28, 28), np.uint8))
            clf.predict(np.zeros((3, 28, 28), np.uint8))
            outcomes["loaded"] += 1
        except ModelError:
            outcomes["model_error"] += 1
    print(outcomes)
""")


@pytest.mark.parametrize("name", ["tiny.int8.tflite", "tiny.int8.onnx"])
def test_randomly_corrupted_models_never_crash_the_process(models, tmp_path, name):
    """Truncations, byte flips and overwritten offsets: each loads and runs, or raises ModelError.
    Run in a subprocess so a segfault would show up as a failed exit code, not kill pytest."""
    proc = subprocess.run([sys.executable, "-c", FUZZ_SCRIPT, str(models / name), str(tmp_path / name), "1", "120"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    outcomes = eval(proc.stdout.strip().splitlines()[-1])  # noqa: S307 - our own dict literal
    assert outcomes["loaded"] + outcomes["model_error"] == 120
    assert outcomes["model_error"] > 30  # most corruptions must be caught, not silently loaded


def test_bad_options_are_model_errors(models):
    with pytest.raises(ModelError, match="threads must be a positive integer"):
        load(models, threads=0)
    with pytest.raises(ModelError, match="unknown backend"):
        load(models, backend="tensorflow")
    with pytest.raises(ModelError, match="unknown format"):
        load(models, format="tflite-int4")
    with pytest.raises(ModelError, match="runs on a TFLite interpreter, not onnxruntime"):
        load(models / "tiny.int8.tflite", backend="onnxruntime")
    with pytest.raises(ModelError, match="runs on onnxruntime"):
        load(models / "tiny.int8.onnx", backend="ai_edge_litert")


def test_forced_tflite_module_is_used_or_explained(models, monkeypatch):
    monkeypatch.setenv("EDGEDIGITS_TFLITE", "ai_edge_litert")
    assert load(models).interpreter_module == "ai_edge_litert"
    try:
        import tflite_runtime.interpreter  # noqa: F401
        have_tflite_runtime = True
    except Exception:  # noqa: BLE001
        have_tflite_runtime = False
    monkeypatch.setenv("EDGEDIGITS_TFLITE", "tflite_runtime")
    if have_tflite_runtime:
        try:
            assert load(models).interpreter_module == "tflite_runtime"
        except ModelError as error:  # importable but unusable here (e.g. built for numpy 1.x)
            assert "tflite_runtime could not create an interpreter" in str(error)
    else:
        with pytest.raises(ModelError, match="tflite_runtime is not importable"):
            load(models)
    monkeypatch.setenv("EDGEDIGITS_TFLITE", "tensorflow")
    with pytest.raises(ModelError, match="EDGEDIGITS_TFLITE"):
        load(models)


# ---------------------------------------------------------------- predict contract


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_predict_shapes_and_types(classifiers, digits, name):
    clf = classifiers[name]
    images = digits[0][:5]
    single = clf.predict(images[0])
    assert isinstance(single, Prediction)
    assert isinstance(single.digits, int) and isinstance(single.confidence, float)
    assert single.probabilities.shape == (10,) and single.probabilities.dtype == np.float32
    assert single.confidence == pytest.approx(float(single.probabilities.max()))
    batch = clf.predict(images)
    assert batch.digits.shape == (5,) and batch.probabilities.shape == (5, 10) and batch.confidence.shape == (5,)
    with_channel = clf.predict(images[..., None])
    np.testing.assert_array_equal(with_channel.probabilities, batch.probabilities)
    assert clf.predict(np.zeros((0, 28, 28), np.uint8)).probabilities.shape == (0, 10)
    assert abs(float(batch.probabilities.sum(axis=1).mean()) - 1.0) < 0.05


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_uint8_and_float_inputs_give_identical_results(classifiers, digits, name):
    clf = classifiers[name]
    images = digits[0][:64]
    as_uint8 = clf.predict(images)
    as_float32 = clf.predict(images.astype(np.float32) / np.float32(255.0))
    as_float64 = clf.predict(images / 255.0)
    np.testing.assert_array_equal(as_uint8.probabilities, as_float32.probabilities)
    np.testing.assert_array_equal(as_uint8.digits, as_float64.digits)
    np.testing.assert_allclose(as_uint8.probabilities, as_float64.probabilities, atol=1e-5)


@pytest.mark.parametrize("name", ALL_FORMATS)
def test_batches_equal_single_predictions(classifiers, digits, name):
    clf = classifiers[name]
    images = digits[0][:300]  # > MAX_BATCH: also crosses a chunk boundary
    batch = clf.predict(images)
    singles = np.stack([clf.predict(image).probabilities for image in images[:40]])
    np.testing.assert_allclose(batch.probabilities[:40], singles, atol=1e-6)
    for size in (1, 3, 7, 3, 9, 16, 17):  # cached interpreters per (rounded-up) batch size, reused
        np.testing.assert_allclose(clf.predict(images[:size]).probabilities, batch.probabilities[:size], atol=1e-6)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((28, 27), np.uint8), r"expected .*\(28, 28\).*found \(28, 27\)"),
    (np.zeros((2, 28, 28, 3), np.uint8), r"found \(2, 28, 28, 3\)"),
    (np.zeros((784,), np.uint8), r"found \(784,\)"),
    (np.zeros((28, 28), np.int32), "expected uint8 .* or float .*found dtype int32"),
    (np.zeros((28, 28), bool), "found dtype bool"),
    (np.full((28, 28), 255.0, np.float32), r"values in \[0, 1\].*max 255"),
    (np.full((28, 28), np.nan, np.float32), r"values in \[0, 1\]"),
    ("not an image", "found dtype <U"),
])
def test_wrong_input_is_a_value_error_saying_what_was_expected(classifiers, bad, match):
    with pytest.raises(ValueError, match=match):
        classifiers["tflite-int8"].predict(bad)


def test_int8_uses_the_models_own_scale_and_zero_point(models, classifiers, digits):
    """A manual run straight on the interpreter, quantizing with its reported parameters."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(models / "tiny.int8.tflite"))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    in_scale, in_zero = inp["quantization"]
    out_scale, out_zero = out["quantization"]
    clf = classifiers["tflite-int8"]
    assert (clf.input.scale, clf.input.zero_point) == (pytest.approx(in_scale), in_zero)
    assert (clf.output.scale, clf.output.zero_point) == (pytest.approx(out_scale), out_zero)
    assert in_zero != 0  # an asymmetric input: forgetting the zero point would change every result
    for image in digits[0][:20]:
        x = image.astype(np.float32)[None, :, :, None] / np.float32(255.0)
        q = np.clip(np.rint(x / np.float32(in_scale) + in_zero), -128, 127).astype(np.int8)
        interpreter.set_tensor(inp["index"], q)
        interpreter.invoke()
        manual = (interpreter.get_tensor(out["index"]).astype(np.float32) - out_zero) * np.float32(out_scale)
        np.testing.assert_allclose(clf.predict(image).probabilities, manual[0], atol=1e-6)


def test_accuracy_matches_the_export_validation(models, classifiers, digits):
    """The runtime reproduces, exactly, the accuracy the export measured with its own code."""
    manifest = json.loads((models / "manifest.json").read_text())
    images, labels = digits
    for name, clf in classifiers.items():
        accuracy = float((clf.predict(images).digits == labels).mean())
        assert accuracy == pytest.approx(manifest["formats"][name]["validation"]["accuracy"], abs=1e-9), name
        assert accuracy > 0.9


def test_onnx_and_tflite_float_agree(classifiers, digits):
    a = classifiers["tflite-f32"].predict(digits[0][:200]).probabilities
    b = classifiers["onnx-f32"].predict(digits[0][:200]).probabilities
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_describe_reports_contract_and_accuracy(classifiers):
    info = classifiers["tflite-int8"].describe()
    assert info["format"] == "tflite-int8" and info["interpreter"].startswith("ai_edge_litert ")
    assert info["input"]["dtype"] == "int8" and info["input"]["shape"][1:] == [28, 28, 1]
    assert info["input"]["scale"] > 0 and info["accuracy"] > 0.9
    assert classifiers["onnx-int8"].describe()["input"]["dtype"] == "float32"  # QDQ keeps float I/O


# ---------------------------------------------------------------- softmax temperature


def sharpened(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """The test's own reference: p ** (1/T) renormalized, in float64."""
    powered = probabilities.astype(np.float64) ** (1.0 / temperature)
    return powered / powered.sum(axis=-1, keepdims=True)


def mean_entropy(probabilities: np.ndarray) -> float:
    p = probabilities.astype(np.float64)
    p = p / p.sum(axis=1, keepdims=True)  # int8 outputs need not sum to exactly 1
    return float(-np.sum(p * np.log(np.where(p > 0, p, 1.0))) / len(p))


def with_manifest_temperature(models: Path, tmp_path: Path, name: str, temperature) -> Path:
    target = copy_models(models, tmp_path)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["formats"][name]["temperature_scaling"] = {"temperature": temperature, "images": 100,
                                                        "split": "validation"}
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def onnx_file_with_metadata(source: Path, target: Path, metadata: dict | None) -> Path:
    """A copy of an ONNX model whose embedded "edgedigits" metadata is `metadata` (None: no metadata at all)."""
    import onnx

    model = onnx.load(str(source))
    del model.metadata_props[:]
    if metadata is not None:
        model.metadata_props.add(key="edgedigits", value=json.dumps(metadata))
    onnx.save(model, str(target))
    return target


@pytest.mark.parametrize("temperature", [0.5, 2.0])
@pytest.mark.parametrize("name", ["tflite-int8", "onnx-f32"])
def test_manifest_temperature_is_applied_to_probabilities(models, classifiers, digits, tmp_path, name, temperature):
    plain = classifiers[name]
    clf = load(with_manifest_temperature(models, tmp_path, name, temperature), format=name, threads=1)
    assert plain.temperature == 1.0 and clf.temperature == temperature
    assert clf.describe()["temperature"] == temperature
    images = digits[0][:64]
    base, batch = plain.predict(images), clf.predict(images)
    assert batch.probabilities.dtype == np.float32
    np.testing.assert_allclose(batch.probabilities, sharpened(base.probabilities, temperature), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(batch.probabilities.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(batch.digits, base.digits)
    np.testing.assert_array_equal(batch.confidence, batch.probabilities.max(axis=1))
    single = clf.predict(images[0])
    assert single.probabilities.dtype == np.float32 and single.digits == base.digits[0]
    np.testing.assert_allclose(single.probabilities, batch.probabilities[0], atol=1e-6)
    assert single.confidence == float(single.probabilities[single.digits])
    sharper = mean_entropy(batch.probabilities) < mean_entropy(base.probabilities)
    assert sharper == (temperature < 1)


def test_embedded_temperature_applies_to_a_lone_file(models, classifiers, digits, tmp_path):
    meta = read_embedded_metadata(models / "tiny.f32.onnx")
    lone = onnx_file_with_metadata(models / "tiny.f32.onnx", tmp_path / "tiny.f32.onnx",
                                   {**meta, "temperature_scaling": {"temperature": 0.25}})
    clf = load(lone)
    assert clf.source.manifest is None and clf.temperature == 0.25
    images = digits[0][:32]
    expected = sharpened(classifiers["onnx-f32"].predict(images).probabilities, 0.25)
    np.testing.assert_allclose(clf.predict(images).probabilities, expected, rtol=1e-5, atol=1e-7)


def test_bare_model_gives_the_models_own_probabilities(models, digits, tmp_path):
    import onnxruntime as ort

    bare = onnx_file_with_metadata(models / "tiny.f32.onnx", tmp_path / "bare.f32.onnx", None)
    assert read_embedded_metadata(bare) is None
    clf = load(bare)
    assert clf.temperature == 1.0
    images = digits[0][:16]
    session = ort.InferenceSession(str(bare), providers=["CPUExecutionProvider"])
    x = (images.astype(np.float32) / np.float32(255.0))[..., None]
    raw = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(clf.predict(images).probabilities, raw, atol=1e-6)
    lone_tflite = tmp_path / "tiny.int8.tflite"  # embedded metadata without a temperature
    shutil.copy(models / "tiny.int8.tflite", lone_tflite)
    assert load(lone_tflite).temperature == 1.0


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "0.5", True, None, [0.5]])
def test_bad_manifest_temperature_is_a_clear_value_error(models, tmp_path, bad):
    target = with_manifest_temperature(models, tmp_path, "tflite-int8", bad)
    shown = re.escape(repr(bad))
    with pytest.raises(ValueError, match=rf"{re.escape(str(target / 'manifest.json'))}.*temperature.*{shown}"):
        load(target)
    with pytest.raises(ModelError):  # also a ModelError: the CLI reports it as one (exit 3)
        load(target)


def test_bad_embedded_temperature_is_a_clear_value_error(models, tmp_path):
    meta = read_embedded_metadata(models / "tiny.int8.onnx")
    lone = onnx_file_with_metadata(models / "tiny.int8.onnx", tmp_path / "tiny.int8.onnx",
                                   {**meta, "temperature_scaling": {"temperature": -0.5}})
    with pytest.raises(ValueError, match=rf"{re.escape(str(lone))} \(embedded metadata.*-0\.5"):
        load(lone)


def test_apply_temperature_on_ordinary_and_extreme_rows():
    probabilities = np.random.default_rng(0).dirichlet(np.full(10, 0.3), size=200).astype(np.float32)
    for temperature in (0.05, 0.5, 1.0, 3.0):
        out = apply_temperature(probabilities, temperature)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, sharpened(probabilities, temperature), rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(out.argmax(axis=1), probabilities.argmax(axis=1))
    extreme = np.array([[0.1] * 10, [0.0, 0.1, 0.9] + [0.0] * 7, [0.0] * 10], np.float32)
    out = apply_temperature(extreme, 0.001)  # 1/T = 1000: 0.1 ** 1000 underflows to 0 in any float
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0], 0.1, rtol=1e-6)  # a flat row stays flat, not 0/0
    np.testing.assert_array_equal(out[1], [0.0, 0.0, 1.0] + [0.0] * 7)
    np.testing.assert_array_equal(out[2], 0.0)  # no positive value (never a softmax): zeros, not NaN
    np.testing.assert_allclose(apply_temperature(extreme[0], 0.001), 0.1, rtol=1e-6)  # one digit: same care
    assert apply_temperature(np.zeros((0, 10), np.float32), 0.5).shape == (0, 10)


NO_TF_SCRIPT = textwrap.dedent("""
    import json, resource, sys, time
    t0 = time.perf_counter()
    import numpy as np
    import edgedigits.classifier as classifier
    t1 = time.perf_counter()
    clf = classifier.load(sys.argv[1], threads=1)
    t2 = time.perf_counter()
    clf.predict(np.zeros((28, 28), np.uint8))
    t3 = time.perf_counter()
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
    try:  # VmHWM: this process's own peak (ru_maxrss can carry the parent's peak across exec)
        status = open("/proc/self/status").read()
        peak_kb = int(status.split("VmHWM:")[1].split()[0])
    except (OSError, IndexError):
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"heavy": heavy, "import_s": t1 - t0, "load_s": t2 - t1, "first_predict_s": t3 - t2,
                      "peak_rss_mb": peak_kb / 1024}))
""")


@pytest.mark.parametrize("name", ["tiny.int8.tflite", "tiny.int8.onnx"])
def test_never_imports_tensorflow_or_keras(models, name):
    proc = subprocess.run([sys.executable, "-c", NO_TF_SCRIPT, str(models / name)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\n{name}: {report}")
    assert report["heavy"] == []
    assert report["import_s"] + report["load_s"] + report["first_predict_s"] < 10


# ---------------------------------------------------------------- image I/O


def _test_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:37, 0:53]
    base = ((xx * 5 + yy * 3) % 256).astype(np.uint8)
    return np.dstack([base, 255 - base, rng.integers(0, 256, base.shape, dtype=np.uint8)])


@pytest.mark.parametrize("kind", ["grey", "bgr", "bgra", "grey16", "bilevel"])
def test_png_decoder_without_cv2_matches_opencv(tmp_path, monkeypatch, kind):
    cv2 = pytest.importorskip("cv2")
    image = _test_image()
    variants = {"grey": (image[:, :, 0], []), "bgr": (image, []),
                "bgra": (np.dstack([image, image[:, :, 0]]), []),
                "grey16": (image[:, :, 0].astype(np.uint16) * 257 + 3, []),
                "bilevel": ((image[:, :, 0] > 100).astype(np.uint8) * 255, [cv2.IMWRITE_PNG_BILEVEL, 1])}
    array, params = variants[kind]
    path = tmp_path / f"{kind}.png"
    cv2.imwrite(str(path), array, params)
    with_cv2 = imageio.read_image(path)
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    assert not imageio.have_cv2()
    without = imageio.read_image(path)
    np.testing.assert_array_equal(with_cv2, without)


def test_palette_png_and_pillow_writer_without_cv2(tmp_path, monkeypatch):
    import struct
    import zlib

    monkeypatch.setitem(sys.modules, "cv2", None)
    image = _test_image()
    written = imageio.write_image(tmp_path / "out.png", image)
    np.testing.assert_array_equal(imageio.read_image(written), image)
    # A 2-colour palette image with 1-bit indices and a transparent entry, built by hand.
    indices = np.array([[0, 1, 1, 0, 1, 0, 0, 1, 1]] * 3, np.uint8)
    rows = np.packbits(indices, axis=1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (imageio.PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 9, 3, 1, 3, 0, 0, 0))
           + chunk(b"PLTE", bytes([10, 20, 30, 200, 210, 220])) + chunk(b"tRNS", b"\xff")
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    (tmp_path / "palette.png").write_bytes(png)
    decoded = imageio.read_image(tmp_path / "palette.png")
    expected = np.where(indices[..., None] == 1, [220, 210, 200], [30, 20, 10]).astype(np.uint8)
    np.testing.assert_array_equal(decoded, expected)


def test_pnm_and_npy(tmp_path):
    image = _test_image()
    (tmp_path / "a.pgm").write_bytes(b"P5\n# comment\n53 37\n255\n" + image[:, :, 0].tobytes())
    np.testing.assert_array_equal(imageio.read_image(tmp_path / "a.pgm"), image[:, :, 0])
    (tmp_path / "a.ppm").write_bytes(b"P6 53 37 255 " + image[:, :, ::-1].tobytes())
    np.testing.assert_array_equal(imageio.read_image(tmp_path / "a.ppm"), image)
    (tmp_path / "b.pgm").write_bytes(b"P2 2 2 15\n0 15\n15 0\n")
    np.testing.assert_array_equal(imageio.read_image(tmp_path / "b.pgm"), [[0, 255], [255, 0]])
    np.save(tmp_path / "a.npy", image)
    np.testing.assert_array_equal(imageio.read_image(tmp_path / "a.npy"), image)
    np.save(tmp_path / "f.npy", image[:, :, 0] / 255.0)
    np.testing.assert_array_equal(imageio.read_image(tmp_path / "f.npy"), image[:, :, 0])


@pytest.mark.parametrize("name,content,match", [
    ("empty.png", b"", "empty file"),
    ("junk.png", b"hello world, not an image", "not an image|not a PNG"),
    ("cut.png", None, "truncated|corrupt"),
    ("short.pgm", b"P5 10 10 255\n" + b"\x00" * 20, "truncated"),
    ("zero.pgm", b"P5 0 10 255\n", "zero-size|not an image"),
    ("objects.npy", None, "not a readable .npy"),
    ("zero.npy", np.zeros((0, 5), np.uint8), "zero-size"),
    ("vector.npy", np.zeros(5, np.uint8), "must be \\(H, W\\)"),
])
@pytest.mark.parametrize("opencv", [True, False])
def test_unreadable_images_raise_image_error(tmp_path, monkeypatch, name, content, match, opencv):
    path = tmp_path / name
    if name == "cut.png":
        ok = imageio.write_image(tmp_path / "whole.png", _test_image())
        path.write_bytes(ok.read_bytes()[:200])
    elif name == "objects.npy":
        np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif isinstance(content, np.ndarray):
        np.save(path, content)
    else:
        path.write_bytes(content)
    if not opencv:
        monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(imageio.ImageError, match=match):
        imageio.read_image(path)


def test_missing_file_directory_and_damaged_jpeg_without_cv2(tmp_path, monkeypatch):
    with pytest.raises(imageio.ImageError, match="no such file"):
        imageio.read_image(tmp_path / "missing.png")
    with pytest.raises(imageio.ImageError, match="is a directory"):
        imageio.read_image(tmp_path)
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(imageio.ImageError, match=r"photo.jpg: not an image, or a corrupt"):
        imageio.read_image(tmp_path / "photo.jpg")


def test_other_formats_without_cv2_and_pillow_writes(tmp_path, monkeypatch):
    """Without OpenCV, Pillow reads JPEG, BMP, TIFF and WebP (JPEG close to OpenCV's decoding, the
    lossless ones exactly) and writes PNG and JPEG; a suffix it does not know is refused clearly."""
    cv2 = pytest.importorskip("cv2")
    image = _test_image()
    with_cv2 = {}
    for suffix in (".jpg", ".bmp", ".tif", ".webp"):
        path = tmp_path / f"a{suffix}"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_WEBP_QUALITY, 101] if suffix == ".webp" else [])
        with_cv2[suffix] = imageio.read_image(path)
    monkeypatch.setitem(sys.modules, "cv2", None)
    assert not imageio.have_cv2()
    for suffix, expected in with_cv2.items():
        without = imageio.read_image(tmp_path / f"a{suffix}")
        assert without.shape == expected.shape
        assert np.abs(without.astype(int) - expected).max() <= (2 if suffix == ".jpg" else 0), suffix
    yy, xx = np.mgrid[0:37, 0:53]
    ramp = (xx * 3 + yy * 2).astype(np.uint8)
    smooth = np.dstack([ramp, 228 - ramp, ramp // 2])  # JPEG keeps smooth colour
    written = imageio.read_image(imageio.write_image(tmp_path / "out.jpg", smooth))
    assert np.abs(written.astype(int) - smooth).mean() < 6
    with pytest.raises(imageio.ImageError, match="cannot write .nosuch"):
        imageio.write_image(tmp_path / "out.nosuch", image)


@pytest.mark.parametrize("opencv", [True, False])
@pytest.mark.parametrize("orientation, turned", [(1, lambda a: a), (6, lambda a: np.rot90(a, -1)),
                                                 (3, lambda a: np.rot90(a, 2)), (8, lambda a: np.rot90(a, 1))])
def test_jpeg_exif_orientation_is_honoured(tmp_path, monkeypatch, orientation, turned, opencv):
    """Phones store a turned photo as unturned pixels plus an EXIF Orientation tag: read it as a
    viewer shows it, with OpenCV or with Pillow."""
    pytest.importorskip("cv2")
    Image = pytest.importorskip("PIL.Image")
    if not opencv:
        monkeypatch.setitem(sys.modules, "cv2", None)
    pixels = np.full((40, 64), 230, np.uint8)
    pixels[:20, :32] = 20  # a dark top-left quarter shows which way the image was turned
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(path, quality=95, exif=exif)
    read = imageio.read_image(path)
    grey = read if read.ndim == 2 else read.mean(axis=2)
    expected = turned(pixels)
    assert grey.shape == expected.shape
    assert np.abs(grey.astype(np.float32) - expected).mean() < 8


class _FixedOutputs:
    """A backend whose model answers the same outputs for every image (a stand-in interpreter)."""

    module, module_version = "fixed", "0"

    def __init__(self, outputs):
        from edgedigits.backends import TensorSpec

        self.outputs = np.asarray(outputs, np.float32)
        self.input = TensorSpec("image", (1, 28, 28, 1), np.dtype(np.float32), None, None)
        self.output = TensorSpec("probabilities", (1, len(self.outputs)), np.dtype(np.float32), None, None)
        self.allocated_input, self.allocated_output = self.input.shape, self.output.shape

    def run(self, batch):
        return np.repeat(self.outputs[None], len(batch), axis=0)


def _fixed_classifier(outputs, labels):
    from edgedigits.classifier import Classifier, ModelSource
    from edgedigits.formats import FORMATS

    source = ModelSource(Path("fixed.f32.tflite"), FORMATS["tflite-f32"], None, None, "0" * 64, 0)
    return Classifier(_FixedOutputs(outputs), source, labels)


def test_a_not_a_digit_output_is_split_from_the_digits():
    from edgedigits.metadata import REJECT_LABEL, labels_for_outputs

    labels = labels_for_outputs(11)
    assert labels[-1] == REJECT_LABEL and labels[:10] == [str(d) for d in range(10)]
    junk = _fixed_classifier([0.02, 0.0, 0.0, 0.0, 0.18, 0.0, 0.0, 0.0, 0.0, 0.0, 0.8], labels)
    one = junk.predict(np.zeros((28, 28), np.float32))
    assert one.digits == 4 and one.reject == pytest.approx(0.8) and one.is_digit is False
    assert one.probabilities.shape == (10,) and one.probabilities.sum() == pytest.approx(1.0)
    assert one.confidence == pytest.approx(0.9)  # of the digits, if it were one
    batch = junk.predict(np.zeros((3, 28, 28), np.float32))
    assert batch.reject.shape == (3,) and not batch.is_digit.any() and batch.probabilities.shape == (3, 10)
    digit = _fixed_classifier([0.0] * 7 + [0.9, 0.0, 0.0, 0.1], labels).predict(np.zeros((28, 28), np.float32))
    assert digit.digits == 7 and digit.is_digit is True
    plain = _fixed_classifier([0.0] * 7 + [1.0, 0.0, 0.0], labels_for_outputs(10)).predict(np.zeros((2, 28, 28), np.float32))
    assert plain.reject is None and plain.is_digit.all()  # a model without the output still works
    with pytest.raises(ValueError, match="12"):
        labels_for_outputs(12)



@pytest.mark.parametrize("outputs", [[float("nan")] * 10, [6.2e31] + [0.0] * 9, [-0.5] + [0.15] * 10])
def test_outputs_that_are_not_probabilities_are_a_model_error(outputs):
    from edgedigits.classifier import ModelError
    from edgedigits.metadata import labels_for_outputs

    classifier = _fixed_classifier(outputs, labels_for_outputs(len(outputs)))
    with pytest.raises(ModelError, match="not probabilities"):
        classifier.predict(np.zeros((28, 28), np.float32))
    with pytest.raises(ModelError, match="not probabilities"):
        classifier.predict(np.zeros((3, 28, 28), np.float32))


def test_a_float_model_listed_as_int8_is_refused(models, tmp_path):
    from edgedigits.classifier import ModelError

    target = copy_models(models, tmp_path)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["formats"]["tflite-int8"] = dict(manifest["formats"]["tflite-f32"])  # the float file, as int8
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="not the int8 model"):
        load(target, format="tflite-int8")


@pytest.mark.parametrize("listed", ["../../../../etc/passwd", "/etc/passwd", "sub/tiny.int8.tflite", "..", 42, None])
def test_manifest_entries_name_only_files_next_to_the_manifest(models, tmp_path, listed):
    from edgedigits.classifier import ModelError

    target = copy_models(models, tmp_path)
    manifest = json.loads((target / "manifest.json").read_text())
    if listed is None:
        manifest["formats"]["tflite-int8"] = "tiny.int8.tflite"  # an entry that is a string
    else:
        manifest["formats"]["tflite-int8"]["file"] = listed
    (target / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="a plain file name") as error:
        load(target, format="tflite-int8")
    assert "root:" not in str(error.value)  # nothing of another file is read or echoed


def test_special_and_oversized_files_are_refused_without_reading_them(tmp_path, monkeypatch):
    import os

    from edgedigits import classifier as classifier_module
    from edgedigits.classifier import ModelError

    fifo = tmp_path / "pipe.int8.tflite"
    os.mkfifo(fifo)
    with pytest.raises(ModelError, match="not a regular file"):
        load(fifo)  # would block forever if it were opened
    if Path("/dev/zero").exists():
        with pytest.raises(ModelError, match="not a regular file"):
            load("/dev/zero", format="tflite-int8")
    sparse = tmp_path / "huge.int8.tflite"
    with open(sparse, "wb") as handle:
        handle.truncate(5000)
    monkeypatch.setattr(classifier_module, "MAX_MODEL_BYTES", 4096)
    reads = []
    monkeypatch.setattr(classifier_module, "open", lambda *a, **k: reads.append(a) or open(*a, **k), raising=False)
    with pytest.raises(ModelError, match="over the 4,096-byte limit"):
        load(sparse)
    assert reads == []  # refused from its size alone
    manifest = tmp_path / "manifest.json"
    os.mkfifo(manifest)
    with pytest.raises(ModelError, match="not a regular file"):
        load(manifest)


def test_a_small_file_declaring_gigapixels_is_refused_before_decoding(tmp_path, monkeypatch):
    import struct
    import zlib

    import cv2

    from edgedigits.imageio import ImageError, declared_size, read_image

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    bomb = tmp_path / "bomb.png"  # 30000 x 30000 = 900 megapixels, a few hundred bytes
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    decoded = []
    monkeypatch.setattr(cv2, "imdecode", lambda *a: decoded.append(a))
    with pytest.raises(ImageError, match="more than 200 megapixels"):
        read_image(bomb)
    assert decoded == []  # refused from the header alone
    ok, jpeg = cv2.imencode(".jpg", np.zeros((30, 50, 3), np.uint8))
    assert declared_size(jpeg.tobytes()) == (50, 30)
    ok, bmp = cv2.imencode(".bmp", np.zeros((7, 9), np.uint8))
    assert declared_size(bmp.tobytes()) == (9, 7)
    assert declared_size(b"GIF89a....") is None
    # Without OpenCV, Pillow is given the same limit from the header, before it decodes anything.
    from PIL import ImageFile

    from edgedigits.imageio import decode_image

    monkeypatch.setitem(sys.modules, "cv2", None)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self))
    with pytest.raises(ImageError, match="more than 200 megapixels"):
        read_image(bomb)
    with pytest.raises(ImageError, match="image is 9x7, more than 1e-05 megapixels"):
        decode_image(bmp.tobytes(), max_pixels=10)
    assert decoded == []

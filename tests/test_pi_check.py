"""Fast tests of the pi-check comparison logic (runtime/pi/compare.py) and input selection, on fake JSON."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PI_DIR = Path(__file__).resolve().parents[1] / "runtime" / "pi"


def load_module(name: str):
    spec = importlib.util.spec_from_file_location(f"pi_{name}", PI_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


compare = load_module("compare")
make_inputs = load_module("make_inputs")

STEP = 1 / 256
MANIFEST = {
    "formats": {
        "tflite-int8": {"quantized": True, "outputs": [{"dtype": "int8", "scale": STEP, "zero_point": -128}]},
        "tflite-f32": {"quantized": False, "outputs": [{"dtype": "float32", "scale": None, "zero_point": None}]},
        "onnx-int8": {"quantized": True, "outputs": [{"dtype": "float32", "scale": None, "zero_point": None}]},
    }
}


def predict_record(path: str, probabilities: list[float]) -> dict:
    digit = int(np.argmax(probabilities))
    return {"path": path, "digit": digit, "confidence": probabilities[digit], "probabilities": probabilities}


def one_hot(digit: int, p: float = 0.9) -> list[float]:
    rest = (1 - p) / 9
    return [p if i == digit else rest for i in range(10)]


def read_record(path: str, texts: list[str], conf: float = 0.8) -> dict:
    lines = []
    for li, text in enumerate(texts):
        digits = [{"digit": int(c), "confidence": conf, "box": [10 + 30 * i, 20 + 40 * li, 20, 28]}
                  for i, c in enumerate(text)]
        lines.append({"text": text, "digits": digits})
    return {"path": path, "lines": lines, "ms": 3.2}


def test_tolerance_float_is_1e5_and_int8_is_manifest_output_scale():
    assert compare.output_tolerance(MANIFEST, "tflite-f32").value == 1e-5
    assert compare.output_tolerance(MANIFEST, "tflite-int8").value == STEP


def test_tolerance_for_quantized_format_without_output_scale_uses_softmax_step():
    tol = compare.output_tolerance(MANIFEST, "onnx-int8")
    assert tol.value == compare.DEFAULT_INT8_STEP
    assert "no output scale" in tol.source


@pytest.mark.parametrize("scale", [0, -0.1, "big", float("nan")])
def test_tolerance_rejects_bad_manifest_scale(scale):
    manifest = {"formats": {"x": {"quantized": True, "outputs": [{"scale": scale}]}}}
    with pytest.raises(compare.CompareInputError, match="positive"):
        compare.output_tolerance(manifest, "x")


def test_tolerance_names_missing_format():
    with pytest.raises(compare.CompareInputError, match="onnx-f32.*found"):
        compare.output_tolerance(MANIFEST, "onnx-f32")


def test_predict_matches_by_file_name_across_directories():
    host = [predict_record("/host/work/inputs/digits/a.png", one_hot(3))]
    device = [predict_record("/mnt/pi-check/inputs/digits/a.png", one_hot(3))]
    result = compare.compare_predict(host, device, compare.Tolerance(1e-5, "float"))
    assert result.ok and result.items == 1 and result.top1_equal == 1 and result.max_abs_diff == 0


def test_predict_int8_one_step_passes_two_steps_fail():
    tol = compare.output_tolerance(MANIFEST, "tflite-int8")
    host = [predict_record("a.png", [k * STEP for k in (200, 10, 6, 0, 0, 0, 0, 40, 0, 0)])]
    one = [predict_record("a.png", [k * STEP for k in (199, 11, 6, 0, 0, 0, 0, 40, 0, 0)])]
    two = [predict_record("a.png", [k * STEP for k in (198, 12, 6, 0, 0, 0, 0, 40, 0, 0)])]
    assert compare.compare_predict(host, one, tol).ok
    result = compare.compare_predict(host, two, tol)
    assert not result.ok
    assert result.max_abs_diff == pytest.approx(2 * STEP)
    assert any("probability[0]" in p for p in result.problems)


def test_fallback_tolerance_of_two_steps_passes_two_and_fails_three():
    tol = compare.output_tolerance(MANIFEST, "tflite-int8", int8_steps=2)
    assert tol.value == 2 * STEP and tol.source.startswith("2 x ")
    host = [predict_record("a.png", [k * STEP for k in (200, 10, 6, 0, 0, 0, 0, 40, 0, 0)])]
    two = [predict_record("a.png", [k * STEP for k in (198, 12, 6, 0, 0, 0, 0, 40, 0, 0)])]
    three = [predict_record("a.png", [k * STEP for k in (197, 13, 6, 0, 0, 0, 0, 40, 0, 0)])]
    assert compare.compare_predict(host, two, tol).ok
    assert not compare.compare_predict(host, three, tol).ok


def test_predict_float_difference_above_1e5_fails():
    tol = compare.output_tolerance(MANIFEST, "tflite-f32")
    host = [predict_record("a.png", one_hot(5))]
    probs = one_hot(5)
    probs[5] += 2e-5
    result = compare.compare_predict(host, [predict_record("a.png", probs)], tol)
    assert not result.ok and result.top1_equal == 1
    assert any("confidence" in p for p in result.problems)


def test_predict_different_top1_fails_even_within_tolerance():
    host = [predict_record("a.png", [0.5, 0.5 - 1e-6] + [1e-6 / 8] * 8)]
    device = [{"path": "a.png", "digit": 1, "confidence": 0.5, "probabilities": host[0]["probabilities"]}]
    result = compare.compare_predict(host, device, compare.Tolerance(1e-5, "float"))
    assert not result.ok and result.top1_equal == 0
    assert "top-1 host 0 device 1" in result.problems[0]


def test_predict_missing_and_extra_images_fail():
    host = [predict_record("a.png", one_hot(1)), predict_record("b.png", one_hot(2))]
    device = [predict_record("a.png", one_hot(1)), predict_record("c.png", one_hot(2))]
    result = compare.compare_predict(host, device, compare.Tolerance(1e-5, "float"))
    assert not result.ok
    assert any("no result for b.png" in p for p in result.problems)
    assert any("c.png" in p for p in result.problems)


def test_empty_comparison_is_not_ok():
    assert not compare.Comparison().ok


def test_read_identical_texts_and_boxes_pass():
    host = [read_record("/h/f0.png", ["123", "45"])]
    device = [read_record("/d/f0.png", ["123", "45"], conf=0.8 + STEP)]
    result = compare.compare_read(host, device, compare.Tolerance(STEP, "int8"))
    assert result.ok and result.top1_equal == 1


def test_read_text_mismatch_fails():
    result = compare.compare_read([read_record("f.png", ["123"])], [read_record("f.png", ["128"])],
                                  compare.Tolerance(STEP, "int8"))
    assert not result.ok and "line texts" in result.problems[0]


def test_read_box_or_confidence_mismatch_fails():
    host = [read_record("f.png", ["12"])]
    moved = read_record("f.png", ["12"])
    moved["lines"][0]["digits"][1]["box"] = [41, 20, 20, 28]
    less_sure = read_record("f.png", ["12"], conf=0.8 - 3 * STEP)
    tol = compare.Tolerance(STEP, "int8")
    assert any("box" in p for p in compare.compare_read(host, [moved], tol).problems)
    assert any("confidence" in p for p in compare.compare_read(host, [less_sure], tol).problems)


def test_read_json_values_accepts_lines_array_and_concatenated(tmp_path):
    records = [predict_record(f"{i}.png", one_hot(i)) for i in range(3)]
    variants = {
        "lines": "\n".join(json.dumps(r) for r in records) + "\n",
        "array": json.dumps(records),
        "pretty": "".join(json.dumps(r, indent=2) for r in records),
    }
    for name, text in variants.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        assert [r["path"] for r in compare.read_json_values(str(path))] == ["0.png", "1.png", "2.png"]


@pytest.mark.parametrize("text, message", [("", "no JSON records"), ("{\"path\": 1}\nnot json", "not JSON at line 2"),
                                           ("[1, 2]", "'path' key")])
def test_read_json_values_rejects_bad_files(tmp_path, text, message):
    path = tmp_path / "out.json"
    path.write_text(text)
    with pytest.raises(compare.CompareInputError, match=message):
        compare.read_json_values(str(path))


def test_main_exit_codes(tmp_path, capsys):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(MANIFEST))
    host, same, other = tmp_path / "h.json", tmp_path / "d1.json", tmp_path / "d2.json"
    host.write_text(json.dumps(predict_record("a.png", one_hot(4))))
    same.write_text(json.dumps(predict_record("a.png", one_hot(4))))
    other.write_text(json.dumps(predict_record("a.png", one_hot(7))))
    common = ["--kind", "predict", "--host", str(host), "--manifest", str(manifest), "--format", "tflite-int8"]
    assert compare.main(common + ["--device", str(same), "--label", "pi4 core"]) == 0
    assert capsys.readouterr().out.startswith("OK   pi4 core: 1 images, top-1 equal 1/1")
    assert compare.main(common + ["--device", str(other)]) == 1
    assert "top-1 host 4 device 7" in capsys.readouterr().out
    assert compare.main(common + ["--device", str(tmp_path / "missing.json")]) == 2
    assert "cannot read result file" in capsys.readouterr().out


def test_digit_selection_covers_every_class_first():
    labels = np.array([1, 1, 1, 2, 0, 3, 4, 5, 6, 7, 8, 9, 9, 1, 2], dtype=np.uint8)
    chosen = make_inputs.pick_digit_indices(labels, 12)
    assert len(chosen) == 12 and chosen == sorted(chosen)
    assert set(labels[chosen]) == set(range(10))


def test_composed_frames_are_deterministic():
    rng_images = np.random.default_rng(1).integers(0, 256, size=(20, 28, 28), dtype=np.uint8)
    labels = np.arange(20, dtype=np.uint8) % 10
    a, texts_a = make_inputs.compose_frame(rng_images, labels, np.random.default_rng(0))
    b, texts_b = make_inputs.compose_frame(rng_images, labels, np.random.default_rng(0))
    assert a.shape == (240, 320) and a.dtype == np.uint8
    assert np.array_equal(a, b) and texts_a == texts_b
    assert all(3 <= len(t) <= 5 and t.isdigit() for t in texts_a)


def test_printed_decimals_is_the_most_any_value_shows():
    assert compare.printed_decimals([0.9133, 0.5, 1.0]) == 4
    assert compare.printed_decimals([0.988281, 0.003906, 0.0]) == 6
    assert compare.printed_decimals([1 / 3]) is None  # not rounded
    assert compare.printed_decimals([]) is None


def test_read_confidences_rounded_to_4_decimals_allow_one_last_place():
    """read prints confidences to 4 decimals: 1e-5 cannot be seen, one unit in the 4th place can."""
    tol = compare.Tolerance(1e-5, "float")
    host = [read_record("f.png", ["12"], conf=0.9133)]
    one_unit = [read_record("f.png", ["12"], conf=0.9132)]
    three_units = [read_record("f.png", ["12"], conf=0.913)]
    result = compare.compare_read(host, one_unit, tol)
    assert result.ok and result.printed_decimals == 4
    assert "printed to 4 decimals" in compare.summary_line("read", "x", result, tol)
    assert not compare.compare_read(host, three_units, tol).ok


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="pi_check.sh refuses to run unless root")
def test_pi_check_runs_with_an_empty_home(tmp_path):
    """A fresh machine has no ~/.cache: the script must create its cache before it logs anything into it.

    The machine's tools are hidden (PATH holds only a few basics and an apt-get that fails), so the
    script stops at its first logged step, the tool install, with its own message, not a shell error.
    """
    home = tmp_path / "home"
    home.mkdir()
    models = tmp_path / "artifacts" / "edge"
    models.mkdir(parents=True)
    for name in ("manifest.json", "edge.int8.tflite", "edge.f32.tflite", "edge.int8.onnx", "edge.f32.onnx"):
        (models / name).write_bytes(b"")
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "edgedigits").write_text("#!/bin/sh\n")
    (venv_bin / "edgedigits").chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "id", "uname", "cat", "mkdir", "tail", "dirname", "date", "env"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    (bin_dir / "apt-get").write_text("#!/bin/sh\necho 'E: no network in this test'\nexit 100\n")
    (bin_dir / "apt-get").chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(home), "ARTIFACTS": str(tmp_path / "artifacts"),
           "HOST_VENV": str(tmp_path / "venv"), "LANG": "C.UTF-8"}
    done = subprocess.run([str(bin_dir / "bash"), str(PI_DIR / "pi_check.sh")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "No such file or directory" not in done.stderr, done.stderr
    assert "apt-get install failed" in done.stderr, done.stderr
    log = home / ".cache" / "edgedigits" / "apt-install.log"
    assert "no network in this test" in log.read_text()

"""The `edgedigits` command line: predict / read / info, and every bad input as a clear exit code.

Most tests call cli.main() in-process (fast); a few run the installed console script in a
subprocess to check the real entry point and that no traceback ever reaches stderr.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgedigits import cli
from edgedigits.imageio import write_image
from runtime_fixtures import ensure_models, load_mnist_slice

EXIT = {"ok": 0, "usage": 2, "model": 3, "input": 4, "dependency": 6}


@pytest.fixture(scope="session")
def models() -> Path:
    return ensure_models()


@pytest.fixture(scope="session")
def test_digits():
    return load_mnist_slice("t10k", 12)


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    return np.kron(image, np.ones((factor, factor), np.uint8))


def write_digit_crops(tmp_path: Path, images, labels):
    """Each MNIST digit as a bigger crop in both polarities: light-on-dark x3 and dark-on-light x4 with margin."""
    paths = []
    for i, (image, label) in enumerate(zip(images, labels)):
        light = write_image(tmp_path / f"light-{i}-{label}.png", upscale(image, 3))
        dark = np.pad(255 - upscale(image, 4), 20, constant_values=255)
        paths.append((write_image(tmp_path / f"dark-{i}-{label}.png", dark), int(label)))
        paths.append((light, int(label)))
    return paths


def compose_frame(images, *, digit_size=56, gap=14, margin=40) -> np.ndarray:
    """Dark digits on white paper in one row, like a handwritten number."""
    width = margin * 2 + len(images) * digit_size + (len(images) - 1) * gap
    frame = np.full((digit_size + 2 * margin, width), 255, np.uint8)
    for i, image in enumerate(images):
        big = upscale(image, digit_size // 28)
        x = margin + i * (digit_size + gap)
        frame[margin:margin + digit_size, x:x + digit_size] = 255 - big
    return frame


# ---------------------------------------------------------------- predict


def test_predict_json_on_real_digits_both_polarities(capsys, tmp_path, models, test_digits):
    crops = write_digit_crops(tmp_path, *test_digits)
    code, out, err = run(capsys, "predict", "--model", models, "--json", *[p for p, _ in crops])
    assert code == 0, err
    records = json_lines(out)
    assert [r["path"] for r in records] == [str(p) for p, _ in crops]
    for record in records:
        assert set(record) == {"path", "digit", "confidence", "probabilities", "is_digit", "reject"}
        assert record["is_digit"] is True and record["reject"] is None  # a model without "not a digit"
        assert len(record["probabilities"]) == 10
        assert record["confidence"] == pytest.approx(max(record["probabilities"]), abs=1e-6)
        assert 0.0 <= record["confidence"] <= 1.0
    correct = sum(r["digit"] == label for r, (_, label) in zip(records, crops))
    assert correct >= len(crops) - 2, [(r["path"], r["digit"]) for r in records]
    by_polarity = [r["digit"] for r in records]
    assert sum(a == b for a, b in zip(by_polarity[0::2], by_polarity[1::2])) >= len(crops) // 2 - 1


def test_predict_text_output_and_default_model_from_env(capsys, tmp_path, models, test_digits, monkeypatch):
    path = write_image(tmp_path / "seven.png", test_digits[0][0])
    monkeypatch.setenv("EDGEDIGITS_MODEL", str(models))
    code, out, err = run(capsys, "predict", path)
    assert code == 0, err
    assert out.startswith(f"{path}: {test_digits[1][0]}  (confidence ")


def test_model_option_before_or_after_the_subcommand(capsys, tmp_path, models, test_digits):
    path = write_image(tmp_path / "d.png", test_digits[0][1])
    first = run(capsys, "--model", models, "--format", "onnx-f32", "predict", "--json", path)
    second = run(capsys, "predict", "--json", "--model", models, "--format", "onnx-f32", path)
    assert first[0] == second[0] == 0
    assert json_lines(first[1]) == json_lines(second[1])
    third = run(capsys, "--model", "/nowhere", "predict", "--model", models, path)  # subcommand wins
    assert third[0] == 0


def test_one_bad_image_does_not_lose_the_others(capsys, tmp_path, models, test_digits):
    good = write_image(tmp_path / "good.png", test_digits[0][2])
    (tmp_path / "junk.png").write_bytes(b"definitely not a png")
    (tmp_path / "empty.png").write_bytes(b"")
    np.save(tmp_path / "zero.npy", np.zeros((0, 4), np.uint8))
    args = [good, tmp_path / "junk.png", tmp_path / "missing.png", tmp_path / "empty.png", tmp_path / "zero.npy",
            good]
    code, out, err = run(capsys, "predict", "--model", models, "--json", *args)
    assert code == EXIT["input"]
    records = json_lines(out)
    assert len(records) == 6
    assert records[0]["digit"] == records[5]["digit"] == int(test_digits[1][2])
    assert [("error" in r) for r in records] == [False, True, True, True, True, False]
    lines = err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("edgedigits: error: ") for line in lines)
    assert "no such file" in err and "empty file" in err and "zero-size" in err and "not an image" in err


def test_crops_without_ink_answer_no_digit(capsys, tmp_path, models, test_digits):
    """A classifier answers some digit for anything: blank, uniform, faint and one-pixel crops are
    caught before it ("1 (confidence 0.998)" for an all-black crop was the old answer)."""
    rng = np.random.default_rng(0)
    blanks = {"black": np.zeros((40, 30), np.uint8), "white": np.full((40, 30), 255, np.uint8),
              "faint": (200 + rng.integers(0, 20, (40, 30))).astype(np.uint8),
              "pixel": np.zeros((1, 1), np.uint8), "sliver": np.zeros((1, 1000), np.uint8)}
    paths = [write_image(tmp_path / f"{name}.png", image) for name, image in blanks.items()]
    digit = write_image(tmp_path / "digit.png", 255 - test_digits[0][0])
    code, out, err = run(capsys, "predict", "--model", models, "--json", *paths, digit)
    assert code == 0, err
    records = json_lines(out)
    assert [r["digit"] for r in records[:-1]] == [None] * len(blanks)
    assert all(r["confidence"] == 0.0 and "no ink" in r["reason"] for r in records[:-1])
    assert records[-1]["digit"] == int(test_digits[1][0])
    code, out, _ = run(capsys, "predict", "--model", models, paths[0])
    assert code == 0 and "no digit" in out


# ---------------------------------------------------------------- read


def test_read_json_on_a_composed_frame(capsys, tmp_path, models, test_digits):
    images, labels = test_digits
    frame = write_image(tmp_path / "frame.png", compose_frame(images[:6]))
    code, out, err = run(capsys, "read", "--model", models, "--json", frame)
    assert code == 0, err
    (record,) = json_lines(out)
    assert record["path"] == str(frame) and record["ms"] > 0
    (line,) = record["lines"]
    assert line["text"] == "".join(str(d) for d in labels[:6])
    assert [d["digit"] for d in line["digits"]] == [int(d) for d in labels[:6]]
    xs = [d["box"][0] for d in line["digits"]]
    assert xs == sorted(xs)
    for digit in line["digits"]:
        x, y, w, h = digit["box"]
        assert 0 < digit["confidence"] <= 1 and w > 0 and h > 0


def test_read_annotate_one_and_several_images(capsys, tmp_path, models, test_digits):
    frame = compose_frame(test_digits[0][:3])
    first = write_image(tmp_path / "a" / "shot.png", frame)
    second = write_image(tmp_path / "b" / "shot.png", frame)  # same stem: must not overwrite
    code, _, err = run(capsys, "read", "--model", models, "--annotate", tmp_path / "one.png", first)
    assert code == 0, err
    assert (tmp_path / "one.png").is_file()
    code, _, err = run(capsys, "read", "--model", models, "--annotate", tmp_path / "out.png", first, second)
    assert code == 0, err
    assert (tmp_path / "out-shot.png").is_file() and (tmp_path / "out-shot-2.png").is_file()
    out_dir = tmp_path / "annotated"
    out_dir.mkdir()
    code, _, err = run(capsys, "read", "--model", models, "--annotate", out_dir, first, second)
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["shot-2-annotated.png", "shot-annotated.png"]


def test_read_debug_writes_one_picture_per_stage(capsys, tmp_path, models, test_digits):
    from edgedigits.imageio import read_image

    frame = write_image(tmp_path / "shot.png", compose_frame(test_digits[0][:4]))
    code, _, err = run(capsys, "read", "--model", models, "--debug", tmp_path / "stages", frame)
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "stages").iterdir())
    assert names == [f"shot-{n}.png" for n in ("1-grey", "2-paper", "3-darkness", "4-ink", "5-upright", "6-blobs",
                                                "7-lines", "8-crops")]
    crops = read_image(tmp_path / "stages" / "shot-8-crops.png")
    assert crops.ndim == 3 and crops.shape[0] >= 56 and (crops < 128).any()
    # A blank frame stops before any stage worth drawing: no pictures, no error.
    blank = write_image(tmp_path / "blank.png", np.full((120, 160), 230, np.uint8))
    code, _, err = run(capsys, "read", "--model", models, "--debug", tmp_path / "blank-stages", blank)
    assert code == 0, err
    assert not (tmp_path / "blank-stages").exists() or not any((tmp_path / "blank-stages").iterdir())


def test_read_annotate_never_overwrites_an_input(capsys, tmp_path, models, test_digits):
    frame = write_image(tmp_path / "shot.png", compose_frame(test_digits[0][:3]))
    before = frame.read_bytes()
    code, out, err = run(capsys, "read", "--model", models, "--annotate", frame, frame)
    assert code == 2 and "refusing to overwrite" in err and out == ""
    code, _, err = run(capsys, "read", "--model", models, "--annotate", tmp_path / "." / "shot.png", frame)
    assert code == 2, err
    assert frame.read_bytes() == before


def test_read_blank_and_huge_frames(capsys, tmp_path, models, test_digits):
    black = write_image(tmp_path / "black.png", np.zeros((480, 640), np.uint8))
    white = write_image(tmp_path / "white.png", np.full((480, 640, 3), 255, np.uint8))
    huge = np.full((6000, 8000), 255, np.uint8)
    digits = compose_frame(test_digits[0][:4], digit_size=28 * 40, gap=300, margin=0)  # 1120 x 5380
    huge[2000:2000 + digits.shape[0], 1000:1000 + digits.shape[1]] = digits
    np.save(tmp_path / "huge.npy", huge)
    code, out, err = run(capsys, "read", "--model", models, "--json", black, white, tmp_path / "huge.npy")
    assert code == 0, err
    records = json_lines(out)
    assert records[0]["lines"] == [] and records[1]["lines"] == []
    assert records[2]["lines"][0]["text"] == "".join(str(d) for d in test_digits[1][:4])  # downscaled, still read


# ---------------------------------------------------------------- info


def test_info_from_manifest(capsys, models):
    code, out, err = run(capsys, "info", models)
    assert code == 0, err
    assert "format       tflite-int8" in out
    assert "interpreter  ai_edge_litert" in out
    assert "zero_point -128" in out
    manifest = json.loads((models / "manifest.json").read_text())
    accuracy = manifest["formats"]["tflite-int8"]["validation"]["accuracy"]
    assert f"accuracy     {accuracy:.4f} (MNIST test, from the manifest)" in out


def test_info_json_of_a_lone_file_uses_embedded_metadata(capsys, tmp_path, models):
    lone = tmp_path / "tiny.int8.onnx"
    shutil.copy(models / "tiny.int8.onnx", lone)
    code, out, err = run(capsys, "info", "--json", lone)
    assert code == 0, err
    info = json.loads(out)
    assert info["format"] == "onnx-int8" and info["manifest"] is None
    assert info["interpreter"].startswith("onnxruntime ")
    assert info["accuracy_source"] == "embedded metadata"
    assert info["accuracy"] == info["embedded_metadata"]["validation"]["accuracy"] > 0.9


def test_info_shows_the_softmax_temperature(capsys, tmp_path, models):
    code, out, err = run(capsys, "info", models)
    assert code == 0, err
    assert "temperature  1 (probabilities as the model outputs them)" in out
    target = tmp_path / "models"
    shutil.copytree(models, target)
    manifest = json.loads((target / "manifest.json").read_text())

    def info_with(temperature, *options):
        manifest["formats"]["tflite-int8"]["temperature_scaling"] = {"temperature": temperature}
        (target / "manifest.json").write_text(json.dumps(manifest))
        return run(capsys, "info", *options, target)

    code, out, err = info_with(0.5)
    assert code == 0, err
    assert "temperature  0.5 (probabilities = p ** (1/T) renormalized, T fitted at export)" in out
    code, out, err = info_with(0.5, "--json")
    assert json.loads(out)["temperature"] == 0.5
    code, out, err = info_with(0)
    assert code == EXIT["model"] and "Traceback" not in err
    assert "softmax temperature must be a finite number > 0; found 0" in err


# ---------------------------------------------------------------- errors and exit codes


def test_model_errors_exit_3(capsys, tmp_path, models):
    image = write_image(tmp_path / "x.png", np.zeros((28, 28), np.uint8))
    truncated = tmp_path / "bad.int8.tflite"
    truncated.write_bytes((models / "tiny.int8.tflite").read_bytes()[:1000])
    for model in (truncated, tmp_path / "missing.int8.tflite", tmp_path):
        code, out, err = run(capsys, "predict", "--model", model, image)
        assert code == EXIT["model"], err
        assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("edgedigits: error: ")
    code, _, err = run(capsys, "info", truncated)
    assert code == EXIT["model"] and "truncated or corrupt" in err


def test_usage_errors_exit_2(capsys):
    for argv in ([], ["predict"], ["predict", "--threads", "0", "x.png"], ["camera", "--device", "-1"],
                 ["frobnicate"], ["predict", "--format", "tflite-int4", "x.png"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == EXIT["usage"], argv
        capsys.readouterr()


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["predict", "--help"])
    out = capsys.readouterr().out
    assert "(default: 1)" in out and "--model PATH" in out and "artifacts/edge/manifest.json" in out


def run_script(*argv, **kwargs):
    script = Path(sys.executable).with_name("edgedigits")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "edgedigits"]
    return subprocess.run(command + [str(a) for a in argv], capture_output=True, text=True, timeout=120, **kwargs)


def test_console_script_bad_inputs_never_show_a_traceback(tmp_path, models):
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    corrupt = tmp_path / "c.f32.onnx"
    corrupt.write_bytes((models / "tiny.f32.onnx").read_bytes()[:5000])
    cases = [
        (["predict", "--model", models, tmp_path / "junk.png"], EXIT["input"]),
        (["predict", "--model", corrupt, tmp_path / "junk.png"], EXIT["model"]),
        (["read", "--model", models, tmp_path / "nothing.png"], EXIT["input"]),
        (["info", tmp_path / "missing.tflite"], EXIT["model"]),
    ]
    for argv, expected in cases:
        proc = run_script(*argv)
        assert proc.returncode == expected, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_predict_works_without_opencv(tmp_path, models, test_digits):
    """A bare numpy + Pillow + ai-edge-litert install: PNG and JPEG are read by Pillow, a damaged
    JPEG is an input error, and `read` says what to install for OpenCV."""
    from PIL import Image

    png = write_image(tmp_path / "d.png", test_digits[0][3])
    Image.fromarray(test_digits[0][4]).save(tmp_path / "e.jpg", quality=95)
    (tmp_path / "d.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    code = ("import sys; sys.modules['cv2'] = None\n"
            "from edgedigits.cli import main\n"
            f"sys.exit(main(['predict', '--json', '--model', {str(models)!r}, {str(png)!r}, "
            f"{str(tmp_path / 'e.jpg')!r}, {str(tmp_path / 'd.jpg')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT["input"], proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.splitlines()[:2])
    assert first["digit"] == int(test_digits[1][3]) and second["digit"] == int(test_digits[1][4])
    assert "d.jpg: not an image, or a corrupt" in proc.stderr
    read = subprocess.run([sys.executable, "-c", code.replace("'predict'", "'read'")], capture_output=True,
                          text=True, timeout=120)
    assert "pip install 'edgedigits-runtime[camera]'" in read.stderr
    assert read.returncode == EXIT["dependency"] and "needs OpenCV" in read.stderr


def test_annotation_paths():
    assert cli.annotation_paths("o.png", ["a/x.png"]) == [Path("o.png")]
    assert cli.annotation_paths("o.png", ["a/x.png", "b/y.jpg", "c/x.png"]) == [
        Path("o-x.png"), Path("o-y.png"), Path("o-x-2.png")]
    assert cli.annotation_paths("dir/", ["x.png"]) == [Path("dir/x-annotated.png")]


def test_onnx_model_without_onnxruntime_names_the_extra(tmp_path, models, test_digits):
    png = write_image(tmp_path / "d.png", test_digits[0][0])
    code = ("import sys; sys.modules['onnxruntime'] = None\n"
            "from edgedigits.cli import main\n"
            f"sys.exit(main(['predict', '--model', {str(models)!r}, '--format', 'onnx-int8', {str(png)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT["dependency"], proc.stderr
    assert "pip install 'edgedigits-runtime[onnx]'" in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- batch reading


def _number_frames(folder: Path, test_digits, count: int) -> list[Path]:
    images, _labels = test_digits
    folder.mkdir(parents=True, exist_ok=True)
    return [write_image(folder / f"frame-{i}.png", compose_frame(images[i: i + 4])) for i in range(count)]


def test_read_a_folder_writes_json_lines_as_it_goes_and_resumes(capsys, tmp_path, models, test_digits):
    frames = _number_frames(tmp_path / "in", test_digits, 2) + _number_frames(tmp_path / "in" / "sub", test_digits, 1)
    (tmp_path / "in" / "broken.png").write_bytes(b"not a png")
    (tmp_path / "in" / "notes.txt").write_text("not an image either: skipped by suffix")
    output = tmp_path / "out" / "results.jsonl"

    code, out, err = run(capsys, "read", "--model", models, tmp_path / "in", "--output", output)
    assert code == 4 and "broken.png" in err  # one bad image: reported, the others read
    records = json_lines(output.read_text())
    assert sorted(r["path"] for r in records) == sorted([str(tmp_path / "in" / "broken.png")] + [str(f) for f in frames[:2]])
    assert [r for r in records if "error" in r][0]["path"].endswith("broken.png")
    assert len(out.splitlines()) == 2  # one line per frame read on stdout too

    code, _, err = run(capsys, "read", "--model", models, tmp_path / "in", "--output", output)
    assert code == 2 and "--resume" in err  # never appended to (or overwritten) by accident
    code, out, err = run(capsys, "read", "--model", models, tmp_path / "in", "--recursive", "--output", output,
                         "--resume", "--json")
    assert code == 0, err
    assert [r["path"] for r in json_lines(out)] == [str(frames[2])]  # only the one not read before
    assert len(json_lines(output.read_text())) == 4


def test_read_with_two_workers_gives_the_same_records(capsys, tmp_path, models, test_digits):
    frames = _number_frames(tmp_path, test_digits, 3)
    code, one, err = run(capsys, "read", "--model", models, "--json", *frames)
    assert code == 0, err
    code, two, err = run(capsys, "read", "--model", models, "--json", "--workers", "2", *frames)
    assert code == 0, err
    strip = [{k: v for k, v in r.items() if k != "ms"} for r in json_lines(one)]
    assert [{k: v for k, v in r.items() if k != "ms"} for r in json_lines(two)] == strip


def test_read_without_images_or_with_resume_alone_is_a_clear_error(capsys, tmp_path, models):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "read", "--model", models, tmp_path / "empty")
    assert code == 4 and "no images" in err
    code, _, err = run(capsys, "read", "--model", models, tmp_path / "empty", "--resume")
    assert code == 2 and "--output" in err


# ---------------------------------------------------------------- one-line API


def test_one_line_api_reads_paths_arrays_and_pil_images(tmp_path, models, test_digits):
    import edgedigits
    from PIL import Image

    images, labels = test_digits
    frame = compose_frame(images[:4])
    path = write_image(tmp_path / "frame.png", frame)
    want = "".join(str(d) for d in labels[:4])
    reading = edgedigits.read(path, model=models)
    assert reading.text == want
    assert edgedigits.read(frame, model=models).text == want
    assert edgedigits.read(Image.fromarray(frame), model=models).text == want
    assert json.loads(reading.to_json())["lines"][0]["text"] == want
    picture = reading.annotate(tmp_path / "annotated.png")
    assert picture.shape[:2] == frame.shape and (tmp_path / "annotated.png").is_file()
    crop = np.pad(255 - upscale(images[0], 3), 10, constant_values=255)
    assert edgedigits.predict(crop, model=models).digits == labels[0]
    engine = edgedigits.load(models, threads=1)
    assert engine.read(frame).text == want and engine.predict(crop).digits == labels[0]
    with pytest.raises(TypeError, match="path, a numpy array or a PIL image"):
        edgedigits.read(42, model=models)


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_camera_save_dir_that_cannot_be_a_folder_is_a_usage_error(capsys, tmp_path, models, where):
    (tmp_path / "a-file").write_text("not a folder")
    code, _, err = run(capsys, "camera", "--model", models, "--video", tmp_path / "none.avi", "--save-dir",
                       tmp_path / where, "--no-display")
    assert code == 2 and "--save-dir" in err and "Traceback" not in err


@pytest.mark.parametrize("manifest_text", ['{"formats": {"tflite-int8": "x.tflite"}, "labels": 7}',
                                           "[" * 100_000 + "]" * 100_000])
def test_manifest_of_the_wrong_shape_is_a_model_error(capsys, tmp_path, manifest_text):
    (tmp_path / "manifest.json").write_text(manifest_text)
    code, _, err = run(capsys, "predict", "--model", tmp_path / "manifest.json", tmp_path / "x.png")
    assert code == 3, err
    assert "internal error" not in err

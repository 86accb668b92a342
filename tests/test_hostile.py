"""Hostile inputs through every command: each must end in a one-line error with its documented exit
code (2 usage, 3 model, 4 input, 6 dependency) — never a traceback, an internal error (1), a hang
or a result made up from nothing."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from edgedigits import cli
from edgedigits.imageio import write_image
from runtime_fixtures import ensure_models


@pytest.fixture(scope="module")
def models() -> Path:
    return ensure_models()


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


HOSTILE_IMAGES = {
    "empty.png": b"",
    "text.png": b"hello, I am not an image\n",
    "truncated.png": _png_declaring(64, 64)[:40],
    "bomb.png": _png_declaring(40_000, 40_000),
    "zero.pgm": b"P5\n0 0\n255\n",
    "lying.pgm": b"P5\n100 100\n255\n" + b"\0" * 10,
    "random.jpg": b"\xff\xd8\xff" + os.urandom(500),
    "bad.npy": b"\x93NUMPY garbage",
}


@pytest.mark.parametrize("command", ["predict", "read"])
@pytest.mark.parametrize("name", sorted(HOSTILE_IMAGES))
def test_hostile_images_are_input_errors(capsys, tmp_path, models, command, name):
    path = tmp_path / name
    path.write_bytes(HOSTILE_IMAGES[name])
    good = write_image(tmp_path / "good.png", np.full((40, 40), 255, np.uint8))
    code = cli.main([command, "--model", str(models), "--json", str(path), str(good)])
    out, err = capsys.readouterr()
    assert code == 4, err
    assert "Traceback" not in err and "internal error" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1  # one line, for the one bad file
    records = [json.loads(line) for line in out.splitlines()]  # stdout stays valid JSON Lines
    assert [r["path"] for r in records] == [str(path), str(good)] and "error" in records[0]


def test_special_files_as_images_are_input_errors(capsys, tmp_path, models):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    (tmp_path / "folder.png").mkdir()
    for target in (fifo, tmp_path / "folder.png", tmp_path / "missing.png"):
        code = cli.main(["predict", "--model", str(models), str(target)])
        err = capsys.readouterr().err
        assert code == 4 and "Traceback" not in err, (target, err)


HOSTILE_MODELS = {
    "empty.int8.tflite": b"",
    "random.int8.tflite": os.urandom(2048),
    "text.f32.onnx": b"ir_version: 7\n",
    "onnx-as-tflite.int8.tflite": b"\x08\x07\x12\x04test",
    "manifest.json": b"[1, 2, 3]",
}


@pytest.mark.parametrize("command", [["info"], ["predict", "x.png"], ["read", "x.png"]])
@pytest.mark.parametrize("name", sorted(HOSTILE_MODELS))
def test_hostile_model_files_are_model_errors(capsys, tmp_path, command, name):
    model = tmp_path / name
    model.write_bytes(HOSTILE_MODELS[name])
    write_image(tmp_path / "x.png", np.zeros((28, 28), np.uint8))
    argv = [command[0], "--model", str(model)] + [str(tmp_path / a) for a in command[1:]]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 3, err
    assert "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("argv", [["read"], ["predict"], ["read", "x.png", "--workers", "0"],
                                  ["camera", "--max-frames", "-1"], ["nonsense"]])
def test_bad_command_lines_are_usage_errors(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


# ---------------------------------------------------------------- models that cannot take a 28x28 image


def _tflite_with_input_tensor(data: bytes, shape: tuple[int, ...]) -> bytes:
    """The model with its input tensor's shape rewritten; its shape_signature still says [-1, 28, 28, 1]."""
    declared = struct.pack("<5i", 4, 1, 28, 28, 1)
    assert data.count(declared) == 1, "the tiny model's input shape vector was not found once"
    return data.replace(declared, struct.pack("<5i", 4, *shape))


def _onnx_reshaping_to(path: Path, side: int) -> bytes:
    """The ONNX model still declares [N, 28, 28, 1], but its first Reshape asks for side x side."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    model = onnx.load(str(path))
    first = model.graph.node[0]
    assert first.op_type == "Reshape"
    for init in model.graph.initializer:
        if init.name == first.input[1]:
            init.CopyFrom(numpy_helper.from_array(np.array([-1, 1, side, side], np.int64), init.name))
    return model.SerializeToString()


@pytest.mark.parametrize("command", ["predict", "read", "info"])
@pytest.mark.parametrize("kind", ["tflite-tensor", "onnx-graph"])
def test_a_model_that_cannot_take_a_28x28_image_is_a_model_error(capfd, tmp_path, models, command, kind):
    """Its declared input is [N, 28, 28, 1] but it really takes 32x32: refused when loaded (exit 3, the
    measured shapes), never blamed on the image (exit 4) nor an internal error, on any command."""
    if kind == "tflite-tensor":
        model = tmp_path / "lying.int8.tflite"
        model.write_bytes(_tflite_with_input_tensor((models / "tiny.int8.tflite").read_bytes(), (1, 32, 32, 1)))
    else:
        model = tmp_path / "lying.f32.onnx"
        model.write_bytes(_onnx_reshaping_to(models / "tiny.f32.onnx", 32))
    image = write_image(tmp_path / "seven.png", np.pad(np.full((20, 4), 255, np.uint8), 10))
    argv = [command, "--model", str(model), "--json"] + ([] if command == "info" else [str(image)])
    code = cli.main(argv)
    out, err = capfd.readouterr()
    assert code == 3, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("edgedigits: error: "), err
    assert "[-1, 28, 28, 1]" in err and str(image) not in err and out == ""  # what it declares, and no blame
    if kind == "tflite-tensor":
        assert "[1, 32, 32, 1]" in err and "expected [N, 28, 28, 1]" in err  # what it holds, what is needed
    else:
        assert "[1, 28, 28, 1]" in err and "{-1,1,32,32}" in err  # what it was given, what its graph wanted


# ---------------------------------------------------------------- stdout carries only our output


BANNER = b"*** native provider banner on stdout ***\n"


def _printing_banner(real):
    def make(*args, **kwargs):
        os.write(1, BANNER)  # what a C++ library's printf does: past sys.stdout, straight to fd 1
        return real(*args, **kwargs)
    return make


@pytest.mark.parametrize("command", ["predict", "read", "info"])
@pytest.mark.parametrize("fmt", ["onnx-int8", "tflite-int8"])
@pytest.mark.parametrize("banner", [False, True], ids=["as-installed", "banner"])
def test_json_stdout_is_only_json_whatever_the_interpreter_prints(capfd, monkeypatch, tmp_path, models, command,
                                                                   fmt, banner):
    """onnxruntime 1.31 here prints nothing when a session is made ("as-installed"); other builds print
    a provider banner, and LiteRT its INFO lines, from C++ straight to the file descriptors ("banner")."""
    if banner and fmt.startswith("onnx"):
        import onnxruntime
        monkeypatch.setattr(onnxruntime, "InferenceSession", _printing_banner(onnxruntime.InferenceSession))
    elif banner:
        import ai_edge_litert.interpreter as litert
        monkeypatch.setattr(litert, "Interpreter", _printing_banner(litert.Interpreter))
    image = write_image(tmp_path / "one.png", np.pad(np.full((20, 4), 255, np.uint8), 10))
    argv = [command, "--model", str(models), "--format", fmt, "--json"] + ([] if command == "info" else [str(image)])
    code = cli.main(argv)
    out, err = capfd.readouterr()
    assert code == 0, err
    records = [json.loads(out)] if command == "info" else [json.loads(line) for line in out.splitlines()]
    assert records and "Traceback" not in err
    assert (BANNER.decode().strip() in err) == banner  # passed on to stderr, not lost


# ---------------------------------------------------------------- image libraries' chatter


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_with_bad_colour_profile(image: np.ndarray, *, damaged: bool = False) -> bytes:
    """A grey PNG with an iCCP chunk that holds no ICC profile (libpng warns "iCCP: ..."); `damaged`
    also breaks the pixel data's checksum (libpng errors out)."""
    height, width = image.shape
    rows = b"".join(b"\0" + image[y].tobytes() for y in range(height))
    pixels = _chunk(b"IDAT", zlib.compress(rows))
    if damaged:
        pixels = pixels[:-4] + bytes(4)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _chunk(b"iCCP", b"bogus\0\0" + zlib.compress(b"not an ICC profile " * 8)) + pixels
            + _chunk(b"IEND", b""))


def _jpeg_with_corrupt_scan(image: np.ndarray) -> bytes:
    """A JPEG whose entropy-coded data is damaged midway: libjpeg decodes it, saying "Corrupt JPEG data"."""
    cv2 = pytest.importorskip("cv2")
    data = bytearray(cv2.imencode(".jpg", image)[1].tobytes())
    middle = len(data) // 2
    data[middle:middle + 8] = b"\xff\xd9\x00\x00\xff\xd0\x12\x34"
    return bytes(data)


def _digit_like(side: int) -> np.ndarray:
    image = np.full((side, side), 255, np.uint8)
    image[side // 5: -side // 5, side // 2 - side // 20: side // 2 + side // 20] = 0
    return image


@pytest.mark.parametrize("command", ["predict", "read"])
def test_image_library_warnings_stay_off_both_outputs(capfd, tmp_path, models, command):
    """A PNG with a bad colour profile and a JPEG with damaged data both decode: the answer on stdout
    (strict JSON), and nothing from libpng or libjpeg on stderr."""
    pytest.importorskip("cv2")
    png = tmp_path / "bad-profile.png"
    png.write_bytes(_png_with_bad_colour_profile(_digit_like(40)))
    jpeg = tmp_path / "damaged.jpg"
    jpeg.write_bytes(_jpeg_with_corrupt_scan(_digit_like(200)))
    code = cli.main([command, "--model", str(models), "--json", str(png), str(jpeg)])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert [json.loads(line)["path"] for line in out.splitlines()] == [str(png), str(jpeg)]
    assert err == ""


@pytest.mark.parametrize("command", ["predict", "read"])
def test_a_broken_image_is_one_line_whatever_the_library_says(capfd, tmp_path, models, command):
    pytest.importorskip("cv2")
    broken = tmp_path / "bad-profile-bad-pixels.png"
    broken.write_bytes(_png_with_bad_colour_profile(_digit_like(40), damaged=True))
    code = cli.main([command, "--model", str(models), "--json", str(broken)])
    out, err = capfd.readouterr()
    assert code == 4
    assert len(err.splitlines()) == 1 and err.startswith(f"edgedigits: error: {broken}: "), err
    assert "IDAT: CRC error" in err  # what stopped libpng, in that one line
    assert [json.loads(line)["path"] for line in out.splitlines()] == [str(broken)]


def test_an_error_message_of_several_lines_is_printed_as_one(capsys, monkeypatch):
    """Interpreters' exception texts can span lines; the CLI's one exit point joins them."""
    def fails(args):
        raise cli.CliError("onnxruntime could not load the model: FAIL\n  at node Reshape\n", cli.EXIT_MODEL)
    monkeypatch.setattr(cli, "cmd_info", fails)
    code = cli.main(["info"])
    err = capsys.readouterr().err
    assert code == 3 and err == "edgedigits: error: onnxruntime could not load the model: FAIL at node Reshape\n"

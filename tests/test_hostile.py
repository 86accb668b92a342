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

"""The camera loop: a video file through the real CLI, missing devices, and the source always released."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgedigits import camera, cli
from runtime_fixtures import ensure_models, load_mnist_slice

cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="session")
def models() -> Path:
    return ensure_models()


@pytest.fixture(scope="session")
def video(tmp_path_factory) -> tuple[Path, str]:
    """8 frames (MJPG .avi) of five dark MNIST digits on white, drifting right by 4 px per frame."""
    images, labels = load_mnist_slice("t10k", 5)
    path = tmp_path_factory.mktemp("video") / "digits.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (480, 160))
    assert writer.isOpened()
    try:
        for t in range(8):
            frame = np.full((160, 480, 3), 255, np.uint8)
            for i, image in enumerate(images):
                x = 30 + 4 * t + i * 84
                frame[50:106, x:x + 56] = 255 - cv2.resize(image, (56, 56))[..., None]
            writer.write(frame)
    finally:
        writer.release()
    return path, "".join(str(d) for d in labels)


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_camera_video_json_max_frames_and_save_dir(capsys, tmp_path, models, video):
    path, text = video
    code, out, err = run(capsys, "camera", "--model", models, "--video", path, "--max-frames", 5, "--json",
                         "--no-display", "--save-dir", tmp_path / "frames")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["frame"] for r in records] == [1, 2, 3, 4, 5]
    assert all(r["fps"] > 0 and r["ms"] > 0 for r in records)
    read = [r["lines"][0]["text"] if r["lines"] else "" for r in records]
    assert sum(t == text for t in read) >= 4, read  # MJPG artefacts may cost a digit, rarely
    saved = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert saved == [f"frame-{i:06d}.png" for i in range(1, 6)]
    assert cv2.imread(str(tmp_path / "frames" / saved[0])).shape == (160, 480, 3)
    assert "5 frames" in err and "stopped by max-frames" in err


def test_camera_video_runs_to_the_end(capsys, models, video):
    path, text = video
    code, out, err = run(capsys, "camera", "--model", models, "--video", path, "--max-frames", 100)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 8 and "fps" in lines[0]
    assert sum(line.endswith(text) for line in lines) >= 6
    assert "stopped by end" in err


def test_missing_camera_device_is_a_clear_error(capsys, models):
    code, out, err = run(capsys, "camera", "--model", models, "--device", 97, "--max-frames", 1)
    assert code == 5
    assert err.strip().splitlines() == [err.strip()] and "camera device 97" in err


def test_missing_or_broken_video_is_an_input_error(capsys, tmp_path, models):
    code, _, err = run(capsys, "camera", "--model", models, "--video", tmp_path / "none.avi")
    assert code == 4 and "video file not found" in err
    (tmp_path / "text.avi").write_text("not a video")
    code, _, err = run(capsys, "camera", "--model", models, "--video", tmp_path / "text.avi")
    assert code == 4 and "cannot open as a video" in err


def test_device_and_video_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["camera", "--device", "0", "--video", "x.avi"])
    assert exit_info.value.code == 2


# ---------------------------------------------------------------- the loop, with stand-ins


class FakeSource(camera.FrameSource):
    name = "fake"

    def __init__(self, frames: int, fail_at: int | None = None, error=KeyboardInterrupt):
        self.frames, self.fail_at, self.error = frames, fail_at, error
        self.reads = 0
        self.closed = False

    def read(self):
        self.reads += 1
        if self.fail_at is not None and self.reads == self.fail_at:
            raise self.error()
        return np.zeros((10, 10), np.uint8) if self.reads <= self.frames else None

    def close(self):
        self.closed = True


class FakeResult:
    def to_dict(self):
        return {"lines": [{"text": "42", "digits": []}]}


class FakeReader:
    def read(self, frame):
        return FakeResult()


def test_ctrl_c_stops_the_loop_and_the_source_is_released(tmp_path):
    source = FakeSource(frames=10, fail_at=4)
    with source:
        stats = camera.run_loop(FakeReader(), source, out=open(tmp_path / "out.txt", "w"))
    assert source.closed and stats.frames == 3 and stats.stopped_by == "user"


def test_source_released_when_the_loop_fails(tmp_path):
    source = FakeSource(frames=10, fail_at=2, error=lambda: camera.CameraError("unplugged"))
    with pytest.raises(camera.CameraError):
        with source:
            camera.run_loop(FakeReader(), source, out=open(tmp_path / "out.txt", "w"))
    assert source.closed


def test_loop_prints_digits_and_fps_per_frame(tmp_path):
    out_path = tmp_path / "out.txt"
    with FakeSource(frames=3) as source, open(out_path, "w") as out:
        stats = camera.run_loop(FakeReader(), source, out=out)
    lines = out_path.read_text().splitlines()
    assert stats.frames == 3 and stats.stopped_by == "end" and len(lines) == 3
    assert all(line.endswith("42") and " fps " in line for line in lines)
    with pytest.raises(ValueError, match="max_frames"):
        camera.run_loop(FakeReader(), FakeSource(1), max_frames=0)

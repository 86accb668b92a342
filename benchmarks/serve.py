"""Frames per second of `edgedigits serve` with 0, 1 and 5 clients watching the MJPEG stream,
against `edgedigits camera --no-display` on the same clip.

The clip is generated frames (the "640x480-10" set: 640x480, about ten digits each) written as an
MJPG .avi declaring a camera's 30 frames per second. `camera --video` reads every frame as fast as
it can; `serve --video` plays the file at its declared rate, as a camera delivers frames, and reads
the newest one whenever the reader is free. Both run as a user runs them (fresh processes, one
interpreter thread); serve's rate is frames read (from /healthz) over a timed window after a
warm-up, and each client's rate is the JPEG parts it received over the same window.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CLIP_FRAMES = 40
CLIP_FPS = 30.0
CLIENTS = (0, 1, 5)
WINDOW_S = 12.0
WARMUP_S = 3.0


def write_clip(path: Path, images, labels, frames: int = CLIP_FRAMES, fps: float = CLIP_FPS, seed: int = 11) -> Path:
    import cv2

    from benchmarks.frames import make_frames

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write an MJPG video")
    try:
        for frame, _text in make_frames("640x480-10", frames, seed, images, labels):
            writer.write(frame)
    finally:
        writer.release()
    return path


def camera_fps(model: Path, clip: Path, frames: int) -> dict:
    """`edgedigits camera --video clip --no-display`: frames and fps as it reports them."""
    command = [sys.executable, "-m", "edgedigits", "--model", str(model), "camera", "--video", str(clip),
               "--no-display", "--max-frames", str(frames)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    match = re.search(r"(\d+) frames in ([\d.]+) s \(([\d.]+) fps\)", done.stderr)
    if match is None:
        raise RuntimeError(f"camera printed no frame count: {done.stderr[-500:]}")
    return {"frames": int(match.group(1)), "seconds": float(match.group(2)), "fps": float(match.group(3))}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get_json(port: int, path: str) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}")
        return json.loads(body)
    finally:
        connection.close()


class _Watcher(threading.Thread):
    """A client watching /stream.mjpg: counts the JPEG parts it receives."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.parts = 0
        self.stop = threading.Event()
        self.error = None

    def run(self) -> None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            connection.request("GET", "/stream.mjpg")
            response = connection.getresponse()
            length = None
            while not self.stop.is_set():
                line = response.readline()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                elif line == b"\r\n" and length is not None:  # the end of a part's headers
                    response.read(length)
                    length = None
                    self.parts += 1
            response.close()
            connection.close()
        except Exception as error:  # noqa: BLE001 - reported with the numbers
            self.error = repr(error)


def serve_fps(model: Path, clip: Path, clients: int, window_s: float = WINDOW_S) -> dict:
    """Frames read per second by `edgedigits serve --video clip` while `clients` watch the stream."""
    port = _free_port()
    command = [sys.executable, "-m", "edgedigits", "--model", str(model), "serve", "--video", str(clip),
               "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watchers = []
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve stopped: {process.stderr.read().decode()[-500:]}")
            try:
                if _get_json(port, "/healthz")["frames_read"] > 0:
                    break
            except (OSError, RuntimeError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not start within 60 s")
            time.sleep(0.2)
        watchers = [_Watcher(port) for _ in range(clients)]
        for watcher in watchers:
            watcher.start()
        time.sleep(WARMUP_S)
        before = _get_json(port, "/healthz")
        parts_before = [w.parts for w in watchers]
        started = time.monotonic()
        time.sleep(window_s)
        after = _get_json(port, "/healthz")
        seconds = time.monotonic() - started
        parts = [w.parts - b for w, b in zip(watchers, parts_before)]
        frames = after["frames_read"] - before["frames_read"]
        return {"clients": clients, "frames": frames, "seconds": round(seconds, 2),
                "fps": round(frames / seconds, 2), "read_ms": after["read_ms"],
                "captured_fps": round((after["frames_captured"] - before["frames_captured"]) / seconds, 2),
                "client_fps": [round(p / seconds, 2) for p in parts],
                "client_errors": [w.error for w in watchers if w.error]}
    finally:
        for watcher in watchers:
            watcher.stop.set()
        process.send_signal(2)  # SIGINT: the camera is released, the process says how many frames it read
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for watcher in watchers:
            watcher.join(5)


def measure(model: Path, images, labels, frames: int = CLIP_FRAMES, clients=CLIENTS,
            window_s: float = WINDOW_S, clip_fps: float = CLIP_FPS) -> dict:
    with tempfile.TemporaryDirectory(prefix="edgedigits-serve-") as tmp:
        clip = write_clip(Path(tmp) / "clip.avi", images, labels, frames, clip_fps)
        camera = camera_fps(model, clip, frames)
        served = {count: serve_fps(model, clip, count, window_s) for count in clients}
    return {"camera": camera, "serve": served, "clip": {"frames": frames, "declared_fps": clip_fps,
                                                        "size": [640, 480], "set": "640x480-10"}}

"""`edgedigits serve`: stability, regions, the HTTP API and its safety, MQTT against a real mosquitto,
the real command line, and the page in a real (headless) Chromium driven through the DevTools
protocol: the digits shown, the picture moving, and a region drawn with the mouse and saved.

The clip is one clean frame of the project's frame generator (benchmarks/framegen.py) drifting
sideways, written as MJPG into tmp; the model is the tiny test model the other runtime tests use.
Servers run in-process on 127.0.0.1 and a free port, except where the command line itself is tested.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from edgedigits import cli, serve
from edgedigits.serve import MqttConfig, Region, ServeConfig, ServeError, Service, make_server
from edgedigits.stability import Stability, StableText
from runtime_fixtures import REPO, ensure_models, load_mnist_slice

cv2 = pytest.importorskip("cv2")

TOKEN = "s3cret-token"
CLIP_FPS = 20.0


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def models() -> Path:
    return ensure_models()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """(path, [line texts], [line boxes x,y,w,h]): a clean generated frame, 24 frames drifting ±5 px."""
    from benchmarks import framegen

    images, labels = load_mnist_slice("t10k", 200)
    options = framegen.FrameOptions(clean=True, max_lines=2, max_digits_per_line=6, min_digit_height=30,
                                    max_digit_height=60)
    frame, truth = framegen.generate_frame(np.random.default_rng(5), images, labels, options=options,
                                           frame_size=(640, 480))
    assert len(truth) == 2, [t.text for t in truth]  # seed 5 draws two lines; the tests rely on it
    path = tmp_path_factory.mktemp("clip") / "digits.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), CLIP_FPS, (640, 480))
    assert writer.isOpened()
    for t in range(24):
        shift = np.float32([[1, 0, abs(t % 12 - 6) - 3], [0, 1, 0]])
        writer.write(cv2.warpAffine(frame, shift, (640, 480), borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    boxes = []
    for line in truth:
        x0, y0 = line.quad.min(axis=0)
        x1, y1 = line.quad.max(axis=0)
        pad = 0.3 * (y1 - y0)
        boxes.append([int(x0 - 2 * pad), int(y0 - pad), int(x1 - x0 + 4 * pad), int(y1 - y0 + 2 * pad)])
    return path, [line.text for line in truth], boxes, frame


def _reader(models):
    from edgedigits.classifier import load
    from edgedigits.reader import FrameReader, draw_annotations

    return FrameReader(load(models, threads=1)), draw_annotations


class Running:
    """A Service and its HTTP server on a free port, in this process."""

    def __init__(self, service: Service, config: ServeConfig):
        self.service = service
        self.server = make_server(service, config)
        self.port = self.server.server_address[1]
        service.start()
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def request(self, method, path, body=None, headers=None, token=TOKEN, timeout=10.0):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = dict(headers or {})
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def json(self, path, **kwargs):
        status, headers, body = self.get(path, **kwargs)
        assert status == 200, (status, body[:300])
        return json.loads(body)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.service.stop()


def start_clip_server(models, clip, **options) -> Running:
    from edgedigits.camera import open_source

    config = ServeConfig(host="127.0.0.1", port=0, token=options.pop("token", TOKEN), **options)
    reader, draw = _reader(models)
    service = Service(reader, draw, lambda: open_source(video=clip[0]), config,
                      info={"model": str(models), "format": "tflite-int8", "backend": "test"}, log=lambda m: None)
    return Running(service, config)


def wait_for(condition, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def running(models, clip):
    """The clip served whole (no regions), token required, small upload limits."""
    run = start_clip_server(models, clip, max_upload_bytes=256 * 1024, max_upload_pixels=4_000_000)
    wait_for(lambda: run.service.frames_read >= 3, what="first readings")
    yield run
    run.stop()


def latest_when(run: Running, condition, what: str, token=TOKEN) -> dict:
    """/api/latest once `condition(latest)` holds (503 'no frame read yet' counts as not yet)."""
    def check():
        status, _, body = run.get("/api/latest", token=token)
        if status == 503:
            return None
        assert status == 200, (status, body[:300])
        latest = json.loads(body)
        return latest if condition(latest) else None
    return wait_for(check, what=what)


def _texts(latest: dict, region: str | None = None) -> list[str]:
    return [line["text"] for line in latest["lines"] if region is None or line["region"] == region]


# ---------------------------------------------------------------- stability (unit)


def test_stable_text_k_of_n():
    tracker = StableText(3, 5)
    states = [tracker.update(t) for t in ["12", "12", "17", "12", "17", "17", "17", "12"]]
    # frame 4: "12" in 3 of 5; frame 6: the window is 12 17 12 17 17, so "17" takes over
    assert [s.stable for s in states] == [False, False, False, True, False, True, True, False]
    assert [s.changed for s in states] == [False, False, False, True, False, True, False, False]
    assert [s.text for s in states] == [None, None, None, "12", "12", "17", "17", "17"]
    assert states[3].previous is None and states[5].previous == "12"
    assert tracker.published == "17"


def test_stable_text_flicker_never_publishes_and_unsure_text_is_never_published():
    for k, n in ((3, 4), (4, 5), (2, 2), (4, 6)):
        assert Stability(k, n).holds_back_flicker
        flicker = StableText(k, n)
        assert not any(flicker.update(t).stable for t in ["12", "17"] * 10), (k, n)
    assert not Stability(3, 5).holds_back_flicker  # K <= ceil(N/2): a 12/17 flicker is 3 of 5 every other frame
    loose = StableText(2, 5)
    states = [loose.update(t) for t in ["12", "12", "17", "17", "17", "17"]]
    assert [s.text for s in states] == [None, "12", "12", "12", "12", "17"]  # it holds while it has K
    unsure = StableText(2, 3)
    states = [unsure.update(t) for t in ["1?", "1?", "", "", "", "15", "15"]]
    assert [s.stable for s in states] == [False, True, False, True, True, False, True]
    assert [s.changed for s in states] == [False] * 6 + [True]  # '?' and '' are stable, never published
    every_frame = StableText(1, 1)
    assert [every_frame.update(t).changed for t in ["5", "5", "6", "5"]] == [True, False, True, True]


def test_stability_parse_and_validation():
    assert Stability.parse("3/5") == Stability(3, 5) and str(Stability.parse(" 2 / 4 ")) == "2/4"
    for bad in ("5/3", "0/2", "3", "a/b", "3/5000"):
        with pytest.raises(ValueError):
            Stability.parse(bad)


def test_regions_and_config_validation(tmp_path):
    assert Region.parse("meter=10,20,100,40") == Region("meter", 10, 20, 100, 40)
    assert Region.parse("1,2,30,40", 2).name == "region2"
    for bad in ("m=1,2,3", "m=a,b,c,d", "bad name=1,2,30,40", "m=-1,0,30,40", "m=0,0,2,2", "../x=1,1,30,30"):
        with pytest.raises(ServeError):
            Region.parse(bad)
    with pytest.raises(ServeError, match="unique"):
        ServeConfig(regions=(Region("a", 0, 0, 10, 10), Region("a", 5, 5, 10, 10)))
    with pytest.raises(ServeError):
        ServeConfig(regions=(Region("frame", 0, 0, 10, 10),))
    for bad in (dict(port=70000), dict(fps=0), dict(token="has space"), dict(token=""), dict(host="")):
        with pytest.raises(ServeError):
            ServeConfig(**bad)
    assert ServeConfig().host == "127.0.0.1" and ServeConfig().loopback and not ServeConfig(host="0.0.0.0").loopback
    assert MqttConfig.parse("broker.lan:1884", "home/meter") == MqttConfig("broker.lan", 1884, "home/meter")
    assert MqttConfig.parse("[::1]", "t").host == "::1"
    with pytest.raises(ServeError):
        MqttConfig.parse("host:1883", "home/#")
    # the config file: saved atomically, read back, bad content refused
    path = tmp_path / "serve.json"
    assert serve.load_config(path) == ()
    serve.save_config(path, (Region("a", 1, 2, 30, 40),))
    assert serve.load_config(path) == (Region("a", 1, 2, 30, 40),)
    path.write_text('{"regions": {"a": [1, 2, 3]}}')
    with pytest.raises(ServeError, match="serve.json"):
        serve.load_config(path)


# ---------------------------------------------------------------- the API on the clip


def test_token_missing_wrong_and_right_in_header_and_query(running):
    for path in ("/", "/api/latest", "/healthz", "/stream.mjpg", "/no/such/page"):
        status, headers, body = running.get(path, token=None)
        assert status == 401 and headers["Content-Type"] == "application/json", (path, status)
        assert "token" in json.loads(body)["error"] and headers["WWW-Authenticate"].startswith("Bearer")
        assert running.get(path, token="wrong")[0] == 401
        assert running.get(f"{path}?token=wrong", token=None)[0] == 401
    assert running.get("/healthz")[0] == 200                                  # header
    assert running.get(f"/healthz?token={TOKEN}", token=None)[0] == 200      # query
    assert running.get("/", token=None, headers={"Authorization": f"bearer {TOKEN}"})[0] == 200
    status, headers, body = running.get("/no/such/page")
    assert status == 404 and json.loads(body)["error"].startswith("no such page")


def test_latest_reads_the_clip_and_becomes_stable(running, clip):
    latest = latest_when(running, lambda r: r["stable"], "a stable reading")
    assert _texts(latest) == clip[1]
    assert latest["regions"]["frame"]["text"] == "\n".join(clip[1])
    assert latest["regions"]["frame"]["stable"] is True and latest["regions"]["frame"]["box"] == [0, 0, 640, 480]
    assert latest["size"] == [640, 480] and latest["ms"] > 0 and latest["frame"] >= 1
    assert latest["time"].endswith("+00:00") and abs(latest["timestamp"] - time.time()) < 60
    digit = latest["lines"][0]["digits"][0]
    assert set(digit) == {"digit", "confidence", "box"}  # the object `read --json` prints
    history = running.json("/api/history?n=5")["readings"]
    assert history and history[-1]["text"] == "\n".join(clip[1]) and history[-1]["region"] == "frame"
    assert history[-1]["crop"].startswith("data:image/jpeg;base64,")
    for bad in ("n=0", "n=x", "n=100000"):
        status, _, body = running.get(f"/api/history?{bad}")
        assert status == 400 and "error" in json.loads(body)


def test_healthz(running):
    health = running.json("/healthz")
    assert health["status"] == "ok" and health["model"] and health["backend"] == "test"
    assert health["frames_read"] >= 3 and health["uptime_s"] > 0 and health["last_error"] is None
    assert health["source"].endswith("digits.avi") and health["stable"] == "3/4" and health["mqtt"] is None


def test_upload_is_read_once_and_annotated(running, clip):
    ok, png = cv2.imencode(".png", clip[3])
    status, headers, body = running.request("POST", "/api/read", png.tobytes(), {"Content-Type": "image/png"})
    assert status == 200, body
    record = json.loads(body)
    assert _texts(record) == clip[1] and record["size"] == [640, 480] and "stable" not in record
    ok, jpeg = cv2.imencode(".jpg", clip[3])
    status, headers, body = running.request("POST", "/api/read?annotate=1", jpeg.tobytes(),
                                            {"Content-Type": "image/jpeg"})
    assert status == 200 and headers["Content-Type"] == "image/png"
    picture = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (480, 640, 3) and not np.array_equal(picture, clip[3])


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _raw_exchange(port: int, request: bytes) -> bytes:
    """Send bytes, read the answer until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(request)
        reply = b""
        while chunk := raw.recv(65536):
            reply += chunk
    return reply


def test_decode_image_from_memory_uses_the_file_readers_decoders_and_a_pixel_limit(clip):
    from edgedigits.imageio import MAX_PIXELS, ImageError, decode_image

    png = cv2.imencode(".png", clip[3])[1].tobytes()
    assert np.array_equal(decode_image(png, "upload"), clip[3])
    with pytest.raises(ImageError, match=r"upload: image is 640x480, more than 0.2 megapixels"):
        decode_image(png, "upload", max_pixels=200_000)
    with pytest.raises(ImageError, match="more than 200 megapixels"):  # never above the file limit
        decode_image(_png_header_only(30000, 30000), "upload", max_pixels=10 * MAX_PIXELS)
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"", "upload")


def test_bad_uploads_are_4xx_json_and_the_server_stays_up(running, clip):
    ok, jpeg = cv2.imencode(".jpg", clip[3])
    cases = [
        ("not an image", b"hello, I am text" * 10, "image/png", 400),
        ("garbage after a PNG signature", b"\x89PNG\r\n\x1a\n" + b"\0" * 500, "image/png", 400),
        ("JPEG cut short", jpeg.tobytes()[:600], "image/jpeg", 400),
        ("PNG sent as JPEG", cv2.imencode(".png", clip[3])[1].tobytes(), "image/jpeg", 400),
        ("too many bytes", b"\xff\xd8\xff" + b"\0" * (300 * 1024), "image/jpeg", 413),
        ("decompression bomb header", _png_header_only(30000, 30000), "image/png", 413),
        ("over the pixel limit", _png_header_only(4000, 1001), "image/png", 413),
        ("wrong content type", jpeg.tobytes(), "text/plain", 415),
        ("no content type", jpeg.tobytes(), None, 415),
        ("a GIF", b"GIF89a" + b"\0" * 100, "image/gif", 415),
        ("empty", b"", "image/png", 400),
    ]
    for name, body, content_type, expected in cases:
        headers = {"Content-Type": content_type} if content_type else {}
        status, reply_headers, reply = running.request("POST", "/api/read", body, headers)
        assert status == expected, (name, status, reply[:200])
        assert reply_headers["Content-Type"] == "application/json", name
        assert "error" in json.loads(reply) and b"Traceback" not in reply, name
    # no Content-Length, and a body the server must not wait for
    reply = _raw_exchange(running.port, f"POST /api/read HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                                        f"{TOKEN}\r\nContent-Type: image/png\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.0 411") and b'"error"' in reply
    # a request line the server cannot parse: JSON, not the standard library's HTML page
    reply = _raw_exchange(running.port, b"GARBAGE\r\n\r\n")
    assert b'{"error": "Bad request' in reply and b"<html" not in reply.lower()
    assert running.request("PUT", "/api/latest")[0] in (405, 501)
    assert running.request("POST", "/api/latest", b"")[0] == 405
    assert running.json("/healthz")["status"] == "ok"


def test_host_header_of_another_site_is_refused_on_loopback(running):
    status, _, body = running.get("/api/latest", headers={"Host": "attacker.example:8080"})
    assert status == 403 and "localhost" in json.loads(body)["error"]
    assert running.get("/healthz", headers={"Host": f"localhost:{running.port}"})[0] == 200


def test_concurrent_clients(running):
    failures, done = [], []

    def client(index):
        try:
            for _ in range(6):
                for path in ("/api/latest", "/frame.jpg", "/healthz", "/api/history?n=3"):
                    status, _, body = running.get(path)
                    if status != 200 or not body:
                        failures.append((index, path, status))
            done.append(index)
        except Exception as error:  # noqa: BLE001
            failures.append((index, repr(error)))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures and len(done) == 8


def _read_mjpeg_part(stream) -> tuple[int, bytes]:
    """(frame number, JPEG) of one part of a multipart/x-mixed-replace body."""
    line = stream.readline()
    while line in (b"\r\n", b""):
        if line == b"":
            raise EOFError
        line = stream.readline()
    assert line.strip() == b"--frame", line
    headers = {}
    while True:
        line = stream.readline().strip()
        if not line:
            break
        key, _, value = line.partition(b":")
        headers[key.lower()] = value.strip()
    data = stream.read(int(headers[b"content-length"]))
    stream.readline()
    return int(headers[b"x-frame"]), data


def test_a_client_dropping_mid_stream_does_not_hurt_the_server(running):
    for _ in range(3):  # open the stream, take part of a frame, vanish (RST, no goodbye)
        raw = socket.create_connection(("127.0.0.1", running.port), timeout=10)
        raw.sendall(f"GET /stream.mjpg?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        assert raw.recv(2000).startswith(b"HTTP/1.0 200")
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()
    read_before = running.service.frames_read
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    connection.request("GET", "/stream.mjpg", headers={"Authorization": f"Bearer {TOKEN}"})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Type").startswith("multipart/x-mixed-replace")
    parts = [_read_mjpeg_part(response) for _ in range(3)]
    response.close()  # the response holds the socket (HTTP/1.0): closing the connection alone keeps it open
    connection.close()
    pictures = [cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) for _, data in parts]
    assert all(p is not None and p.shape == (480, 640, 3) for p in pictures)
    numbers = [number for number, _ in parts]
    assert numbers == sorted(set(numbers)), numbers  # newer frames each time: the stream moves
    wait_for(lambda: running.service.frames_read > read_before + 3, what="the reader to go on")
    wait_for(lambda: running.service.streams == 0, what="the dropped streams to be let go")
    assert running.json("/healthz")["status"] == "ok"


def test_server_sent_events(running):
    connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    connection.request("GET", f"/api/events?token={TOKEN}")
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
    frames = []
    while len(frames) < 2:
        line = response.readline()
        assert line, "the event stream ended"
        if line.startswith(b"data: "):
            frames.append(json.loads(line[6:]))
    response.close()
    connection.close()
    assert frames[1]["frame"] > frames[0]["frame"] and "lines" in frames[0] and "regions" in frames[0]


# ---------------------------------------------------------------- regions of interest


def test_regions_are_read_alone_and_reported_under_their_names(models, clip, tmp_path):
    top, bottom = clip[2]
    config_path = tmp_path / "regions.json"
    run = start_clip_server(models, clip, regions=(Region("top", *top), Region("bottom", *bottom)),
                            config_path=config_path)
    try:
        latest = latest_when(run, lambda r: r["stable"], "stable regions")
        assert latest["regions"]["top"]["text"] == clip[1][0] and latest["regions"]["bottom"]["text"] == clip[1][1]
        assert latest["regions"]["top"]["box"] == top and set(latest["regions"]) == {"top", "bottom"}
        assert _texts(latest, "top") == [clip[1][0]] and _texts(latest, "bottom") == [clip[1][1]]
        for line in latest["lines"]:  # boxes are in frame pixels, inside their region
            x, y, w, h = latest["regions"][line["region"]]["box"]
            for digit in line["digits"]:
                bx, by, bw, bh = digit["box"]
                assert x <= bx and y <= by and bx + bw <= x + w and by + bh <= y + h
        # the page saves regions: only the top line now; kept in --config for the next start
        status, _, body = run.request("POST", "/api/config", json.dumps({"regions": {"upper": top}}),
                                      {"Content-Type": "application/json"})
        assert status == 200 and json.loads(body)["saved"] is True
        assert serve.load_config(config_path) == (Region("upper", *top),)
        assert run.json("/api/config")["regions"] == {"upper": top}
        latest = latest_when(run, lambda r: set(r["regions"]) == {"upper"}, "the new regions in use")
        assert _texts(latest) == [clip[1][0]]
        for body, content_type, expected in ((b"{nope", "application/json", 400),
                                             (b'{"regions": {"x": [1, 2]}}', "application/json", 400),
                                             (b'{"regions": {"frame": [0, 0, 50, 50]}}', "application/json", 400),
                                             (b'{"regions": {}}', "text/plain", 415)):
            status, _, reply = run.request("POST", "/api/config", body, {"Content-Type": content_type})
            assert status == expected and "error" in json.loads(reply)
        assert serve.load_config(config_path) == (Region("upper", *top),)  # bad posts changed nothing
        # an upload can be read with the regions too
        ok, png = cv2.imencode(".png", clip[3])
        status, _, body = run.request("POST", "/api/read?regions=1", png.tobytes(), {"Content-Type": "image/png"})
        assert status == 200 and list(json.loads(body)["regions"]) == ["upper"]
    finally:
        run.stop()


# ---------------------------------------------------------------- scripted reader: history, MQTT, release


class ScriptedReader:
    """Reads whatever text `self.text` holds (a test sets it), as one line of digits; with
    `self.cycle` set, its texts in turn, one per frame."""

    def __init__(self, text=""):
        self.text = text
        self.cycle: list[str] | None = None
        self.reads = 0

    def read(self, frame):
        from edgedigits.reader import Digit, Line, ReadResult

        self.reads += 1
        text = self.cycle[self.reads % len(self.cycle)] if self.cycle else self.text
        if not text:
            return ReadResult()
        digits = [Digit(int(c) if c.isdigit() else None, 0.9, (10 + 12 * i, 10, 10, 14)) for i, c in enumerate(text)]
        return ReadResult(lines=[Line(text, digits, (text,))])


class FakeSource:
    name = "fake camera"
    is_video = False

    def __init__(self, log: list):
        self.log = log
        log.append("open")

    def read(self):
        time.sleep(0.005)
        return np.full((60, 160, 3), 255, np.uint8)

    def close(self):
        self.log.append("close")


def start_scripted(reader, publisher=None, **options) -> tuple[Running, list]:
    from edgedigits.reader import draw_annotations

    log = []
    config = ServeConfig(port=0, token=None, **options)
    service = Service(reader, draw_annotations, lambda: FakeSource(log), config, source=FakeSource(log),
                      publisher=publisher, log=lambda m: None)
    return Running(service, config), log


def _wait_history(run, count, timeout=20.0) -> list[dict]:
    def enough():
        readings = run.json("/api/history?n=50", token=None)["readings"]
        return readings if len(readings) >= count else None
    return wait_for(enough, timeout=timeout, what=f"{count} stable readings")


def test_history_has_only_stable_changes_and_the_camera_is_released(monkeypatch):
    reader = ScriptedReader("12")
    run, log = start_scripted(reader, stability=Stability(3, 4))
    try:
        _wait_history(run, 1)
        start = reader.reads
        reader.cycle = ["34", "35"]   # a digit flickering frame by frame: never 3 of 4 alike
        wait_for(lambda: reader.reads > start + 40, what="40 flickering frames")
        reader.cycle = None
        reader.text = "1?"     # unsure digits: stable, never published
        start = reader.reads
        wait_for(lambda: reader.reads > start + 10)
        reader.text = "56"
        history = _wait_history(run, 2)
        assert [h["text"] for h in history] == ["12", "56"] and history[1]["previous"] == "12"
        assert [h["id"] for h in history] == [1, 2] and history[0]["frame"] < history[1]["frame"]
        latest = run.json("/api/latest", token=None)
        assert latest["regions"]["frame"]["stable_text"] == "56"
    finally:
        run.stop()
    assert log[0] == "open" and log[-1] == "close" and log.count("open") == log.count("close")


def test_a_failing_camera_is_reported_reopened_and_released(monkeypatch):
    monkeypatch.setattr(serve, "SOURCE_RETRY_S", 0.05)

    class Flaky(FakeSource):
        reads = 0

        def read(self):
            Flaky.reads += 1
            if Flaky.reads == 5:
                from edgedigits.camera import CameraError
                raise CameraError("fake camera stopped delivering frames")
            return super().read()

    from edgedigits.reader import draw_annotations

    log = []
    config = ServeConfig(port=0)
    service = Service(ScriptedReader("7"), draw_annotations, lambda: Flaky(log), config, log=lambda m: None)
    run = Running(service, config)
    try:
        wait_for(lambda: service.frames_read > 10 and log.count("open") >= 2, what="a reopened camera")
        health = run.json("/healthz", token=None)
        assert "stopped delivering" in health["last_error"] and health["status"] == "ok"
    finally:
        run.stop()
    assert log.count("open") == log.count("close")


def _mosquitto() -> str | None:
    return shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if os.path.exists(p)), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    def __init__(self, binary, folder: Path, port: int):
        self.binary, self.port = binary, port
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.log = folder / "mosquitto.log"
        self.process = None

    def start(self):
        self.process = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=self.log.open("ab"),
                                        stderr=subprocess.STDOUT)
        def accepting():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                assert self.process.poll() is None, self.log.read_text()
                return False
        wait_for(accepting, timeout=10, what="mosquitto to listen")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def test_mqtt_publishes_stable_readings_to_a_real_broker_and_reconnects(tmp_path):
    binary = _mosquitto()
    if binary is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto; .ci/run installs it): "
                    "MQTT against a real broker not tested")
    mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed (pip install "
                               "'edgedigits-runtime[mqtt]')")
    port = _free_port()
    broker = Broker(binary, tmp_path, port)
    topic = "test/edgedigits"
    got: list[tuple[str, str]] = []

    def on_message(client, userdata, message):
        got.append((message.topic, message.payload.decode()))

    publisher = serve.MqttPublisher(MqttConfig("127.0.0.1", port, topic))
    reader = ScriptedReader("12")
    run, log = start_scripted(reader, publisher=publisher, stability=Stability(2, 3))
    subscriber = None
    try:
        _wait_history(run, 1)      # "12" became stable while no broker was up
        assert not publisher.connected
        broker.start()             # the publisher finds it on its own
        wait_for(lambda: publisher.connected, timeout=30, what="the publisher to connect")
        try:
            subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="edgedigits-test-sub")
        except AttributeError:
            subscriber = mqtt.Client(client_id="edgedigits-test-sub")
        subscriber.on_message = on_message
        subscriber.connect("127.0.0.1", port)
        subscriber.subscribe([(topic, 1), (f"{topic}/status", 1)])
        subscriber.loop_start()

        def texts():
            return [json.loads(p)["text"] for t, p in got if t == topic]

        wait_for(lambda: "12" in texts(), what="the retained reading")
        wait_for(lambda: (f"{topic}/status", "online") in got, what="the retained online status")
        reader.text = "345"
        wait_for(lambda: "345" in texts(), what="the next stable reading")
        message = json.loads([p for t, p in got if t == topic][-1])
        assert message["region"] == "frame" and message["previous"] == "12" and "crop" not in message
        assert message["lines"][0]["text"] == "345" and message["time"]
        broker.stop()              # the broker goes away and comes back
        wait_for(lambda: not publisher.connected, what="the disconnection to be seen")
        reader.text = "678"
        _wait_history(run, 3)
        broker.start()
        wait_for(lambda: publisher.connected, timeout=40, what="the publisher to reconnect")
        subscriber.loop_stop()
        subscriber.reconnect()
        subscriber.subscribe([(topic, 1)])
        subscriber.loop_start()
        wait_for(lambda: "678" in texts(), what="the reading made while the broker was away")
        health = run.json("/healthz", token=None)
        assert health["mqtt"]["connected"] is True and health["mqtt"]["topic"] == topic
    finally:
        if subscriber is not None:
            subscriber.loop_stop()
            subscriber.disconnect()
        run.stop()
        broker.stop()


# ---------------------------------------------------------------- the command line and the browser


def test_serve_usage_errors(capsys, models, clip):
    video = ["--video", str(clip[0])]
    for argv, code, words in (
        (video + ["--roi", "top=1,2,3"], 2, "four integers"),
        (video + ["--stable", "9/3"], 2, "K <= N"),
        (video + ["--mqtt", "host:1883", "--mqtt-topic", "a/#"], 2, "wildcards"),
        (video + ["--token", "two words"], 2, "--token"),
        (["--video", "/no/such/clip.avi"], 4, "not found"),
    ):
        code_seen = cli.main(["serve", "--model", str(models), "--port", "0", *argv])
        err = capsys.readouterr().err
        assert code_seen == code and words in err and "Traceback" not in err, (argv, err)
    from edgedigits.camera import picamera_available

    if not picamera_available():
        assert cli.main(["serve", "--model", str(models), "--port", "0", "--picamera"]) == 6
        assert "picamera2" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--model", str(models), "--video", str(clip[0]), "--port", str(port)]) == 2
        assert "cannot serve on 127.0.0.1" in capsys.readouterr().err


def _chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.fixture(scope="module")
def cli_server(models, clip, tmp_path_factory):
    """`edgedigits serve --video clip --config regions.json` as a user starts it, on a free port."""
    folder = tmp_path_factory.mktemp("cli-serve")
    config = folder / "regions.json"
    top, bottom = clip[2]
    config.write_text(json.dumps({"regions": {"top": top, "bottom": bottom}}))
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO / "runtime"))
    process = subprocess.Popen([sys.executable, "-m", "edgedigits", "serve", "--model", str(models), "--video",
                                str(clip[0]), "--port", str(port), "--token", TOKEN, "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=folder)
    base = f"http://127.0.0.1:{port}"

    def up():
        assert process.poll() is None, process.stderr.read().decode()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", f"/api/latest?token={TOKEN}")
            response = connection.getresponse()
            body = response.read()
            return response.status == 200 and json.loads(body)["stable"]
        except OSError:
            return False

    try:
        wait_for(up, timeout=60, interval=0.2, what="serve to answer with a stable reading")
        yield process, base, folder
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


class DevTools:
    """Headless Chromium driven through the DevTools protocol over --remote-debugging-pipe (the
    browser reads commands on its fd 3 and answers on fd 4; bash puts the pipe's ends there)."""

    def __init__(self, binary: str, profile: Path, size=(1000, 700)):
        import fcntl

        to_browser, self._to_browser = os.pipe()
        self._from_browser, from_browser = os.pipe()
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5) for fd in (to_browser, from_browser)]
        os.close(to_browser)
        os.close(from_browser)
        r, w = ends
        arguments = ["--headless", "--disable-gpu", "--no-sandbox", "--remote-debugging-pipe",
                     f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", "about:blank"]
        self.process = subprocess.Popen(["bash", "-c", f'exec "$0" "$@" 3<&{r} 4>&{w} {r}<&- {w}>&-', binary,
                                         *arguments], pass_fds=ends, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        for fd in ends:
            os.close(fd)
        self._buffer = b""
        self._id = 0
        self.prompt_answer = None
        self.session = None
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable")

    def _write(self, message: dict) -> None:
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")

    def _read(self, timeout: float) -> dict:
        import select

        while b"\0" not in self._buffer:
            if not select.select([self._from_browser], [], [], timeout)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise EOFError("chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, timeout: float = 30.0) -> dict:
        self._id += 1
        wanted = self._id
        message = {"id": wanted, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        self._write(message)
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read(max(0.1, deadline - time.monotonic()))
            if answer.get("method") == "Page.javascriptDialogOpening":  # the page's prompt() for a name
                self._id += 1
                self._write({"id": self._id, "method": "Page.handleJavaScriptDialog", "sessionId": self.session,
                             "params": {"accept": True, "promptText": self.prompt_answer or ""}})
            if answer.get("id") == wanted:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        return result.get("result", {}).get("value")

    def drag(self, start, end) -> None:
        mouse = {"button": "left", "clickCount": 1}
        self.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": start[0], "y": start[1], **mouse})
        for step in (0.5, 1.0):
            x, y = (start[0] + step * (end[0] - start[0]), start[1] + step * (end[1] - start[1]))
            self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "button": "left",
                                                   "buttons": 1})
        self.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": end[0], "y": end[1], **mouse})

    def close(self) -> None:
        os.close(self._to_browser)
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._from_browser)


def test_page_in_headless_chromium_shows_the_digits_and_updates(cli_server, clip):
    binary = _chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it): "
                    "the page was not tested in a real browser")
    process, base, folder = cli_server
    browser = DevTools(binary, folder / "page-profile")
    try:
        browser.send("Page.navigate", {"url": f"{base}/?token={TOKEN}"})
        shown = "JSON.stringify([...document.querySelectorAll('.digits')].map((e) => e.textContent))"
        wait_for(lambda: json.loads(browser.evaluate(shown) or "[]") == clip[1], what="the clip's digits on the page")
        regions = browser.evaluate("[...document.querySelectorAll('.region')].map((e) => e.dataset.region).join()")
        assert regions == "top,bottom"
        assert browser.evaluate("document.querySelectorAll('.mark.stable').length") == 2  # "✓ stable" on both
        assert float(browser.evaluate("document.getElementById('fps').textContent")) > 0
        history = "JSON.stringify([...document.querySelectorAll('#history .v')].map((e) => e.textContent))"
        wait_for(lambda: set(clip[1]) <= set(json.loads(browser.evaluate(history))), what="the history list")
        assert browser.evaluate("document.querySelectorAll('#history img').length") >= 2  # with their crops
        # the live picture: the MJPEG stream is playing, and the page keeps moving on
        wait_for(lambda: browser.evaluate("document.getElementById('stream').naturalWidth") == 640,
                 what="the MJPEG stream in the page")
        assert browser.evaluate("document.getElementById('stream').src").endswith(f"/stream.mjpg?token={TOKEN}")
        first = int(browser.evaluate("document.getElementById('frame').textContent"))
        wait_for(lambda: int(browser.evaluate("document.getElementById('frame').textContent")) > first + 5,
                 what="later frames on the page")
        # the refreshed-JPEG mode: the picture is loaded again for every reading
        browser.send("Page.navigate", {"url": f"{base}/?token={TOKEN}&mode=jpeg"})
        wait_for(lambda: browser.evaluate("typeof stream !== 'undefined'"), what="the page")
        browser.evaluate("window.loaded = []; stream.addEventListener('load', () => "
                         "loaded.push(Number(stream.dataset.shown)))")
        loaded = wait_for(lambda: (lambda l: l if len(l) >= 3 else None)(browser.evaluate("loaded")),
                          what="three frame.jpg pictures loaded")
        assert loaded == sorted(set(loaded)) and loaded[0] > 0, loaded  # each one a newer frame
    finally:
        browser.close()


def test_regions_drawn_on_the_page_in_chromium_are_saved_and_read(cli_server, clip):
    binary = _chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it): "
                    "the region editor was not tested in a real browser")
    process, base, folder = cli_server
    port = int(base.rsplit(":", 1)[1])
    browser = DevTools(binary, folder / "devtools-profile")
    try:
        browser.send("Page.navigate", {"url": f"{base}/?token={TOKEN}"})
        wait_for(lambda: browser.evaluate("typeof frameSize !== 'undefined' && frameSize !== null"),
                 what="the page's first reading")
        browser.evaluate("document.getElementById('draw').click()")
        wait_for(lambda: browser.evaluate("editing !== null"), what="the region editor")
        assert json.loads(browser.evaluate("JSON.stringify(editing)")) == {"top": clip[2][0], "bottom": clip[2][1]}
        browser.evaluate("for (const name of Object.keys(editing)) delete editing[name]; listRegions()")
        rect = json.loads(browser.evaluate("JSON.stringify(document.getElementById('overlay').getBoundingClientRect())"))
        x, y, w, h = clip[2][0]                 # drag over the first line, in page pixels
        scale = rect["width"] / 640
        browser.prompt_answer = "upper"
        browser.drag((rect["x"] + x * scale, rect["y"] + y * scale),
                     (rect["x"] + (x + w) * scale, rect["y"] + (y + h) * scale))
        drawn = wait_for(lambda: json.loads(browser.evaluate("JSON.stringify(editing)")), what="the drawn region")
        assert list(drawn) == ["upper"] and all(abs(a - b) <= 2 for a, b in zip(drawn["upper"], clip[2][0])), drawn
        browser.evaluate("document.getElementById('save').click()")
        wait_for(lambda: browser.evaluate("document.getElementById('message').textContent") == "regions saved",
                 what="the page to say the regions were saved")
    finally:
        browser.close()
    saved = json.loads((folder / "regions.json").read_text())["regions"]
    assert list(saved) == ["upper"] and saved["upper"] == drawn["upper"]

    def upper_read():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", f"/api/latest?token={TOKEN}")
        latest = json.loads(connection.getresponse().read())
        connection.close()
        return latest if list(latest["regions"]) == ["upper"] else None

    latest = wait_for(upper_read, what="the drawn region in use")
    assert latest["regions"]["upper"]["text"] == clip[1][0]


def test_cli_serve_stops_cleanly_on_ctrl_c_with_a_client_watching(cli_server):
    process, base, folder = cli_server
    port = int(base.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # a client watching the stream
    connection.request("GET", f"/stream.mjpg?token={TOKEN}")
    assert connection.getresponse().status == 200
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0
    connection.close()
    err = process.stderr.read().decode()
    assert "serving" in err and "stopped after" in err and "Traceback" not in err, err

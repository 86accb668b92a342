"""`edgedigits serve`: the device as a service. A camera (or a looping video file) is read
continuously and served over HTTP with the standard library's ThreadingHTTPServer:

    /                 one page (phones too): the live annotated stream, the digits, regions, history
    /stream.mjpg      the annotated frames as MJPEG        /frame.jpg   the latest annotated frame
    /api/latest       the latest reading                   /api/events  server-sent events, one per reading
    /api/history?n=   the last stable changes              /api/config  regions of interest (GET, POST)
    POST /api/read    an uploaded JPEG/PNG read once (?annotate=1: the annotated PNG)
    /healthz          model, backend, uptime, frames read, last error

One capture thread keeps only the newest frame; one reader thread reads it (each region of
interest separately). The annotated picture of a reading is drawn and JPEG-encoded once, when the
first client asks for it (never when nobody watches). Clients always get the newest picture and
never queue: a slow client skips frames and slows nothing else. Readings become `stable`
when the same text was read in K of the last N frames (edgedigits.stability); only changes of a
region's stable text enter the history and go to MQTT.

Safe by default: 127.0.0.1 unless --host says otherwise; with a token every request must carry it
(`Authorization: Bearer T` or `?token=T`); uploads are bounded in bytes and pixels before they are
decoded; every error is a JSON object with a 4xx/5xx status, never a traceback; no request names
a file (the only file written is the operator's --config).
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import os
import re
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import numpy as np

from .files import write_atomic
from .imageio import MAX_PIXELS, PNG_SIGNATURE, ImageError, declared_size, decode_image, quiet_cv2
from .stability import StableText, Stability

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MAX_UPLOAD_BYTES = 16 * 1024**2       # a 12 MP phone JPEG is 3-8 MB
MAX_UPLOAD_PIXELS = 50_000_000        # declared by the header; checked before anything is decoded
MAX_CONFIG_BYTES = 64 * 1024
MAX_REGIONS = 16
HISTORY_SIZE = 100
MAX_STREAM_CLIENTS = 32               # open /stream.mjpg and /api/events connections
JPEG_QUALITY = 80
CROP_SIDE = 240                       # history crops are at most this many pixels wide or high
SSE_KEEPALIVE_S = 15.0
SOCKET_TIMEOUT_S = 30.0               # a client that stops reading is dropped after this long
SOURCE_RETRY_S = 2.0                  # a camera that failed is opened again after this long
WHOLE_FRAME = "frame"                 # the region name of the whole frame (no --roi given)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
UPLOAD_TYPES = {"image/jpeg": b"\xff\xd8\xff", "image/png": PNG_SIGNATURE}
ROI_COLOUR = (0, 215, 255)            # BGR amber: regions are drawn in it, digits in the reader's colours


class ServeError(ValueError):
    """A bad serve setting (flag or config file); the message says which and why."""


class ServiceStopped(RuntimeError):
    """The service is stopping: no new work (a picture, an upload) is started."""


class DependencyMissing(RuntimeError):
    """An optional package serve needs (paho-mqtt for --mqtt) is not installed."""


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Region:
    """A rectangle of the frame, in frame pixels, read on its own and reported under its name."""

    name: str
    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ServeError(f"region name {self.name!r}: use 1-32 letters, digits, '-' or '_'")
        for key in ("x", "y", "w", "h"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ServeError(f"region {self.name}: {key} must be an integer, got {value!r}")
        if self.x < 0 or self.y < 0:
            raise ServeError(f"region {self.name}: x and y must be >= 0, got {self.x},{self.y}")
        if self.w < 8 or self.h < 8 or self.w > 20000 or self.h > 20000:
            raise ServeError(f"region {self.name}: width and height must be 8..20000 pixels, got {self.w}x{self.h}")

    @property
    def box(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]

    @classmethod
    def parse(cls, text: str, index: int = 1) -> "Region":
        """'name=x,y,w,h' or 'x,y,w,h' (named region<index>)."""
        name, _, numbers = str(text).rpartition("=")
        parts = numbers.split(",")
        try:
            x, y, w, h = (int(part.strip()) for part in parts)
        except ValueError:
            raise ServeError(f"--roi {text!r}: expected name=x,y,w,h (four integers, in frame pixels)") from None
        return cls(name.strip() or f"region{index}", x, y, w, h)

    @classmethod
    def from_json(cls, name, box) -> "Region":
        if not isinstance(box, (list, tuple)) or len(box) != 4:
            raise ServeError(f"region {name!r}: expected [x, y, w, h], got {box!r}")
        return cls(name, *box)


def check_regions(regions) -> tuple[Region, ...]:
    regions = tuple(regions)
    if len(regions) > MAX_REGIONS:
        raise ServeError(f"at most {MAX_REGIONS} regions, got {len(regions)}")
    names = [r.name for r in regions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ServeError(f"region names must be unique: {', '.join(duplicates)} given twice")
    if WHOLE_FRAME in names:
        raise ServeError(f"{WHOLE_FRAME!r} names the whole frame; give the region another name")
    return regions


def regions_from_json(data) -> tuple[Region, ...]:
    """{"regions": {"name": [x, y, w, h], ...}} (the config file and POST /api/config)."""
    if not isinstance(data, dict) or not isinstance(data.get("regions", {}), dict):
        raise ServeError('expected {"regions": {"name": [x, y, w, h], ...}}')
    return check_regions(Region.from_json(name, box) for name, box in data.get("regions", {}).items())


def regions_to_json(regions) -> dict:
    return {"regions": {r.name: r.box for r in regions}}


def load_config(path: Path) -> tuple[Region, ...]:
    """The regions saved in a --config file; none when it does not exist yet. Raises ServeError."""
    from .files import FileRefused, read_regular_file

    try:
        data = read_regular_file(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        return ()
    except (FileRefused, OSError) as error:
        raise ServeError(f"--config {path}: cannot read ({getattr(error, 'strerror', None) or error})") from None
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ServeError(f"--config {path}: not JSON ({error})") from None
    try:
        return regions_from_json(parsed)
    except ServeError as error:
        raise ServeError(f"--config {path}: {error}") from None


def save_config(path: Path, regions) -> None:
    """Write the regions atomically (temp file + rename)."""
    write_atomic(path, (json.dumps(regions_to_json(regions), indent=2) + "\n").encode("utf-8"))


@dataclass(frozen=True)
class MqttConfig:
    host: str
    port: int = 1883
    topic: str = "edgedigits/reading"

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host):
            raise ServeError(f"--mqtt: bad broker host {self.host!r}")
        if not 0 < self.port < 65536:
            raise ServeError(f"--mqtt: port must be 1..65535, got {self.port}")
        if not self.topic or any(c in self.topic for c in "#+\0") or len(self.topic) > 200:
            raise ServeError(f"--mqtt-topic {self.topic!r}: a topic to publish to (no wildcards # or +)")

    @classmethod
    def parse(cls, address: str, topic: str) -> "MqttConfig":
        """'HOST' or 'HOST:PORT' ('[::1]:1883' for IPv6)."""
        host, port = address, 1883
        match = re.match(r"^\[(.+)\](?::(\d+))?$", address) or re.match(r"^([^:]+)(?::(\d+))?$", address)
        if match is None:
            raise ServeError(f"--mqtt {address!r}: expected HOST or HOST:PORT")
        host = match.group(1)
        if match.group(2):
            port = int(match.group(2))
        return cls(host, port, topic)


@dataclass(frozen=True)
class ServeConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT              # 0: any free port (tests)
    token: str | None = None
    fps: float | None = None              # read at most this many frames per second (None: as fast as it goes)
    regions: tuple[Region, ...] = ()
    stability: Stability = field(default_factory=Stability)
    config_path: Path | None = None       # where regions drawn on the page are saved
    mqtt: MqttConfig | None = None
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_upload_pixels: int = MAX_UPLOAD_PIXELS
    history_size: int = HISTORY_SIZE
    jpeg_quality: int = JPEG_QUALITY
    loop_video: bool = True               # a video file starts again at its end (demos)

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host):
            raise ServeError(f"--host: bad address {self.host!r}")
        if not 0 <= self.port < 65536:
            raise ServeError(f"--port must be 0..65535, got {self.port}")
        if self.token is not None:
            if len(self.token) < 1 or len(self.token) > 256 or not all(33 <= ord(c) < 127 for c in self.token):
                raise ServeError("--token: 1-256 printable ASCII characters without spaces")
        if self.fps is not None and not 0 < self.fps <= 1000:
            raise ServeError(f"--fps must be > 0 and <= 1000, got {self.fps}")
        object.__setattr__(self, "regions", check_regions(self.regions))
        if not isinstance(self.stability, Stability):
            raise ServeError(f"stability must be a Stability, got {self.stability!r}")
        if not 1024 <= self.max_upload_bytes <= 1024**3:
            raise ServeError(f"max_upload_bytes must be 1 KiB..1 GiB, got {self.max_upload_bytes}")
        if not 1 <= self.max_upload_pixels <= MAX_PIXELS:
            raise ServeError(f"max_upload_pixels must be 1..{MAX_PIXELS}, got {self.max_upload_pixels}")
        if not 1 <= self.history_size <= 10000:
            raise ServeError(f"history_size must be 1..10000, got {self.history_size}")
        if not 10 <= self.jpeg_quality <= 100:
            raise ServeError(f"jpeg_quality must be 10..100, got {self.jpeg_quality}")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- helpers


def _now() -> tuple[str, float]:
    stamp = time.time()
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="milliseconds"), round(stamp, 3)


def _cv2():
    return quiet_cv2()


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    cv2 = _cv2()
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return data.tobytes()


def _shift(result, dx: int, dy: int, limit: tuple[int, int, int, int] | None):
    """The reading with every box moved by (dx, dy) and clipped to `limit` (x0, y0, x1, y1)."""
    def move(box):
        x, y, w, h = box
        x, y = x + dx, y + dy
        if limit is not None:
            x0, y0, x1, y1 = limit
            nx, ny = max(x0, x), max(y0, y)
            w, h = max(0, min(x1, x + w) - nx), max(0, min(y1, y + h) - ny)
            x, y = nx, ny
        return (int(x), int(y), int(w), int(h))

    lines = [replace(line, digits=[replace(d, box=move(d.box)) for d in line.digits]) for line in result.lines]
    return replace(result, lines=lines)


def read_regions(reader, frame: np.ndarray, regions) -> list[tuple[str, list[int], object]]:
    """[(region name, box, reading in frame coordinates)]: the whole frame when there are no regions.

    A region is cut out with a margin of its own paper colour around it, so a digit the user's
    rectangle touches is not taken for something cut by the frame's edge."""
    height, width = frame.shape[:2]
    if not regions:
        return [(WHOLE_FRAME, [0, 0, width, height], reader.read(frame))]
    cv2 = _cv2()
    out = []
    for region in regions:
        x0, y0 = min(region.x, width), min(region.y, height)
        x1, y1 = min(region.x + region.w, width), min(region.y + region.h, height)
        box = [x0, y0, x1 - x0, y1 - y0]
        if x1 - x0 < 8 or y1 - y0 < 8:
            from .reader import ReadResult

            out.append((region.name, box, ReadResult(warnings=(f"region {region.name} is outside the "
                                                               f"{width}x{height} frame",))))
            continue
        crop = frame[y0:y1, x0:x1]
        pad = max(8, round(0.15 * min(x1 - x0, y1 - y0)))
        paper = np.median(crop.reshape(-1, crop.shape[2] if crop.ndim == 3 else 1), axis=0)
        padded = cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_CONSTANT,
                                    value=[float(v) for v in np.atleast_1d(paper)])
        out.append((region.name, box, _shift(reader.read(padded), x0 - pad, y0 - pad, (x0, y0, x1, y1))))
    return out


def draw_regions(image: np.ndarray, regions) -> np.ndarray:
    """Draw each region's rectangle and name (in place; returns the image)."""
    if not regions:
        return image
    cv2 = _cv2()
    thickness = max(1, round(max(image.shape[:2]) / 500))
    scale = max(0.4, min(0.8, max(image.shape[:2]) / 1200))
    for region in regions:
        cv2.rectangle(image, (region.x, region.y), (region.x + region.w, region.y + region.h), ROI_COLOUR,
                      thickness)
        # the name on an amber tag just above the top-left corner (inside when there is no room)
        (tw, th), base = cv2.getTextSize(region.name, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = region.y - th - base - 4 if region.y >= th + base + 4 else region.y
        cv2.rectangle(image, (region.x, top), (region.x + tw + 6, top + th + base + 4), ROI_COLOUR, -1)
        cv2.putText(image, region.name, (region.x + 3, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return image


def _crop_picture(frame: np.ndarray, lines, box: list[int]) -> str | None:
    """A small JPEG (data: URL) of what a stable reading was read from: its digits, else its region."""
    boxes = [d.box for line in lines for d in line.digits if d.box[2] > 0 and d.box[3] > 0]
    if boxes:
        x0 = min(b[0] for b in boxes)
        y0 = min(b[1] for b in boxes)
        x1 = max(b[0] + b[2] for b in boxes)
        y1 = max(b[1] + b[3] for b in boxes)
        margin = max(4, round(0.25 * (y1 - y0)))
        x0, y0, x1, y1 = x0 - margin, y0 - margin, x1 + margin, y1 + margin
    else:
        x0, y0, x1, y1 = box[0], box[1], box[0] + box[2], box[1] + box[3]
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    crop = frame[y0:y1, x0:x1]
    scale = min(1.0, CROP_SIDE / max(crop.shape[:2]))
    if scale < 1.0:
        cv2 = _cv2()
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                          interpolation=cv2.INTER_AREA)
    return "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(crop, 75)).decode("ascii")


def reading_record(parts, ms: float) -> dict:
    """The JSON of one read frame: `read --json`'s object (lines, warnings, ms) with every line's
    region named, and each region's text under its name."""
    time_text, stamp = _now()
    lines, warnings, regions = [], [], {}
    for name, box, result in parts:
        result_dict = result.to_dict()
        for line in result_dict["lines"]:
            lines.append({**line, "region": name})
        warnings += [w if name == WHOLE_FRAME else f"{name}: {w}" for w in result_dict.get("warnings", [])]
        regions[name] = {"box": box, "text": result.text}
    record = {"time": time_text, "timestamp": stamp, "lines": lines, "ms": round(ms, 2), "regions": regions}
    if warnings:
        record["warnings"] = warnings
    return record


# ---------------------------------------------------------------- frames between threads


class LatestFrame:
    """A one-frame mailbox: put() replaces, wait_newer() returns the newest frame after a sequence
    number. Nothing queues, so a slow consumer skips frames instead of falling behind."""

    def __init__(self):
        self._cond = threading.Condition()
        self._seq = 0
        self._frame = None
        self._closed = False

    def put(self, frame) -> int:
        with self._cond:
            self._seq += 1
            self._frame = frame
            self._cond.notify_all()
            return self._seq

    def wait_newer(self, after: int, timeout: float):
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after or self._closed, timeout)
            if self._seq > after and not self._closed:
                return self._seq, self._frame
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


# ---------------------------------------------------------------- MQTT


class MqttPublisher:
    """Publishes each stable reading as JSON (QoS 1, retained) to the topic; `<topic>/status` says
    online/offline (the broker sends `offline` when the connection dies). paho's network thread
    reconnects on its own (1 s, backing off to 30 s); on every (re)connection the last reading of
    each region is published again, so the broker always holds the current state."""

    def __init__(self, config: MqttConfig, client_id: str | None = None):
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise DependencyMissing("--mqtt needs paho-mqtt: pip install 'edgedigits-runtime[mqtt]'") from None
        self.config = config
        self.status_topic = f"{config.topic}/status"
        client_id = client_id or f"edgedigits-{os.getpid()}-{threading.get_ident() % 10000}"
        try:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        except AttributeError:  # paho-mqtt 1.x
            client = mqtt.Client(client_id=client_id)
        client.will_set(self.status_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        self._client = client
        self._lock = threading.Lock()
        self._last: dict[str, str] = {}
        self.connected = False
        self.published = 0
        self.last_error: str | None = None
        client.connect_async(config.host, config.port, keepalive=30)
        client.loop_start()

    def _on_connect(self, client, userdata, flags, reason, *rest) -> None:
        failed = getattr(reason, "is_failure", None)
        failed = failed if isinstance(failed, bool) else reason != 0
        if failed:
            self.last_error = f"broker refused the connection ({reason})"
            return
        self.connected = True
        self.last_error = None
        client.publish(self.status_topic, "online", qos=1, retain=True)
        with self._lock:
            pending = list(self._last.values())
        for payload in pending:
            client.publish(self.config.topic, payload, qos=1, retain=True)

    def _on_disconnect(self, client, userdata, *rest) -> None:
        self.connected = False
        self.last_error = "disconnected from the broker; reconnecting"

    def publish(self, entry: dict) -> None:
        payload = json.dumps({key: value for key, value in entry.items() if key != "crop"})
        with self._lock:
            self._last[entry["region"]] = payload
        if self.connected:
            info = self._client.publish(self.config.topic, payload, qos=1, retain=True)
            if info.rc == 0:
                self.published += 1

    def describe(self) -> dict:
        return {"broker": f"{self.config.host}:{self.config.port}", "topic": self.config.topic,
                "connected": self.connected, "published": self.published, "last_error": self.last_error}

    def close(self) -> None:
        try:
            if self.connected:
                self._client.publish(self.status_topic, "offline", qos=1, retain=True).wait_for_publish(1.0)
            self._client.disconnect()
        except Exception:  # noqa: BLE001 - closing must not hide why we stop
            pass
        self._client.loop_stop()


# ---------------------------------------------------------------- the service


class Service:
    """The capture thread, the reader thread and what they produce, shared with the HTTP handlers.

    reader: has read(frame) -> ReadResult; draw(frame, result) -> annotated BGR image;
    open_source(): a new FrameSource (the camera or video, opened again after a failure or at
    the end of a video); source: one already opened (so a bad camera is reported before serving).
    """

    def __init__(self, reader, draw, open_source: Callable[[], object], config: ServeConfig, *,
                 info: dict | None = None, source=None, publisher: MqttPublisher | None = None,
                 log: Callable[[str], None] | None = None):
        self.reader, self.draw, self.config = reader, draw, config
        self.info = dict(info or {})
        self.publisher = publisher
        self._open_source = open_source
        self._source = source
        self._log = log or (lambda message: print(f"edgedigits: {message}", file=sys.stderr, flush=True))
        self._frames = LatestFrame()
        self._stop = threading.Event()
        self._cond = threading.Condition()       # guards everything below; notified on each reading
        self._read_lock = threading.Lock()       # one model: the reader thread and uploads take turns
        self._regions = config.regions
        self._trackers: dict[str, StableText] = {}
        self._seq = 0
        self._latest: dict | None = None
        self._latest_json = b""
        self._picture = None                     # (seq, frame, lines, regions): drawn when a client asks
        self._jpeg_lock = threading.Lock()
        self._jpeg, self._jpeg_seq = b"", 0
        self._history: deque[dict] = deque(maxlen=config.history_size)
        self._history_id = 0
        self.frames_captured = 0
        self.frames_read = 0
        self.fps = 0.0
        self.last_error: str | None = None
        self.last_error_time: str | None = None
        self.source_name = getattr(source, "name", None)
        self.started = time.monotonic()
        self.streams = 0
        self._working = 0                        # handler threads inside OpenCV or the model right now
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "Service":
        for name, target in (("capture", self._capture_loop), ("reader", self._reader_loop)):
            thread = threading.Thread(target=target, name=f"edgedigits-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop both threads (the capture thread releases the camera) and MQTT."""
        self._stop.set()
        self._frames.close()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                self._log(f"warning: the {thread.name} thread did not stop within {timeout:.0f} s")
        with self._cond:  # a request still drawing or reading must finish before the process may exit
            self._cond.wait_for(lambda: self._working == 0, timeout)
        source, self._source = self._source, None
        if source is not None and not any(t.is_alive() for t in self._threads):
            source.close()
        if self.publisher is not None:
            self.publisher.close()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def open_stream(self) -> bool:
        """Count one more open stream; False when MAX_STREAM_CLIENTS are open already."""
        with self._cond:
            if self.streams >= MAX_STREAM_CLIENTS:
                return False
            self.streams += 1
            return True

    def close_stream(self) -> None:
        with self._cond:
            self.streams -= 1

    @contextmanager
    def working(self):
        """Around native work (OpenCV, the model) in a request's thread: refused once stopping, and
        waited for by stop(), so the process never exits with a library call half done."""
        with self._cond:
            if self._stop.is_set():
                raise ServiceStopped("the server is stopping")
            self._working += 1
        try:
            yield
        finally:
            with self._cond:
                self._working -= 1
                self._cond.notify_all()

    def report_error(self, message: str) -> None:
        self.last_error = message
        self.last_error_time = _now()[0]
        self._log(f"warning: {message}")

    # ------------------------------------------------------------ capture
    def _capture_loop(self) -> None:
        source = self._source
        next_due = time.monotonic()
        fresh = True  # a source just opened that has not given a frame yet
        try:
            while not self._stop.is_set():
                if source is None:
                    try:
                        source = self._source = self._open_source()
                        self.source_name = getattr(source, "name", None)
                        fresh = True
                    except Exception as error:  # noqa: BLE001 - any camera failure: report, retry
                        self.report_error(f"cannot open the source: {error}")
                        self._stop.wait(SOURCE_RETRY_S)
                        continue
                try:
                    frame = source.read()
                except Exception as error:  # noqa: BLE001
                    self.report_error(f"{getattr(source, 'name', 'source')}: {error}")
                    failed, source, self._source = source, None, None
                    self._close(failed)
                    self._stop.wait(SOURCE_RETRY_S)
                    continue
                if frame is None:  # a video file ended
                    finished, source, self._source = source, None, None
                    self._close(finished)
                    if fresh:
                        self.report_error(f"{getattr(finished, 'name', 'source')}: no frames")
                        self._stop.wait(SOURCE_RETRY_S)
                    elif not self.config.loop_video:
                        break
                    continue
                fresh = False
                self._frames.put(frame)
                self.frames_captured += 1
                rate = getattr(source, "frame_rate", None) if getattr(source, "is_video", False) else None
                if rate:  # a video file plays at its own speed, as a camera would deliver it
                    next_due = max(next_due + 1.0 / rate, time.monotonic() - 1.0)
                    self._stop.wait(max(0.0, next_due - time.monotonic()))
        finally:
            current, self._source = self._source, None
            self._close(current if current is not None else source)

    @staticmethod
    def _close(source) -> None:
        if source is not None:
            try:
                source.close()
            except Exception:  # noqa: BLE001 - releasing must never hide the real error
                pass

    # ------------------------------------------------------------ reading
    def _reader_loop(self) -> None:
        last_seq = 0
        last_start = None
        interval = None
        while not self._stop.is_set():
            got = self._frames.wait_newer(last_seq, 0.5)
            if got is None:
                continue
            if self.config.fps and last_start is not None:
                wait = 1.0 / self.config.fps - (time.monotonic() - last_start)
                if wait > 0 and self._stop.wait(wait):
                    break
                got = self._frames.wait_newer(last_seq, 0) or got  # the newest after waiting
            last_seq, frame = got
            started = time.monotonic()
            if last_start is not None:
                dt = started - last_start
                interval = dt if interval is None else 0.9 * interval + 0.1 * dt
                self.fps = 1.0 / interval if interval > 0 else 0.0
            last_start = started
            try:
                self._read_one(frame)
            except Exception as error:  # noqa: BLE001 - one bad frame must not stop the service
                self.report_error(f"reading a frame failed: {type(error).__name__}: {error}")

    def _read_one(self, frame: np.ndarray) -> None:
        with self._read_lock:  # the regions, and their trackers, stay as they are for this frame
            regions = self._regions
            t0 = time.perf_counter()
            parts = read_regions(self.reader, frame, regions)
            ms = (time.perf_counter() - t0) * 1000.0
            record = reading_record(parts, ms)
            changes = []
            for name, box, result in parts:
                tracker = self._trackers.get(name)
                if tracker is None:
                    tracker = self._trackers[name] = StableText(self.config.stability.k, self.config.stability.n)
                state = tracker.update(result.text)
                record["regions"][name].update(stable=state.stable, stable_text=state.text)
                if state.changed:
                    changes.append({"region": name, "text": state.text, "previous": state.previous,
                                    "lines": [line.to_dict() for line in result.lines],
                                    "crop": _crop_picture(frame, result.lines, box)})
        record["stable"] = all(r["stable"] for r in record["regions"].values())
        record["size"] = [int(frame.shape[1]), int(frame.shape[0])]
        with self._cond:
            self._seq += 1
            self.frames_read += 1
            record = {"frame": self._seq, **record, "fps": round(self.fps, 2)}
            for change in changes:
                self._history_id += 1
                entry = {"id": self._history_id, "time": record["time"], "timestamp": record["timestamp"],
                         "frame": self._seq, **change}
                self._history.append(entry)
                if self.publisher is not None:
                    self.publisher.publish(entry)
            self._latest = record
            self._latest_json = json.dumps(record).encode()
            self._picture = (self._seq, frame, [line for _, _, result in parts for line in result.lines], regions)
            self._cond.notify_all()

    # ------------------------------------------------------------ what handlers ask
    def wait_reading(self, after: int, timeout: float) -> int:
        """The sequence number of the newest reading once it is newer than `after` (or the timeout)."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after or self._stop.is_set(), timeout)
            return self._seq

    def latest(self) -> tuple[int, bytes]:
        """(sequence number, /api/latest JSON bytes) of the newest reading."""
        with self._cond:
            return self._seq, self._latest_json

    def jpeg(self) -> tuple[int, bytes]:
        """(sequence number, annotated JPEG) of the newest reading. Drawn and encoded on the first
        request for it, once, whatever the number of clients: with nobody watching, nothing is."""
        with self._cond:
            picture = self._picture
        if picture is None:
            return 0, b""
        with self._jpeg_lock:
            if self._jpeg_seq != picture[0]:
                from .reader import ReadResult

                seq, frame, lines, regions = picture
                try:
                    with self.working():
                        annotated = draw_regions(self.draw(frame, ReadResult(lines=lines)), regions)
                        self._jpeg, self._jpeg_seq = encode_jpeg(annotated, self.config.jpeg_quality), seq
                except ServiceStopped:
                    pass  # the last picture made will do
            return self._jpeg_seq, self._jpeg

    def history(self, n: int | None = None, after_id: int = 0) -> list[dict]:
        """The last n stable changes (newest last), or those after id `after_id`."""
        with self._cond:
            entries = [e for e in self._history if e["id"] > after_id]
        return entries[-n:] if n else entries

    @property
    def history_id(self) -> int:
        with self._cond:
            return self._history_id

    @property
    def regions(self) -> tuple[Region, ...]:
        return self._regions

    def set_regions(self, regions) -> tuple[Region, ...]:
        """Read these regions from the next frame on (stability starts again for changed ones)."""
        regions = check_regions(regions)
        with self._read_lock:
            kept = {r.name for r in regions} & {r.name for r in self._regions if r in regions}
            if not regions and not self._regions:
                kept.add(WHOLE_FRAME)
            self._trackers = {name: t for name, t in self._trackers.items() if name in kept}
            self._regions = regions
        return regions

    def read_image(self, image: np.ndarray, use_regions: bool) -> tuple[dict, object]:
        """Read an uploaded image once (whole, or the configured regions): (record, ReadResult for drawing)."""
        from .reader import ReadResult

        with self._read_lock:
            regions = self._regions if use_regions else ()
            t0 = time.perf_counter()
            parts = read_regions(self.reader, image, regions)
            ms = (time.perf_counter() - t0) * 1000.0
        record = reading_record(parts, ms)
        record["size"] = [int(image.shape[1]), int(image.shape[0])]
        lines = [line for _, _, result in parts for line in result.lines]
        return record, ReadResult(lines=lines)

    def health(self) -> dict:
        with self._cond:
            seq, latest = self._seq, self._latest
        alive = all(t.is_alive() for t in self._threads) and not self._stop.is_set()
        out = {"status": "ok" if alive and seq > 0 else ("starting" if alive else "stopped"),
               **self.info, "source": self.source_name,
               "uptime_s": round(time.monotonic() - self.started, 1),
               "frames_captured": self.frames_captured, "frames_read": self.frames_read,
               "fps": round(self.fps, 2), "read_ms": latest["ms"] if latest else None,
               "last_reading": latest["time"] if latest else None,
               "last_error": self.last_error, "last_error_time": self.last_error_time,
               "regions": [r.name for r in self._regions] or [WHOLE_FRAME],
               "stable": str(self.config.stability), "clients": self.streams,
               "mqtt": self.publisher.describe() if self.publisher is not None else None}
        return out


# ---------------------------------------------------------------- HTTP


class RequestError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class Handler(BaseHTTPRequestHandler):
    """Routes; every answer is JSON, HTML, JPEG/PNG or a stream — never a file from disk."""

    server_version = "edgedigits"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_S
    service: Service          # set on the subclass make_server creates
    config: ServeConfig

    # -------------------------------------------------------- plumbing
    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: request lines would carry ?token= into logs

    def send_error(self, code, message=None, explain=None) -> None:
        """The base class's HTML error page (bad request line, unknown method...) as JSON instead."""
        try:
            self._json(code, {"error": message or HTTPStatus(code).phrase})
        except Exception:  # noqa: BLE001 - the client may be gone already
            pass

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._common_headers(headers)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _common_headers(self, headers: dict | None = None) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        for key, value in (headers or {}).items():
            self.send_header(key, value)

    def _json(self, status: int, data, headers: dict | None = None) -> None:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        self._send(status, body, "application/json", headers)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            query = parse_qs(url.query, keep_blank_values=True, max_num_fields=20)
            self._check_host()
            self._check_token(query)
            route = ROUTES.get(url.path)
            if route is None:
                raise RequestError(404, f"no such page: {url.path[:100]}")
            methods, name = route
            if method not in methods:
                raise RequestError(405, f"{url.path} answers {', '.join(sorted(methods))}",
                                   {"Allow": ", ".join(sorted(methods))})
            getattr(self, name)(query)
        except RequestError as error:
            if error.status >= 400 and self.command == "POST":
                self.close_connection = True
            self._safe(error.status, {"error": str(error)}, error.headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True   # the client went away: nothing to answer
        except ServiceStopped as error:
            self._safe(503, {"error": str(error)})
        except ValueError as error:          # e.g. too many query fields
            self._safe(400, {"error": f"bad request: {error}"})
        except Exception as error:  # noqa: BLE001 - never a traceback page, never a dead server
            self.service.report_error(f"internal error answering {self.command} {urlsplit(self.path).path}: "
                                f"{type(error).__name__}: {error}")
            self._safe(500, {"error": f"internal error ({type(error).__name__})"})

    def _safe(self, status: int, data: dict, headers: dict | None = None) -> None:
        """Answer an error; a client that is gone by now gets nothing."""
        try:
            self._json(status, data, headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError, ValueError):
            self.close_connection = True

    def _check_host(self) -> None:
        """On a loopback address, a Host that is not loopback is a web page in the user's browser
        reaching us through DNS rebinding: refused."""
        if not self.config.loopback:
            return
        host = (self.headers.get("Host") or "").strip().lower()
        name = host[1:].split("]")[0] if host.startswith("[") else host.rsplit(":", 1)[0] if ":" in host else host
        if host and not is_loopback(name):
            raise RequestError(403, "this server answers only to localhost / 127.0.0.1 (it is bound to "
                                    "a loopback address); use --host to serve the network")

    def _check_token(self, query) -> None:
        token = self.config.token
        if token is None:
            return
        given = None
        auth = self.headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        elif query.get("token"):
            given = query["token"][-1]
        if given is None:
            raise RequestError(401, "a token is required: header 'Authorization: Bearer TOKEN' or ?token=TOKEN",
                               {"WWW-Authenticate": 'Bearer realm="edgedigits"'})
        if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode()):
            raise RequestError(401, "wrong token", {"WWW-Authenticate": 'Bearer realm="edgedigits", '
                                                                      'error="invalid_token"'})

    # -------------------------------------------------------- pages
    def page(self, query) -> None:
        from .serve_page import PAGE

        self._send(200, PAGE.encode(), "text/html; charset=utf-8",
                   {"Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                                               "style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
                                               "frame-ancestors 'none'"})

    def frame_jpg(self, query) -> None:
        seq, jpeg = self.service.jpeg()
        if not jpeg:
            raise RequestError(503, "no frame read yet", {"Retry-After": "1"})
        headers = {"X-Frame": str(seq)}
        if _flag(query, "download"):
            headers["Content-Disposition"] = f'attachment; filename="edgedigits-frame-{seq}.jpg"'
        self._send(200, jpeg, "image/jpeg", headers)

    def latest(self, query) -> None:
        _, body = self.service.latest()
        if not body:
            raise RequestError(503, "no frame read yet", {"Retry-After": "1"})
        self._json(200, body)

    def history(self, query) -> None:
        n = _int_param(query, "n", 10, 1, self.config.history_size)
        self._json(200, {"readings": self.service.history(n)})

    def health(self, query) -> None:
        self._json(200, self.service.health())

    def config_route(self, query) -> None:
        (self.post_config if self.command == "POST" else self.get_config)(query)

    def get_config(self, query) -> None:
        self._json(200, {**regions_to_json(self.service.regions), "stable": str(self.config.stability),
                         "saved_to_file": self.config.config_path is not None})

    # -------------------------------------------------------- streams
    def _stream(self, content_type: str, body: Callable[[], None]) -> None:
        if not self.service.open_stream():
            raise RequestError(503, f"too many open streams (at most {MAX_STREAM_CLIENTS})", {"Retry-After": "5"})
        try:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Connection", "close")
            self.send_header("X-Accel-Buffering", "no")
            self._common_headers()
            self.end_headers()
            self.close_connection = True
            if self.command != "HEAD":
                body()
        finally:
            self.service.close_stream()

    def mjpeg(self, query) -> None:
        def frames() -> None:
            seq = 0
            while not self.service.stopped:
                seq = self.service.wait_reading(seq, SSE_KEEPALIVE_S)
                number, jpeg = self.service.jpeg()
                if not jpeg or self.service.stopped:
                    continue
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\nX-Frame: %d"
                                 b"\r\n\r\n" % (len(jpeg), number) + jpeg + b"\r\n")
                self.wfile.flush()

        self._stream("multipart/x-mixed-replace; boundary=frame", frames)

    def events(self, query) -> None:
        def events() -> None:
            self.wfile.write(b"retry: 2000\n\n")
            self.wfile.flush()
            seq, last_id = 0, self.service.history_id
            while not self.service.stopped:
                newer = self.service.wait_reading(seq, SSE_KEEPALIVE_S)
                if self.service.stopped:
                    break
                if newer == seq:
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                    continue
                seq = newer
                for entry in self.service.history(after_id=last_id):
                    last_id = entry["id"]
                    self.wfile.write(b"event: stable\ndata: " + json.dumps(entry).encode() + b"\n\n")
                _, body = self.service.latest()
                self.wfile.write(b"data: " + body + b"\n\n")
                self.wfile.flush()

        self._stream("text/event-stream", events)

    # -------------------------------------------------------- uploads
    def _body(self, limit: int) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise RequestError(411, "send the body with a Content-Length (chunked uploads are not accepted)")
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise RequestError(411, "a Content-Length header is required")
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError
        except ValueError:
            raise RequestError(400, f"bad Content-Length {length_text[:40]!r}") from None
        if length > limit:
            self._drain(length)
            raise RequestError(413, f"upload is {length:,} bytes, over the {limit:,}-byte limit")
        data = self.rfile.read(length)
        if len(data) != length:
            raise RequestError(400, f"upload cut short: {len(data):,} of {length:,} bytes")
        return data

    def _drain(self, length: int) -> None:
        """Read (and drop) a refused body up to a bound, so the client gets to read the answer."""
        left = min(length, 4 * 1024**2)
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except (OSError, ValueError):
            pass

    def read_upload(self, query) -> None:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type not in UPLOAD_TYPES:
            length = self.headers.get("Content-Length") or ""
            self._drain(int(length) if length.isdigit() else 0)
            raise RequestError(415, f"upload a JPEG or PNG with Content-Type image/jpeg or image/png "
                                    f"(got {content_type[:60] or 'none'!r})")
        data = self._body(self.config.max_upload_bytes)
        if not data.startswith(UPLOAD_TYPES[content_type]):
            raise RequestError(400, f"the upload is not a {content_type.split('/')[1].upper()} image "
                                    "(its first bytes say otherwise)")
        size = declared_size(data)
        if size is None:
            raise RequestError(400, "the image's header does not declare its size (corrupt or truncated)")
        width, height = size
        if width * height > self.config.max_upload_pixels:
            raise RequestError(413, f"image is {width}x{height}, over the {self.config.max_upload_pixels:,}-pixel "
                                    "limit")
        with self.service.working():
            try:
                image = decode_image(data, "upload", max_pixels=self.config.max_upload_pixels)
            except ImageError as error:
                raise RequestError(400, str(error)) from None
            except MemoryError:
                raise RequestError(413, "image too large to decode") from None
            record, result = self.service.read_image(image, _flag(query, "regions"))
            png = None
            if _flag(query, "annotate"):
                cv2 = _cv2()
                picture = self.service.draw(image, result)
                if _flag(query, "regions"):
                    draw_regions(picture, self.service.regions)
                ok, png = cv2.imencode(".png", picture)
                if not ok:
                    raise RuntimeError("OpenCV could not encode the PNG")
        if png is not None:
            self._send(200, png.tobytes(), "image/png")
            return
        self._json(200, record)

    def post_config(self, query) -> None:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise RequestError(415, "send the regions as JSON (Content-Type: application/json)")
        data = self._body(MAX_CONFIG_BYTES)
        try:
            regions = regions_from_json(json.loads(data.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise RequestError(400, f"not JSON ({error})") from None
        except ServeError as error:
            raise RequestError(400, str(error)) from None
        regions = self.service.set_regions(regions)
        saved = False
        if self.config.config_path is not None:
            try:
                save_config(self.config.config_path, regions)
                saved = True
            except OSError as error:
                self.service.report_error(f"cannot save the regions to --config: {error.strerror or error}")
                raise RequestError(500, "the regions are in use but could not be saved (see the server's log)")
        self._json(200, {**regions_to_json(regions), "saved": saved,
                         **({} if saved else {"note": "in use until the server stops; start it with "
                                                      "--config FILE to keep them"})})


ROUTES = {
    "/": ({"GET", "HEAD"}, "page"),
    "/index.html": ({"GET", "HEAD"}, "page"),
    "/stream.mjpg": ({"GET", "HEAD"}, "mjpeg"),
    "/frame.jpg": ({"GET", "HEAD"}, "frame_jpg"),
    "/api/latest": ({"GET", "HEAD"}, "latest"),
    "/api/events": ({"GET", "HEAD"}, "events"),
    "/api/history": ({"GET", "HEAD"}, "history"),
    "/api/config": ({"GET", "HEAD", "POST"}, "config_route"),
    "/api/read": ({"POST"}, "read_upload"),
    "/healthz": ({"GET", "HEAD"}, "health"),
}


def _flag(query, name: str) -> bool:
    return (query.get(name) or ["0"])[-1].lower() in ("1", "true", "yes", "on")


def _int_param(query, name: str, default: int, low: int, high: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[-1])
    except ValueError:
        raise RequestError(400, f"?{name}= must be an integer {low}..{high}") from None
    if not low <= value <= high:
        raise RequestError(400, f"?{name}= must be {low}..{high}, got {value}")
    return value


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            return  # a client that went away mid-answer
        print(f"edgedigits: warning: request from {client_address[0]} failed: {type(error).__name__}: {error}",
              file=sys.stderr, flush=True)


def make_server(service: Service, config: ServeConfig) -> Server:
    """Bind (raises OSError when the address is taken); serve_forever() answers."""
    import socket

    handler = type("BoundHandler", (Handler,), {"service": service, "config": config})
    host = config.host.strip("[]")
    server_class = type("Server6", (Server,), {"address_family": socket.AF_INET6}) if ":" in host else Server
    return server_class((host, config.port), handler)

"""Live digit reading: frame sources (USB webcam / video file via OpenCV, Pi camera via picamera2)
kept apart from the loop that reads each frame, and neither knows about the classifier.

    with open_source(device=0) as source:
        run_loop(FrameReader(classifier), source, max_frames=100)

Every source is a context manager and always releases the device, also on errors and Ctrl-C.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

import numpy as np

MAX_FAILED_READS = 30      # a live camera may drop a few frames; this many in a row means it is gone
FPS_SMOOTHING = 0.9        # exponential moving average of the frame interval


class CameraError(RuntimeError):
    """The camera cannot be opened or stopped delivering frames."""


class VideoError(CameraError):
    """The video file is missing or cannot be decoded."""


class DependencyError(RuntimeError):
    """An optional package (OpenCV, picamera2) that this feature needs is not installed."""


def _import_cv2():
    from .imageio import OPENCV_HINT, quiet_cv2

    try:  # quiet: OpenCV logs "can't open camera by index" lines; our errors say it in one line
        return quiet_cv2()
    except ImportError:
        raise DependencyError(f"the camera loop needs OpenCV: {OPENCV_HINT}") from None


def picamera_available() -> bool:
    try:
        import picamera2  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken libcamera install raises more than ImportError
        return False
    return True


# ---------------------------------------------------------------- sources


class FrameSource:
    """A context manager yielding BGR (or grey) uint8 frames; read() returns None at the end."""

    name = "source"

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class OpenCVSource(FrameSource):
    """A USB webcam (device index) or a video file, through cv2.VideoCapture."""

    def __init__(self, *, device: int | None = None, video: str | os.PathLike | None = None):
        if (device is None) == (video is None):
            raise ValueError("give exactly one of device or video")
        cv2 = _import_cv2()
        self.is_video = video is not None
        if self.is_video:
            path = Path(video)
            if not path.is_file():
                raise VideoError(f"{path}: video file not found")
            self.name = str(path)
            self._capture = cv2.VideoCapture(str(path))
            if not self._capture.isOpened():
                self._capture.release()
                raise VideoError(f"{path}: cannot open as a video (not a video, or a codec OpenCV lacks)")
        else:
            if device < 0:
                raise CameraError(f"camera device must be >= 0; got {device}")
            self.name = f"camera {device}"
            if sys.platform.startswith("linux") and not Path(f"/dev/video{device}").exists():
                raise CameraError(f"camera device {device} not found (/dev/video{device} does not exist; "
                                  "is the camera connected? try another --device, or --video FILE)")
            self._capture = cv2.VideoCapture(device)
            if not self._capture.isOpened():
                self._capture.release()
                raise CameraError(f"cannot open camera device {device} (busy, no permission, or not a camera)")
        self._failed_reads = 0

    def read(self) -> np.ndarray | None:
        while True:
            ok, frame = self._capture.read()
            if ok and frame is not None:
                self._failed_reads = 0
                return frame
            if self.is_video:
                return None  # end of the file
            self._failed_reads += 1
            if self._failed_reads >= MAX_FAILED_READS:
                raise CameraError(f"{self.name} stopped delivering frames")
            time.sleep(0.01)

    @property
    def frame_rate(self) -> float | None:
        """Frames per second the device or file declares (None when it declares none)."""
        rate = self._capture.get(_import_cv2().CAP_PROP_FPS) if self._capture is not None else 0.0
        return float(rate) if rate and 0 < rate < 1000 else None

    def close(self) -> None:
        capture, self._capture = getattr(self, "_capture", None), None
        if capture is not None:
            capture.release()


class PiCameraSource(FrameSource):
    """The Raspberry Pi camera through picamera2 ("RGB888" gives BGR-ordered pixels, as OpenCV)."""

    name = "pi camera"

    def __init__(self, size: tuple[int, int] = (640, 480)):
        try:
            from picamera2 import Picamera2
        except Exception as error:  # noqa: BLE001
            raise DependencyError(f"the Pi camera needs picamera2 (sudo apt install python3-picamera2): "
                                  f"{error}") from None
        self._camera = None
        try:
            self._camera = Picamera2()
            config = self._camera.create_preview_configuration(main={"format": "RGB888", "size": size})
            self._camera.configure(config)
            self._camera.start()
        except Exception as error:  # noqa: BLE001 - libcamera raises RuntimeError/IndexError when absent
            self.close()
            raise CameraError(f"cannot start the Pi camera ({type(error).__name__}: {error})") from None

    def read(self) -> np.ndarray | None:
        try:
            return self._camera.capture_array()
        except Exception as error:  # noqa: BLE001
            raise CameraError(f"the Pi camera stopped delivering frames ({error})") from None

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.stop()
            finally:
                camera.close()


def open_source(*, device: int | None = None, video=None) -> FrameSource:
    """A video file, a webcam by index, or — with neither given — the Pi camera when picamera2 is
    importable, else webcam 0."""
    if video is not None and device is not None:
        raise ValueError("give either a camera device or a video file, not both")
    if video is not None:
        return OpenCVSource(video=video)
    if device is None and picamera_available():
        return PiCameraSource()
    return OpenCVSource(device=0 if device is None else device)


# ---------------------------------------------------------------- display


class Display:
    """An OpenCV window when there is a display and a GUI-capable OpenCV; otherwise does nothing."""

    WINDOW = "edgedigits"

    def __init__(self, enabled: bool, warn: Callable[[str], None]):
        self.enabled = enabled and bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
        self._warn = warn

    def show(self, frame: np.ndarray) -> bool:
        """Show the frame; False when the user pressed q or Esc."""
        if not self.enabled:
            return True
        cv2 = _import_cv2()
        try:
            cv2.imshow(self.WINDOW, frame)
            key = cv2.waitKey(1) & 0xFF
        except cv2.error:
            self.enabled = False
            self._warn("no window support in this OpenCV build (headless); printing only")
            return True
        return key not in (ord("q"), 27)

    def close(self) -> None:
        if self.enabled:
            try:
                _import_cv2().destroyAllWindows()
            except Exception:  # noqa: BLE001 - closing a window must never hide the real error
                pass


# ---------------------------------------------------------------- the loop


@dataclass
class LoopStats:
    frames: int = 0
    seconds: float = 0.0
    stopped_by: str = "end"   # "end" (source exhausted), "max-frames", "user" (Ctrl-C / q)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _line_texts(result_dict: dict) -> list[str]:
    return [line.get("text", "") for line in result_dict.get("lines", [])]


def run_loop(reader, source: FrameSource, *, max_frames: int | None = None, save_dir=None,
             show: bool = False, as_json: bool = False, annotate=None,
             out: TextIO | None = None, err: TextIO | None = None) -> LoopStats:
    """Read frames until the source ends, max_frames is reached or the user stops (Ctrl-C, q).

    reader: has read(frame) -> result with to_dict(); annotate(frame, result) -> image draws boxes
    (needed for save_dir and the window). Prints one line per frame: the digits and the FPS.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1; got {max_frames}")
    save_dir = Path(save_dir) if save_dir is not None else None
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
    display = Display(show, lambda message: print(f"edgedigits: note: {message}", file=err))
    stats = LoopStats()
    interval = None
    started = last = time.perf_counter()
    try:
        while max_frames is None or stats.frames < max_frames:
            frame = source.read()
            if frame is None:
                stats.stopped_by = "end"
                break
            t0 = time.perf_counter()
            result = reader.read(frame)
            ms = (time.perf_counter() - t0) * 1000.0
            now = time.perf_counter()
            dt = now - last
            last = now
            interval = dt if interval is None else FPS_SMOOTHING * interval + (1 - FPS_SMOOTHING) * dt
            fps = 1.0 / interval if interval > 0 else 0.0
            stats.frames += 1
            _report(stats.frames, result.to_dict(), ms, fps, as_json, out)
            if save_dir is not None or display.enabled:
                annotated = annotate(frame, result) if annotate is not None else frame
                if save_dir is not None:
                    from .imageio import write_image
                    write_image(save_dir / f"frame-{stats.frames:06d}.png", annotated)
                if not display.show(annotated):
                    stats.stopped_by = "user"
                    break
        else:
            stats.stopped_by = "max-frames"
    except KeyboardInterrupt:
        stats.stopped_by = "user"
    finally:
        stats.seconds = time.perf_counter() - started
        display.close()
    return stats


def _report(index: int, result: dict, ms: float, fps: float, as_json: bool, out: TextIO) -> None:
    if as_json:
        record = {"frame": index, **result, "ms": round(ms, 2), "fps": round(fps, 2)}
        print(json.dumps(record), file=out, flush=True)
        return
    texts = _line_texts(result)
    shown = " | ".join(texts) if texts else "(no digits)"
    print(f"frame {index:5d}  {fps:5.1f} fps  {ms:6.1f} ms  {shown}", file=out, flush=True)

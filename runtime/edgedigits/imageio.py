"""Read and write images with or without OpenCV.

read_image returns OpenCV-style arrays: (H, W) uint8 grey or (H, W, 3) uint8 BGR. Transparent
pixels are composited over white. With cv2 importable OpenCV decodes (the reader's benchmarks are
measured on its pixels); without it Pillow, a runtime dependency, decodes every format it knows,
so `edgedigits predict` and `read` run on a bare numpy + Pillow + ai-edge-litert install. PGM/PPM
always go through Pillow, and .npy arrays through numpy. Every decoder is given the pixel count
the file's header declares first: a small file declaring gigapixels is refused unread.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path

import numpy as np

from .files import FileRefused, read_regular_file, write_atomic
from .native import captured

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 200_000_000  # a 8000x6000 frame is 48 MP; refuse decompression bombs
MAX_FILE_BYTES = 512 * 1024**2  # a 48 MP uncompressed frame is ~150 MB
OPENCV_HINT = "pip install 'edgedigits-runtime[camera]' (OpenCV)"  # every "OpenCV is missing" message ends so
# OpenCV reads its decoders' pixel limit once, when cv2 is first imported: set it before any import.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))
# Formats Pillow may decode (its other plugins, EPS among them, may run external programs).
PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "PPM", "GIF")  # (phones' MPO opens as JPEG)
_PILLOW_EXIF_FORMATS = ("JPEG", "MPO", "TIFF")  # the formats whose EXIF Orientation OpenCV applies too


class ImageError(ValueError):
    """The file cannot be read as an image (message names the file and the reason)."""


def have_cv2() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def quiet_cv2():
    """cv2 with its own log output off: it prints WARN/ERROR lines for files we report ourselves.
    Its decoders refuse images over MAX_PIXELS (set when this module is imported)."""
    import cv2

    try:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except AttributeError:
        pass
    return cv2


def read_image(path) -> np.ndarray:
    """Read an image file as (H, W) grey or (H, W, 3) BGR uint8. Raises ImageError."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        return _finish(path, _read_npy(path))
    return decode_image(_read_file(path), path)


def decode_image(data: bytes, name="image", *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image held in memory (e.g. an upload) as read_image decodes a file's bytes: (H, W)
    grey or (H, W, 3) BGR uint8. `name` goes into messages; an image whose header declares more than
    `max_pixels` (never more than MAX_PIXELS) is refused before decoding. Raises ImageError."""
    name = Path(str(name))
    max_pixels = min(int(max_pixels), MAX_PIXELS)
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes), not an image")
    # PGM/PPM always by Pillow: OpenCV fills a truncated one with zeros instead of refusing it.
    if data[:2] in (b"P2", b"P3", b"P5", b"P6") or not have_cv2():
        return _finish(name, _decode_with_pillow(name, data, max_pixels))
    return _finish(name, _decode_with_cv2(name, data, max_pixels))


def _read_file(path: Path) -> bytes:
    """The file's bytes; a FIFO, a device or a file over MAX_FILE_BYTES is refused without being read."""
    try:
        data = read_regular_file(path, MAX_FILE_BYTES)
    except FileRefused as error:
        raise ImageError(f"{path}: {error}, not an image") from None
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except OSError as error:
        raise ImageError(f"{path}: cannot read ({error.strerror or error})") from None
    if not data:
        raise ImageError(f"{path}: empty file (0 bytes), not an image")
    return data


def _finish(path: Path, image: np.ndarray) -> np.ndarray:
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise ImageError(f"{path}: zero-size image (shape {image.shape})")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        image = _over_white(image)
    if image.ndim == 3 and image.shape[2] != 3:
        raise ImageError(f"{path}: unsupported channel count {image.shape[2]} (expected 1, 3 or 4)")
    return np.ascontiguousarray(image)


def _over_white(bgra: np.ndarray) -> np.ndarray:
    alpha = bgra[:, :, 3:4].astype(np.float32) / 255.0
    colour = bgra[:, :, :3].astype(np.float32)
    return np.rint(colour * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if image.dtype.kind == "f":
        return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    return np.clip(image, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- OpenCV


def _decode_with_cv2(path: Path, data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    cv2 = quiet_cv2()
    size = declared_size(data)  # checked before decoding: a small file may declare gigapixels
    if size is not None:
        _check_pixels(path, *size, max_pixels)
    # A JPEG (8-bit, no alpha) is decoded as a viewer shows it: IMREAD_COLOR applies its EXIF
    # Orientation, which phones use instead of turning the pixels; IMREAD_UNCHANGED would not.
    flags = cv2.IMREAD_COLOR if data.startswith(b"\xff\xd8\xff") else cv2.IMREAD_UNCHANGED
    # libpng and libjpeg print their warnings and errors themselves ("libpng warning: iCCP: ...",
    # "Corrupt JPEG data: ..."): kept off the user's stderr, and for an image that cannot be read
    # folded into the one-line error.
    try:
        with captured() as decoder_said:
            image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error:
        image = None  # OpenCV's own assertion text says nothing useful to a user
    if image is None:
        said = f"; {decoder_said[-1].strip()}" if decoder_said else ""  # the last remark: the one that stopped it
        raise ImageError(f"{path}: not an image, or a corrupt or unsupported image file ({len(data)} bytes{said})")
    return _to_uint8(image)


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) a PNG, JPEG or BMP header declares, without decoding; None for other files."""
    if data.startswith(PNG_SIGNATURE) and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    if data.startswith(b"\xff\xd8"):
        at = 2
        while at + 9 <= len(data) and data[at] == 0xFF:
            marker = data[at + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start-of-frame segment
                height, width = struct.unpack(">HH", data[at + 5: at + 9])
                return width, height
            at += 2 + struct.unpack(">H", data[at + 2: at + 4])[0]
    return None


# ---------------------------------------------------------------- .npy


def _read_npy(path: Path) -> np.ndarray:
    _read_file(path)  # clear errors for missing / empty / unreadable files
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ImageError(f"{path}: not a readable .npy array ({error})") from None
    if not isinstance(array, np.ndarray) or array.ndim not in (2, 3):
        raise ImageError(f"{path}: .npy image must be (H, W) or (H, W, C); found shape {getattr(array, 'shape', '?')}")
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ImageError(f"{path}: .npy image contains NaN or infinity")
        high = float(array.max()) if array.size else 0.0
        return _to_uint8(array if high <= 1.0 else array / 255.0)
    if array.dtype.kind in "iu":
        if array.size and (array.min() < 0 or array.max() > 255) and array.dtype != np.uint16:
            raise ImageError(f"{path}: .npy integer image must hold 0..255; found {array.min()}..{array.max()}")
        return _to_uint8(array)
    raise ImageError(f"{path}: .npy image has dtype {array.dtype}; expected uint8, integer, float or bool")


# ---------------------------------------------------------------- Pillow


def _decode_with_pillow(path: Path, data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A PILLOW_FORMATS image as (H, W) grey, (H, W, 3) BGR or (H, W, 4) BGRA uint8, the EXIF
    Orientation applied where OpenCV applies it too; the first frame of an animation."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImageError(f"{path}: reading images needs Pillow (pip install pillow) or OpenCV "
                         f"({OPENCV_HINT})") from None
    # Pillow refuses images over twice its MAX_IMAGE_PIXELS (a process-wide setting, 89 MP by
    # default) and warns over it: raised so that it refuses exactly over our own limit, and its
    # warning (a line on stderr) silenced; smaller limits are checked on the header's size below.
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, MAX_PIXELS // 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=PILLOW_FORMATS) as image:
                _check_pixels(path, *image.size, max_pixels)  # from the header, before decoding
                image.load()
                return _pillow_to_array(path, _exif_upright(image))
        except (ImageError, MemoryError):
            raise
        except Image.DecompressionBombError:
            raise ImageError(f"{path}: image is more than {max_pixels / 1_000_000:g} megapixels") from None
        except Exception as error:  # noqa: BLE001 - a damaged file raises whatever its decoder meets
            said = "" if isinstance(error, UnidentifiedImageError) else f"; {error}"  # (that one names a BytesIO)
            raise ImageError(f"{path}: not an image, or a corrupt or unsupported image file "
                             f"({len(data)} bytes{said})") from None


def _exif_upright(image):
    """`image` turned as its EXIF Orientation says (JPEG and TIFF only, as OpenCV does); no copy
    when there is nothing to turn."""
    if image.format not in _PILLOW_EXIF_FORMATS or image.getexif().get(0x0112, 1) == 1:
        return image
    from PIL import ImageOps

    return ImageOps.exif_transpose(image)


def _pillow_to_array(path: Path, image) -> np.ndarray:
    """A loaded Pillow image as OpenCV lays pixels out: grey 2-d, colour BGR, transparency BGRA;
    16-bit samples keep their high byte and float samples are scaled as :func:`_to_uint8` scales
    OpenCV's."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image)
        return (np.clip(array, 0, 65535).astype(np.uint16) >> 8).astype(np.uint8)
    if mode == "F":
        return _to_uint8(np.asarray(image))
    if mode not in ("1", "L", "P", "PA", "LA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"):
        raise ImageError(f"{path}: unsupported image mode {mode}")
    if mode in ("1", "L") or (mode == "P" and "transparency" not in image.info and _grey_palette(image)):
        return np.asarray(image if mode == "L" else image.convert("L"))
    if mode in ("LA", "La", "PA", "RGBA", "RGBa") or "transparency" in image.info:
        return np.asarray(image if mode == "RGBA" else image.convert("RGBA"))[:, :, [2, 1, 0, 3]]
    return np.asarray(image if mode == "RGB" else image.convert("RGB"))[:, :, ::-1]


def _grey_palette(image) -> bool:
    """Whether a palette image's colours are all greys."""
    palette = np.frombuffer(bytes(image.getpalette() or ()), np.uint8).reshape(-1, 3)
    return bool((palette == palette[:, :1]).all())


def _check_pixels(path: Path, width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    if width == 0 or height == 0:
        raise ImageError(f"{path}: zero-size image ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(f"{path}: image is {width}x{height}, more than {max_pixels / 1_000_000:g} megapixels")


# ---------------------------------------------------------------- writing


def write_image(path, image: np.ndarray) -> Path:
    """Write a (H, W) grey or (H, W, 3) BGR uint8 image atomically (temp file + rename), in the
    format its suffix names (PNG without one): with OpenCV when installed, else with Pillow."""
    path = Path(path)
    suffix = path.suffix.lower() or ".png"
    if have_cv2():
        cv2 = quiet_cv2()
        try:
            ok, encoded = cv2.imencode(suffix, image)
        except cv2.error:
            ok = False
        if not ok:
            raise ImageError(f"{path}: OpenCV cannot write {suffix} images; use a .png name")
        data = encoded.tobytes()
    else:
        data = _encode_with_pillow(path, image, suffix)
    write_atomic(path, data)
    return path


def _encode_with_pillow(path: Path, image: np.ndarray, suffix: str) -> bytes:
    try:
        from PIL import Image
    except ImportError:
        raise ImageError(f"{path}: writing images needs Pillow (pip install pillow) or OpenCV "
                         f"({OPENCV_HINT})") from None

    image = np.asarray(image)
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ImageError(f"{path}: can only write (H, W) or (H, W, 3) uint8 images; found "
                         f"{image.dtype} {image.shape}")
    kind = Image.registered_extensions().get(suffix)
    if kind is None:
        raise ImageError(f"{path}: Pillow cannot write {suffix} images; use a .png name")
    picture = Image.fromarray(np.ascontiguousarray(image if image.ndim == 2 else image[:, :, ::-1]))
    out = io.BytesIO()
    try:
        picture.save(out, format=kind)
    except (OSError, ValueError, KeyError) as error:
        raise ImageError(f"{path}: Pillow cannot write {suffix} images ({error})") from None
    return out.getvalue()

"""Read and write images with or without OpenCV.

read_image returns OpenCV-style arrays: (H, W) uint8 grey or (H, W, 3) uint8 BGR. Transparent
pixels are composited over white. With cv2 importable every format OpenCV knows is read;
without it PNG (non-interlaced, any bit depth), PGM/PPM and .npy still work, so `edgedigits
predict` runs on a bare numpy + ai-edge-litert install.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .files import FileRefused, read_regular_file, write_atomic
from .native import captured

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 200_000_000  # a 8000x6000 frame is 48 MP; refuse decompression bombs
MAX_FILE_BYTES = 512 * 1024**2  # a 48 MP uncompressed frame is ~150 MB
CAMERA_EXTRA_HINT = "install edgedigits-runtime[camera] (OpenCV)"

_OTHER_FORMATS = {  # magic bytes -> name, for a clear error when cv2 is missing
    b"\xff\xd8\xff": "JPEG", b"BM": "BMP", b"GIF8": "GIF", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
    b"RIFF": "WebP",
}


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
    Its decoders refuse images over MAX_PIXELS (set before OpenCV reads the variable)."""
    os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))
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
    if data.startswith(PNG_SIGNATURE) and not have_cv2():
        return _finish(name, _decode_png(name, data, max_pixels))
    if data[:2] in (b"P2", b"P3", b"P5", b"P6"):
        return _finish(name, _decode_pnm(name, data, max_pixels))
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
    try:
        cv2 = quiet_cv2()
    except ImportError:
        kind = next((name for magic, name in _OTHER_FORMATS.items() if data.startswith(magic)), None)
        if kind is None:
            raise ImageError(f"{path}: not a PNG, PGM/PPM or .npy image (other formats need OpenCV: "
                             f"{CAMERA_EXTRA_HINT})") from None
        raise ImageError(f"{path}: reading {kind} needs OpenCV: {CAMERA_EXTRA_HINT}, "
                         "or convert the image to PNG") from None
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


# ---------------------------------------------------------------- PGM / PPM


def _decode_pnm(path: Path, data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    magic = data[:2]
    stream = io.BytesIO(data)
    stream.seek(2)
    try:
        width, height, maxval = (_pnm_number(stream) for _ in range(3))
    except ValueError:
        raise ImageError(f"{path}: malformed {magic.decode()} header") from None
    channels = 3 if magic in (b"P3", b"P6") else 1
    if not 0 < maxval < 65536:
        raise ImageError(f"{path}: PNM maxval {maxval} out of range 1..65535")
    _check_pixels(path, width, height, max_pixels)
    count = width * height * channels
    if magic in (b"P5", b"P6"):
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
        raw = stream.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise ImageError(f"{path}: truncated {magic.decode()} image ({len(raw)} of "
                             f"{count * dtype.itemsize} pixel bytes)")
        values = np.frombuffer(raw, dtype=dtype).astype(np.float32)
    else:
        try:
            values = np.array(stream.read().split()[:count], dtype=np.float32)
        except ValueError:
            raise ImageError(f"{path}: malformed pixel values") from None
        if values.size != count:
            raise ImageError(f"{path}: truncated {magic.decode()} image ({values.size} of {count} values)")
    image = np.clip(np.rint(values * (255.0 / maxval)), 0, 255).astype(np.uint8)
    image = image.reshape(height, width, channels) if channels == 3 else image.reshape(height, width)
    return image[:, :, ::-1] if channels == 3 else image  # RGB -> BGR


def _pnm_number(stream: io.BytesIO) -> int:
    token = b""
    while True:
        char = stream.read(1)
        if not char:
            break
        if char == b"#":
            stream.readline()
            continue
        if char.isspace():
            if token:
                break
            continue
        token += char
    return int(token)


# ---------------------------------------------------------------- PNG (no cv2)


def _decode_png(path: Path, data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    header, palette, transparency, compressed = _png_chunks(path, data)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if channels is None or depth not in (1, 2, 4, 8, 16):
        raise ImageError(f"{path}: unsupported PNG colour type {colour} / bit depth {depth}")
    if interlace:
        raise ImageError(f"{path}: interlaced PNG needs OpenCV: {CAMERA_EXTRA_HINT}, or save it non-interlaced")
    _check_pixels(path, width, height, max_pixels)
    try:
        raw = zlib.decompress(compressed)
    except zlib.error as error:
        raise ImageError(f"{path}: corrupt PNG pixel data ({error})") from None
    bits_per_pixel = depth * channels
    stride = (width * bits_per_pixel + 7) // 8
    if len(raw) < height * (stride + 1):
        raise ImageError(f"{path}: truncated PNG ({len(raw)} of {height * (stride + 1)} pixel bytes)")
    rows = _png_unfilter(path, raw, height, stride, max(1, bits_per_pixel // 8))
    if depth == 16:
        samples = rows.view(">u2").reshape(height, width, channels)
        image = (samples >> 8).astype(np.uint8)
    elif depth == 8:
        image = rows.reshape(height, width, channels)
    else:
        bits = np.unpackbits(rows, axis=1).reshape(height, stride * 8 // depth, depth)
        weights = (1 << np.arange(depth - 1, -1, -1)).astype(np.uint8)
        image = (bits * weights).sum(axis=2, dtype=np.uint8)[:, :width, None]
        if colour == 0:
            image = (image.astype(np.uint16) * 255 // ((1 << depth) - 1)).astype(np.uint8)
    return _png_to_bgr(path, image, colour, palette, transparency)


def _png_chunks(path: Path, data: bytes):
    pos, header, palette, transparency, idat = len(PNG_SIGNATURE), None, None, None, []
    while True:
        if pos + 8 > len(data):
            raise ImageError(f"{path}: truncated PNG (no IEND chunk)")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise ImageError(f"{path}: truncated PNG (chunk {kind!r} cut short)")
        if zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            raise ImageError(f"{path}: corrupt PNG (checksum error in chunk {kind.decode('latin-1')!r})")
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"PLTE":
            palette = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
        elif kind == b"tRNS":
            transparency = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None or len(header) != 13 or not idat:
        raise ImageError(f"{path}: corrupt PNG (missing IHDR or IDAT)")
    return header, palette, transparency, b"".join(idat)


def _png_unfilter(path: Path, raw: bytes, height: int, stride: int, bpp: int) -> np.ndarray:
    """Undo the per-row PNG filters. Sub and Up are vectorised; Average and Paeth loop in Python,
    which is slow for big frames (a fallback only: with OpenCV installed it is not used)."""
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=start + 1)
        if kind == 0:
            row = line.copy()
        elif kind == 1:
            row = _undo_sub(line, bpp)
        elif kind == 2:
            row = (line.astype(np.uint16) + previous).astype(np.uint8)
        elif kind in (3, 4):
            row = _undo_average_or_paeth(bytearray(line.tobytes()), previous.tobytes(), bpp, paeth=kind == 4)
        else:
            raise ImageError(f"{path}: corrupt PNG (unknown filter type {kind} on row {y})")
        out[y] = row
        previous = out[y]
    return out


def _undo_sub(line: np.ndarray, bpp: int) -> np.ndarray:
    padded = np.zeros(-(-len(line) // bpp) * bpp, dtype=np.uint64)
    padded[:len(line)] = line
    summed = np.cumsum(padded.reshape(-1, bpp), axis=0) % 256
    return summed.reshape(-1)[:len(line)].astype(np.uint8)


def _undo_average_or_paeth(row: bytearray, prior: bytes, bpp: int, *, paeth: bool) -> np.ndarray:
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        up = prior[i]
        if paeth:
            upper_left = prior[i - bpp] if i >= bpp else 0
            estimate = left + up - upper_left
            to_left, to_up, to_ul = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
            if to_left <= to_up and to_left <= to_ul:
                predictor = left
            elif to_up <= to_ul:
                predictor = up
            else:
                predictor = upper_left
        else:
            predictor = (left + up) >> 1
        row[i] = (row[i] + predictor) & 0xFF
    return np.frombuffer(bytes(row), dtype=np.uint8)


def _png_to_bgr(path: Path, image: np.ndarray, colour: int, palette, transparency) -> np.ndarray:
    if colour == 3:
        if palette is None:
            raise ImageError(f"{path}: corrupt PNG (palette image without PLTE)")
        index = image[:, :, 0]
        if int(index.max()) >= len(palette):
            raise ImageError(f"{path}: corrupt PNG (palette index out of range)")
        rgb = palette[index]
        if transparency:
            alpha = np.full(len(palette), 255, dtype=np.uint8)
            alpha[:min(len(transparency), len(palette))] = np.frombuffer(transparency, np.uint8)[:len(palette)]
            return np.dstack([rgb[:, :, ::-1], alpha[index]])
        return rgb[:, :, ::-1]
    if colour == 0:
        return image[:, :, 0]
    if colour == 4:  # grey + alpha
        grey = image[:, :, 0]
        return np.dstack([grey, grey, grey, image[:, :, 1]])
    if colour == 2:
        return image[:, :, ::-1]
    return image[:, :, [2, 1, 0, 3]]  # RGBA -> BGRA


def _check_pixels(path: Path, width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    if width == 0 or height == 0:
        raise ImageError(f"{path}: zero-size image ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(f"{path}: image is {width}x{height}, more than {max_pixels / 1_000_000:g} megapixels")


# ---------------------------------------------------------------- writing


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes for a (H, W) grey or (H, W, 3) BGR uint8 image, without OpenCV."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim == 2:
        colour, rows = 0, image
    elif image.ndim == 3 and image.shape[2] == 3:
        colour, rows = 2, image[:, :, ::-1].reshape(image.shape[0], -1)
    else:
        raise ValueError(f"can only write (H, W) or (H, W, 3) uint8 images; found shape {image.shape}")
    height, width = image.shape[:2]
    raw = np.hstack([np.zeros((height, 1), np.uint8), rows]).tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def write_image(path, image: np.ndarray) -> Path:
    """Write atomically (temp file + rename). PNG always works; other suffixes need OpenCV."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png" and not have_cv2():
        data = encode_png(image)
    else:
        try:
            import cv2
        except ImportError:
            raise ImageError(f"{path}: writing {suffix or 'this'} images needs OpenCV ({CAMERA_EXTRA_HINT}); "
                             "use a .png name") from None
        ok, encoded = cv2.imencode(suffix or ".png", image)
        if not ok:
            raise ImageError(f"{path}: OpenCV cannot write {suffix or 'this'} images")
        data = encoded.tobytes()
    write_atomic(path, data)
    return path

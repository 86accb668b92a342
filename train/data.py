"""MNIST loading with integrity checks, and an optional verified download.

Accepted on-disk formats, looked up in one directory:

* the original IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzip-compressed (``.gz``) or raw;
* the Keras ``mnist.npz`` (keys ``x_train``, ``y_train``, ``x_test``, ``y_test``), used when the
  IDX set is incomplete.

Every file is checked against the SHA-256 of the canonical *decompressed* IDX contents, so a
recompressed copy and a fresh download are both accepted. For ``mnist.npz`` the IDX bytes are
reconstructed (IDX header built from the array shape + the raw uint8 array bytes) and hashed with
the same canonical values: one table of constants serves both formats, and the check proves the
arrays are byte-for-byte the canonical data.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import stat
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
IDX_NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
NPZ_NAME = "mnist.npz"
NPZ_KEYS = {"x_train": TRAIN_IMAGES, "y_train": TRAIN_LABELS, "x_test": TEST_IMAGES, "y_test": TEST_LABELS}

# SHA-256 of the decompressed canonical files (SHA256SUMS.uncompressed of the shared copy).
CANONICAL_SHA256: Mapping[str, str] = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

IMAGE_SIZE = (28, 28)
UBYTE = 0x08  # IDX element-type code for unsigned bytes
CHUNK = 1 << 16


class MnistError(Exception):
    """Any problem with the MNIST data: missing, corrupt, malformed or not downloadable."""


@dataclass(frozen=True)
class MnistData:
    train_images: np.ndarray  # (N, 28, 28) uint8
    train_labels: np.ndarray  # (N,) uint8
    test_images: np.ndarray  # (M, 28, 28) uint8
    test_labels: np.ndarray  # (M,) uint8
    source: Path  # directory the data was read from

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if images.dtype != np.uint8 or labels.dtype != np.uint8:
                raise MnistError(f"{split}: expected uint8 arrays, found {images.dtype} images, {labels.dtype} labels")
            if images.ndim != 3 or images.shape[1:] != IMAGE_SIZE or labels.ndim != 1:
                raise MnistError(f"{split}: expected (N, 28, 28) images and (N,) labels, "
                                 f"found {images.shape} and {labels.shape}")
            if len(images) != len(labels):
                raise MnistError(f"{split}: {len(images)} images but {len(labels)} labels")


def default_data_dir() -> Path:
    """Per-user cache directory: $XDG_CACHE_HOME/edgedigits/mnist, else ~/.cache/edgedigits/mnist."""
    cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"  # XDG: ignore relative paths
    return base / "edgedigits" / "mnist"


# ---------------------------------------------------------------------------------------------
# Parsing and verification


def idx_header(shape: tuple[int, ...]) -> bytes:
    """IDX header for a uint8 array of this shape: magic 0x000008<ndim> then big-endian dims."""
    return struct.pack(f">BBBB{len(shape)}I", 0, 0, UBYTE, len(shape), *shape)


def parse_idx(data: bytes, name: str, ndim: int) -> np.ndarray:
    """Decode IDX bytes into a writable uint8 array; MnistError names `name` and the defect."""
    if len(data) < 4:
        raise MnistError(f"{name}: {len(data)} bytes, too short for an IDX header (truncated or empty file)")
    magic = int.from_bytes(data[:4], "big")
    expected_magic = (UBYTE << 8) | ndim
    if magic != expected_magic:
        raise MnistError(f"{name}: wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
                         f"(IDX, unsigned bytes, {ndim} dimension(s)) - not an MNIST "
                         f"{'image' if ndim == 3 else 'label'} file")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise MnistError(f"{name}: truncated IDX header ({len(data)} of {header_size} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    if ndim == 3 and shape[1:] != IMAGE_SIZE:
        raise MnistError(f"{name}: expected 28x28 images, header says {shape[1]}x{shape[2]}")
    expected = int(np.prod(shape, dtype=np.int64))
    found = len(data) - header_size
    if found < expected:
        raise MnistError(f"{name}: truncated - header declares {shape[0]} items ({expected} data bytes) "
                         f"but the file holds only {found} data bytes")
    if found > expected:
        raise MnistError(f"{name}: count mismatch - header declares {shape[0]} items ({expected} data bytes) "
                         f"but the file holds {found} data bytes")
    array = np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape).copy()
    if ndim == 1 and array.size and array.max() > 9:
        raise MnistError(f"{name}: label value {int(array.max())} out of range 0-9")
    return array


def check_sha256(digest: str, name: str, where: str, checksums: Mapping[str, str]) -> None:
    expected = checksums[name]
    if digest != expected:
        raise MnistError(f"{where}: SHA-256 of the decompressed contents is {digest}, expected {expected} "
                         f"for {name} - the file is corrupt or not the canonical MNIST data")


def read_idx_bytes(path: Path, compressed: bool) -> bytes:
    """Whole decompressed contents of a raw or gzip IDX file."""
    try:
        if compressed:
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise MnistError(f"{path}: truncated or corrupt gzip stream ({e})") from e
    except OSError as e:
        raise MnistError(f"{path}: cannot read ({e})") from e


def load_idx(path: Path, checksums: Mapping[str, str] = CANONICAL_SHA256, *, name: str | None = None,
             compressed: bool | None = None) -> np.ndarray:
    """Read, parse and checksum-verify one IDX file (raw or .gz; `name`/`compressed` default from the path)."""
    name = name or idx_name(path)
    data = read_idx_bytes(path, path.suffix == ".gz" if compressed is None else compressed)
    array = parse_idx(data, str(path), ndim=3 if "images" in name else 1)
    check_sha256(hashlib.sha256(data).hexdigest(), name, str(path), checksums)
    return array


def verify(path: str | os.PathLike, checksums: Mapping[str, str] = CANONICAL_SHA256) -> None:
    """Raise MnistError unless `path` (IDX raw/.gz, or mnist.npz) holds the expected MNIST data."""
    path = Path(path)
    if path.suffix == ".npz":
        load_npz(path, checksums)
    else:
        load_idx(path, checksums)


def idx_name(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    if name not in IDX_NAMES:
        raise MnistError(f"{path}: not an MNIST file name, expected one of {', '.join(IDX_NAMES)} (optionally .gz)")
    return name


def load_npz(path: Path, checksums: Mapping[str, str] = CANONICAL_SHA256) -> dict[str, np.ndarray]:
    """Arrays of a Keras mnist.npz keyed by IDX name, verified against the canonical IDX hashes."""
    arrays = {}
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise MnistError(f"{path}: not an npz archive (found a single {type(loaded).__name__})")
        with loaded as npz:
            missing = [key for key in NPZ_KEYS if key not in npz.files]
            if missing:
                raise MnistError(f"{path}: missing key(s) {', '.join(missing)}; found {', '.join(npz.files) or 'none'}")
            for key, name in NPZ_KEYS.items():
                arrays[name] = npz_array(npz[key], path, key, ndim=3 if "images" in name else 1)
    except MnistError:
        raise
    except ValueError as e:  # allow_pickle=False refuses object arrays with ValueError
        raise MnistError(f"{path}: malformed or pickled npz content ({e})") from e
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise MnistError(f"{path}: truncated or corrupt npz file ({e})") from e
    for name, array in arrays.items():
        digest = hashlib.sha256(idx_header(array.shape))
        digest.update(memoryview(array).cast("B"))
        check_sha256(digest.hexdigest(), name, f"{path}[{name_to_key(name)}]", checksums)
    return arrays


def name_to_key(name: str) -> str:
    return next(key for key, value in NPZ_KEYS.items() if value == name)


def npz_array(array: np.ndarray, path: Path, key: str, ndim: int) -> np.ndarray:
    where = f"{path}[{key}]"
    if array.dtype.kind not in "ui":
        raise MnistError(f"{where}: expected uint8 values, found dtype {array.dtype}")
    if array.ndim != ndim or (ndim == 3 and array.shape[1:] != IMAGE_SIZE):
        expected = "(N, 28, 28)" if ndim == 3 else "(N,)"
        raise MnistError(f"{where}: expected shape {expected}, found {array.shape}")
    if array.size and (array.min() < 0 or array.max() > (255 if ndim == 3 else 9)):
        raise MnistError(f"{where}: values {array.min()}..{array.max()} outside the "
                         f"{'0-255' if ndim == 3 else '0-9'} range")
    return np.ascontiguousarray(array, dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# Locating files


def find_idx_files(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """Existing IDX file (raw preferred over .gz) per name, and the names with no file."""
    found, missing = {}, []
    for name in IDX_NAMES:
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
        else:
            missing.append(name)
    return found, missing


def is_writable_dir(directory: Path) -> bool:
    """True when we may create files in `directory` (or create it).

    A directory without any write permission bit is treated as read-only input even for root,
    who would otherwise be allowed to write anywhere.
    """
    existing = directory
    while not existing.exists():
        if existing.parent == existing:
            return False
        existing = existing.parent
    if not existing.is_dir():
        return False
    return os.access(existing, os.W_OK) and bool(stat.S_IMODE(existing.stat().st_mode) & 0o222)


# ---------------------------------------------------------------------------------------------
# Downloading


class TransientError(Exception):
    """A download failure worth retrying (connection trouble, HTTP 5xx, short read)."""


def download_file(url: str, target: Path, name: str, *, checksums: Mapping[str, str], progress: bool,
                  retries: int, timeout: float, backoff: float) -> np.ndarray:
    """Download a gzip IDX file to `target` atomically (temp file in the same directory, verify,
    os.replace) and return its verified array."""
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        try:
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        except OSError as e:
            raise MnistError(f"cannot create a temporary file in {target.parent} for the download ({e})") from e
        tmp = Path(tmp_name)
        try:
            try:
                with os.fdopen(fd, "wb") as out:
                    fetch(url, out, name, progress=progress, timeout=timeout)
            except TransientError as e:
                if attempt == attempts:
                    raise MnistError(f"download of {url} failed after {attempts} attempt(s): {e}") from e
                delay = backoff * 2 ** (attempt - 1)
                print(f"edgedigits: {e}; retrying {url} in {delay:.2f} s ({attempt}/{retries})", file=sys.stderr)
                time.sleep(delay)
                continue
            except OSError as e:  # network errors became TransientError in fetch(); this is the local disk
                raise MnistError(f"cannot write the download of {url} into {target.parent} ({e})") from e
            try:
                array = load_idx(tmp, checksums, name=name, compressed=True)
            except MnistError as e:
                raise MnistError(f"downloaded {url} is not valid MNIST data: {e}") from e
            os.replace(tmp, target)
            return array
        finally:
            tmp.unlink(missing_ok=True)


def fetch(url: str, out, name: str, *, progress: bool, timeout: float) -> None:
    """Stream `url` into `out`; TransientError for failures a retry may fix."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            received = 0
            with progress_bar(total, name, progress) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        if e.code >= 500:
            raise TransientError(f"HTTP {e.code} {e.reason}") from e
        raise MnistError(f"download of {url} failed: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError) as e:
        raise TransientError(f"{type(e).__name__}: {getattr(e, 'reason', e)}") from e
    if total is not None and received != total:
        raise TransientError(f"connection closed after {received} of {total} bytes")


def progress_bar(total: int | None, name: str, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:
        enabled = False
        tqdm = None
    if not enabled or not sys.stderr.isatty():
        return NullBar()
    return tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=False)


class NullBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Public entry points


def load_mnist(data_dir: str | os.PathLike | None = None, *, download: bool = True, base_url: str | None = None,
               progress: bool = True, retries: int = 3, timeout: float = 30, backoff: float = 1.0,
               checksums: Mapping[str, str] = CANONICAL_SHA256) -> MnistData:
    """Load MNIST as uint8 arrays, verifying every file against the canonical SHA-256.

    Directory: `data_dir` if given, else $MNIST_DIR, else default_data_dir() (per-user cache).
    Inside it the four IDX files (raw or .gz) are used when all are present, else mnist.npz.

    Missing files are downloaded (when `download`) from `base_url` (default $MNIST_URL, else
    DEFAULT_URL) as <name>.gz, with `retries` retries (delay `backoff` s, doubling) on connection
    errors, short reads and HTTP 5xx, a tqdm bar on stderr when `progress` and stderr is a tty, and
    an atomic write (temp file in the same directory, checksum verified, then os.replace), so an
    interrupted or corrupt download never leaves a file under a final name. Where it downloads:

    * default cache directory: created if needed and filled.
    * `data_dir` argument: filled if writable; a read-only directory (no write permission bit,
      even for root) is never written to - MnistError names the missing files.
    * $MNIST_DIR: treated as read-only input (e.g. a shared copy); never written to - MnistError
      names the missing files; unset it to use the cache, or pass a writable `data_dir`.

    `checksums` maps each IDX name to the SHA-256 of its decompressed contents (canonical MNIST by
    default). Raises MnistError for every data problem.
    """
    env_dir = os.environ.get("MNIST_DIR")
    if data_dir is not None:
        directory, read_only_input = Path(data_dir), False
    elif env_dir:
        directory, read_only_input = Path(env_dir), True
    else:
        directory, read_only_input = default_data_dir(), False
    validate_options(retries, timeout, backoff, checksums)

    found, missing = find_idx_files(directory)
    if missing and (directory / NPZ_NAME).is_file():
        return mnist_from_npz(directory / NPZ_NAME, checksums)
    arrays = {}
    if missing:
        ensure_downloadable(directory, missing, download=download, read_only_input=read_only_input)
        url = (base_url or os.environ.get("MNIST_URL") or DEFAULT_URL).rstrip("/") + "/"
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise MnistError(f"cannot create the MNIST directory {directory} ({e})") from e
        for name in missing:
            target = directory / f"{name}.gz"
            arrays[name] = download_file(url + target.name, target, name, checksums=checksums,
                                         progress=progress, retries=retries, timeout=timeout, backoff=backoff)
            found[name] = target
    for name, path in found.items():
        if name not in arrays:
            arrays[name] = load_idx(path, checksums)
    return mnist_from_arrays(arrays, directory, describe=lambda name: str(found[name]))


def validate_options(retries: int, timeout: float, backoff: float, checksums: Mapping[str, str]) -> None:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, got {retries!r}")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    if not backoff >= 0:
        raise ValueError(f"backoff must be >= 0 seconds, got {backoff!r}")
    absent = [name for name in IDX_NAMES if name not in checksums]
    if absent:
        raise ValueError(f"checksums lacks an entry for {', '.join(absent)}")


def ensure_downloadable(directory: Path, missing: list[str], *, download: bool, read_only_input: bool) -> None:
    listed = ", ".join(f"{name}(.gz)" for name in missing)
    wanted = f"MNIST files missing in {directory}: {listed} (and no {NPZ_NAME})"
    if not download:
        raise MnistError(f"{wanted}; download=False - call with download=True or point MNIST_DIR/data_dir "
                         f"at a complete copy")
    if read_only_input:
        raise MnistError(f"{wanted}; MNIST_DIR is treated as read-only input and is never written to - "
                         f"unset MNIST_DIR to download into {default_data_dir()}, or pass a writable data_dir")
    if not is_writable_dir(directory):
        raise MnistError(f"{wanted}; the directory is read-only, so nothing is downloaded into it - "
                         f"pass a writable data_dir or omit it to use {default_data_dir()}")


def mnist_from_npz(path: Path, checksums: Mapping[str, str]) -> MnistData:
    arrays = load_npz(path, checksums)
    return mnist_from_arrays(arrays, path.parent, describe=lambda name: f"{path}[{name_to_key(name)}]")


def mnist_from_arrays(arrays: dict[str, np.ndarray], directory: Path, describe) -> MnistData:
    for images, labels in ((TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)):
        if len(arrays[images]) != len(arrays[labels]):
            raise MnistError(f"{describe(images)} holds {len(arrays[images])} images but "
                             f"{describe(labels)} holds {len(arrays[labels])} labels")
    return MnistData(train_images=arrays[TRAIN_IMAGES], train_labels=arrays[TRAIN_LABELS],
                     test_images=arrays[TEST_IMAGES], test_labels=arrays[TEST_LABELS], source=directory)


def split_validation(images: np.ndarray, labels: np.ndarray, size: int = 5000
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train_x, train_y, val_x, val_y): the LAST `size` examples become the validation set (views, no copy)."""
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} vs {len(labels)}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise ValueError(f"size must be an integer, got {size!r}")
    if not 0 < size < len(images):
        raise ValueError(f"size must be between 1 and {len(images) - 1} (there are {len(images)} examples), "
                         f"got {size}")
    cut = len(images) - size
    return images[:cut], labels[:cut], images[cut:], labels[cut:]

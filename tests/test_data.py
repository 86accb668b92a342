"""Tests for train/data.py: IDX/npz parsing, integrity checks, and downloads from a local HTTP server."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from train import data
from train.data import (
    IDX_NAMES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    MnistData,
    MnistError,
    idx_header,
    load_mnist,
    split_validation,
    verify,
)

REPO = Path(__file__).resolve().parents[1]


def real_mnist_dir() -> Path:
    """The shared MNIST copy: $MNIST_DIR, else ../shared/datasets/mnist next to the repo (as .ci/run does)."""
    return Path(os.environ.get("MNIST_DIR") or REPO.parent / "shared" / "datasets" / "mnist")


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """No MNIST_DIR/MNIST_URL from the caller, a private cache dir, and no proxy for 127.0.0.1."""
    for var in ("MNIST_DIR", "MNIST_URL", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path


# ---------------------------------------------------------------------------------------------
# Synthetic data


def synthetic_arrays(n_train: int = 7, n_test: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        TRAIN_IMAGES: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        TRAIN_LABELS: rng.integers(0, 10, n_train, dtype=np.uint8),
        TEST_IMAGES: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        TEST_LABELS: rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def idx_bytes(array: np.ndarray) -> bytes:
    return idx_header(array.shape) + array.tobytes()


def checksums_of(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    return {name: hashlib.sha256(idx_bytes(array)).hexdigest() for name, array in arrays.items()}


def write_idx_set(directory: Path, arrays: dict[str, np.ndarray], compressed: bool) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        if compressed:
            (directory / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))
        else:
            (directory / name).write_bytes(idx_bytes(array))
    return checksums_of(arrays)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    np.savez(path, x_train=arrays[TRAIN_IMAGES], y_train=arrays[TRAIN_LABELS],
             x_test=arrays[TEST_IMAGES], y_test=arrays[TEST_LABELS])


def assert_same_data(loaded: MnistData, arrays: dict[str, np.ndarray]) -> None:
    for field, name in (("train_images", TRAIN_IMAGES), ("train_labels", TRAIN_LABELS),
                        ("test_images", TEST_IMAGES), ("test_labels", TEST_LABELS)):
        value = getattr(loaded, field)
        assert value.dtype == np.uint8
        np.testing.assert_array_equal(value, arrays[name])


# ---------------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("compressed", [True, False], ids=["gzip", "raw"])
def test_idx_round_trip(isolated_env, compressed):
    arrays = synthetic_arrays()
    checksums = write_idx_set(isolated_env / "mnist", arrays, compressed)
    loaded = load_mnist(isolated_env / "mnist", download=False, checksums=checksums)
    assert_same_data(loaded, arrays)
    assert loaded.source == isolated_env / "mnist"
    assert loaded.train_images.shape == (7, 28, 28) and loaded.test_labels.shape == (3,)


def test_npz_round_trip_verified_against_idx_hashes(isolated_env):
    arrays = synthetic_arrays()
    write_npz(isolated_env / "mnist.npz", arrays)
    loaded = load_mnist(isolated_env, download=False, checksums=checksums_of(arrays))
    assert_same_data(loaded, arrays)


def test_npz_with_int64_labels_is_accepted(isolated_env):
    arrays = synthetic_arrays()
    wide = dict(arrays, **{TRAIN_LABELS: arrays[TRAIN_LABELS].astype(np.int64)})
    write_npz(isolated_env / "mnist.npz", wide)
    loaded = load_mnist(isolated_env, download=False, checksums=checksums_of(arrays))
    assert_same_data(loaded, arrays)


def test_mnist_dir_env_is_used(isolated_env, monkeypatch):
    arrays = synthetic_arrays()
    checksums = write_idx_set(isolated_env / "env-mnist", arrays, compressed=True)
    monkeypatch.setenv("MNIST_DIR", str(isolated_env / "env-mnist"))
    assert_same_data(load_mnist(download=False, checksums=checksums), arrays)


def test_default_data_dir_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.default_data_dir() == tmp_path / "edgedigits" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, per the XDG spec
    assert data.default_data_dir() == Path.home() / ".cache" / "edgedigits" / "mnist"


def test_verify_helper(isolated_env):
    arrays = synthetic_arrays()
    checksums = write_idx_set(isolated_env, arrays, compressed=True)
    verify(isolated_env / f"{TRAIN_LABELS}.gz", checksums)
    with pytest.raises(MnistError, match="SHA-256"):
        verify(isolated_env / f"{TRAIN_LABELS}.gz")  # synthetic data is not canonical MNIST


# ---------------------------------------------------------------------------------------------
# Rejections


def test_truncated_gzip_is_rejected(isolated_env):
    arrays = synthetic_arrays()
    checksums = write_idx_set(isolated_env, arrays, compressed=True)
    path = isolated_env / f"{TRAIN_IMAGES}.gz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(MnistError, match=rf"{TRAIN_IMAGES}\.gz.*truncated or corrupt gzip"):
        load_mnist(isolated_env, download=False, checksums=checksums)


def test_truncated_payload_is_rejected(isolated_env):
    arrays = synthetic_arrays()
    checksums = write_idx_set(isolated_env, arrays, compressed=False)
    path = isolated_env / TRAIN_IMAGES
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(MnistError, match=rf"{TRAIN_IMAGES}: truncated - header declares 7 items "
                                         rf"\(5488 data bytes\) but the file holds only 5483"):
        load_mnist(isolated_env, download=False, checksums=checksums)


def test_wrong_magic_is_rejected(isolated_env):
    arrays = synthetic_arrays()
    checksums = write_idx_set(isolated_env, arrays, compressed=False)
    shutil.copy(isolated_env / TEST_IMAGES, isolated_env / TEST_LABELS)  # an image file named as labels
    with pytest.raises(MnistError, match=rf"{TEST_LABELS}: wrong magic number 0x00000803, expected 0x00000801"):
        load_mnist(isolated_env, download=False, checksums=checksums)


def test_header_count_mismatch_is_rejected(isolated_env):
    arrays = synthetic_arrays()
    checksums = write_idx_set(isolated_env, arrays, compressed=False)
    labels = arrays[TRAIN_LABELS]
    (isolated_env / TRAIN_LABELS).write_bytes(idx_header((len(labels) - 2,)) + labels.tobytes())
    with pytest.raises(MnistError, match=rf"{TRAIN_LABELS}: count mismatch - header declares 5 items"):
        load_mnist(isolated_env, download=False, checksums=checksums)


def test_images_labels_disagreement_is_rejected(isolated_env):
    arrays = synthetic_arrays()
    arrays[TEST_LABELS] = arrays[TEST_LABELS][:2]
    checksums = write_idx_set(isolated_env, arrays, compressed=True)  # each file valid on its own
    with pytest.raises(MnistError, match=rf"{TEST_IMAGES}\.gz holds 3 images but .*{TEST_LABELS}\.gz holds 2 labels"):
        load_mnist(isolated_env, download=False, checksums=checksums)


def test_label_out_of_range_is_rejected(isolated_env):
    arrays = synthetic_arrays()
    arrays[TRAIN_LABELS][0] = 10
    checksums = write_idx_set(isolated_env, arrays, compressed=False)
    with pytest.raises(MnistError, match=rf"{TRAIN_LABELS}: label value 10 out of range"):
        load_mnist(isolated_env, download=False, checksums=checksums)


def test_bad_checksum_is_rejected(isolated_env):
    arrays = synthetic_arrays()
    checksums = checksums_of(arrays)
    arrays[TRAIN_IMAGES][3, 10, 10] ^= 0xFF  # one pixel differs from the expected data
    write_idx_set(isolated_env, arrays, compressed=True)
    with pytest.raises(MnistError, match=rf"{TRAIN_IMAGES}\.gz: SHA-256 of the decompressed contents is [0-9a-f]{{64}}, "
                                         rf"expected {checksums[TRAIN_IMAGES]}"):
        load_mnist(isolated_env, download=False, checksums=checksums)


def test_npz_bad_checksum_is_rejected(isolated_env):
    arrays = synthetic_arrays()
    checksums = checksums_of(arrays)
    arrays[TEST_LABELS][0] = (arrays[TEST_LABELS][0] + 1) % 10
    write_npz(isolated_env / "mnist.npz", arrays)
    with pytest.raises(MnistError, match=r"mnist\.npz\[y_test\]: SHA-256"):
        load_mnist(isolated_env, download=False, checksums=checksums)


def test_npz_object_array_is_rejected_without_unpickling(isolated_env):
    arrays = synthetic_arrays()
    objects = np.empty(3, dtype=object)
    objects[:] = [1, "two", 3.0]
    np.savez(isolated_env / "mnist.npz", x_train=arrays[TRAIN_IMAGES], y_train=objects,
             x_test=arrays[TEST_IMAGES], y_test=arrays[TEST_LABELS])
    with pytest.raises(MnistError, match=r"mnist\.npz: malformed or pickled npz content .*allow_pickle=False"):
        load_mnist(isolated_env, download=False, checksums=checksums_of(arrays))


def test_npz_float_images_and_missing_keys_are_rejected(isolated_env):
    arrays = synthetic_arrays()
    checksums = checksums_of(arrays)
    write_npz(isolated_env / "mnist.npz", dict(arrays, **{TRAIN_IMAGES: arrays[TRAIN_IMAGES] / 255.0}))
    with pytest.raises(MnistError, match=r"mnist\.npz\[x_train\]: expected uint8 values, found dtype float64"):
        load_mnist(isolated_env, download=False, checksums=checksums)
    np.savez(isolated_env / "mnist.npz", x_train=arrays[TRAIN_IMAGES], y_train=arrays[TRAIN_LABELS])
    with pytest.raises(MnistError, match=r"mnist\.npz: missing key\(s\) x_test, y_test"):
        load_mnist(isolated_env, download=False, checksums=checksums)


def test_truncated_npz_is_rejected(isolated_env):
    arrays = synthetic_arrays()
    write_npz(isolated_env / "mnist.npz", arrays)
    path = isolated_env / "mnist.npz"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(MnistError, match=r"mnist\.npz: truncated or corrupt npz"):
        load_mnist(isolated_env, download=False, checksums=checksums_of(arrays))


def test_npy_named_npz_is_rejected(isolated_env):
    np.save(isolated_env / "mnist.npy", np.zeros(3, np.uint8))
    (isolated_env / "mnist.npy").rename(isolated_env / "mnist.npz")
    with pytest.raises(MnistError, match=r"mnist\.npz: not an npz archive"):
        load_mnist(isolated_env, download=False, checksums=checksums_of(synthetic_arrays()))


def test_missing_files_are_named(isolated_env):
    arrays = synthetic_arrays()
    checksums = write_idx_set(isolated_env, {n: arrays[n] for n in (TRAIN_IMAGES, TRAIN_LABELS)}, compressed=True)
    with pytest.raises(MnistError) as error:
        load_mnist(isolated_env, download=False, checksums=checksums_of(arrays))
    message = str(error.value)
    assert f"{TEST_IMAGES}(.gz), {TEST_LABELS}(.gz)" in message and TRAIN_IMAGES not in message
    assert "download=True" in message
    assert checksums  # the two present files were written


def test_mnist_dir_is_never_written(isolated_env, monkeypatch, mnist_server):
    monkeypatch.setenv("MNIST_DIR", str(isolated_env / "input"))
    (isolated_env / "input").mkdir()
    with pytest.raises(MnistError, match=r"missing in .*input: train-images.*MNIST_DIR is treated as read-only"):
        load_mnist(base_url=mnist_server.url, progress=False)
    assert list((isolated_env / "input").iterdir()) == []
    assert mnist_server.requests == []


def test_read_only_data_dir_is_never_written(isolated_env, mnist_server):
    read_only = isolated_env / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)  # root ignores permissions; the loader still honours the missing write bits
    try:
        with pytest.raises(MnistError, match=r"t10k-labels-idx1-ubyte\(\.gz\).*the directory is read-only"):
            load_mnist(read_only, base_url=mnist_server.url, progress=False)
        assert list(read_only.iterdir()) == []
        assert mnist_server.requests == []
    finally:
        read_only.chmod(0o755)


@pytest.mark.parametrize("size", [0, -1, 10, 11, 2.5, True])
def test_split_validation_rejects_bad_size(size):
    images, labels = np.zeros((10, 28, 28), np.uint8), np.zeros(10, np.uint8)
    with pytest.raises(ValueError, match="size must be"):
        split_validation(images, labels, size)


def test_split_validation_takes_the_last_examples():
    images = np.arange(10 * 28 * 28, dtype=np.int64).reshape(10, 28, 28).astype(np.uint8)
    labels = np.arange(10, dtype=np.uint8)
    train_x, train_y, val_x, val_y = split_validation(images, labels, size=3)
    np.testing.assert_array_equal(train_y, [0, 1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(val_y, [7, 8, 9])
    np.testing.assert_array_equal(val_x, images[7:])
    assert train_x.shape == (7, 28, 28)
    with pytest.raises(ValueError, match="differ in length: 10 vs 9"):
        split_validation(images, labels[:9])


# ---------------------------------------------------------------------------------------------
# The real shared copy (CI sets MNIST_DIR; a missing copy is a failure, not a skip)


@pytest.fixture(scope="module")
def real_mnist() -> MnistData:
    directory = real_mnist_dir()
    if not all((directory / f"{name}.gz").is_file() for name in IDX_NAMES):
        pytest.fail(f"the shared MNIST copy is not at {directory}; set MNIST_DIR to it")
    start = time.perf_counter()
    loaded = load_mnist(directory, download=False)
    print(f"\nreal MNIST loaded and verified in {time.perf_counter() - start:.2f} s")
    return loaded


def test_real_mnist_loads_with_canonical_checksums(real_mnist):
    assert real_mnist.train_images.shape == (60000, 28, 28) and real_mnist.train_images.dtype == np.uint8
    assert real_mnist.test_images.shape == (10000, 28, 28)
    np.testing.assert_array_equal(real_mnist.train_labels[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    np.testing.assert_array_equal(real_mnist.test_labels[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    np.testing.assert_array_equal(np.bincount(real_mnist.test_labels),
                                  [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    assert real_mnist.train_images.max() == 255 and real_mnist.train_images.min() == 0


def test_real_mnist_as_keras_npz_verifies_against_canonical_hashes(real_mnist, isolated_env):
    arrays = {TRAIN_IMAGES: real_mnist.train_images, TRAIN_LABELS: real_mnist.train_labels,
              TEST_IMAGES: real_mnist.test_images, TEST_LABELS: real_mnist.test_labels}
    write_npz(isolated_env / "mnist.npz", arrays)
    assert_same_data(load_mnist(isolated_env, download=False), arrays)


# ---------------------------------------------------------------------------------------------
# Downloads from a real HTTP server on 127.0.0.1


class MnistServer:
    """Serves files by name; `behaviour[name]` is "ok", "corrupt", "drop" (close mid-body) or "fail-once" (503)."""

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)  # tests may remove entries
        self.behaviour: dict[str, str] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(name)
                behaviour = server.behaviour.get(name, "ok")
                if name not in server.files:
                    self.send_error(404)
                    return
                body = server.files[name]
                if behaviour == "fail-once" and server.requests.count(name) == 1:
                    self.send_error(503)
                    return
                if behaviour == "corrupt":
                    body = corrupt_gzip(body)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if behaviour == "drop":
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def corrupt_gzip(body: bytes) -> bytes:
    """A well-formed gzip file whose decompressed content differs by one byte from the original."""
    content = bytearray(gzip.decompress(body))
    content[-1] = (content[-1] + 1) % 10  # still a valid label/pixel, so only the checksum can catch it
    return gzip.compress(bytes(content), compresslevel=1)


@pytest.fixture(scope="module")
def shared_gz_files() -> dict[str, bytes]:
    directory = real_mnist_dir()
    return {f"{name}.gz": (directory / f"{name}.gz").read_bytes() for name in IDX_NAMES}


@pytest.fixture
def mnist_server(shared_gz_files):
    with MnistServer(shared_gz_files) as server:
        yield server


def prefill(directory: Path, names: list[str]) -> None:
    """Copy some shared files into `directory` so only the others are downloaded (keeps tests fast)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(real_mnist_dir() / f"{name}.gz", directory / f"{name}.gz")


def test_download_into_default_cache(isolated_env, mnist_server, monkeypatch):
    monkeypatch.setenv("MNIST_URL", mnist_server.url)
    loaded = load_mnist(progress=False, backoff=0.01)
    cache = isolated_env / "xdg-cache" / "edgedigits" / "mnist"
    assert loaded.source == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{name}.gz" for name in IDX_NAMES)
    assert sorted(mnist_server.requests) == sorted(f"{name}.gz" for name in IDX_NAMES)
    assert loaded.train_images.shape == (60000, 28, 28) and loaded.test_labels.shape == (10000,)
    # A second call uses the verified cache without any request.
    mnist_server.requests.clear()
    again = load_mnist(progress=False)
    assert mnist_server.requests == []
    np.testing.assert_array_equal(again.test_labels, loaded.test_labels)


def test_corrupt_download_leaves_nothing(isolated_env, mnist_server):
    cache = isolated_env / "cache"
    prefill(cache, [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES])
    mnist_server.behaviour[f"{TEST_LABELS}.gz"] = "corrupt"
    with pytest.raises(MnistError, match=rf"downloaded {mnist_server.url}{TEST_LABELS}\.gz is not valid MNIST data: "
                                         rf".*SHA-256 of the decompressed contents"):
        load_mnist(cache, base_url=mnist_server.url, progress=False, backoff=0.01)
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES))
    assert mnist_server.requests == [f"{TEST_LABELS}.gz"]  # a checksum mismatch is not retried


def test_dropped_connection_retries_then_fails_cleanly(isolated_env, mnist_server):
    cache = isolated_env / "cache"
    prefill(cache, [TRAIN_IMAGES, TRAIN_LABELS])
    mnist_server.behaviour[f"{TEST_IMAGES}.gz"] = "drop"
    size = len(mnist_server.files[f"{TEST_IMAGES}.gz"])
    start = time.perf_counter()
    with pytest.raises(MnistError, match=rf"download of .*{TEST_IMAGES}\.gz failed after 3 attempt\(s\): "
                                         rf"connection closed after {size // 2} of {size} bytes"):
        load_mnist(cache, base_url=mnist_server.url, progress=False, retries=2, backoff=0.01)
    assert time.perf_counter() - start < 10
    assert mnist_server.requests == [f"{TEST_IMAGES}.gz"] * 3
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in (TRAIN_IMAGES, TRAIN_LABELS))


def test_server_error_once_is_retried(isolated_env, mnist_server, capsys):
    cache = isolated_env / "cache"
    prefill(cache, [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES])
    mnist_server.behaviour[f"{TEST_LABELS}.gz"] = "fail-once"
    loaded = load_mnist(cache, base_url=mnist_server.url, progress=False, backoff=0.01)
    assert mnist_server.requests == [f"{TEST_LABELS}.gz"] * 2
    assert "HTTP 503" in capsys.readouterr().err
    assert (cache / f"{TEST_LABELS}.gz").is_file()
    assert np.bincount(loaded.test_labels)[1] == 1135


def test_not_found_is_not_retried(isolated_env, mnist_server):
    cache = isolated_env / "cache"
    prefill(cache, [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES])
    del mnist_server.files[f"{TEST_LABELS}.gz"]
    with pytest.raises(MnistError, match=rf"download of .*{TEST_LABELS}\.gz failed: HTTP 404"):
        load_mnist(cache, base_url=mnist_server.url, progress=False, backoff=0.01)
    assert mnist_server.requests == [f"{TEST_LABELS}.gz"]
    assert not (cache / f"{TEST_LABELS}.gz").exists()


def test_unreachable_server_retries_then_fails(isolated_env):
    with http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]  # bound, then closed below: nothing listens there
    with pytest.raises(MnistError, match=r"failed after 2 attempt\(s\): .*(refused|ConnectionRefused)"):
        load_mnist(isolated_env / "cache", base_url=f"http://127.0.0.1:{port}/", progress=False,
                   retries=1, backoff=0.01)
    assert [p for p in (isolated_env / "cache").iterdir()] == []

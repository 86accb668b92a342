"""Shared fixtures. MNIST comes from $MNIST_DIR (CI points it at the shared read-only copy)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST, checksum-verified. Fails (never skips) when it cannot be found."""
    from train.data import load_mnist

    if not os.environ.get("MNIST_DIR"):
        pytest.fail("set MNIST_DIR to a folder with the MNIST IDX files (make test does it in CI)")
    return load_mnist(download=False, progress=False)

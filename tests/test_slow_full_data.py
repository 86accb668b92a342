"""Full-data checks (make test-slow, ~15 min on 2 cores): the default model's whole recipe and
its export through the real parity gates."""

from __future__ import annotations

import json

import pytest

from export.cli import main as export_main
from train.__main__ import main as train_main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def edge_run(tmp_path_factory):
    artifacts = tmp_path_factory.mktemp("artifacts")
    assert train_main(["--model", "edge", "--out", str(artifacts / "edge")]) == 0
    return artifacts


def test_edge_full_recipe_accuracy_and_budget(edge_run):
    metrics = json.loads((edge_run / "edge" / "metrics.json").read_text())
    # The target. Measured 99.53% here (bit-for-bit reproducible on this machine); seed 1
    # gave 99.46%, so a CPU whose float rounding differs may land a few images either side.
    assert metrics["test_accuracy"] >= 0.9950
    assert metrics["macs"] <= 1_051_904 / 4
    assert metrics["data"] == {"train": 55000, "validation": 5000, "test": 10000}


def test_edge_exports_through_the_default_gates(edge_run):
    assert export_main(["--model", "edge", "--artifacts-dir", str(edge_run)]) == 0
    manifest = json.loads((edge_run / "edge" / "manifest.json").read_text())
    assert set(manifest["formats"]) == {"tflite-f32", "tflite-int8", "onnx-f32", "onnx-int8"}
    int8 = manifest["formats"]["tflite-int8"]
    assert int8["validation"]["passed"] and int8["validation"]["images"] == 10000
    assert int8["size_bytes"] <= 100_000
    drop = int8["validation"]["keras_accuracy"] - int8["validation"]["accuracy"]
    assert drop <= 0.0005  # goal: int8 within 0.05 pp of float

"""Manifest and embedded metadata: what every exported file is, proven by hashes; atomic file writes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

from edgedigits.metadata import TEMPERATURE_KEY

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
METADATA_KEY = "edgedigits"
PREPROCESSING = {
    "input_shape": [28, 28, 1],
    "layout": "NHWC",
    "dtype": "float32",
    "value_range": [0.0, 1.0],
    "polarity": "white ink on black background",
    "normalization": "crop scaled to fit 20x20 keeping aspect ratio, centred by centre of mass in 28x28",
}
TOOLS = ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert", "numpy", "flatbuffers")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary name in the same directory, fsync, then rename over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def tool_versions() -> dict[str, str]:
    versions = {}
    for name in TOOLS:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def embedded_metadata(*, model: str, labels: list[str], format_name: str, quantization: dict, source: dict,
                      calibration: dict | None, validation: dict, tools: dict,
                      temperature_scaling: dict | None = None) -> dict:
    """The essentials a lone model file carries. No timestamp, so re-exports are byte-identical.

    `temperature_scaling` (export.temperature) is the softmax temperature the runtime applies, or
    None when none was fitted (no validation split): the runtime then uses the outputs as they are.
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "model": model,
        "format": format_name,
        "labels": labels,
        "preprocessing": PREPROCESSING,
        "quantization": quantization,
        # the file name only, so the bytes do not depend on the output directory
        "source": {"file": Path(source["file"]).name, "sha256": source["sha256"]},
        "calibration": calibration,
        "validation": validation,
        TEMPERATURE_KEY: temperature_scaling,
        "tools": tools,
    }


def metadata_json(meta: dict) -> str:
    return json.dumps(meta, sort_keys=True, separators=(",", ":"))


def build_manifest(*, model: str, labels: list[str], source: dict, calibration: dict, tools: dict, formats: dict,
                   reports: dict, gates: dict) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "model": model,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "labels": labels,
        "preprocessing": PREPROCESSING,
        "source": source,
        "calibration": calibration,
        "tools": tools,
        "gates": gates,
        "formats": formats,
        "reports": reports,
    }


def write_manifest(directory: Path, manifest: dict) -> Path:
    path = Path(directory) / MANIFEST_NAME
    atomic_write_text(path, json.dumps(manifest, indent=2) + "\n")
    return path


def remove_stale_manifest(directory: Path) -> bool:
    path = Path(directory) / MANIFEST_NAME
    if path.exists():
        path.unlink()
        return True
    return False

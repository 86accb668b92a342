"""`python -m export.release`: copy the exported default model into the runtime package.

The runtime wheel carries one model (``edge``, int8 TFLite, ~60 KB) so that ``edgedigits read
photo.jpg`` works on a fresh device. This copies ``artifacts/<model>/<model>.int8.tflite`` after
checking its sha256 against the export manifest, and writes a manifest for it alone that records
where it came from and the **fingerprint** of the code that produced it: the sha256 of the
training and export sources and of the runtime files they share. A test recomputes the
fingerprint and fails when that code changed after the release (re-run ``make release-model``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

from edgedigits.classifier import PACKAGED_MODEL_DIR
from edgedigits.formats import DEFAULT_FORMAT, FORMATS

REPO = Path(__file__).resolve().parents[1]
# What a retrained, re-exported model depends on (this file only copies, so it is left out).
FINGERPRINT_FILES = ("train/*.py", "export/*.py", "runtime/edgedigits/preprocess.py",
                     "runtime/edgedigits/metadata.py", "runtime/edgedigits/wire.py", "runtime/edgedigits/formats.py")
RELEASED_FORMAT = DEFAULT_FORMAT


def code_fingerprint(root: Path = REPO) -> str:
    """sha256 over the names and bytes of FINGERPRINT_FILES (sorted), except this module."""
    digest = hashlib.sha256()
    paths = sorted({p for pattern in FINGERPRINT_FILES for p in root.glob(pattern)} - {root / "export" / "release.py"})
    for path in paths:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def release(model: str = "edge", artifacts_dir: Path = REPO / "artifacts", target: Path = PACKAGED_MODEL_DIR) -> Path:
    """Copy the model's RELEASED_FORMAT file into `target` with its own manifest; returns that manifest."""
    source_manifest = artifacts_dir / model / "manifest.json"
    if not source_manifest.is_file():
        raise SystemExit(f"export.release: {source_manifest} not found (run `make train export` first)")
    manifest = json.loads(source_manifest.read_text(encoding="utf-8"))
    entry = (manifest.get("formats") or {}).get(RELEASED_FORMAT)
    if not entry or not (entry.get("validation") or {}).get("passed"):
        raise SystemExit(f"export.release: {source_manifest} has no {RELEASED_FORMAT} entry that passed its parity gates")
    model_file = source_manifest.parent / entry["file"]
    data = model_file.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise SystemExit(f"export.release: {model_file} does not match the sha256 in {source_manifest}")
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*"):
        old.unlink()
    shutil.copyfile(model_file, target / model_file.name)
    released = {key: value for key, value in manifest.items() if key != "reports"}
    released["formats"] = {RELEASED_FORMAT: entry}
    released["release"] = {"fingerprint": code_fingerprint(), "fingerprint_files": list(FINGERPRINT_FILES),
                           "source_manifest_sha256": hashlib.sha256(source_manifest.read_bytes()).hexdigest()}
    path = target / "manifest.json"
    path.write_text(json.dumps(released, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.release", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="edge", help="exported model to release (default: edge)")
    parser.add_argument("--artifacts-dir", type=Path, default=REPO / "artifacts", help="where exported models live")
    args = parser.parse_args(argv)
    if RELEASED_FORMAT not in FORMATS:  # pragma: no cover - a FORMATS table without the default
        raise SystemExit(f"export.release: unknown format {RELEASED_FORMAT}")
    path = release(args.model, args.artifacts_dir)
    print(f"released {path.parent} (fingerprint {json.loads(path.read_text())['release']['fingerprint'][:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

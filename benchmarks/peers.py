"""Peers on the real photos: other OCR engines read the same upright frames as edgedigits (the label
turn of benchmarks/real.py, written losslessly to a temporary folder) and are scored by real.score
and real.summarize. Each peer runs in its own process through benchmarks/peer_adapter.py: RapidOCR
with the python of its own venv (`make bench-peers` creates .cache/peers-venv), Tesseract with the
`tesseract` binary. Peers are never a dependency of the runtime or of `make test`; a missing one is
reported as not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks import real

ADAPTER = Path(__file__).with_name("peer_adapter.py")
PEERS_VENV = Path(__file__).resolve().parents[1] / ".cache" / "peers-venv"
PEERS = {"rapidocr": "RapidOCR 1.4.4", "tesseract": "Tesseract (--psm 6, digits)"}
NOT_INSTALLED = "not installed"


def peer_command(name: str, venv: Path = PEERS_VENV) -> list[str] | None:
    """The argv that runs `name`'s adapter, None when the peer is not installed."""
    if name == "rapidocr":
        python = venv / "bin" / "python"
        return [str(python), str(ADAPTER), name] if python.is_file() else None
    if name == "tesseract":
        return [sys.executable, str(ADAPTER), name] if shutil.which("tesseract") else None
    raise ValueError(f"unknown peer {name!r} (known: {', '.join(PEERS)})")


def write_frames(images: list[real.RealImage], folder: Path, label_turn: bool = True) -> list[Path]:
    """Each image as edgedigits gets it (real.upright), as a PNG in `folder`."""
    import cv2

    paths = []
    for number, image in enumerate(images):
        path = folder / f"{number:03d}.png"
        if not cv2.imwrite(str(path), real.upright(image, label_turn)):
            raise OSError(f"{path}: cannot write the frame")
        paths.append(path)
    return paths


def run_peer(command: list[str] | None, images: list[real.RealImage], frames: list[Path]) -> dict:
    """Run `command` on `frames` (one per image) and score what it printed as real.score does for
    edgedigits. An image it gave no reading for scores as nothing read (0 ms) and is counted in
    "failed"; a command that is None is not installed."""
    if command is None:
        return {"status": NOT_INSTALLED}
    try:
        done = subprocess.run(command, input="".join(f"{path}\n" for path in frames), capture_output=True,
                              text=True, check=False)
    except OSError as error:
        return {"status": f"failed: {error}"}
    records = parse_records(done.stdout)
    if not records:
        last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}, no output"])[-1]
        return {"status": f"failed: {last[:200]}"}
    scores, failed = [], 0
    for image, frame in zip(images, frames):
        record = records.get(str(frame), {})
        lines = record.get("lines")
        if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
            failed, lines = failed + 1, []
        scores.append(real.score(image, tuple(lines), float(record.get("ms") or 0.0)))
    return {"status": "ok", "failed": failed, "summary": real.summarize(scores),
            "images": [s.to_dict() for s in scores]}


def parse_records(text: str) -> dict[str, dict]:
    """The adapter's JSON lines by image path; lines that are not such records are skipped."""
    records = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("image"), str):
            records[record["image"]] = record
    return records


def render_markdown(readers: dict[str, dict]) -> str:
    """`readers`: title -> run_peer's result (edgedigits as {"status": "ok", "summary": ...}); a
    totals table, then digits right and lines exactly right per source."""
    from benchmarks.report import markdown_table

    ran = {title: r["summary"] for title, r in readers.items() if r["status"] == "ok"}
    totals = []
    for title, result in readers.items():
        if result["status"] != "ok":
            totals.append([title, result["status"]] + ["–"] * 6)
            continue
        total, summary = result["summary"]["total"], result["summary"]
        totals.append([title, real.pct(total["digit_accuracy"]), real.pct(summary["repo_average_digit_accuracy"]),
                       f"{total['lines_right']}/{total['lines']} ({real.pct(total['line_accuracy'])})",
                       f"{total['false_digits_per_image']:.2f}", f"{total['median_ms']:.0f}",
                       f"{total['p90_ms']:.0f}", str(result.get("failed", 0))])
    first = next(iter(ran.values()), None)
    repos = list(first["repos"]) if first else []
    per_source = []
    for repo in repos:
        counts = first["repos"][repo]
        per_source.append([repo, str(counts["images"]), str(counts["digits"])]
                          + [_cell(s["repos"][repo]) for s in ran.values()])
    if first:
        per_source.append(["**all**", str(first["total"]["images"]), str(first["total"]["digits"])]
                          + [_cell(s["total"]) for s in ran.values()])
        per_source.append([f"**average of {len(repos)} sources**", "", ""]
                          + [real.pct(s["repo_average_digit_accuracy"]) for s in ran.values()])
    out = ["## edgedigits and peers on the same frames", "",
           markdown_table(["reader", "digits right (all)", "digits right (source average)", "lines exactly right",
                           "false digits / image", "median ms", "p90 ms", "images failed"], totals, "lrrrrrrr")]
    if first:
        out += ["", "Per source: digits right, lines exactly right.", "",
                markdown_table(["source", "images", "digits", *ran], per_source, "lrr" + "r" * len(ran))]
    return "\n".join(out) + "\n"


def _cell(totals: dict) -> str:
    lines = f"{totals['lines_right']}/{totals['lines']}" if totals["lines"] else "–"
    return f"{real.pct(totals['digit_accuracy'])}, {lines}"

"""The frame reader on a labelled folder of real photos (the `labels.csv` format of
`../shared/datasets/realphotos`): digits right, lines exactly right, false digits and time, per
image, per source repository and in total.

Scoring, as the shared set's README defines it:
  digits   per image the edit distance between the concatenated truth and the concatenated
           reading, capped at the truth's length; accuracy = 1 - errors / digits, over all digits
           and averaged over the source repositories (each weighs the same)
  lines    a truth line counts as read when some read line equals it
  scattered images (notes start with SCATTERED / SEMI-SCATTERED): their order is not defined, so
           they are scored on the multiset of digits and left out of the line counts
  false    digits read beyond the truth's count (a lower bound of digits read where nothing is
           written: the set has no boxes)
A rejected candidate ('?') counts as a character read: wrong where a digit is, false where none is.
Each image is first given the nearest quarter turn of its `orientation` column, less the turn its
EXIF Orientation tag already gave it (the reader honours EXIF, as phone galleries do).
"""

from __future__ import annotations

import csv
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from benchmarks.framegen import edit_distance
from benchmarks.measure import percentile

DEFAULT_SET = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "realphotos"
EXIF_QUARTER_TURNS = {3: 2, 6: 1, 8: 3}  # EXIF Orientation -> clockwise quarter turns it applies
_TURN = re.compile(r"^rot(\d+)(cw|ccw)")


@dataclass(frozen=True)
class RealImage:
    path: Path
    repo: str
    truth: tuple[str, ...]      # lines in reading order
    turns: int                  # clockwise quarter turns to apply to the raw pixels
    scattered: bool

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def digits(self) -> int:
        return sum(len(line) for line in self.truth)


@dataclass
class ImageScore:
    image: RealImage
    read: tuple[str, ...]
    ms: float
    errors: int = 0
    lines_right: int = 0
    false_digits: int = 0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"image": self.image.name, "repo": self.image.repo, "truth": list(self.image.truth),
                "read": list(self.read), "digits": self.image.digits, "errors": self.errors,
                "lines": 0 if self.image.scattered else len(self.image.truth),
                "lines_right": self.lines_right, "false_digits": self.false_digits, "ms": round(self.ms, 2),
                "scattered": self.image.scattered}


def quarter_turns(orientation: str) -> int:
    """Clockwise quarter turns that make raw pixels described as `orientation` upright.

    'rot90cw' (the page is turned 90 degrees clockwise, the convention of the set's labels and of
    EXIF Orientation 6) takes one clockwise quarter turn; 'rot155ccw approx' the nearest, two.
    Anything else ('upright', a line sloping 35 degrees) takes none: the reader handles +-45.
    """
    match = _TURN.match(orientation.strip().lower())
    if not match:
        return 0
    degrees = int(match.group(1)) * (1 if match.group(2) == "cw" else -1)
    return round(degrees / 90) % 4


def load_set(folder: Path) -> list[RealImage]:
    """The labelled images of `folder` (labels.csv + images/); raises FileNotFoundError/ValueError."""
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise FileNotFoundError(f"{labels}: no labels.csv (expected the realphotos layout: labels.csv, images/)")
    images = []
    with labels.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            try:
                truth = tuple(part.strip() for part in row["ground_truth"].split("|") if part.strip())
                if not all(part.isdigit() for part in truth):
                    raise ValueError(f"ground_truth {row['ground_truth']!r} is not digits and '|'")
                images.append(RealImage(folder / row["path"], row.get("repo") or "?", truth,
                                        quarter_turns(row.get("orientation") or ""),
                                        (row.get("notes") or "").upper().startswith(("SCATTERED", "SEMI-SCATTERED"))))
            except (KeyError, AttributeError, ValueError) as error:
                raise ValueError(f"{labels}:{number}: {error}") from None
    return images


def exif_turns(path: Path) -> int:
    """Clockwise quarter turns that the file's EXIF Orientation tag makes a viewer apply."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib in the toolkit
        return 0
    try:
        with Image.open(path) as image:
            return EXIF_QUARTER_TURNS.get(image.getexif().get(0x0112), 0)
    except OSError:
        return 0


def upright(image: RealImage, label_turn: bool = True) -> np.ndarray:
    """The image as the reader gets it (EXIF honoured), turned by what its label still asks
    (`label_turn`; without it, the pixels as a file viewer shows them: the reader must find the turn)."""
    from edgedigits.imageio import read_image

    frame = read_image(image.path)
    turns = (image.turns - exif_turns(image.path)) % 4 if label_turn else 0
    return np.ascontiguousarray(np.rot90(frame, k=-turns)) if turns else frame


def score(image: RealImage, read: tuple[str, ...], ms: float) -> ImageScore:
    truth_text, read_text = "".join(image.truth), "".join(read)
    if image.scattered:
        want, got = Counter(truth_text), Counter(read_text)
        errors = max(sum((want - got).values()), sum((got - want).values()))
        lines_right = 0
    else:
        errors = edit_distance(read_text, truth_text)
        lines_right = sum(1 for line in image.truth if line in read)
    return ImageScore(image, read, ms, errors=min(errors, len(truth_text)), lines_right=lines_right,
                      false_digits=max(0, len(read_text) - len(truth_text)))


def summarize(scores: list[ImageScore]) -> dict:
    """Totals, the per-repository table and the repository average."""
    def totals(items: list[ImageScore]) -> dict:
        digits = sum(s.image.digits for s in items)
        errors = sum(s.errors for s in items)
        lines = sum(len(s.image.truth) for s in items if not s.image.scattered)
        right = sum(s.lines_right for s in items)
        ms = [s.ms for s in items]
        return {"images": len(items), "digits": digits, "errors": errors,
                "digit_accuracy": 1 - errors / digits if digits else None,
                "lines": lines, "lines_right": right, "line_accuracy": right / lines if lines else None,
                "false_digits_per_image": sum(s.false_digits for s in items) / len(items) if items else None,
                "median_ms": percentile(ms, 50) if ms else None, "p90_ms": percentile(ms, 90) if ms else None,
                "max_ms": max(ms) if ms else None}

    repos = sorted({s.image.repo for s in scores})
    per_repo = {repo: totals([s for s in scores if s.image.repo == repo]) for repo in repos}
    accuracies = [r["digit_accuracy"] for r in per_repo.values() if r["digit_accuracy"] is not None]
    return {"total": totals(scores), "repos": per_repo,
            "repo_average_digit_accuracy": sum(accuracies) / len(accuracies) if accuracies else None}


def read_set(reader, images: list[RealImage], annotate_dir: Path | None = None, progress: bool = False,
             label_turn: bool = True,
             degrade: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None) -> list[ImageScore]:
    """Read every image once (timed, after one untimed warm-up read) and score it; `label_turn` as
    in :func:`upright`; `degrade`, one of :data:`benchmarks.degrade.DEGRADATIONS`' functions,
    applied to each frame first (with the image's own rng, :func:`benchmarks.degrade.image_rng`)."""
    from benchmarks.degrade import image_rng

    bar = None
    if progress:
        try:
            from tqdm import tqdm
            bar = tqdm(total=len(images), unit="img", desc="real photos", leave=False)
        except ImportError:  # pragma: no cover
            bar = None
    scores = []
    for number, image in enumerate(images):
        frame = upright(image, label_turn)
        if degrade is not None:
            frame = degrade(frame, image_rng(image.path.name))
        if number == 0:
            reader.read(frame)
        start = time.perf_counter()
        result = reader.read(frame)
        ms = (time.perf_counter() - start) * 1e3
        scores.append(score(image, tuple(line.text for line in result.lines), ms))  # a '?' counts as read
        if annotate_dir is not None:
            write_annotation(annotate_dir / f"{image.path.stem}.jpg", frame, result)
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    return scores


def write_annotation(path: Path, frame: np.ndarray, result, max_side: int = 1280) -> None:
    import cv2

    from edgedigits.reader import draw_annotations

    picture = draw_annotations(frame, result)
    scale = max_side / max(picture.shape[:2])
    if scale < 1:
        picture = cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), picture, [cv2.IMWRITE_JPEG_QUALITY, 85])


def pct(value: float | None) -> str:
    """A fraction as a percentage with one decimal; "–" for none."""
    return "–" if value is None else f"{100 * value:.1f}%"


def render_markdown(summary: dict, scores: list[ImageScore], title: str) -> str:
    from benchmarks.report import markdown_table

    def row(name, t):
        return [name, str(t["images"]), f"{t['digits'] - t['errors']}/{t['digits']}", pct(t["digit_accuracy"]),
                f"{t['lines_right']}/{t['lines']}", pct(t["line_accuracy"]), f"{t['false_digits_per_image']:.2f}",
                f"{t['median_ms']:.0f}", f"{t['p90_ms']:.0f}", f"{t['max_ms']:.0f}"]

    head = ["source", "images", "digits right", "digits %", "lines right", "lines %", "false/img",
            "median ms", "p90 ms", "max ms"]
    body = [row(repo, t) for repo, t in summary["repos"].items()]
    body.append(row("**all**", summary["total"]))
    out = [f"# {title}", "",
           f"Digits right: **{pct(summary['total']['digit_accuracy'])}** of all digits, "
           f"**{pct(summary['repo_average_digit_accuracy'])}** averaged over {len(summary['repos'])} sources; "
           f"lines exactly right {pct(summary['total']['line_accuracy'])}; "
           f"{summary['total']['false_digits_per_image']:.2f} false digits per image; "
           f"median {summary['total']['median_ms']:.0f} ms per frame.", "",
           markdown_table(head, body, "lrrrrrrrrr"), "", "## Per image", ""]
    images = [[s.image.name[:60], " ".join(s.image.truth)[:40], " ".join(s.read)[:40], str(s.errors),
               f"{s.ms:.0f}"] for s in sorted(scores, key=lambda s: -s.errors)]
    out.append(markdown_table(["image", "truth", "read", "errors", "ms"], images, "lllrr"))
    return "\n".join(out) + "\n"


def render_degraded(clean: dict, degraded: dict[str, dict], what: dict[str, str]) -> str:
    """A "Degraded copies" section comparing :func:`summarize`'s `clean` summary with those of the
    same photos degraded (`degraded`: kind -> summary; `what`: kind -> what it does), in total and
    per source."""
    def number(value, spec):
        return "–" if value is None else format(value, spec)

    runs = {"as photographed": clean, **degraded}
    out = ["## Degraded copies", "",
           "The same photos read again after one degradation each (`benchmarks/degrade.py`, seeded per image).", "",
           "| frames | digits right | source average | lines exactly right | false digits / image | median ms |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, summary in runs.items():
        total = summary["total"]
        label = f"{name}: {what[name]}" if name in what else name
        out.append(f"| {label} | {total['digits'] - total['errors']}/{total['digits']} "
                   f"({pct(total['digit_accuracy'])}) | {pct(summary['repo_average_digit_accuracy'])} | "
                   f"{pct(total['line_accuracy'])} | {number(total['false_digits_per_image'], '.2f')} | "
                   f"{number(total['median_ms'], '.0f')} |")
    out += ["", "| source | " + " | ".join(runs) + " |", "| --- |" + " ---: |" * len(runs)]
    for repo in clean["repos"]:
        cells = [pct(summary["repos"].get(repo, {}).get("digit_accuracy")) for summary in runs.values()]
        out.append(f"| {repo} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"

"""Pictures of the frame reader's stages, for a person to look at when a photo reads wrong.

``FrameReader.read(frame, debug=stages)`` fills the dict ``stages`` as it goes; :func:`draw_stages`
turns it into one picture per stage, in the order the reader computes them:

  1-grey       the working copy (grey, at most ``max_side`` pixels, or enlarged for small digits)
  2-paper      the paper found (white), or all black when the frame is taken as the page
  3-darkness   relative darkness against the paper's own brightness (ink is bright)
  4-ink        pixels above the ink threshold
  5-upright    the ink turned upright, removed rules and box borders in red
  6-blobs      the digit candidates kept (specks, texture, smudges, box sides dropped)
  7-lines      the candidates, one colour per line, groups outlined in grey
  8-crops      every MNIST-normalized crop with the digit read (red: rejected as '?')
  9-small      on a page of big digits with small ink among them: the window read again,
               big digits painted over, each digit it read boxed (green: added as small, grey: not)
  10-shade     when digits sit at the page's edge, or a row runs into it, or none were read, or
               paper in shade lies beyond the page: the page finder's small copy with the band just
               inside the page's edge (blue) and just beyond it (orange), their brightness ratio and
               colour distance, and whether the frame was read again without the page (or the paper
               in shade read as a page of its own)
  11-sheets    when other sheets lie beside the page: the working copy, the page's mask tinted blue,
               each other sheet read as a page of its own outlined in green, and how many rows
               with a sure digit it added
  12-second_look  each digit or '?' read again (less sure than ``second_look_below``): its five
               looks (as cropped, shifted up, down, left, right) and its reading before -> after

One picture per stage of :mod:`edgedigits.reader` (scale, page, light, ink, deskew + rules, blobs,
lines, classify, small, shade, page's other sheets, classify's second look).

A stage the reader did not reach (a blank frame stops early) has no picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .reader import LINE_COLOURS
from .reader.draw import digit_label

STAGES = ("grey", "paper", "darkness", "ink", "upright", "blobs", "lines", "crops", "small", "shade", "sheets",
          "second_look")


def draw_stages(stages: dict) -> dict[str, np.ndarray]:
    """{'1-grey': BGR uint8 picture, ...} for every stage in `stages`."""
    import cv2

    grey = stages.get("grey")
    pictures = {}
    for number, name in enumerate(STAGES, start=1):
        if name not in stages:
            continue
        value = stages[name]
        if name == "grey":
            picture = value
        elif name == "paper":
            picture = np.zeros(grey.shape, np.uint8) if value is None else value * np.uint8(255)
        elif name == "darkness":
            darkness, origin = value
            picture = _placed(_stretched(darkness), origin, grey.shape)
        elif name == "ink":
            mask, origin, _ = value
            picture = _placed(mask * 255.0, origin, grey.shape)
        elif name == "upright":
            mask, rules, _ = value
            picture = cv2.cvtColor(mask * np.uint8(255), cv2.COLOR_GRAY2BGR)
            if rules is not None:
                picture[rules > 0] = (0, 0, 255)
        elif name == "blobs":
            picture = _blobs_picture(*value)
        elif name == "lines":
            picture = _lines_picture(*value)
        elif name == "small":
            picture = _small_picture(*value)
        elif name == "shade":
            picture = _shade_picture(*value)
        elif name == "sheets":
            picture = _sheets_picture(*value)
        elif name == "second_look":
            picture = _second_look_picture(value)
        else:
            picture = _crops_picture(*value)
        if picture.ndim == 2:
            picture = cv2.cvtColor(picture.astype(np.uint8), cv2.COLOR_GRAY2BGR)
        pictures[f"{number}-{name}"] = picture
    return pictures


def write_stages(folder: Path, stem: str, stages: dict) -> list[Path]:
    """Write `stem`-<n>-<stage>.png for every stage into `folder` (created); returns the paths."""
    from .imageio import write_image

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, picture in draw_stages(stages).items():
        path = folder / f"{stem}-{name}.png"
        write_image(path, picture)
        written.append(path)
    return written


def _stretched(darkness: np.ndarray) -> np.ndarray:
    """Relative darkness as uint8, its darkest pixel white."""
    return np.clip(darkness * 255 / max(float(darkness.max()), 1e-3), 0, 255).astype(np.uint8)


def _placed(window: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    canvas = np.zeros(shape, np.uint8)
    x, y = origin
    canvas[y: y + window.shape[0], x: x + window.shape[1]] = window.astype(np.uint8)
    return canvas


def _blobs_picture(darkness: np.ndarray, blobs: list, height: float) -> np.ndarray:
    import cv2

    picture = cv2.cvtColor(_stretched(darkness), cv2.COLOR_GRAY2BGR)
    for b in blobs:
        cv2.rectangle(picture, (b.x, b.y), (b.right, b.bottom), (0, 200, 255), 1)
    return picture


def _lines_picture(darkness: np.ndarray, lines: list, height: float) -> np.ndarray:
    import cv2

    picture = cv2.cvtColor(_stretched(darkness), cv2.COLOR_GRAY2BGR)
    for index, groups in enumerate(lines):
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        for group in groups:
            x0, y0 = min(b.x for b in group), min(b.y for b in group)
            x1, y1 = max(b.right for b in group), max(b.bottom for b in group)
            cv2.rectangle(picture, (x0 - 3, y0 - 3), (x1 + 3, y1 + 3), (128, 128, 128), 1)
            for b in group:
                cv2.rectangle(picture, (b.x, b.y), (b.right, b.bottom), colour, 1)
        first = groups[0][0]
        cv2.putText(picture, f"line {index + 1}", (first.x, max(10, first.y - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.3, height / 60), colour, 1)
    return picture


def _crops_picture(crops: list, halves: list, digits: np.ndarray, confidence: np.ndarray, reject: float,
                   per_row: int = 16, zoom: int = 2) -> np.ndarray:
    import cv2

    crops = crops + halves  # the reader's order: wholes, halves of wide blobs, pieces of touching 1s, pieces of runs
    # (segment_runs), re-cut pieces

    side = 28 * zoom
    cell_h = side + 14
    rows = max(1, -(-len(crops) // per_row))
    picture = np.full((rows * cell_h, per_row * side, 3), 255, np.uint8)
    for k, crop in enumerate(crops):
        r, c = divmod(k, per_row)
        picture[r * cell_h: r * cell_h + side, c * side: (c + 1) * side] = _tile(crop, side)[..., None]
        accepted = confidence[k] >= reject
        label = f"{digits[k] if accepted else '?'} {confidence[k]:.2f}"
        cv2.putText(picture, label, (c * side + 2, r * cell_h + side + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                    (0, 120, 0) if accepted else (0, 0, 220), 1)
    return picture


def _small_picture(window: np.ndarray, boxes: list) -> np.ndarray:
    """The erased window read again, each digit read boxed: green if added as small, grey if not."""
    import cv2

    picture = cv2.cvtColor(window, cv2.COLOR_GRAY2BGR)
    for (x, y, w, h), added in boxes:
        cv2.rectangle(picture, (x, y), (x + w, y + h), (0, 200, 0) if added else (160, 160, 160), 2)
    return picture


def _shade_picture(bands: tuple, ratio: float, chroma: float, verdict: str, zoom: int = 2) -> np.ndarray:
    """The small copy (`zoom` times), the band inside the page's edge in blue and beyond it in
    orange, with the bands' brightness ratio, colour distance and what the reader did."""
    import cv2

    blurred, beyond, within = bands
    picture = cv2.cvtColor(blurred, cv2.COLOR_GRAY2BGR)
    picture[within > 0] = picture[within > 0] // 2 + np.uint8((100, 40, 0))
    picture[beyond > 0] = picture[beyond > 0] // 2 + np.uint8((0, 60, 110))
    picture = cv2.resize(picture, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)
    for row, text in enumerate((f"beyond / inside {ratio:.2f}, colour distance {chroma:.1f}", verdict)):
        cv2.putText(picture, text, (4, 16 + 18 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 200), 1)
    return picture


def _sheets_picture(grey: np.ndarray, paper: np.ndarray, hulls: list, verdict: str) -> np.ndarray:
    """The working copy `grey`, the page's mask `paper` (any size) tinted blue, each other sheet's
    outline (`hulls`, working px) in green, and what was added."""
    import cv2

    picture = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    page = cv2.resize(paper, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    picture[page] = picture[page] // 2 + np.uint8((110, 40, 0))
    cv2.polylines(picture, [np.round(h).astype(np.int32).reshape(-1, 1, 2) for h in hulls], True, (0, 200, 0), 3)
    cv2.putText(picture, verdict, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 220), 2)
    return picture


def _second_look_picture(looked: list, zoom: int = 2) -> np.ndarray:
    """One row per digit looked at again: its five looks, then "before -> after" (green: a digit)."""
    import cv2

    side, label_width = 28 * zoom, 150
    picture = np.full((max(1, len(looked)) * side, 5 * side + label_width, 3), 255, np.uint8)
    for row, (looks, before, after) in enumerate(looked):
        for k, look in enumerate(looks):
            picture[row * side: (row + 1) * side, k * side: (k + 1) * side] = _tile(look, side)[..., None]
        text = f"{digit_label(before)} -> {digit_label(after)}"
        cv2.putText(picture, text, (5 * side + 4, row * side + side // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 120, 0) if after.digit is not None else (0, 0, 220), 1)
    return picture


def _tile(crop: np.ndarray, side: int) -> np.ndarray:
    """A 28x28 crop (ink 1.0) drawn dark on white, enlarged to `side` px without smoothing."""
    import cv2

    return cv2.resize((255 - np.clip(crop * 255, 0, 255)).astype(np.uint8), (side, side),
                      interpolation=cv2.INTER_NEAREST)

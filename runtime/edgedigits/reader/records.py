"""The reader's results (Digit, Line, ReadResult) and the typed records its stages pass on.

Every stage of :mod:`edgedigits.reader.pipeline` is a function from records like these to the
next; arrays inside them are the working copy's pixels unless a field says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class Digit:
    digit: int | None          # None when rejected (not confidently a digit)
    confidence: float          # top probability x probability of a digit at all (second look: means of five)
    box: tuple[int, int, int, int]  # x, y, w, h in the original frame's pixels
    # The 28x28 MNIST-normalized image the classifier read (None when not kept), for a second look.
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"digit": self.digit, "confidence": round(float(self.confidence), 6),
                "box": [int(v) for v in self.box]}


@dataclass(frozen=True)
class Line:
    """One row as the writer wrote it; `groups` are its parts between wide gaps (``12345  67891``)."""

    text: str                  # digits, '?' for a rejected candidate
    digits: list[Digit] = field(default_factory=list)
    groups: tuple[str, ...] = ()  # the text split at wide gaps ((text,) when there is none)

    def to_dict(self) -> dict:
        return {"text": self.text, "groups": list(self.groups or (self.text,)),
                "digits": [d.to_dict() for d in self.digits]}


@dataclass(frozen=True)
class ReadResult:
    lines: list[Line] = field(default_factory=list)
    warnings: tuple[str, ...] = ()  # why a frame was not read (or not wholly), for a person to see
    angle: float = 0.0              # degrees the page was turned to read it upright (orient's choice)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def digits(self) -> list[Digit]:
        """Every digit of every line, in reading order."""
        return [d for line in self.lines for d in line.digits]

    def to_dict(self) -> dict:
        out = {"lines": [line.to_dict() for line in self.lines]}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


# ------------------------------------------------------------------ intermediate records
class Working(NamedTuple):
    """The grey working copy of a frame."""

    grey: np.ndarray                  # (h, w) uint8
    scale: float                      # working pixels per frame pixel
    frame: np.ndarray                 # the validated frame itself (not a copy): its shape, and its colour for the page
    colour: Callable[[], np.ndarray] | None = None  # the page finder's small colour copy of the frame, made on the
    #                                   first call and shared by all copies of one frame (None: a grey frame)

    @property
    def frame_shape(self) -> tuple:
        return self.frame.shape


class Page(NamedTuple):
    """The sheet of paper in the working copy (both None when the frame is taken as the page)."""

    mask: np.ndarray | None           # (h, w) uint8 0/1, kept clear of the paper's edge
    hull: np.ndarray | None           # (N, 2) float32 convex outline in working pixels
    rough: float = 0.0                # share of the bright region (before any narrowing) not smooth (page.rough_share)
    region: np.ndarray | None = None  # (h, w) uint8 0/1: a page read without its mask, that mask (light.shadowed_light)


class SmallCopies(NamedTuple):
    """The page finders' small copies of a working copy (page.small_copies)."""

    factor: int                       # working pixels per small pixel (block size)
    blurred: np.ndarray               # (h, w) uint8 block means, Gaussian-blurred
    roughness: np.ndarray             # (h, w) float32 roughness of the unblurred block means (page.texture)
    smooth: np.ndarray                # (h, w) uint8 0/1 where that is blank paper's (page.smooth_mask)


class Light(NamedTuple):
    """Relative darkness (paper brightness - grey) / paper brightness over the paper's bounding box."""

    darkness: np.ndarray              # float32 in [0, 1], 0 off the paper
    origin: tuple[int, int]           # the box's top-left (x, y) in the working copy
    paper: np.ndarray | None          # the paper mask over the same box (None: no paper found)


class Ink(NamedTuple):
    """What counts as ink: relative darkness above `threshold`, and above `join` where that joins
    pieces of it (ink.joined_ink)."""

    threshold: float                  # darkness
    level: float                      # darkness of typical ink (a high percentile)
    mask: np.ndarray                  # uint8 0/1 over Light.darkness (the edges are cleared by its components)
    join: float | None = None         # darkness: fainter ink that joins pieces of the ink counts (None: none)


class DigitSize(NamedTuple):
    """The first pass's components and the typical digit height they show."""

    height: float                     # px
    stats: np.ndarray                 # (N, 5) int32 x, y, w, h, area of the components measured


class Measured(NamedTuple):
    """What a working copy's first pass found: its page, light, ink and digit height."""

    page: Page
    light: Light
    ink: Ink
    size: DigitSize


class Direction(NamedTuple):
    """The text's in-plane rotation."""

    angle: float                      # degrees, in [-50, 50]
    sure: bool                        # False: scattered digits could not tell rows from columns
    across: bool = False              # sure, but the neighbours lie across the near-level angle kept


class Upright(NamedTuple):
    """The window around the ink, turned so that the text runs horizontally."""

    darkness: np.ndarray              # float32, 0 away from the ink
    rotation: tuple | None            # (inverse map from the rotated canvas, crop's top-left in it), or None
    offset: tuple[int, int]           # the unrotated window's top-left (x, y) in the working copy
    close: int                        # px: gap size the component pass closes


class Ruled(NamedTuple):
    """The upright ink with rules, boxes and long straight strokes taken out."""

    mask: np.ndarray                  # uint8 0/1 over Upright.darkness
    rules: np.ndarray | None          # uint8 0/1 of what was removed (None: nothing)


class Parts(NamedTuple):
    """Connected components of the upright ink."""

    labels: np.ndarray                # int32 labels over Upright.darkness
    stats: np.ndarray                 # (N, 5) int32 x, y, w, h, area; component i has label i + 1
    height: float                     # px: typical digit height


class Candidates(NamedTuple):
    """Digit candidates (a blob may still hold two touching digits)."""

    blobs: list                       # [Blob]
    warning: str | None = None        # set when the frame is not read (too much texture)


class Lines(NamedTuple):
    """Rows in reading order, each a list of groups (parts between wide gaps), each a list of blobs."""

    rows: list


class Placement(NamedTuple):
    """How upright working pixels map back to the original frame."""

    rotation: tuple | None            # as Upright.rotation
    offset: tuple[int, int]           # as Upright.offset
    scale: float                      # working pixels per frame pixel
    frame_shape: tuple                # the original frame's shape


@dataclass
class Blob:
    """One candidate (a digit or several touching ones) in the upright working image."""

    x: int
    y: int
    w: int
    h: int
    labels: list[int]
    ink: float = 0.0  # 75th percentile of the blob's relative darkness
    stroke: float = 0.0  # mean stroke width in pixels

    @property
    def bottom(self) -> int:
        return self.y + self.h

    @property
    def right(self) -> int:
        return self.x + self.w

    def merge(self, other: "Blob") -> None:
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1, y1 = max(self.right, other.right), max(self.bottom, other.bottom)
        self.x, self.y, self.w, self.h = x0, y0, x1 - x0, y1 - y0
        self.labels += other.labels

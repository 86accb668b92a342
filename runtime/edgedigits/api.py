"""The one-line Python API: ``edgedigits.read("photo.jpg")``, ``edgedigits.predict(crop)``,
``edgedigits.load(model)``.

`load` returns an :class:`Engine` (a classifier and, once needed, a frame reader) to reuse across
calls; the module-level `read` and `predict` use one engine per model, made on first use.
Images may be a path, a numpy array ((H, W) grey or (H, W, 3|4) BGR(A) uint8, as OpenCV gives
them) or a PIL image (RGB, converted).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classifier import Classifier, Prediction, default_model_path
from .classifier import load as load_classifier


@dataclass(frozen=True)
class Reading:
    """What `read` found in one image: its lines, the text, and the image itself (for `annotate`)."""

    result: object   # edgedigits.reader.ReadResult
    image: np.ndarray

    @property
    def lines(self) -> list:
        return self.result.lines

    @property
    def text(self) -> str:
        """The lines' digits, one line per row ('?' where a digit was not sure)."""
        return self.result.text

    @property
    def warnings(self) -> tuple:
        return self.result.warnings

    def to_dict(self) -> dict:
        return self.result.to_dict()

    def to_json(self) -> str:
        """The object `edgedigits read --json` prints (without path and time)."""
        return json.dumps(self.to_dict())

    def annotate(self, path: str | Path | None = None) -> np.ndarray:
        """The image with each digit's box and value drawn (BGR uint8); written to `path` if given."""
        from .reader import draw_annotations

        picture = draw_annotations(self.image, self.result)
        if path is not None:
            from .imageio import write_image

            write_image(Path(path), picture)
        return picture


class Engine:
    """A loaded model, and the frame reader built on it when first needed."""

    def __init__(self, classifier: Classifier):
        self.classifier = classifier
        self._reader = None

    def predict(self, crop) -> Prediction:
        """The digit in a single-digit crop of any size and polarity (path, array or PIL image)."""
        from .preprocess import prepare_crop

        return self.classifier.predict(prepare_crop(as_array(crop)))

    def read(self, image) -> Reading:
        """The lines of digits in a photo or camera frame (path, array or PIL image)."""
        if self._reader is None:
            from .reader import FrameReader

            self._reader = FrameReader(self.classifier)
        frame = as_array(image)
        return Reading(self._reader.read(frame), frame)


def as_array(image) -> np.ndarray:
    """A numpy image from a path (EXIF orientation applied), an array, or a PIL image (RGB -> BGR)."""
    if isinstance(image, np.ndarray):
        return image
    if isinstance(image, (str, Path)):
        from .imageio import read_image

        return read_image(image)
    if hasattr(image, "convert") and hasattr(image, "mode"):  # a PIL image, without importing PIL
        array = np.asarray(image.convert("L" if image.mode in ("1", "L", "I", "F") else "RGB"))
        return array if array.ndim == 2 else np.ascontiguousarray(array[..., ::-1])
    raise TypeError(f"expected a path, a numpy array or a PIL image, got {type(image).__name__}")


_ENGINES: dict[str, Engine] = {}


def load(model: str | Path | None = None, **options) -> Engine:
    """An engine for `model` (a manifest, its folder or a model file; default: as the command line:
    $EDGEDIGITS_MODEL, else artifacts/edge, else the model shipped in the package). `options` go
    to :func:`edgedigits.classifier.load` (backend, threads, format)."""
    return Engine(load_classifier(model or default_model_path(), **options))


def _engine(model) -> Engine:
    key = str(model or default_model_path())
    if key not in _ENGINES:
        _ENGINES[key] = load(key)
    return _ENGINES[key]


def read(image, model: str | Path | None = None) -> Reading:
    """``edgedigits.read("photo.jpg").text``: the digits in a photo, with the default model (or `model`)."""
    return _engine(model).read(image)


def predict(crop, model: str | Path | None = None) -> Prediction:
    """``edgedigits.predict(crop).digits``: the digit in a single-digit crop."""
    return _engine(model).predict(crop)

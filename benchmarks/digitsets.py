"""Digits beyond MNIST, and crops that are no digit: how each exported model and format does on them.

Four sets, each a (N, 28, 28) float32 array of MNIST-normalized crops with labels:

- ``mnist``: the MNIST test set (digits; a rejected digit counts as rejected, its digit answer as read).
- ``sklearn``: scikit-learn's ``load_digits`` (1,797 digits by 43 writers, 8x8): each written as a
  dark-on-light 64x64 picture and prepared as ``edgedigits predict`` prepares a file.
- ``real``: the crops the frame reader classified on the shared real photos, in lines it read with
  as many digits as the truth line has (so crop and true digit pair up); only the reader's crops,
  never stored.
- ``negatives``: crops that are no digit (touching pairs, pieces, rules, specks, texture) made by
  ``train.capture.make_negatives`` from MNIST test digits with a seed training never uses.

For every set: digits right (the likeliest digit is the true one and the crop is not rejected),
rejected (called "not a digit"), and for negatives the fraction accepted as a digit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEGATIVES_SEED = 20261201  # training draws negatives from seeds [seed, epoch, batch]; never this one
NEGATIVES_COUNT = 5000


@dataclass(frozen=True)
class DigitSet:
    name: str
    images: np.ndarray   # (N, 28, 28) float32 in [0, 1]
    labels: np.ndarray   # (N,) int64 digits; -1 for crops that are no digit
    about: str


def mnist_set(images: np.ndarray, labels: np.ndarray) -> DigitSet:
    return DigitSet("mnist", images.astype(np.float32) / 255, labels.astype(np.int64), "MNIST test")


def sklearn_set() -> DigitSet:
    """scikit-learn's load_digits, each 8x8 digit (0-16 ink) drawn dark on light at 64x64."""
    import cv2
    from sklearn.datasets import load_digits

    from edgedigits.preprocess import prepare_crop

    data = load_digits()
    images = []
    for digit in data.images:
        paper = (255 - digit * (255 / 16)).astype(np.uint8)
        images.append(prepare_crop(cv2.resize(paper, (64, 64), interpolation=cv2.INTER_LINEAR)))
    return DigitSet("sklearn", np.stack(images), data.target.astype(np.int64),
                    "scikit-learn load_digits (43 writers)")


def negatives_set(images: np.ndarray, labels: np.ndarray, count: int = NEGATIVES_COUNT) -> DigitSet:
    from train.capture import make_negatives

    crops = make_negatives(images, labels, count, np.random.default_rng(NEGATIVES_SEED))
    return DigitSet("negatives", crops.astype(np.float32) / 255, np.full(count, -1, np.int64),
                    "generated crops that are no digit")


def real_set(reader, real_images) -> DigitSet:
    """The reader's crops of lines read with the truth line's number of digits, with the true digits."""
    from benchmarks.real import upright

    crops, truths = [], []
    for image in real_images:
        if image.scattered:
            continue
        debug: dict = {}
        result = reader.read(upright(image), debug=debug)
        lines = [line.text for line in result.lines]
        if len(lines) != len(image.truth):
            continue
        for text, truth, line_crops in zip(lines, image.truth, debug.get("digit_crops", [])):
            if len(text) == len(truth) == len(line_crops):
                crops += line_crops
                truths += [int(c) for c in truth]
    empty = np.zeros((0, 28, 28), np.float32)
    return DigitSet("real", np.stack(crops).astype(np.float32) if crops else empty, np.asarray(truths, np.int64),
                    "the reader's crops of the shared real photos")


def score(classifier, digit_set: DigitSet) -> dict:
    """digits right, rejected, and accepted (for crops that are no digit) of one classifier."""
    n = len(digit_set.labels)
    if n == 0:
        return {"images": 0}
    prediction = classifier.predict(digit_set.images)
    is_digit = np.asarray(prediction.is_digit, bool)
    digits = np.asarray(prediction.digits)
    real = digit_set.labels >= 0
    out = {"images": int(n)}
    if real.any():
        out["accuracy"] = float(((digits == digit_set.labels) & is_digit)[real].mean())
        out["rejected"] = float((~is_digit)[real].mean())
    if (~real).any():
        out["accepted"] = float(is_digit[~real].mean())
    return out

"""Digits as the frame reader crops them: training data closer to what the classifier sees on a device.

The frame reader cuts each candidate out of a camera frame, normalizes it to the 28x28 MNIST
contract and classifies it. Its crops differ from MNIST's centred digits: strokes thinned or
thickened by the threshold, neighbours' fragments, halves of touching pairs, JPEG and blur. This
module generates camera frames from MNIST *training* digits (benchmarks/framegen.py), reads them
with the runtime's reader and keeps every crop the reader reports, labelled by the true digit whose
box holds the crop's centre, or "not a digit" (label NUM_CLASSES) when no true digit does.

The reader needs a classifier to decide its cuts and the page's orientation: it uses the model
released with the runtime (runtime/edgedigits/models/edge), so the crops do not depend on the
model being trained. Frames are made from the training split only: MNIST test digits never leak in.
"""

from __future__ import annotations

import numpy as np

from train.zoo import NUM_CLASSES


def _box_centre_label(box, truth) -> int:
    """The true digit whose quadrilateral holds the centre of `box` (x, y, w, h), else NUM_CLASSES."""
    import cv2

    x, y, w, h = box
    centre = (float(x + w / 2), float(y + h / 2))
    for line in truth:
        for quad, char in zip(line.boxes, line.text):
            if cv2.pointPolygonTest(quad.reshape(-1, 1, 2).astype(np.float32), centre, False) >= 0:
                return int(char)
    return NUM_CLASSES


def reader_crops(images: np.ndarray, labels: np.ndarray, frames: int, seed: int,
                 progress=None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (N, 28, 28) crops, uint8 (N,) labels) of the digits the reader reports in `frames`
    generated frames of `images`/`labels` (MNIST training digits); label NUM_CLASSES: no digit there.
    `progress(done, total)` is called after each frame."""
    from benchmarks.framegen import generate_frames
    from edgedigits.classifier import MANIFEST_NAME, PACKAGED_MODEL_DIR, load
    from edgedigits.reader import FrameReader

    reader = FrameReader(load(str(PACKAGED_MODEL_DIR / MANIFEST_NAME), format="tflite-int8", threads=1))
    crops, crop_labels = [], []
    for done, (frame, truth) in enumerate(generate_frames(frames, seed, images, labels), 1):
        stages: dict = {}
        result = reader.read(frame, debug=stages)
        for line, line_crops in zip(result.lines, stages.get("digit_crops", [])):
            for digit, crop in zip(line.digits, line_crops):
                crops.append(np.clip(np.rint(crop * 255), 0, 255).astype(np.uint8))
                crop_labels.append(_box_centre_label(digit.box, truth))
        if progress is not None:
            progress(done, frames)
    if not crops:
        return np.zeros((0, 28, 28), np.uint8), np.zeros((0,), np.uint8)
    return np.stack(crops), np.asarray(crop_labels, np.uint8)

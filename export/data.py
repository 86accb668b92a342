"""The images the export needs: the calibration set (training images), the validation split
(temperature fitting) and the test set (parity)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from export.config import ExportConfig
from export.errors import CalibrationError, ExportError

log = logging.getLogger("export")

IMAGE_SHAPE = (28, 28)


@dataclass(frozen=True)
class ExportData:
    calibration: np.ndarray   # (N, 28, 28, 1) float32 in [0, 1], drawn from the training split
    test_images: np.ndarray   # (M, 28, 28, 1) float32 in [0, 1]
    test_labels: np.ndarray   # (M,) int64
    validation_images: np.ndarray  # (V, 28, 28, 1) float32: the last val_size training images (V may be 0)
    validation_labels: np.ndarray  # (V,) int64


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]: exactly the inference preprocessing."""
    return (images.astype(np.float32) / 255.0)[..., None]


def draw_calibration(train_images: np.ndarray, size: int, seed: int) -> np.ndarray:
    """`size` distinct training images picked with a seeded RNG (sorted indices), as model input."""
    if not isinstance(train_images, np.ndarray) or train_images.dtype != np.uint8 \
            or train_images.ndim != 3 or train_images.shape[1:] != IMAGE_SHAPE:
        found = f"{train_images.dtype} {train_images.shape}" if isinstance(train_images, np.ndarray) \
            else type(train_images).__name__
        raise CalibrationError(f"calibration images must be uint8 (N, 28, 28), found {found}")
    if size > len(train_images):
        raise CalibrationError(f"calibration set too small: {size} images requested but only "
                               f"{len(train_images)} training images are available")
    indices = np.sort(np.random.default_rng(seed).choice(len(train_images), size=size, replace=False))
    return to_model_input(train_images[indices])


def load_export_data(config: ExportConfig) -> ExportData:
    from train.data import MnistError, load_mnist, split_validation

    try:
        mnist = load_mnist(config.data_dir, download=False, progress=False)
        train_x, _, val_x, val_y = split_validation(mnist.train_images, mnist.train_labels, config.val_size) \
            if config.val_size else (mnist.train_images, None, mnist.train_images[:0], mnist.train_labels[:0])
    except (MnistError, ValueError) as err:
        raise ExportError(f"cannot load MNIST for calibration and parity checks: {err}") from err
    calibration = draw_calibration(train_x, config.calibration_size, config.calibration_seed)
    log.info("data: %d calibration images (training split, seed %d), %d validation images, %d test images",
             len(calibration), config.calibration_seed, len(val_x), len(mnist.test_images))
    return ExportData(calibration=calibration, test_images=to_model_input(mnist.test_images),
                      test_labels=mnist.test_labels.astype(np.int64), validation_images=to_model_input(val_x),
                      validation_labels=val_y.astype(np.int64))

"""Loading the trained Keras model, checking its I/O contract, and the SavedModel the converters read."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np

from edgedigits.metadata import labels_for_outputs
from export.errors import ModelLoadError

log = logging.getLogger("export")

INPUT_SHAPE = (None, 28, 28, 1)
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"


def load_keras_model(path: Path):
    """The Keras model at `path`; ModelLoadError if missing, not a .keras archive, or off-contract."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"Keras model not found: {path} (run `make train MODEL={path.parent.name}` first)")
    if not zipfile.is_zipfile(path):
        raise ModelLoadError(f"{path} is not a Keras 3 .keras archive (not a zip file: corrupt or truncated)")
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # Keras raises many types for a damaged archive
        raise ModelLoadError(f"cannot load Keras model {path}: {type(err).__name__}: {err}") from err
    check_contract(model, path)
    return model


def check_contract(model, path: Path) -> None:
    inputs, outputs = model.inputs, model.outputs
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelLoadError(f"{path}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
    in_shape, out_shape = tuple(inputs[0].shape), tuple(outputs[0].shape)
    if in_shape[1:] != INPUT_SHAPE[1:]:
        raise ModelLoadError(f"{path}: expected input shape {INPUT_SHAPE}, found {in_shape}")
    if len(out_shape) != 2:
        raise ModelLoadError(f"{path}: expected output shape (None, classes), found {out_shape}")
    try:
        labels_for_outputs(out_shape[1])
    except ValueError as error:
        raise ModelLoadError(f"{path}: {error}") from None


def model_labels(model) -> list[str]:
    """The labels of the model's outputs (the digits, and "not a digit" for an 11th output)."""
    return labels_for_outputs(model.outputs[0].shape[-1])


def keras_probabilities(model, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    return np.asarray(model.predict(images, batch_size=batch_size, verbose=0), dtype=np.float32)


def write_saved_model(model, directory: Path) -> None:
    """A SavedModel with one 'serving_default' signature: 'image' (N,28,28,1) -> 'probabilities' (N,10).

    Converters read this rather than the Keras object: tf2onnx.from_keras fails on Keras 3, and
    explicit names give readable tensor names in every exported file.
    """
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda image: {OUTPUT_NAME: model(image, training=False)},
        input_signature=[tf.TensorSpec(INPUT_SHAPE, tf.float32, name=INPUT_NAME)],
    )
    archive.write_out(str(directory), verbose=False)

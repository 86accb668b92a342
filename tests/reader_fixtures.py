"""Shared helpers for the frame-reader tests: MNIST loading and a small stand-in classifier.

The reader only needs an object with ``predict(images) -> .probabilities``. Until the real
runtime classifier is swapped in, the tests use a small CNN trained here on MNIST *train*
images and exported to a float TFLite file. Training runs in a subprocess (this file run as a
script) so the test process never imports TensorFlow; the .tflite is cached under
``<repo>/.cache/reader-classifier/`` keyed by a hash of the recipe, so it is trained once.

Eight epochs bring it to about 99.4% on the MNIST test set (three gave 99.07%), close to the
exported `edge` model's 99.53%, so the reader is tested with a classifier about as good as the
one it ships with. Training takes about three minutes on two cores.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MNIST_DIR = Path("/work/shared/datasets/mnist")

# Everything that changes the trained model goes into the cache key.
RECIPE = {
    "version": 4,
    "augment": "half of each epoch: affine rot+-12deg shear+-0.15 scale0.85-1.1 shift+-1.5px, stroke dilate/erode",
    "train_images": 60000,
    "epochs": 8,
    "batch_size": 128,
    "seed": 0,
    "layers": "conv32-pool-conv64-pool-drop0.25-dense128-drop0.3-dense10",
}


def mnist_dir() -> Path:
    return Path(os.environ.get("MNIST_DIR") or DEFAULT_MNIST_DIR)


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N,28,28) uint8, labels (N,) uint8) for split 'train' or 'test'."""
    try:  # the project's loader, once it exists
        from train.data import load_mnist  # type: ignore

        data = load_mnist(str(mnist_dir()), download=False)
        return (data.train_images, data.train_labels) if split == "train" else (data.test_images, data.test_labels)
    except ImportError:
        pass
    prefix = "train" if split == "train" else "t10k"
    d = mnist_dir()
    return _read_idx(d / f"{prefix}-images-idx3-ubyte.gz"), _read_idx(d / f"{prefix}-labels-idx1-ubyte.gz")


@dataclass(frozen=True)
class Prediction:
    digits: np.ndarray
    probabilities: np.ndarray


class TFLiteDigitClassifier:
    """Minimal adapter with the runtime classifier's duck-typed interface (float TFLite model)."""

    def __init__(self, path: Path):
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=1)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = 0

    def predict(self, images: np.ndarray) -> Prediction:
        x = np.asarray(images, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        x = x.reshape(len(x), 28, 28, 1)
        if len(x) == 0:
            return Prediction(np.zeros(0, np.int64), np.zeros((0, 10), np.float32))
        if len(x) != self._batch:
            self._interpreter.resize_tensor_input(self._input["index"], list(x.shape))
            self._interpreter.allocate_tensors()
            self._batch = len(x)
        self._interpreter.set_tensor(self._input["index"], x)
        self._interpreter.invoke()
        probs = self._interpreter.get_tensor(self._output["index"]).astype(np.float32)
        return Prediction(probs.argmax(axis=1), probs)


def recipe_key() -> str:
    blob = json.dumps(RECIPE, sort_keys=True).encode() + Path(__file__).read_bytes()
    return hashlib.sha256(blob).hexdigest()[:16]


def cached_model_path() -> Path:
    return REPO / ".cache" / "reader-classifier" / f"cnn-{recipe_key()}.tflite"


def ensure_test_classifier(timeout_s: float = 900) -> Path:
    """Path of the cached stand-in .tflite, training it in a subprocess when missing."""
    path = cached_model_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, __file__, "--out", str(path)], check=True, timeout=timeout_s,
                       cwd=str(REPO))
    return path


def augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera-like variation for half the images: small affine distortions and stroke width changes."""
    import cv2

    out = images.astype(np.float32)
    for i in np.flatnonzero(rng.random(len(images)) < 0.5):
        angle = rng.uniform(-12, 12)
        scale = rng.uniform(0.85, 1.1)
        matrix = cv2.getRotationMatrix2D((14, 14), angle, scale)
        matrix[0, 1] += rng.uniform(-0.15, 0.15)
        matrix[:, 2] += rng.uniform(-1.5, 1.5, 2)
        image = cv2.warpAffine(out[i], matrix, (28, 28), flags=cv2.INTER_LINEAR)
        r = rng.random()
        if r < 0.2:
            image = cv2.dilate(image, np.ones((2, 2), np.uint8))
        elif r < 0.35:
            image = cv2.erode(image, np.ones((2, 2), np.uint8))
        out[i] = image
    return out


def train_and_export(out: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(RECIPE["seed"])
    images, labels = load_mnist_split("train")
    n = RECIPE["train_images"]
    y = labels[:n].astype(np.int64)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Dropout(0.25),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(RECIPE["seed"])
    for epoch in range(RECIPE["epochs"]):
        print(f"epoch {epoch + 1}/{RECIPE['epochs']}")
        model.fit(augment(images[:n], rng)[..., None] / np.float32(255), y, epochs=1,
                  batch_size=RECIPE["batch_size"], verbose=2)
    test_x, test_y = load_mnist_split("test")
    _, accuracy = model.evaluate(test_x.astype(np.float32)[..., None] / 255.0, test_y, verbose=0)
    print(f"stand-in classifier MNIST test accuracy: {accuracy:.4f}")
    tmp_dir = out.parent / f"savedmodel-{os.getpid()}"
    model.export(str(tmp_dir), verbose=False)
    tflite = tf.lite.TFLiteConverter.from_saved_model(str(tmp_dir)).convert()
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(tflite)
    os.replace(tmp, out)
    import shutil

    shutil.rmtree(tmp_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Train and export the reader tests' stand-in classifier.")
    parser.add_argument("--out", type=Path, default=cached_model_path(), help="output .tflite path")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    train_and_export(args.out)


if __name__ == "__main__":
    main()

"""Small real models for the runtime tests (test_runtime / test_cli / test_camera).

A small CNN is trained on 20 000 MNIST training images (3 epochs) and exported with the export
stage's own converters to all four formats (float and full-integer int8 TFLite, float and int8
ONNX), with the "edgedigits" metadata embedded and a manifest in the export contract. This runs
in a subprocess (this file as a script) so the test process never imports TensorFlow, and the
result is cached under <repo>/.cache/runtime-models/<key>/ keyed by a hash of this file, so the
~30 s build happens once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MNIST_DIR = Path("/work/shared/datasets/mnist")
MODEL = "tiny"
RECIPE = {"version": 2, "train_images": 20000, "epochs": 3, "batch_size": 64, "seed": 0,
          "layers": "conv16-pool-conv32-pool-dense10", "calibration": 300, "eval_images": 2000}


def mnist_dir() -> Path:
    return Path(os.environ.get("MNIST_DIR") or DEFAULT_MNIST_DIR)


def load_mnist_slice(split: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` images and labels of 'train' or 't10k' (read straight from the IDX gz)."""
    import gzip

    def read(name: str, record: int, header: int) -> np.ndarray:
        with gzip.open(mnist_dir() / name, "rb") as f:
            f.read(header)
            return np.frombuffer(f.read(count * record), dtype=np.uint8)

    images = read(f"{split}-images-idx3-ubyte.gz", 784, 16).reshape(-1, 28, 28)
    labels = read(f"{split}-labels-idx1-ubyte.gz", 1, 8)
    return images, labels


def cache_dir() -> Path:
    key = hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode() + Path(__file__).read_bytes()).hexdigest()
    return REPO / ".cache" / "runtime-models" / key[:16]


def ensure_models(timeout_s: float = 900) -> Path:
    """Directory holding manifest.json and tiny.{f32,int8}.{tflite,onnx}; built once, then cached."""
    out = cache_dir()
    if not (out / "manifest.json").is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))
        subprocess.run([sys.executable, __file__, "--out", str(out)], check=True, timeout=timeout_s,
                       cwd=str(REPO), env=env, stdout=subprocess.DEVNULL)
    return out


# ---------------------------------------------------------------- the build (subprocess only)


def _train(x: np.ndarray, y: np.ndarray):
    import keras

    keras.utils.set_random_seed(RECIPE["seed"])
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=RECIPE["epochs"], batch_size=RECIPE["batch_size"], verbose=0)
    return model


def _accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float((probabilities.argmax(axis=1) == labels).mean())


def build(out: Path) -> None:
    from export import onnx_export, tflite_export

    images, labels = load_mnist_slice("train", RECIPE["train_images"])
    x = images.astype(np.float32)[..., None] / 255.0
    model = _train(x, labels.astype(np.int64))
    test_images, test_labels = load_mnist_slice("t10k", RECIPE["eval_images"])
    test_x = test_images.astype(np.float32)[..., None] / 255.0
    keras_accuracy = _accuracy(model.predict(test_x, verbose=0), test_labels)
    calibration = x[-RECIPE["calibration"]:]

    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    saved = tmp / "savedmodel"
    model.export(str(saved), verbose=False)
    model.save(tmp / "model.keras")
    f32_onnx = onnx_export.convert_float(saved, MODEL, 13)
    raw = {
        "tflite-f32": (tflite_export.convert_float(saved), "litert"),
        "tflite-int8": (tflite_export.convert_int8(saved, calibration), "litert"),
        "onnx-f32": (f32_onnx, "onnxruntime"),
        "onnx-int8": (onnx_export.quantize_int8(f32_onnx, calibration), "onnxruntime"),
    }
    formats = {}
    suffixes = {"tflite-f32": ".f32.tflite", "tflite-int8": ".int8.tflite", "onnx-f32": ".f32.onnx",
                "onnx-int8": ".int8.onnx"}
    for name, (data, backend) in raw.items():
        predict = tflite_export.predict if backend == "litert" else onnx_export.predict
        accuracy = _accuracy(predict(data, test_x), test_labels)
        validation = {"accuracy": accuracy, "keras_accuracy": keras_accuracy, "images": len(test_labels),
                      "passed": True}
        meta = json.dumps({"schema_version": 1, "model": MODEL, "format": name,
                           "labels": [str(d) for d in range(10)], "validation": validation}, sort_keys=True)
        if backend == "litert":
            data = tflite_export.embed_metadata(data, "edgedigits", meta.encode())
            inputs, outputs = tflite_export.io_details(data)
        else:
            data = onnx_export.embed_metadata(data, "edgedigits", meta)
            inputs, outputs = onnx_export.io_details(data)
        file = MODEL + suffixes[name]
        (tmp / file).write_bytes(data)
        formats[name] = {"file": file, "backend": backend, "quantized": name.endswith("int8"),
                         "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data),
                         "inputs": inputs, "outputs": outputs, "validation": validation}
    shutil.rmtree(saved)
    manifest = {"schema_version": 1, "model": MODEL, "labels": [str(d) for d in range(10)],
                "source": {"file": "model.keras", "test_accuracy": keras_accuracy}, "formats": formats}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the runtime tests' small models.")
    parser.add_argument("--out", type=Path, default=cache_dir(), help="output directory")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    build(args.out)
    print(args.out)


if __name__ == "__main__":
    main()

"""Train one zoo model and leave everything a user needs to judge it in its output dir.

Outputs (artifacts/<model>/ by default): model.keras, history.json, metrics.json,
training_curves.png, confusion.png, misclassified.png. They are written into a staging
folder and moved in at the end, model.keras last, so an interrupted run never leaves a
model beside metrics that do not describe it.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from train.config import TrainConfig
from train.zoo import NUM_CLASSES, Augmentation, Recipe, count_macs, get_entry

OUTPUT_FILES = ("history.json", "metrics.json", "training_curves.png", "confusion.png",
                "misclassified.png", "model.keras")


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]: the contract of every zoo model."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def augment_batch(images: np.ndarray, augmentation: Augmentation, rng: np.random.Generator) -> np.ndarray:
    """Random rotation, zoom, width, shift and elastic distortion of each uint8 28x28 image.

    cv2, deterministic given rng. With elastic distortion the affine map and the displacement
    field are sampled in one remap, so the digit is interpolated only once.
    """
    import cv2

    out = np.empty_like(images)
    count = len(images)
    angles = rng.uniform(-augmentation.rotation_degrees, augmentation.rotation_degrees, count)
    scales = rng.uniform(1 - augmentation.zoom, 1 + augmentation.zoom, count)
    shifts = rng.uniform(-augmentation.translation, augmentation.translation, (count, 2)) * 28
    widths = rng.uniform(1 - augmentation.aspect, 1 + augmentation.aspect, count) if augmentation.aspect else None
    displacements = None
    if augmentation.elastic_alpha:
        displacements = elastic_displacements(count, augmentation.elastic_alpha,
                                              augmentation.elastic_sigma, rng)
    grid_x, grid_y = np.meshgrid(np.arange(28, dtype=np.float32), np.arange(28, dtype=np.float32))
    for i in range(count):
        matrix = cv2.getRotationMatrix2D((13.5, 13.5), angles[i], scales[i])
        if widths is not None:  # x' = w (x - 13.5) + 13.5 after the rotation
            matrix[0] *= widths[i]
            matrix[0, 2] += 13.5 * (1 - widths[i])
        matrix[:, 2] += shifts[i]
        if displacements is None:
            out[i] = cv2.warpAffine(images[i], matrix, (28, 28), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            continue
        # Output pixel -> source pixel: the inverse affine map of the displaced grid.
        inverse = cv2.invertAffineTransform(matrix).astype(np.float32)
        x = grid_x + displacements[i, 0]
        y = grid_y + displacements[i, 1]
        map_x = inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2]
        map_y = inverse[1, 0] * x + inverse[1, 1] * y + inverse[1, 2]
        out[i] = cv2.remap(images[i], map_x, map_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out


def elastic_displacements(count: int, alpha: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """(count, 2, 28, 28) float32 smooth random fields: uniform noise, Gaussian-blurred, times alpha."""
    offsets = np.arange(28, dtype=np.float32)
    kernel = np.exp(-0.5 * ((offsets[:, None] - offsets[None, :]) / sigma) ** 2)
    kernel /= np.sqrt(2 * np.pi) * sigma  # zero padding at the border, as a blur with a constant 0 edge
    noise = rng.uniform(-1, 1, (count, 2, 28, 28)).astype(np.float32)
    return (alpha * (kernel @ noise @ kernel)).astype(np.float32)


def make_batches(images, labels, batch_size, recipe: Recipe, classes: int, seed):
    """A keras PyDataset: shuffled each epoch, augmented per batch, reproducible from `seed`.

    With ``recipe.negatives``, each batch also holds that fraction of "not a digit" crops, whose
    label is the last output (index NUM_CLASSES)."""
    import keras

    from train.capture import capture_augment, make_negatives

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            # Two threads prepare batches while the model trains (cv2 releases the GIL). Every
            # batch depends only on (seed, epoch, index), so the result does not depend on them.
            super().__init__(workers=2, use_multiprocessing=False)
            self.epoch = 0
            self.order = self._shuffle()

        def _shuffle(self):
            return np.random.default_rng([seed, self.epoch]).permutation(len(images))

        def __len__(self):
            return int(np.ceil(len(images) / batch_size))

        def __getitem__(self, index):
            picked = self.order[index * batch_size:(index + 1) * batch_size]
            batch, batch_labels = images[picked], labels[picked]
            rng = np.random.default_rng([seed, self.epoch, index])
            if recipe.augmentation is not None:
                batch = augment_batch(batch, recipe.augmentation, rng)
            if recipe.capture is not None:
                batch = capture_augment(batch, recipe.capture, rng)
            if recipe.negatives:
                count = int(round(recipe.negatives * len(batch)))
                batch = np.concatenate([batch, make_negatives(images[picked], labels[picked], count, rng)])
                batch_labels = np.concatenate([batch_labels, np.full(count, NUM_CLASSES, batch_labels.dtype)])
            return to_model_input(batch), keras.utils.to_categorical(batch_labels, classes)

        def on_epoch_end(self):
            self.epoch += 1
            self.order = self._shuffle()

    return Batches()


def make_optimizer(recipe: Recipe, epochs: int, steps_per_epoch: int):
    import keras

    learning_rate = recipe.learning_rate
    if learning_rate is None:
        learning_rate = 1.0 if recipe.optimizer == "adadelta" else 1e-3
    if recipe.lr_schedule == "cosine":
        warmup_epochs = min(recipe.warmup_epochs, epochs - 1)  # a shortened run keeps some decay
        warmup_steps = warmup_epochs * steps_per_epoch
        peak = learning_rate
        learning_rate = keras.optimizers.schedules.CosineDecay(
            peak / 10 if warmup_steps else peak,
            decay_steps=(epochs - warmup_epochs) * steps_per_epoch,
            warmup_target=peak if warmup_steps else None, warmup_steps=warmup_steps)
    ema = {"use_ema": True, "ema_momentum": recipe.ema_momentum} if recipe.ema_momentum else {}
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate, **ema)
    if recipe.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=recipe.weight_decay, **ema)
    if recipe.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, **ema)
    if recipe.optimizer == "adadelta":
        return keras.optimizers.Adadelta(learning_rate, **ema)
    return keras.optimizers.SGD(learning_rate, momentum=0.9, **ema)


def evaluate(model, images: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy of the digit answer (the likeliest of the ten digits, as the runtime gives it) and,
    for a model with a "not a digit" output, the fraction of digits it rejects."""
    probabilities = model.predict(to_model_input(images), batch_size=1000, verbose=0)
    predicted = probabilities[:, :NUM_CLASSES].argmax(axis=1)
    rejected = probabilities.argmax(axis=1) == NUM_CLASSES
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(confusion, (labels.astype(np.int64), predicted), 1)
    per_class = confusion.diagonal() / np.maximum(confusion.sum(axis=1), 1)
    return {
        "accuracy": float((predicted == labels).mean()),
        "rejected": float(rejected.mean()),
        "per_class_accuracy": {str(c): float(a) for c, a in enumerate(per_class)},
        "confusion_matrix": confusion.tolist(),
        "predicted": predicted,
        "confidence": probabilities[:, :NUM_CLASSES].max(axis=1),
    }


def tool_versions() -> dict:
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__, "platform": platform.platform()}


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise PermissionError(f"output directory {out_dir} is not writable: {error.strerror}") from error


def load_training_data(config: TrainConfig):
    from train.data import load_mnist, split_validation

    mnist = load_mnist(config.data_dir)
    images, labels = mnist.train_images, mnist.train_labels
    test_images, test_labels = mnist.test_images, mnist.test_labels
    if config.train_limit:
        images, labels = images[:config.train_limit], labels[:config.train_limit]
    if config.test_limit:
        test_images, test_labels = test_images[:config.test_limit], test_labels[:config.test_limit]
    return (*split_validation(images, labels, size=config.val_size), test_images, test_labels)


def add_reader_crops(images, labels, frames: int, classes: int, seed: int, log=print):
    """`images`/`labels` plus the reader's crops of `frames` generated frames of them (its "not a
    digit" crops only when the model has that output)."""
    from train.readercrops import reader_crops

    step = max(1, frames // 10)

    def progress(done, total):
        if done % step == 0 or done == total:
            log(f"reader crops: {done}/{total} frames")

    crops, crop_labels = reader_crops(images, labels, frames, seed, progress=progress)
    keep = crop_labels < classes
    log(f"reader crops: {int(keep.sum())} added ({int((crop_labels == NUM_CLASSES).sum())} not a digit"
        f"{'' if classes > NUM_CLASSES else ', left out: the model has no such output'})")
    return np.concatenate([images, crops[keep]]), np.concatenate([labels, crop_labels[keep]])


def train(config: TrainConfig, log=print) -> dict:
    """Run the whole training stage; returns the metrics it wrote."""
    out_dir = config.resolved_out_dir
    _check_writable(out_dir)
    entry = get_entry(config.model)
    recipe = config.recipe
    epochs, batch_size = config.resolved_epochs, config.resolved_batch_size

    train_x, train_y, val_x, val_y, test_x, test_y = load_training_data(config)
    log(f"data: {len(train_x)} train, {len(val_x)} validation (last of the training set), "
        f"{len(test_x)} test images")
    if recipe.reader_frames:
        train_x, train_y = add_reader_crops(train_x, train_y, recipe.reader_frames, entry.classes, config.seed, log)

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()

    model = entry.model()
    batches = make_batches(train_x, train_y, batch_size, recipe, entry.classes, config.seed)
    model.compile(
        optimizer=make_optimizer(recipe, epochs, steps_per_epoch=len(batches)),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
        metrics=["accuracy"],
    )
    params, macs = model.count_params(), count_macs(model)
    log(f"model {config.model}: {params:,} parameters, {macs:,} MACs; "
        f"{recipe.optimizer}, {epochs} epochs, batch {batch_size}")

    # Checkpoint selection on the validation split: keep the best epoch's weights.
    keep_best = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=epochs,
                                              restore_best_weights=True)
    callbacks = [keep_best]
    if recipe.ema_momentum:
        # Swap the averaged weights in before validation, so checkpoint selection sees them.
        callbacks.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    validation = (to_model_input(val_x), keras.utils.to_categorical(val_y, entry.classes))
    started = time.perf_counter()
    fit = model.fit(batches, epochs=epochs, validation_data=validation, callbacks=callbacks,
                    verbose=1 if sys.stdout.isatty() else 2)
    training_seconds = time.perf_counter() - started
    history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    best_epoch = int(np.argmax(history["val_accuracy"])) + 1

    result = evaluate(model, test_x, test_y)
    log(f"best epoch {best_epoch}: validation accuracy {max(history['val_accuracy']):.4%}; "
        f"test accuracy {result['accuracy']:.4%}"
        + (f" ({result['rejected']:.2%} rejected as not a digit)" if entry.classes > NUM_CLASSES else "")
        + f"; trained in {training_seconds:.1f} s")

    metrics = {
        "model": config.model,
        "test_accuracy": result["accuracy"],
        "test_rejected": result["rejected"],
        "outputs": entry.classes,
        "reported_accuracy": entry.reported_accuracy,
        "validation_accuracy": max(history["val_accuracy"]),
        "best_epoch": best_epoch,
        "per_class_accuracy": result["per_class_accuracy"],
        "confusion_matrix": result["confusion_matrix"],
        "params": int(params),
        "macs": macs,
        "training_seconds": round(training_seconds, 2),
        "seconds_per_epoch": round(training_seconds / len(history["loss"]), 2),
        "epochs": epochs,
        "batch_size": batch_size,
        "recipe": {"optimizer": recipe.optimizer, "learning_rate": recipe.learning_rate,
                   "lr_schedule": recipe.lr_schedule, "warmup_epochs": recipe.warmup_epochs,
                   "weight_decay": recipe.weight_decay, "label_smoothing": recipe.label_smoothing,
                   "ema_momentum": recipe.ema_momentum,
                   "augmentation": vars(recipe.augmentation) if recipe.augmentation else None,
                   "capture": vars(recipe.capture) if recipe.capture else None,
                   "negatives": recipe.negatives, "reader_frames": recipe.reader_frames},
        "seed": config.seed,
        "data": {"train": len(train_x), "validation": len(val_x), "test": len(test_x)},
        "versions": tool_versions(),
    }
    _publish(out_dir, model, history, metrics, result, test_x, test_y)
    return metrics


def _publish(out_dir, model, history, metrics, result, test_x, test_y) -> None:
    from train import plots

    staging = out_dir / f".partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        title = f"{metrics['model']}: test accuracy {metrics['test_accuracy']:.2%}"
        _write_json(staging / "history.json", history)
        _write_json(staging / "metrics.json", metrics)
        plots.plot_training_curves(history, staging / "training_curves.png", title)
        plots.plot_confusion(np.asarray(metrics["confusion_matrix"]), staging / "confusion.png", title)
        plots.plot_misclassified(test_x, test_y, result["predicted"], result["confidence"],
                                 staging / "misclassified.png", metrics["model"])
        model.save(staging / "model.keras")
        (out_dir / "model.keras").unlink(missing_ok=True)
        for name in OUTPUT_FILES:  # model.keras is last
            (staging / name).replace(out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

"""The model zoo: the architectures of the seed documents, and `edge`, our own.

Each entry pairs a Keras builder with the recipe it is trained with by default and the
test accuracy its source document reported. Keras is imported inside the builders so
that listing the zoo (``--help``, did-you-mean) stays instant.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable

from train.capture import Capture

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
OPTIMIZERS = ("adam", "adamw", "rmsprop", "adadelta", "sgd")
LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class Augmentation:
    """Random affine distortions applied to training batches only (never part of the model)."""

    rotation_degrees: float = 0.0
    zoom: float = 0.0        # fraction, e.g. 0.1 for +-10 %
    translation: float = 0.0  # fraction of the image size
    # Elastic distortion (Simard et al. 2003): a random displacement field smoothed by a
    # Gaussian of `elastic_sigma` px and scaled by `elastic_alpha`; 0 turns it off.
    elastic_alpha: float = 0.0
    elastic_sigma: float = 4.0
    # Width scaled by a factor in [1 - aspect, 1 + aspect]: narrow and wide hands (real writers
    # vary more than MNIST's; a narrow 8 must not become a 1). 0 turns it off.
    aspect: float = 0.0

    def __post_init__(self):
        if not 0 <= self.rotation_degrees <= 45:
            raise ValueError(f"rotation_degrees must be in [0, 45], got {self.rotation_degrees}")
        for name in ("zoom", "translation"):
            if not 0 <= getattr(self, name) < 0.5:
                raise ValueError(f"{name} must be in [0, 0.5), got {getattr(self, name)}")
        if not 0 <= self.elastic_alpha <= 64:
            raise ValueError(f"elastic_alpha must be in [0, 64], got {self.elastic_alpha}")
        if not 0 <= self.aspect < 0.5:
            raise ValueError(f"aspect must be in [0, 0.5), got {self.aspect}")
        if not 1 <= self.elastic_sigma <= 14:
            raise ValueError(f"elastic_sigma must be in [1, 14] px, got {self.elastic_sigma}")


@dataclass(frozen=True)
class Recipe:
    optimizer: str
    epochs: int
    batch_size: int
    learning_rate: float | None = None  # None: the optimizer's Keras default
    lr_schedule: str = "constant"
    warmup_epochs: int = 0  # linear warm-up from a tenth of learning_rate (cosine schedule only)
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    augmentation: Augmentation | None = None
    # Camera and reader effects on the digits (train.capture.Capture), applied after `augmentation`.
    capture: Capture | None = None
    # "Not a digit" crops added to each batch, as a fraction of its digits (0: no reject output).
    negatives: float = 0.0
    # Validate and keep an exponential moving average of the weights (0: off).
    ema_momentum: float = 0.0
    # Generated frames (of the training digits) whose crops, as the frame reader cuts them, join the
    # training set (train.readercrops; 0: none). Its "not a digit" crops join only with `negatives`.
    reader_frames: int = 0

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.epochs <= 0 or self.batch_size <= 0:
            raise ValueError("epochs and batch_size must be positive")
        if self.warmup_epochs and (self.lr_schedule != "cosine" or self.warmup_epochs >= self.epochs):
            raise ValueError("warmup_epochs needs the cosine schedule and fewer epochs than training")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.ema_momentum < 1:
            raise ValueError(f"ema_momentum must be in [0, 1), got {self.ema_momentum}")
        if self.reader_frames < 0:
            raise ValueError(f"reader_frames must be >= 0, got {self.reader_frames}")
        if not 0 <= self.negatives <= 1:
            raise ValueError(f"negatives must be in [0, 1] (a fraction of each batch), got {self.negatives}")


@dataclass(frozen=True)
class ZooEntry:
    name: str
    build: Callable[[], object] = field(repr=False)
    recipe: Recipe
    reported_accuracy: float | None
    summary: str

    @property
    def classes(self) -> int:
        """Outputs of the model: the ten digits, and "not a digit" when trained with negatives."""
        return NUM_CLASSES + 1 if self.recipe.negatives else NUM_CLASSES

    def model(self):
        """A fresh, untrained Keras model with this entry's outputs."""
        return self.build(self.classes)


def _input():
    import keras

    return keras.Input(shape=INPUT_SHAPE, name="image")


def build_baseline(classes: int = NUM_CLASSES):
    from keras import layers, models

    return models.Sequential(
        [
            _input(),
            layers.Conv2D(32, 5, activation="relu", name="conv"),
            layers.MaxPooling2D(2, name="pool"),
            layers.Dropout(0.2, name="dropout"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense"),
            layers.Dense(classes, activation="softmax", name="probabilities"),
        ],
        name="baseline",
    )


def build_larger(classes: int = NUM_CLASSES):
    from keras import layers, models

    return models.Sequential(
        [
            _input(),
            layers.Conv2D(30, 5, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(15, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Dropout(0.2, name="dropout"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense1"),
            layers.Dense(50, activation="relu", name="dense2"),
            layers.Dense(classes, activation="softmax", name="probabilities"),
        ],
        name="larger",
    )


def build_mlp(classes: int = NUM_CLASSES):
    from keras import layers, models

    return models.Sequential(
        [
            _input(),
            layers.Flatten(name="flatten"),
            layers.Dense(512, activation="relu", name="dense1"),
            layers.Dropout(0.2, name="dropout1"),
            layers.Dense(256, activation="relu", name="dense2"),
            layers.Dropout(0.2, name="dropout2"),
            layers.Dense(classes, activation="softmax", name="probabilities"),
        ],
        name="mlp",
    )


def build_cnn(classes: int = NUM_CLASSES):
    from keras import layers, models

    return models.Sequential(
        [
            _input(),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool"),
            layers.Dropout(0.25, name="dropout1"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense"),
            layers.Dropout(0.5, name="dropout2"),
            layers.Dense(classes, activation="softmax", name="probabilities"),
        ],
        name="cnn",
    )


def build_deep(classes: int = NUM_CLASSES):
    from keras import layers, models

    return models.Sequential(
        [
            _input(),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1a"),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1b"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Dropout(0.25, name="dropout1"),
            layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2a"),
            layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2b"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Dropout(0.25, name="dropout2"),
            layers.Flatten(name="flatten"),
            layers.Dense(512, activation="relu", name="dense"),
            layers.Dropout(0.5, name="dropout3"),
            layers.Dense(classes, activation="softmax", name="probabilities"),
        ],
        name="deep",
    )


def build_edge(classes: int = NUM_CLASSES):
    """Ours, for int8 on a Raspberry Pi: under a quarter of baseline's MACs, ~41k params.

    A strided 5x5 stem then a depthwise 3x3 at 14x14 (cheap, and it widens the view before the
    first pooling); at 7x7 a linear depthwise + pointwise block to 72 channels and one more
    depthwise 3x3 with ReLU (depthwise is cheap: 32k MACs for the extra depth); a Flatten -> Dense
    head, which buys capacity at one MAC per parameter. No dropout: augmentation, label smoothing
    and weight averaging regularize enough for a model this small. Batch norm folds into the
    convolutions at export; ReLU quantizes cleanly.
    """
    from keras import layers, models

    inputs = _input()
    x = layers.Conv2D(18, 5, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)  # 14x14
    x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="stem_dw")(x)
    x = layers.BatchNormalization(momentum=0.9, name="stem_dw_bn")(x)
    x = layers.ReLU(name="stem_dw_relu")(x)
    x = layers.MaxPooling2D(2, name="stem_pool")(x)  # 7x7x18
    # No ReLU between depthwise and pointwise: trained better in short runs.
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="block_dw")(x)
    x = layers.BatchNormalization(momentum=0.9, name="block_dw_bn")(x)
    x = layers.Conv2D(72, 1, use_bias=False, name="block_pw")(x)
    x = layers.BatchNormalization(momentum=0.9, name="block_pw_bn")(x)
    x = layers.ReLU(name="block_pw_relu")(x)
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="block_dw2")(x)
    x = layers.BatchNormalization(momentum=0.9, name="block_dw2_bn")(x)
    x = layers.ReLU(name="block_dw2_relu")(x)
    x = layers.MaxPooling2D(2, name="block_pool")(x)  # 3x3x72
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(56, use_bias=False, name="fc")(x)
    x = layers.BatchNormalization(momentum=0.9, name="fc_bn")(x)
    x = layers.ReLU(name="fc_relu")(x)
    outputs = layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return models.Model(inputs, outputs, name="edge")


_ADAM_10_200 = Recipe(optimizer="adam", epochs=10, batch_size=200)

ZOO: dict[str, ZooEntry] = {
    e.name: e
    for e in (
        ZooEntry("baseline", build_baseline, _ADAM_10_200, 0.9907,
                 "Conv 32@5x5, MaxPool, Dropout .2, Dense 128, Dense 10"),
        ZooEntry("larger", build_larger, _ADAM_10_200, 0.9903,
                 "Conv 30@5x5, Pool, Conv 15@3x3, Pool, Dropout .2, Dense 128, Dense 50, Dense 10"),
        ZooEntry("mlp", build_mlp, Recipe(optimizer="adam", epochs=25, batch_size=128), 0.9815,
                 "784 -> Dense 512, Dropout .2, Dense 256, Dropout .2, Dense 10"),
        ZooEntry("cnn", build_cnn, Recipe(optimizer="adam", epochs=10, batch_size=32), 0.9907,
                 "Conv 32@3x3, Conv 64@3x3, Pool, Dropout .25, Dense 128, Dropout .5, Dense 10"),
        ZooEntry("deep", build_deep,
                 Recipe(optimizer="rmsprop", epochs=20, batch_size=256,
                        augmentation=Augmentation(rotation_degrees=15, zoom=0.1, translation=0.1)),
                 0.9914,
                 "2x Conv 32@3x3, Pool, Dropout, 2x Conv 64@3x3, Pool, Dropout, Dense 512, Dropout, Dense 10"),
        ZooEntry("edge", build_edge,
                 Recipe(optimizer="adamw", epochs=50, batch_size=128, learning_rate=3e-3,
                        lr_schedule="cosine", warmup_epochs=1, weight_decay=1e-4, label_smoothing=0.1,
                        augmentation=Augmentation(rotation_degrees=8, zoom=0.08, translation=0.08,
                                                  elastic_alpha=16, elastic_sigma=4),
                        ema_momentum=0.999,
                        # A camera's and the reader's effects, and "not a digit" crops (an 11th
                        # output the reader drops junk with): README, "Training for real capture".
                        capture=Capture(), negatives=0.1),
                 None,
                 "ours: strided 5x5 stem + depthwise, separable block + depthwise, dense head; BN, ReLU; "
                 "under 1/4 of baseline's MACs"),
    )
}
DEFAULT_MODEL = "edge"


def get_entry(name: str) -> ZooEntry:
    """The zoo entry called `name`; a KeyError suggests the closest names."""
    if name in ZOO:
        return ZOO[name]
    close = difflib.get_close_matches(name, ZOO, n=2)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise KeyError(f"unknown model {name!r}.{hint} Known models: {', '.join(ZOO)}")


def count_macs(model) -> int:
    """Multiply-accumulates of one forward pass (conv, depthwise conv and dense layers).

    Batch norm is not counted: export folds it into the preceding convolution.
    """
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            _, out_h, out_w, _ = layer.output.shape
            k_h, k_w = layer.kernel_size
            in_c = layer.input.shape[-1]
            total += out_h * out_w * in_c * layer.depth_multiplier * k_h * k_w
        elif isinstance(layer, layers.Conv2D):
            _, out_h, out_w, out_c = layer.output.shape
            k_h, k_w = layer.kernel_size
            in_c = layer.input.shape[-1]
            total += out_h * out_w * out_c * k_h * k_w * in_c // layer.groups
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)

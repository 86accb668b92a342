"""Export settings: a frozen, validated ExportConfig and the parity gates it carries."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from edgedigits.formats import FORMATS

from export.errors import CalibrationError, ConfigError, UnknownFormatError

MIN_CALIBRATION_SIZE = 100
DEFAULT_CALIBRATION_SIZE = 1000
MIN_ONNX_OPSET = 13
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ParityGates:
    """Thresholds an exported model must meet against the Keras model.

    Float formats are compared on the first `float_images` test images, int8 formats on the first
    `int8_images` (None: the whole test set). Accuracy drop is a fraction (0.003 = 0.3 points).
    """

    float_images: int = 1000
    float_min_agreement: float = 1.0
    float_max_abs_diff: float = 1e-4
    int8_images: int | None = None
    int8_min_agreement: float = 0.995
    int8_max_accuracy_drop: float = 0.003

    def __post_init__(self):
        for name in ("float_images", "int8_images"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        for name in ("float_min_agreement", "int8_min_agreement"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not self.float_max_abs_diff >= 0:
            raise ConfigError(f"float_max_abs_diff must be >= 0, got {self.float_max_abs_diff!r}")
        if not 0.0 <= self.int8_max_accuracy_drop <= 1.0:
            raise ConfigError(f"int8_max_accuracy_drop must be a fraction in [0, 1], "
                              f"got {self.int8_max_accuracy_drop!r}")


def parse_formats(text: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Format names from 'a,b' or a sequence, in FORMATS order; UnknownFormatError with a suggestion."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else [str(n).strip() for n in text]
    names = [n for n in names if n]
    if not names:
        raise ConfigError(f"no format given; choose from: {', '.join(FORMATS)}")
    for name in names:
        if name not in FORMATS:
            close = difflib.get_close_matches(name, list(FORMATS), n=1, cutoff=0.5)
            hint = f" - did you mean {close[0]!r}?" if close else ""
            raise UnknownFormatError(f"unknown format {name!r}{hint} (known formats: {', '.join(FORMATS)})")
    return tuple(n for n in FORMATS if n in names)


@dataclass(frozen=True)
class ExportConfig:
    model: str
    formats: tuple[str, ...] = tuple(FORMATS)
    calibration_size: int = DEFAULT_CALIBRATION_SIZE
    calibration_seed: int = 0
    artifacts_dir: Path = Path("artifacts")
    out_dir: Path | None = None        # None: <artifacts_dir>/<model>
    data_dir: Path | None = None       # None: $MNIST_DIR, else the loader's cache
    val_size: int = 5000               # last training images (as in training): never used for int8
                                       # calibration; each format's softmax temperature is fitted on them
    report_images: int = 200           # test images for the per-layer quantization report (0: no report)
    opset: int = 13
    gates: ParityGates = field(default_factory=ParityGates)

    def __post_init__(self):
        if not isinstance(self.model, str) or not MODEL_NAME.match(self.model):
            raise ConfigError(f"model name must be letters, digits, '_', '-' or '.', got {self.model!r}")
        object.__setattr__(self, "formats", parse_formats(self.formats))
        for name in ("artifacts_dir", "out_dir", "data_dir"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
        if isinstance(self.calibration_size, bool) or not isinstance(self.calibration_size, int):
            raise ConfigError(f"calibration_size must be an integer, got {self.calibration_size!r}")
        if self.calibration_size < MIN_CALIBRATION_SIZE:
            raise CalibrationError(f"calibration set too small: {self.calibration_size} images requested, "
                                   f"at least {MIN_CALIBRATION_SIZE} are needed for stable int8 ranges")
        for name in ("val_size", "report_images"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
        if self.opset < MIN_ONNX_OPSET:
            raise ConfigError(f"ONNX opset must be >= {MIN_ONNX_OPSET}, got {self.opset}")
        if not isinstance(self.gates, ParityGates):
            raise ConfigError(f"gates must be a ParityGates, got {type(self.gates).__name__}")

    @property
    def resolved_out_dir(self) -> Path:
        return self.out_dir if self.out_dir is not None else self.artifacts_dir / self.model

    @property
    def keras_path(self) -> Path:
        return self.artifacts_dir / self.model / "model.keras"

    @property
    def metrics_path(self) -> Path:
        return self.artifacts_dir / self.model / "metrics.json"

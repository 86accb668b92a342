"""Typed errors of the export stage: each names what was expected and what was found."""

from __future__ import annotations


class ExportError(Exception):
    """Base class: any export problem the user can act on (the CLI exits non-zero with the message)."""


class ConfigError(ExportError, ValueError):
    """An invalid export setting."""


class UnknownFormatError(ConfigError):
    """A format name that is not in FORMATS."""


class CalibrationError(ExportError):
    """The calibration set is too small or has the wrong shape/dtype."""


class ModelLoadError(ExportError):
    """The source Keras model is missing, corrupt or does not follow the input/output contract."""


class OutputDirError(ExportError):
    """The output directory cannot be created or written."""


class ConversionError(ExportError):
    """A converter (TFLite, tf2onnx, onnxruntime quantization) failed or produced an unusable model."""


class NotFullyIntegerError(ConversionError):
    """An int8 TFLite model still contains float tensors (a silent float fallback)."""


class MetadataError(ExportError):
    """Embedding the metadata changed the model's behaviour or made it unreadable."""


class ParityError(ExportError):
    """An exported model disagrees with the Keras model beyond the configured gates."""

    def __init__(self, format_name: str, failures: list[str], measured: dict):
        self.format_name = format_name
        self.failures = failures
        self.measured = measured
        numbers = ", ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in measured.items() if k != "passed")
        super().__init__(f"{format_name}: parity check failed: " + "; ".join(failures) + f" (measured: {numbers})")

"""Parity of an exported model with the Keras model, and the gates it must pass."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edgedigits.metadata import DIGIT_LABELS
from export.config import ParityGates
from export.errors import ParityError


@dataclass(frozen=True)
class ParityResult:
    accuracy: float        # the exported model's top-1 accuracy on `images` test images
    keras_accuracy: float  # the Keras model's on the same images
    agreement: float       # fraction of images where both predict the same class
    max_abs_diff: float    # max |p_exported - p_keras| over all images and classes
    images: int
    passed: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def measure(probs: np.ndarray, keras_probs: np.ndarray, labels: np.ndarray) -> ParityResult:
    if probs.shape != keras_probs.shape or len(labels) != len(probs):
        raise ValueError(f"shape mismatch: exported {probs.shape}, keras {keras_probs.shape}, labels {labels.shape}")
    predicted, expected = probs.argmax(axis=1), keras_probs.argmax(axis=1)
    # The digit answer is the likeliest digit (a "not a digit" output, if any, is last and apart).
    digits = len(DIGIT_LABELS)
    return ParityResult(
        accuracy=float(np.mean(probs[:, :digits].argmax(axis=1) == labels)),
        keras_accuracy=float(np.mean(keras_probs[:, :digits].argmax(axis=1) == labels)),
        agreement=float(np.mean(predicted == expected)),
        max_abs_diff=float(np.max(np.abs(probs.astype(np.float64) - keras_probs))),
        images=int(len(labels)),
    )


def gate_images(quantized: bool, gates: ParityGates, available: int) -> int:
    wanted = gates.int8_images if quantized else gates.float_images
    return available if wanted is None else min(wanted, available)


def gate_failures(result: ParityResult, quantized: bool, gates: ParityGates) -> list[str]:
    failures = []
    if quantized:
        drop = result.keras_accuracy - result.accuracy
        if result.agreement < gates.int8_min_agreement:
            failures.append(f"top-1 agreement {result.agreement:.2%} < {gates.int8_min_agreement:.2%} "
                            f"on {result.images} images")
        if drop > gates.int8_max_accuracy_drop:
            failures.append(f"accuracy drop {drop * 100:.2f} points (keras {result.keras_accuracy:.2%} -> "
                            f"{result.accuracy:.2%}) > {gates.int8_max_accuracy_drop * 100:.2f} points")
    else:
        if result.agreement < gates.float_min_agreement:
            failures.append(f"top-1 agreement {result.agreement:.2%} < {gates.float_min_agreement:.2%} "
                            f"on {result.images} images")
        if result.max_abs_diff > gates.float_max_abs_diff:
            failures.append(f"max |delta prob| {result.max_abs_diff:.3g} > {gates.float_max_abs_diff:.3g}")
    return failures


def check_gates(format_name: str, result: ParityResult, quantized: bool, gates: ParityGates) -> ParityResult:
    """`result` marked passed, or ParityError naming the format and the measured numbers."""
    failures = gate_failures(result, quantized, gates)
    if failures:
        raise ParityError(format_name, failures, result.as_dict())
    return ParityResult(**{**result.as_dict(), "passed": True})

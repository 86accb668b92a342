"""Softmax temperature: fitted per exported format on its own output probabilities (validation split).

A model trained with label smoothing caps its top probability (~0.9 for smoothing 0.1), so it is
under-confident. p ** (1/T) renormalized (= softmax(logits / T)) with the T that minimizes the
negative log-likelihood on held-out labelled images sharpens (T < 1) or softens (T > 1) the
probabilities without changing any argmax. The runtime applies the same function
(edgedigits.classifier.apply_temperature) with the T recorded in the manifest and the model file.
"""

from __future__ import annotations

import numpy as np

from edgedigits.classifier import apply_temperature

TEMPERATURE_RANGE = (0.05, 5.0)
ECE_BINS = 15
LOG_FLOOR = 1e-12  # int8 outputs can be exactly 0, and p ** (1/T) keeps 0: clipped inside the log only
DIGITS = 4         # T, NLL and ECE are recorded rounded; "after" is measured with the rounded T


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(label), each probability clipped at LOG_FLOOR."""
    picked = probs[np.arange(len(labels)), labels].astype(np.float64)
    return float(-np.mean(np.log(np.maximum(picked, LOG_FLOOR))))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sum over equal-width confidence bins (lo, hi] of |accuracy - mean confidence| x bin share."""
    confidence = probs.max(axis=1).astype(np.float64)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    gap = np.bincount(index, correct, bins) - np.bincount(index, confidence, bins)
    return float(np.abs(gap).sum() / len(labels))


def fit_temperature(probs: np.ndarray, labels: np.ndarray, low: float = TEMPERATURE_RANGE[0],
                    high: float = TEMPERATURE_RANGE[1], grid: int = 41, tolerance: float = 1e-5) -> float:
    """The T in [low, high] minimizing the NLL of p ** (1/T) renormalized, for probabilities `probs` (N, K).

    A log-spaced grid of `grid` points finds the basin; golden-section search on log T between the
    best grid point's neighbours refines it to `tolerance` (relative). The NLL of softmax(z / T) is
    convex in 1/T, so the grid only guards against flat stretches from clipped zero probabilities.
    """
    probs = np.asarray(probs, dtype=np.float64)

    def loss(log_t: float) -> float:
        return negative_log_likelihood(apply_temperature(probs, float(np.exp(log_t))), labels)

    points = np.linspace(np.log(low), np.log(high), grid)
    best = int(np.argmin([loss(x) for x in points]))
    a, b = points[max(best - 1, 0)], points[min(best + 1, grid - 1)]
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    loss_c, loss_d = loss(c), loss(d)
    while b - a > tolerance:
        if loss_c < loss_d:
            b, d, loss_d = d, c, loss_c
            c = b - ratio * (b - a)
            loss_c = loss(c)
        else:
            a, c, loss_c = c, d, loss_d
            d = a + ratio * (b - a)
            loss_d = loss(d)
    return float(np.exp((a + b) / 2.0))


def temperature_scaling(probs: np.ndarray, labels: np.ndarray, split: str = "validation") -> dict:
    """The fitted T with NLL and ECE before/after, as recorded in the manifest and the model file."""
    temperature = round(fit_temperature(probs, labels), DIGITS)
    scaled = apply_temperature(probs, temperature)
    return {
        "temperature": temperature,
        "images": int(len(labels)),
        "split": split,
        "nll": [round(negative_log_likelihood(p, labels), DIGITS) for p in (probs, scaled)],
        "ece": [round(expected_calibration_error(p, labels), DIGITS) for p in (probs, scaled)],
        "ece_bins": ECE_BINS,
        "method": "p ** (1/T) renormalized (= softmax(logits / T)); T minimizes the NLL of this file's outputs",
    }

"""Stage 4, the digit size: the typical height of the components that look like digits. Every
size-dependent threshold after this one is in digit heights."""

from __future__ import annotations

import numpy as np

from .arrays import array_median
from .blobs import cluttered
from .config import ReaderConfig
from .ink import components, containers
from .records import DigitSize, Ink
from .rules import remove_long_lines


def typical_height(stats: np.ndarray, config: ReaderConfig) -> float | None:
    """Median height of components that look like digits (by size and aspect), or None."""
    cfg = config.ink
    if len(stats) == 0:
        return None
    w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
    plausible = (h >= config.min_digit_height) & (w <= cfg.max_aspect * h) \
        & (h <= cfg.max_tallness * w + cfg.tallness_slack) & (area >= cfg.min_area) & (area >= cfg.min_fill * w * h)
    plausible &= ~containers(stats, plausible, cfg)
    if not np.any(plausible):
        return None
    height = tallest_share(h[plausible], cfg.shortest_dropped)
    # Texture makes crowds of digit-sized specks that pull the measure down: measure again
    # without the components that crowds of specks of that size surround.
    clean = plausible & ~cluttered(stats[:, 0], stats[:, 1], w, h, height, config.blobs)
    return tallest_share(h[clean], cfg.shortest_dropped) if clean.any() else height


def tallest_share(heights: np.ndarray, dropped: int) -> float:
    """Median of the heights without the shortest 1/`dropped` of them: fragments and specks are
    smaller than real digits."""
    return array_median(np.sort(heights)[len(heights) // dropped:])


def measure_digits(ink: Ink, config: ReaderConfig, known_height: float | None = None) -> DigitSize | None:
    """The typical digit height of the first-pass components of `ink.mask` (with their stats), else
    `known_height` (a shrunk or enlarged copy's measure from the first one), else None: nothing looks like a digit."""
    _, stats = components(ink.mask, with_labels=False)
    height = typical_height(stats, config)
    guesses = config.ink.guessed_heights
    if height is None and (stats[:, 2:4].max(axis=1, initial=0) >= config.ink.long_component * guesses[0]).any():
        # Digits written across a rule join it into one long component, so nothing looks like
        # a digit yet: take out long thin straight strokes first, sized for digits of 15 and of
        # 30 pixels, and keep the taller measurement (a rule sized too small only cuts digits
        # into pieces). This mask only serves to measure; the one that is read is made later.
        found = []
        for guess in guesses:
            _, guess_stats = components(remove_long_lines(ink.mask, guess, config.rules)[0], with_labels=False)
            guess_height = typical_height(guess_stats, config)
            if guess_height is not None:
                found.append((guess_height, guess_stats))
        if found:
            height, stats = max(found, key=lambda f: f[0])
    height = height or known_height
    return None if height is None else DigitSize(height, stats)

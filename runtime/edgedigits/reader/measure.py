"""Stage 4, the digit size: the typical height of the components that look like digits (the pen's,
when a lighter class of them is texture let into the ink). Every size-dependent threshold after
this one is in digit heights."""

from __future__ import annotations

import numpy as np

from .arrays import array_median
from .blobs import cluttered
from .config import InkConfig, ReaderConfig
from .ink import components, containers
from .records import DigitSize, Ink
from .rules import remove_long_lines


def digit_like(stats: np.ndarray, config: ReaderConfig) -> np.ndarray:
    """Which components look like digits by size, aspect and fill."""
    cfg = config.ink
    w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
    return (h >= config.min_digit_height) & (w <= cfg.max_aspect * h) \
        & (h <= cfg.max_tallness * w + cfg.tallness_slack) & (area >= cfg.min_area) & (area >= cfg.min_fill * w * h)


def typical_height(stats: np.ndarray, config: ReaderConfig, labels: np.ndarray | None = None,
                   darkness: np.ndarray | None = None) -> float | None:
    """Median height of components that look like digits (by size and aspect), or None. With the
    components' `labels` and the relative `darkness` they lie over (both or neither), a lighter
    class of them (:func:`lighter_class`) that set a measure far from the pen's is left out (when
    there are at most ``texture_max_components`` of them: each one's darkness is read in its box)."""
    if (labels is None) != (darkness is None):
        raise ValueError("typical_height: give both labels and darkness, or neither")
    height = median_height(stats, config)
    if darkness is None or height is None:
        return height
    candidates = digit_like(stats, config)
    if np.count_nonzero(candidates) > config.ink.texture_max_components:
        return height
    means = component_darkness(labels, stats, darkness, candidates)
    lighter = lighter_class(means, candidates, config.ink)
    pen_height = None if lighter is None else median_height(stats, config, ~lighter)
    if pen_height is None or max(pen_height / height, height / pen_height) < config.ink.texture_height_change:
        return height
    return pen_height


def median_height(stats: np.ndarray, config: ReaderConfig, measured: np.ndarray | None = None) -> float | None:
    """The median height of the digit-like components (those `measured` selects, when given), less
    boxes drawn around others, the shortest share (:func:`tallest_share`) and, once that height is
    known, those amid crowds of specks; None without any. Boxes and specks are found among all
    the components."""
    if len(stats) == 0:
        return None
    h = stats[:, 3]
    plausible = digit_like(stats, config)
    plausible &= ~containers(stats, plausible, config.ink)
    if measured is not None:
        plausible &= measured
    if not np.any(plausible):
        return None
    height = tallest_share(h[plausible], config.ink.shortest_dropped)
    # Texture makes crowds of digit-sized specks that pull the measure down: measure again
    # without the components that crowds of specks of that size surround.
    clean = plausible & ~cluttered(stats[:, 0], stats[:, 1], stats[:, 2], h, height, config.blobs)
    return tallest_share(h[clean], config.ink.shortest_dropped) if clean.any() else height


def component_darkness(labels: np.ndarray, stats: np.ndarray, darkness: np.ndarray,
                       which: np.ndarray) -> np.ndarray:
    """The mean of `darkness` over each component of `labels` (1..N, with `stats` (N, 5)) that
    `which` selects (0 for the others); each is read in its own box (the selected are few). Labels
    of a closed mask take in the gaps the closing filled, a little lighter than the strokes."""
    means = np.zeros(len(stats))
    for i in np.flatnonzero(which):
        x, y, w, h = stats[i, :4]
        own = labels[y: y + h, x: x + w] == i + 1
        means[i] = darkness[y: y + h, x: x + w][own].mean()
    return means


def lighter_class(means: np.ndarray, candidates: np.ndarray, cfg: InkConfig) -> np.ndarray | None:
    """Which `candidates` (a mask over the components, of mean darkness `means`) form the lighter of
    two classes: sorted by darkness, the widest step between neighbours is at least
    ``texture_gap`` times and at least ``texture_min_pen`` lie above it (desk texture, or the
    shade of a fold, let into the ink is lighter than the pen); else None. Only the widest step is
    tried: when one or two very dark pieces (a desk's edge) make it, there is no class."""
    values = np.sort(means[candidates])
    if values.size <= cfg.texture_min_pen:
        return None
    steps = values[1:] / np.maximum(values[:-1], 1e-6)
    k = int(np.argmax(steps))
    if steps[k] < cfg.texture_gap or values.size - (k + 1) < cfg.texture_min_pen:
        return None
    return candidates & (means <= values[k])


def tallest_share(heights: np.ndarray, dropped: int) -> float:
    """Median of the heights without the shortest 1/`dropped` of them: fragments and specks are
    smaller than real digits."""
    return array_median(np.sort(heights)[len(heights) // dropped:])


def measure_digits(ink: Ink, config: ReaderConfig, known_height: float | None = None,
                   darkness: np.ndarray | None = None) -> DigitSize | None:
    """The typical digit height of the first-pass components of `ink.mask` (with their stats), else
    `known_height` (a shrunk or enlarged copy's measure from the first one), else None: nothing looks like a digit.
    `darkness` (the relative darkness `ink.mask` lies over) lets the measure tell the pen's components
    from lighter ones (:func:`typical_height`)."""
    labels, stats = components(ink.mask, with_labels=darkness is not None)
    height = typical_height(stats, config, labels, darkness)
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

"""The working copy: the frame in grey, at most ``max_side`` pixels, shrunk further once the
digits turn out much taller than a 28x28 crop needs, or enlarged once they turn out so short that
their strokes are a pixel or two wide."""

from __future__ import annotations

from functools import cache, partial

import numpy as np

from .arrays import block_means, opencv
from .config import ReaderConfig, ScaleConfig
from .page import small_colour
from .records import DigitSize, Working


def working_copy(frame: np.ndarray, config: ReaderConfig) -> Working:
    """The validated frame in grey, downscaled (INTER_AREA: huge frames cost bounded memory) so its
    longer side is at most ``config.max_side``; it keeps the frame for its shape and colour."""
    cv2 = opencv()
    grey = grey_frame(frame)
    scale = min(1.0, config.max_side / max(grey.shape))
    if scale < 1.0:
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    colour = cache(partial(small_colour, frame, config.page.small_side)) if frame.ndim == 3 else None
    return Working(grey, scale, frame, colour)


def grey_frame(frame: np.ndarray) -> np.ndarray:
    """The frame ((H, W) grey or (H, W, 3|4) BGR(A) uint8) in grey, at its own size."""
    cv2 = opencv()
    return frame if frame.ndim == 2 else cv2.cvtColor(
        frame, cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY)


def is_blank(work: Working, config: ReaderConfig) -> bool:
    """Too small or too flat to hold any digit."""
    grey = work.grey
    return (grey.shape[0] < config.min_digit_height or grey.shape[1] < config.scale.min_width
            or int(grey.max()) - int(grey.min()) < config.scale.min_grey_range)


def preview_copy(work: Working, cfg: ScaleConfig) -> Working | None:
    """The working copy ``preview_factor`` times smaller (block means: exact on any CPU) when that
    is at least ``min_working_side`` (what the paper and light estimates are sized for), else None:
    the digits are measured on it first."""
    factor = cfg.preview_factor
    if max(work.grey.shape) < factor * cfg.min_working_side:
        return None
    return work._replace(grey=block_means(work.grey, factor), scale=work.scale / factor)


def is_sure_shrink(work: Working, height: float, cfg: ScaleConfig) -> bool:
    """Whether digits `height` px tall in `work` (measured on its preview) are ``preview_margin``
    times taller than those for which the shrunk copy is ``min_working_side`` whatever their height."""
    return height >= cfg.preview_margin * cfg.working_digit_height * max(work.grey.shape) / cfg.min_working_side


def shrunk_copy(work: Working, size: DigitSize, cfg: ScaleConfig) -> tuple[Working, float] | None:
    """(a smaller working copy, the digit height in it) when the digits measure more than
    ``shrink_above_height`` (big digits on a 4000 px photo cost most of the time otherwise), or None."""
    grey, height = work.grey, size.height
    factor = max(cfg.working_digit_height / height, cfg.min_working_side / max(grey.shape))
    if not (height > cfg.shrink_above_height and factor < cfg.max_shrink_factor):
        return None
    shape = (max(1, round(grey.shape[1] * factor)), max(1, round(grey.shape[0] * factor)))
    small = opencv().resize(grey, shape, interpolation=opencv().INTER_AREA)
    # (scale * new) / old, not scale * (new / old): the same rounding as ever.
    return (work._replace(grey=small, scale=work.scale * small.shape[1] / grey.shape[1]),
            height * small.shape[1] / grey.shape[1])


def enlarged_copy(work: Working, size: DigitSize, cfg: ScaleConfig) -> tuple[Working, float] | None:
    """(a larger working copy, the digit height in it) when the digits measure less than
    ``enlarge_below_height``, or None. The copy is made from the frame itself (its own detail when
    the working copy was downscaled, bicubic beyond it), enlarged towards digits of
    ``working_digit_height`` but at most ``max_enlarge_factor`` times and ``max_enlarged_side`` px
    (which may exceed ``max_side``). ``min_digit_height`` then applies to the enlarged pixels."""
    grey, height = work.grey, size.height
    factor = min(cfg.working_digit_height / height, cfg.max_enlarge_factor, cfg.max_enlarged_side / max(grey.shape))
    if not (height < cfg.enlarge_below_height and factor >= cfg.min_enlarge_factor):
        return None
    cv2 = opencv()
    frame = grey_frame(work.frame)
    scale = work.scale * factor  # working pixels per frame pixel
    shape = (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale)))
    big = cv2.resize(frame, shape, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return work._replace(grey=big, scale=big.shape[1] / frame.shape[1]), height * big.shape[1] / grey.shape[1]

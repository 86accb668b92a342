"""The working copy: the frame in grey, at most ``max_side`` pixels, and shrunk further once the
digits turn out much taller than a 28x28 crop needs."""

from __future__ import annotations

import numpy as np

from .arrays import opencv
from .config import ReaderConfig, ScaleConfig
from .records import DigitSize, Working


def working_copy(frame: np.ndarray, config: ReaderConfig) -> Working:
    """The validated frame in grey, downscaled (INTER_AREA: huge frames cost bounded memory) so its
    longer side is at most ``config.max_side``; it keeps the frame for its shape and colour."""
    cv2 = opencv()
    grey = frame if frame.ndim == 2 else cv2.cvtColor(
        frame, cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    scale = min(1.0, config.max_side / max(grey.shape))
    if scale < 1.0:
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return Working(grey, scale, frame)


def is_blank(work: Working, config: ReaderConfig) -> bool:
    """Too small or too flat to hold any digit."""
    grey = work.grey
    return (grey.shape[0] < config.min_digit_height or grey.shape[1] < config.scale.min_width
            or int(grey.max()) - int(grey.min()) < config.scale.min_grey_range)


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
    return (Working(small, work.scale * small.shape[1] / grey.shape[1], work.frame),
            height * small.shape[1] / grey.shape[1])

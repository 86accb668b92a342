"""The reading drawn on the frame: each digit's box, value and confidence, one colour per line."""

from __future__ import annotations

import numpy as np

from .arrays import opencv, validate_frame
from .classify import digit_text
from .records import Digit, ReadResult

LINE_COLOURS = ((0, 200, 0), (255, 128, 0), (0, 128, 255), (200, 0, 200), (0, 200, 200), (128, 128, 255))


def draw_annotations(frame: np.ndarray, result: ReadResult) -> np.ndarray:
    """A BGR copy of the frame with each digit's box, value and confidence; one colour per line."""
    cv2 = opencv()
    frame = validate_frame(frame)
    out = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame[..., :3].copy()
    thickness = max(1, round(max(out.shape[:2]) / 600))
    for i, line in enumerate(result.lines):
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        for d in line.digits:
            x, y, w, h = d.box
            box_colour = colour if d.digit is not None else (0, 0, 255)
            cv2.rectangle(out, (x, y), (x + w, y + h), box_colour, thickness)
            label = digit_label(d)
            font = max(0.35, min(1.2, h / 60))
            cv2.putText(out, label, (x, max(10, y - 3)), cv2.FONT_HERSHEY_SIMPLEX, font, box_colour, thickness,
                        cv2.LINE_AA)
    return out


def digit_label(digit: Digit) -> str:
    """A digit as drawn: its value ('?' when not accepted) and confidence, as in "7 0.93"."""
    return f"{digit_text([digit])} {digit.confidence:.2f}"

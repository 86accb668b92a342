"""Stable readings: a text counts only once the same text was read in K of the last N frames.

A digit that flickers between two values (a meter wheel half-way, a reflection, a hand passing)
never becomes stable, so it never reaches the history or an MQTT broker — provided K is more than
half of N, rounded up (two texts read in turns fill at most ceil(N/2) of the window): 3/4 (the
default) and 4/5 hold a flicker back, 3/5 does not.

    tracker = StableText(k=3, n=4)
    for text in ("12", "12", "17", "12"):
        state = tracker.update(text)
    state.stable, state.text, state.changed    # True, "12", True (the first time "12" became stable)
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
MAX_WINDOW = 1000


@dataclass(frozen=True)
class Stability:
    """K of the last N frames."""

    k: int = 3
    n: int = 4

    def __post_init__(self) -> None:
        if not (isinstance(self.k, int) and isinstance(self.n, int)):
            raise ValueError(f"stability: K and N must be integers, got {self.k!r}/{self.n!r}")
        if not 1 <= self.k <= self.n <= MAX_WINDOW:
            raise ValueError(f"stability: need 1 <= K <= N <= {MAX_WINDOW}, got {self.k}/{self.n}")

    @classmethod
    def parse(cls, text: str) -> "Stability":
        """'K/N', e.g. '3/5'."""
        match = _SPEC.match(str(text))
        if not match:
            raise ValueError(f"stability: expected K/N such as 3/5, got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"

    @property
    def holds_back_flicker(self) -> bool:
        """True when two texts read in turns can never become stable (K > ceil(N/2))."""
        return self.k > (self.n + 1) // 2


@dataclass(frozen=True)
class StableState:
    """After one frame: is this frame's text the stable one, which text is stable (None: none yet or
    no longer), and did the stable text just change to a new publishable value."""

    stable: bool
    text: str | None
    changed: bool
    previous: str | None   # the stable text published before this change (None the first time)


def publishable(text: str | None) -> bool:
    """A text worth publishing: some digits, none of them unsure ('?')."""
    return bool(text) and "?" not in text


class StableText:
    """The stability of one region's text over its last N frames (not thread-safe: one reader)."""

    def __init__(self, k: int = 3, n: int = 4):
        self.rule = Stability(k, n)
        self._window: deque[str] = deque(maxlen=n)
        self._stable: str | None = None
        self._published: str | None = None

    @property
    def published(self) -> str | None:
        """The last stable text that was reported as a change (what MQTT and the history last got)."""
        return self._published

    def update(self, text: str) -> StableState:
        self._window.append(text)
        counts = Counter(self._window)
        stable_text = None
        if self._stable is not None and counts[self._stable] >= self.rule.k:
            stable_text = self._stable  # the stable text stays while it holds K of N (two may, when K <= N/2)
        else:
            for candidate in reversed(self._window):  # else the text read in K of N, the latest if two are
                if counts[candidate] >= self.rule.k:
                    stable_text = candidate
                    break
        self._stable = stable_text
        changed = publishable(stable_text) and stable_text != self._published
        previous = self._published
        if changed:
            self._published = stable_text
        return StableState(stable=stable_text is not None and text == stable_text, text=stable_text,
                           changed=changed, previous=previous)

    def reset(self) -> None:
        self._window.clear()
        self._stable = self._published = None

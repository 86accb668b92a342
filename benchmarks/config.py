"""Benchmark settings: one frozen, validated BenchConfig; `full` and `quick` presets."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path

from edgedigits.formats import FORMATS

from benchmarks.machine import usable_cores
from benchmarks.measure import TimingPlan

KERAS_ROWS = ("keras-predict", "keras-call")  # what a tutorial user would run instead of an export
ROW_KINDS = (*KERAS_ROWS, *FORMATS)
FRAME_SETS = ("640x480-10", "mixed")
BATCH_SIZES = (64, 256)
DEFAULT_RESULTS_DIR = Path("benchmarks") / "results"
DEFAULT_BASELINE = Path("benchmarks") / "baseline.json"
DEFAULT_QUICK_TEST_LIMIT = 2000


class ConfigError(ValueError):
    """A benchmark option is invalid (the message names the option and what was expected)."""


class BenchmarkError(RuntimeError):
    """The benchmark cannot run at all (no models, no test data)."""


def parse_list(text: str | None, known: tuple[str, ...], what: str) -> tuple[str, ...] | None:
    """'a,b' -> ('a', 'b') checked against `known` (kept in `known` order); None/'' -> None."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        return None
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            hint = f" - did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown {what} {name!r}{hint} (known: {', '.join(known)})")
    return tuple(n for n in known if n in names)


@dataclass(frozen=True)
class BenchConfig:
    models: tuple[str, ...] | None = None      # None: every model under artifacts_dir
    rows: tuple[str, ...] = ROW_KINDS           # Keras rows and FORMATS entries to measure
    frame_sets: tuple[str, ...] = FRAME_SETS
    quick: bool = False
    test_limit: int | None = None               # None: the whole 10,000-image test set
    artifacts_dir: Path = Path("artifacts")
    results_dir: Path = DEFAULT_RESULTS_DIR
    data_dir: Path | None = None
    threads_all: int = field(default_factory=usable_cores)
    batch_sizes: tuple[int, ...] = BATCH_SIZES
    latency: TimingPlan = TimingPlan(warmup=50, min_iterations=500, budget_s=2.0)
    throughput: TimingPlan = TimingPlan(warmup=3, min_iterations=20, budget_s=1.5)
    keras_latency: TimingPlan = TimingPlan(warmup=5, min_iterations=30, budget_s=3.0)
    keras_throughput: TimingPlan = TimingPlan(warmup=2, min_iterations=5, budget_s=2.0)
    cold_start_repeats: int = 3
    tensorflow_reference: bool = True           # time + RSS of `import tensorflow` alone
    frames_per_set: int = 30
    frame_budget_s: float = 3.0
    frame_seed: int = 2024
    plots: bool = True
    progress: bool = True

    def __post_init__(self):
        if self.models is not None:
            if not self.models or any(not isinstance(m, str) or not m or "/" in m for m in self.models):
                raise ConfigError(f"models must be non-empty names without '/', got {self.models!r}")
        if not self.rows:
            raise ConfigError(f"choose at least one row from: {', '.join(ROW_KINDS)}")
        for name in self.rows:
            if name not in ROW_KINDS:
                raise ConfigError(f"unknown row {name!r}; expected one of: {', '.join(ROW_KINDS)}")
        for name in self.frame_sets:
            if name not in FRAME_SETS:
                raise ConfigError(f"unknown frame set {name!r}; expected one of: {', '.join(FRAME_SETS)}")
        if self.test_limit is not None and (isinstance(self.test_limit, bool) or not isinstance(self.test_limit, int)
                                            or not 1 <= self.test_limit <= 10_000):
            raise ConfigError(f"test_limit must be an integer in 1..10000, got {self.test_limit!r}")
        if not isinstance(self.threads_all, int) or self.threads_all < 1:
            raise ConfigError(f"threads_all must be a positive integer, got {self.threads_all!r}")
        if not self.batch_sizes or any(not isinstance(b, int) or b < 1 for b in self.batch_sizes):
            raise ConfigError(f"batch_sizes must be positive integers, got {self.batch_sizes!r}")
        if self.cold_start_repeats < 0:
            raise ConfigError(f"cold_start_repeats must be >= 0 (0: skip), got {self.cold_start_repeats}")
        if self.frames_per_set < 1 or self.frame_budget_s <= 0:
            raise ConfigError("frames_per_set must be >= 1 and frame_budget_s > 0")

    @property
    def thread_settings(self) -> dict[str, int]:
        """Label -> interpreter threads: one core, and every core this process may use."""
        return {"single": 1, "all": self.threads_all}

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(r for r in self.rows if r in FORMATS)

    @property
    def keras_rows(self) -> tuple[str, ...]:
        return tuple(r for r in self.rows if r in KERAS_ROWS)

    def describe(self) -> dict:
        """The settings that decide what the numbers mean (recorded with the results)."""
        return {
            "models": list(self.models) if self.models else None,
            "rows": list(self.rows),
            "frame_sets": list(self.frame_sets),
            "quick": self.quick,
            "test_limit": self.test_limit,
            "threads": self.thread_settings,
            "batch_sizes": list(self.batch_sizes),
            "latency_plan": vars(self.latency).copy(),
            "keras_latency_plan": vars(self.keras_latency).copy(),
            "throughput_plan": vars(self.throughput).copy(),
            "cold_start_repeats": self.cold_start_repeats,
            "frames_per_set": self.frames_per_set,
            "frame_seed": self.frame_seed,
        }


def quick_config(**overrides) -> BenchConfig:
    """CI preset: the runtime formats only (no TensorFlow), a test-set slice, short time boxes."""
    base = dict(
        rows=tuple(FORMATS),
        quick=True,
        test_limit=DEFAULT_QUICK_TEST_LIMIT,
        latency=TimingPlan(warmup=30, min_iterations=300, budget_s=0.6),
        throughput=TimingPlan(warmup=2, min_iterations=15, budget_s=0.6),
        cold_start_repeats=3,
        tensorflow_reference=False,
        frames_per_set=12,
        frame_budget_s=1.5,
        plots=False,
    )
    base.update({k: v for k, v in overrides.items() if v is not None})
    return BenchConfig(**base)


def full_config(**overrides) -> BenchConfig:
    return BenchConfig(**{k: v for k, v in overrides.items() if v is not None})


def with_changes(config: BenchConfig, **changes) -> BenchConfig:
    return replace(config, **changes)

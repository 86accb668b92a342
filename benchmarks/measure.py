"""Timing primitives: warm-up, time-boxed repetition with perf_counter_ns, percentiles.

Every measurement follows the same recipe: run `warmup` calls that are not recorded, then record
one sample per call until both `min_iterations` calls were made and `budget_s` seconds passed, or
`max_iterations` calls were made. The time box keeps a run bounded on a slow machine; the minimum
count keeps the high percentiles meaningful on a fast one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class TimingPlan:
    warmup: int = 20
    min_iterations: int = 200
    max_iterations: int = 100_000
    budget_s: float = 2.0

    def __post_init__(self):
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if not 1 <= self.min_iterations <= self.max_iterations:
            raise ValueError(f"need 1 <= min_iterations <= max_iterations, got {self.min_iterations}, "
                             f"{self.max_iterations}")
        if not self.budget_s > 0:
            raise ValueError(f"budget_s must be > 0, got {self.budget_s}")

    def scaled(self, factor: float) -> "TimingPlan":
        """The same plan for a slower workload: fewer calls, same kind of time box."""
        return TimingPlan(warmup=max(1, int(self.warmup * factor)),
                          min_iterations=max(1, int(self.min_iterations * factor)),
                          max_iterations=max(1, int(self.max_iterations * factor)),
                          budget_s=self.budget_s)


def percentile(samples, q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default).

    Raises ValueError for an empty sample or q outside [0, 100]."""
    values = np.asarray(samples, dtype=np.float64)
    if values.size == 0:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be in [0, 100], got {q}")
    ordered = np.sort(values, kind="stable")
    rank = (ordered.size - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, ordered.size - 1)
    fraction = rank - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


def time_calls(call: Callable[[], object], plan: TimingPlan) -> np.ndarray:
    """Nanoseconds per call (int64 array), after `plan.warmup` unrecorded calls."""
    for _ in range(plan.warmup):
        call()
    samples = np.empty(plan.max_iterations, dtype=np.int64)
    clock = time.perf_counter_ns
    deadline = clock() + int(plan.budget_s * 1e9)
    count = 0
    while count < plan.max_iterations:
        start = clock()
        call()
        end = clock()
        samples[count] = end - start
        count += 1
        if count >= plan.min_iterations and end >= deadline:
            break
    return samples[:count].copy()


def time_interleaved(call: Callable[[], object], reference: Callable[[], object], plan: TimingPlan,
                     reference_repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """Nanoseconds per `call`, each timed right after a block of `reference_repeats` reference calls
    (returned as ns per reference call). Both see the same moments of a busy machine, so their
    ratio stays put when other processes come and go."""
    if reference_repeats < 1:
        raise ValueError(f"reference_repeats must be >= 1, got {reference_repeats}")
    for _ in range(plan.warmup):
        reference()
        call()
    calls = np.empty(plan.max_iterations, dtype=np.int64)
    references = np.empty(plan.max_iterations, dtype=np.int64)
    clock = time.perf_counter_ns
    deadline = clock() + int(plan.budget_s * 1e9)
    count = 0
    while count < plan.max_iterations:
        start = clock()
        for _ in range(reference_repeats):
            reference()
        middle = clock()
        call()
        end = clock()
        references[count] = (middle - start) // reference_repeats
        calls[count] = end - middle
        count += 1
        if count >= plan.min_iterations and end >= deadline:
            break
    return calls[:count].copy(), references[:count].copy()


def matching_repeats(call: Callable[[], object], reference: Callable[[], object], tries: int = 3,
                     limit: int = 500) -> int:
    """How many reference calls last about as long as one `call` (so both are preempted alike)."""
    def best(fn):
        times = []
        for _ in range(tries):
            start = time.perf_counter_ns()
            fn()
            times.append(time.perf_counter_ns() - start)
        return max(1, min(times))
    return int(min(limit, max(1, round(best(call) / best(reference)))))


def latency_summary(samples_ns: np.ndarray) -> dict:
    """p50/p90/p99 and mean in microseconds, and the sample count."""
    micros = np.asarray(samples_ns, dtype=np.float64) / 1e3
    return {
        "p50_us": percentile(micros, 50),
        "p90_us": percentile(micros, 90),
        "p99_us": percentile(micros, 99),
        "mean_us": float(micros.mean()),
        "iterations": int(micros.size),
    }


def throughput(call: Callable[[], object], batch: int, plan: TimingPlan) -> dict:
    """Images per second at this batch size, from the median batch time (robust to stalls); each
    batch is preceded by an equally long block of the reference workload, whose p50 is reported."""
    reference = reference_workload()
    repeats = matching_repeats(call, reference)
    samples, reference_samples = time_interleaved(call, reference, plan, repeats)
    median_s = percentile(samples, 50) / 1e9
    return {"batch": batch, "images_per_s": batch / median_s, "batch_p50_ms": median_s * 1e3,
            "iterations": int(samples.size), "reference_p50_us": percentile(reference_samples, 50) / 1e3}


# A fixed workload measured in the same run as the models: latencies in the regression gate are
# ratios to it, so a slower or busier machine moves both. Integer matrix products do not go
# through BLAS, so numpy runs them on one thread whatever the BLAS threading settings are.
REFERENCE_SHAPE = (48, 96, 48)  # (m, k, n): 221,184 multiply-accumulates, about the default model's


def reference_workload() -> Callable[[], object]:
    m, k, n = REFERENCE_SHAPE
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, size=(m, k), dtype=np.int32)
    b = rng.integers(-128, 128, size=(k, n), dtype=np.int32)
    out = np.empty((m, n), dtype=np.int32)

    def run():
        np.matmul(a, b, out=out)

    return run


def reference_macs() -> int:
    m, k, n = REFERENCE_SHAPE
    return m * k * n

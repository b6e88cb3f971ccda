"""Small helpers shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Run ``fn`` once and return its result and the elapsed milliseconds."""
    start = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - start) * 1000


def median_ms(fn: Callable[[], object], repeat: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in milliseconds over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        _, ms = timed(fn)
        samples.append(ms)
    return statistics.median(samples)


def report(label: str, value: float, unit: str = "ms", target: str = "") -> None:
    """Print one figure in an aligned line."""
    extra = f"   (target: {target})" if target else ""
    print(f"  {label:<58} {value:>10.1f} {unit}{extra}", flush=True)

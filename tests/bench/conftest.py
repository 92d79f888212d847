"""Fixtures of the benchmarks: how to compare ours with a peer in the same run."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

Ratio = Callable[..., float]


def ratio_of(slow: Callable[[], object], fast: Callable[[], object], rounds: int = 7) -> float:
    """best(slow) / best(fast), the two run in turn, so that a burst of load on the machine
    hits both sides rather than one."""
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for k, run in enumerate((slow, fast)):
            start = time.perf_counter()
            run()
            best[k] = min(best[k], time.perf_counter() - start)
    return best[0] / best[1]


@pytest.fixture(scope="session")
def peer_ratio() -> Ratio:
    """`peer_ratio(theirs, ours, rounds=7)`: how many times slower the peer is than ours."""
    return ratio_of

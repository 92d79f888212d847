"""Map-matching throughput on the default yard: batched with and without heading, one at a time.

Sizes scale with YARDFLEET_BENCH_SCALE (default 1.0: 10,000 batched positions, 500 one at
a time); every benchmark also checks its result, so it still tests something when run with
--benchmark-disable.
"""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from maps.matching import MapMatcher, Match, Matches
from maps.model import Yard
from maps.terminals import terminal

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))
BATCH = max(10, round(10_000 * SCALE))
ONE_BY_ONE = max(10, round(500 * SCALE))


def noisy_positions(
    yard: Yard, n: int, seed: int = 42
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """n positions uniformly along the lanes (by length), σ = 2 m noise: lane, x, y, heading."""
    rng = np.random.default_rng(seed)
    lanes = list(yard.lanes.values())
    # The default yard's lanes are straight two-point lines, so start + t × (end − start).
    ends = np.array([[*lane.geometry.coords[0], *lane.geometry.coords[-1]] for lane in lanes])
    length = np.hypot(ends[:, 2] - ends[:, 0], ends[:, 3] - ends[:, 1])
    k = rng.choice(len(lanes), size=n, p=length / length.sum())
    t = rng.random(n)
    x = ends[k, 0] + t * (ends[k, 2] - ends[k, 0]) + rng.normal(0.0, 2.0, n)
    y = ends[k, 1] + t * (ends[k, 3] - ends[k, 1]) + rng.normal(0.0, 2.0, n)
    heading = np.degrees(np.arctan2(ends[k, 2] - ends[k, 0], ends[k, 3] - ends[k, 1])) % 360.0
    return k.astype(np.intp), x, y, heading


@pytest.fixture(scope="module")
def matcher() -> MapMatcher:
    """One matcher for the default terminal."""
    return MapMatcher(terminal())


def rate(benchmark: BenchmarkFixture, positions: int) -> None:
    """Store positions per second (from the median round) in the benchmark's extra info."""
    benchmark.extra_info["positions"] = positions
    if benchmark.stats is not None:  # None when run with --benchmark-disable
        median = benchmark.stats.stats.median
        benchmark.extra_info["positions_per_s"] = round(positions / median)


def check(m: Matches, true_lane: IntArray, with_heading: bool) -> None:
    """At least 95% matched, and (with heading) 90% on the very lane the point came from."""
    assert len(m) == len(true_lane)
    assert m.matched.mean() >= 0.95
    if with_heading:
        assert np.mean(m.lane_index == true_lane) >= 0.90


def test_bench_batch_with_heading(benchmark: BenchmarkFixture, matcher: MapMatcher) -> None:
    """10,000 positions with heading in one call (target ≥ 100,000 positions/s)."""
    lane, x, y, h = noisy_positions(matcher.yard, BATCH)
    m = benchmark(matcher.match_xy, x, y, h)
    rate(benchmark, BATCH)
    check(m, lane, with_heading=True)


def test_bench_batch_without_heading(benchmark: BenchmarkFixture, matcher: MapMatcher) -> None:
    """10,000 positions without heading in one call (target ≥ 200,000 positions/s)."""
    lane, x, y, _ = noisy_positions(matcher.yard, BATCH)
    m = benchmark(matcher.match_xy, x, y)
    rate(benchmark, BATCH)
    check(m, lane, with_heading=False)


def test_bench_one_at_a_time(benchmark: BenchmarkFixture, matcher: MapMatcher) -> None:
    """500 positions with heading, one call each: the rate batching is compared with."""
    lane, x, y, h = noisy_positions(matcher.yard, ONE_BY_ONE)
    xs, ys, hs = x.tolist(), y.tolist(), h.tolist()

    def one_by_one() -> list[Match]:
        return [matcher.match_one(a, b, c) for a, b, c in zip(xs, ys, hs, strict=True)]

    rows = benchmark(one_by_one)
    rate(benchmark, ONE_BY_ONE)
    batch = matcher.match_xy(x, y, h)
    assert rows == [batch.row(i) for i in range(len(batch))]
    check(batch, lane, with_heading=True)

"""Map-matching throughput on the default yard: batched with and without heading, one at a time.

Sizes scale with YARDFLEET_BENCH_SCALE (default 1.0: 10,000 batched positions, 500 one at
a time); every benchmark also checks its result, so it still tests something when run with
--benchmark-disable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from pytest_benchmark.fixture import BenchmarkFixture

from maps.matching import MapMatcher, Match, Matches
from maps.model import Yard
from maps.terminals import terminal

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))
BATCH = max(10, round(10_000 * SCALE))
ONE_BY_ONE = max(10, round(500 * SCALE))


NOISE_M = 2.0


@dataclass(frozen=True, slots=True)
class Samples:
    """Noisy positions along the lanes and where each really was."""

    lane: IntArray
    """Index of the lane (in `yard.lanes` order) each position was taken on."""
    offset_m: FloatArray
    """How far along that lane."""
    x: FloatArray
    y: FloatArray
    heading: FloatArray
    """Degrees clockwise from north: the lane's direction there."""


def noisy_positions(yard: Yard, n: int, seed: int = 42) -> Samples:
    """n positions uniformly along the lanes (by length) with σ = 2 m noise, the heading the
    lane's own where the position was taken (lanes are polylines: ramps, connectors)."""
    rng = np.random.default_rng(seed)
    lanes = list(yard.lanes.values())
    geoms = np.array([lane.geometry for lane in lanes], dtype=object)
    length = np.array([lane.geometry.length for lane in lanes])
    k = rng.choice(len(lanes), size=n, p=length / length.sum())
    along = rng.random(n) * length[k]
    at = shapely.get_coordinates(shapely.line_interpolate_point(geoms[k], along))
    ahead = shapely.get_coordinates(
        shapely.line_interpolate_point(geoms[k], np.minimum(along + 0.5, length[k]))
    )
    behind = shapely.get_coordinates(
        shapely.line_interpolate_point(geoms[k], np.maximum(along - 0.5, 0.0))
    )
    d = ahead - behind
    return Samples(
        k.astype(np.intp),
        along,
        at[:, 0] + rng.normal(0.0, NOISE_M, n),
        at[:, 1] + rng.normal(0.0, NOISE_M, n),
        np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360.0,
    )


def right_place(yard: Yard, m: Matches, truth: Samples) -> npt.NDArray[np.bool_]:
    """Where a match puts the position on the piece of road it was taken on: its very lane;
    another movement of the same junction (a junction's connectors overlap, those from one
    stop line wholly at first); or, within 3 σ of where two lanes join, the lane it came
    from or goes on to (noise along the lane carries a position over the joint)."""
    lanes = list(yard.lanes.values())
    group = np.array([lane.conflict_group or "" for lane in lanes], dtype=object)
    start = np.array([lane.start for lane in lanes], dtype=object)
    end = np.array([lane.end for lane in lanes], dtype=object)
    length = np.array([lane.geometry.length for lane in lanes])
    k, got = truth.lane, m.lane_index
    near = 3 * NOISE_M
    same = got == k
    junction = (group[k] != "") & (group[got] == group[k])
    onward = (end[k] == start[got]) & (length[k] - truth.offset_m < near)
    back = (start[k] == end[got]) & (truth.offset_m < near)
    return m.matched & (same | junction | onward | back)


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


def check(m: Matches, yard: Yard, truth: Samples, with_heading: bool) -> None:
    """At least 95% matched, and (with heading) 95% in the right place (`right_place`)."""
    assert len(m) == len(truth.lane)
    assert m.matched.mean() >= 0.95
    if with_heading:
        assert right_place(yard, m, truth).mean() >= 0.95


def test_bench_batch_with_heading(benchmark: BenchmarkFixture, matcher: MapMatcher) -> None:
    """10,000 positions with heading in one call (target ≥ 100,000 positions/s)."""
    truth = noisy_positions(matcher.yard, BATCH)
    m = benchmark(matcher.match_xy, truth.x, truth.y, truth.heading)
    rate(benchmark, BATCH)
    check(m, matcher.yard, truth, with_heading=True)
    # The heading is what gets the last few percent: it tells a bay's lane from the through
    # lane beside it and a junction's movements apart.
    blind = matcher.match_xy(truth.x, truth.y)
    with_heading = right_place(matcher.yard, m, truth).mean()
    assert with_heading > right_place(matcher.yard, blind, truth).mean()


def test_bench_batch_without_heading(benchmark: BenchmarkFixture, matcher: MapMatcher) -> None:
    """10,000 positions without heading in one call (target ≥ 200,000 positions/s)."""
    truth = noisy_positions(matcher.yard, BATCH)
    m = benchmark(matcher.match_xy, truth.x, truth.y)
    rate(benchmark, BATCH)
    check(m, matcher.yard, truth, with_heading=False)


def test_bench_one_at_a_time(benchmark: BenchmarkFixture, matcher: MapMatcher) -> None:
    """500 positions with heading, one call each: the rate batching is compared with."""
    truth = noisy_positions(matcher.yard, ONE_BY_ONE)
    xs, ys, hs = truth.x.tolist(), truth.y.tolist(), truth.heading.tolist()

    def one_by_one() -> list[Match]:
        return [matcher.match_one(a, b, c) for a, b, c in zip(xs, ys, hs, strict=True)]

    rows = benchmark(one_by_one)
    rate(benchmark, ONE_BY_ONE)
    batch = matcher.match_xy(truth.x, truth.y, truth.heading)
    assert rows == [batch.row(i) for i in range(len(batch))]
    check(batch, matcher.yard, truth, with_heading=True)

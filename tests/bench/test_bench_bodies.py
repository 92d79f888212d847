"""The body-to-body check over a real shift's executed plans, against shapely as the peer.

Target at full size: the default 8-hour shift (32 trucks, about 217,000 driven steps)
checked in at most 2 s (asserted only at full size with timing on). The shift is
simulated once for the module (not timed); its length scales with YARDFLEET_BENCH_SCALE
(CI: 0.1, so 0.8 h). Peers, same run: shapely's `distance` on the same rectangle pairs
(the distance kernel), and a naive check that loops over quarter seconds with shapely
(the whole check, on the first minutes); both must agree with ours, the ratios go to
`extra_info` (run with -s to see them printed).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import shapely
from pytest_benchmark.fixture import BenchmarkFixture

from maps import Yard, generate_terminal
from routing.bodies import (
    TOUCH_M,
    BodyReport,
    bodies_at,
    body_corners,
    check_bodies,
    rectangle_clearance_m,
)
from routing.plan import Plan
from sim.run import run_shift
from sim.scenario import load

SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))
HOURS = 8.0 * min(1.0, SCALE)
TARGET_S = 2.0
WINDOW_S = 600.0 * min(1.0, max(SCALE, 0.25))
"""How much of the shift the naive peer checks (10 minutes at full size)."""
KERNEL_S = 3600.0 * min(1.0, max(SCALE, 0.25))
"""How much of the shift gives the rectangle pairs for the kernel peer."""
LENGTH_M, WIDTH_M = 16.0, 2.5


@dataclass(frozen=True)
class Shift:
    plans: list[Plan]
    yard: Yard
    seconds: float

    @property
    def steps(self) -> int:
        return sum(len(p) for p in self.plans)


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> Shift:
    """The default shift, simulated once: what every truck drove."""
    scenario = load().with_(hours=HOURS)
    out: Path = tmp_path_factory.mktemp("bodies")
    report = run_shift(scenario, out, pictures=False)
    yard = generate_terminal(scenario.spec())
    return Shift(report.result.executed, yard, report.result.simulated_seconds)


def test_bench_bodies_shift(benchmark: BenchmarkFixture, shift: Shift) -> None:
    """Every pair of 32 trucks' bodies over the whole shift."""
    report: BodyReport = benchmark.pedantic(  # type: ignore[no-untyped-call]
        check_bodies, args=(shift.plans, shift.yard), rounds=3, iterations=1
    )
    assert report.trucks == len(shift.plans) == 32
    assert report.comparisons > 0 and report.min_clearance_m is not None
    benchmark.extra_info.update(
        simulated_h=round(shift.seconds / 3600, 2),
        steps=shift.steps,
        contacts=len(report.contacts),
        min_clearance_m=report.min_clearance_m,
        comparisons=report.comparisons,
    )
    print(
        f"\nbodies over {shift.seconds / 3600:.2f} h, {shift.steps:,} steps: "
        f"{len(report.contacts)} contacts, min clearance {report.min_clearance_m} m, "
        f"{report.comparisons:,} comparisons; closest: {report.closest}"
    )
    if benchmark.stats is not None and SCALE >= 1.0:
        assert benchmark.stats.stats.max <= TARGET_S


def test_bench_bodies_kernel_vs_shapely(
    benchmark: BenchmarkFixture, shift: Shift, peer_ratio: Callable[..., float]
) -> None:
    """Our rectangle distance against shapely.distance on the same rectangle pairs: every
    pair of trucks near each other at every quarter second of the first hour."""
    times = np.arange(0.0, min(KERNEL_S, shift.seconds), 0.25)
    front, rear, there = bodies_at(shift.plans, shift.yard, times, length_m=LENGTH_M)
    centre = (front + rear) / 2
    a, b = np.triu_indices(len(front), 1)
    gap = np.linalg.norm(centre[a] - centre[b], axis=2)  # (pairs, times)
    p, t = np.nonzero((gap <= np.hypot(LENGTH_M, WIDTH_M) + 2.0) & there[a] & there[b])
    fa, ra, fb, rb = front[a[p], t], rear[a[p], t], front[b[p], t], rear[b[p], t]
    poly_a = shapely.polygons(body_corners(fa, ra, WIDTH_M))
    poly_b = shapely.polygons(body_corners(fb, rb, WIDTH_M))

    def ours() -> np.ndarray:
        return rectangle_clearance_m(fa, ra, fb, rb, WIDTH_M)

    theirs = benchmark(shapely.distance, poly_a, poly_b)
    mine = ours()
    assert len(mine) > 1000
    apart = mine > 0
    assert np.allclose(mine[apart], theirs[apart], atol=1e-6)
    assert np.all(theirs[~apart] <= TOUCH_M)
    benchmark.extra_info["pairs"] = len(mine)
    if not benchmark.disabled:
        ratio = peer_ratio(lambda: shapely.distance(poly_a, poly_b), ours, 3)
        benchmark.extra_info["times_shapely"] = round(ratio, 1)
        print(f"\n{len(mine):,} rectangle pairs: ours {ratio:.1f}x shapely.distance")


def naive(plans: list[Plan], yard: Yard, until: float) -> tuple[float, set[tuple[str, str, float]]]:
    """The check as one would write it with shapely: every quarter second, every pair."""
    times = np.arange(0.0, until, 0.25)
    front, rear, there = bodies_at(plans, yard, times, length_m=LENGTH_M)
    a, b = np.triu_indices(len(front), 1)
    trucks = [p.truck for p in plans]
    best, touching = np.inf, set()
    for k, t in enumerate(times):
        polys = np.asarray(shapely.polygons(body_corners(front[:, k], rear[:, k], WIDTH_M)))
        both = there[a, k] & there[b, k]
        d = np.asarray(shapely.distance(polys[a[both]], polys[b[both]]), dtype=np.float64)
        if len(d):
            best = min(best, float(d.min()))
            for i in np.flatnonzero(d <= TOUCH_M):
                touching.add((trucks[a[both][i]], trucks[b[both][i]], float(t)))
    return best, touching


def test_bench_bodies_vs_naive_shapely_loop(
    benchmark: BenchmarkFixture, shift: Shift, peer_ratio: Callable[..., float]
) -> None:
    """The naive check over the first minutes, against ours over the same minutes (both
    given only the steps begun by then, so that both read as much)."""
    until = min(WINDOW_S, shift.seconds)
    plans = [Plan.of(p.truck, [s for s in p.steps if s.t_enter <= until]) for p in shift.plans]
    best, touching = benchmark.pedantic(  # type: ignore[no-untyped-call]
        naive, args=(plans, shift.yard, until), rounds=1, iterations=1
    )
    report = check_bodies(plans, shift.yard, until=until)
    assert report.min_clearance_m is not None
    assert report.min_clearance_m <= best + 1e-6  # ours looks at least as often
    episodes: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for c in report.contacts:
        episodes.setdefault(c.trucks, []).append((c.t_start, c.t_end))
    missed = [
        (x, y, t)
        for x, y, t in touching
        if not any(t0 - 1e-9 <= t <= t1 + 1e-9 for t0, t1 in episodes.get((x, y), []))
    ]
    assert missed == []
    benchmark.extra_info.update(
        window_s=until, naive_touching_samples=len(touching), contacts=len(report.contacts)
    )
    if not benchmark.disabled:
        ratio = peer_ratio(
            lambda: naive(plans, shift.yard, until),
            lambda: check_bodies(plans, shift.yard, until=until),
            rounds=1,
        )
        benchmark.extra_info["times_naive"] = round(ratio, 1)
        print(f"\nfirst {until:.0f} s: ours {ratio:.1f}x the naive shapely loop")

"""One dispatch decision: 100 and 500 trucks against 500 and 2,000 open jobs (pooled-optimal).

Half the jobs are crane moves (6 quay cranes, DSCH and LOAD in sequence), half yard and
gate moves with no crane, so every one of those is a candidate. Target: 500 × 2,000 in at
most 50 ms. Sizes scale with YARDFLEET_BENCH_SCALE; each run checks its decisions.
"""

from __future__ import annotations

import os
import random

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from fleet.jobs import JobType
from fleet.strategies import DispatchView, JobView, TruckView, strategy
from maps import ServicePointKind, terminal
from routing.network import LaneNetwork
from routing.table import TravelTimeTable

SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))


@pytest.fixture(scope="module")
def tables() -> tuple[TravelTimeTable, TravelTimeTable]:
    net = LaneNetwork(terminal())
    return TravelTimeTable(net), TravelTimeTable(net, laden=True)


def make_view(
    tables: tuple[TravelTimeTable, TravelTimeTable], n_trucks: int, n_jobs: int
) -> DispatchView:
    yard = terminal()
    rng = random.Random(n_trucks * 7919 + n_jobs)
    tps = [sp.id for sp in yard.service_points_of(ServicePointKind.TRANSFER_POINT)]
    gates = [sp.id for sp in yard.service_points_of(ServicePointKind.GATE_LANE)]
    everywhere = sorted(yard.service_points)
    trucks = [
        TruckView(
            f"T{i:03d}",
            rng.choice(everywhere),
            free_in_s=0.0 if rng.random() < 0.6 else rng.uniform(0, 600),
        )
        for i in range(n_trucks)
    ]
    jobs = []
    for k in range(n_jobs):
        if k % 2 == 0:
            crane = f"QC0{k // 2 % 6 + 1}"
            kind = JobType.LOAD if (k // 12) % 2 else JobType.DSCH
            tp = rng.choice(tps)
            pickup, drop = (f"{crane}.SP", tp) if kind is JobType.DSCH else (tp, f"{crane}.SP")
            jobs.append(
                JobView(
                    f"J{k:05d}",
                    kind,
                    pickup,
                    drop,
                    crane,
                    k // 12,
                    rng.uniform(0, 300),
                    alt_drops=(rng.choice(tps),),
                )
            )
        else:
            kind = rng.choice([JobType.RECV, JobType.DLVR, JobType.SHFT])
            a, b = rng.choice(tps), rng.choice(tps + gates)
            jobs.append(JobView(f"J{k:05d}", kind, a, b, None, None, rng.uniform(0, 900)))
    return DispatchView(trucks, jobs, tables[0], tables[1], pumps=["FUEL.P1", "FUEL.P2"])


@pytest.mark.parametrize(("trucks", "jobs"), [(100, 500), (500, 2000)])
def test_bench_one_decision(
    benchmark: BenchmarkFixture,
    tables: tuple[TravelTimeTable, TravelTimeTable],
    trucks: int,
    jobs: int,
) -> None:
    view = make_view(tables, max(10, round(trucks * SCALE)), max(40, round(jobs * SCALE)))
    optimal = strategy("pooled-optimal")
    decisions = benchmark(optimal.decide, view)
    idle = {t.id for t in view.trucks if t.free_in_s <= 0}
    assert {d.truck for d in decisions} <= idle
    assert len(decisions) == min(len(idle), len(decisions))
    assert len({d.job for d in decisions if d.job}) == sum(1 for d in decisions if d.job)
    benchmark.extra_info.update(
        trucks=len(view.trucks), jobs=len(view.jobs), decisions=len(decisions)
    )

"""Dispatch strategies on the default yard, with routing's real travel-time tables."""

from __future__ import annotations

import random

import numpy as np
import pytest

from fleet.jobs import JobType
from fleet.strategies import (
    STRATEGIES,
    Decision,
    DispatchView,
    JobView,
    TruckView,
    choose_drop,
    strategy,
)
from maps import ServicePointKind, Yard
from routing.network import LaneNetwork
from routing.table import TravelTimeTable


@pytest.fixture(scope="module")
def tables(haiphong: Yard) -> tuple[TravelTimeTable, TravelTimeTable]:
    net = LaneNetwork(haiphong)
    return TravelTimeTable(net, laden=False), TravelTimeTable(net, laden=True)


def view(
    haiphong: Yard,
    tables: tuple[TravelTimeTable, TravelTimeTable],
    trucks: list[TruckView],
    jobs: list[JobView],
    **kw: object,
) -> DispatchView:
    pumps = [sp.id for sp in haiphong.service_points_of(ServicePointKind.FUEL_PUMP)]
    return DispatchView(trucks, jobs, tables[0], tables[1], pumps=pumps, **kw)  # type: ignore[arg-type]


def shift(
    seed: int, n_trucks: int, n_jobs: int, haiphong: Yard
) -> tuple[list[TruckView], list[JobView]]:
    rng = random.Random(seed)
    tps = [sp.id for sp in haiphong.service_points_of(ServicePointKind.TRANSFER_POINT)]
    spots = [sp.id for sp in haiphong.service_points_of(ServicePointKind.PARKING)]
    trucks = [
        TruckView(f"T{i:02d}", rng.choice(spots + tps), gang=f"QC0{i % 6 + 1}")
        for i in range(n_trucks)
    ]
    jobs = []
    for k in range(n_jobs):
        crane = f"QC0{k % 6 + 1}"
        kind = JobType.LOAD if (k // 6) % 2 else JobType.DSCH
        tp = rng.choice(tps)
        jobs.append(
            JobView(
                f"J{k:03d}",
                kind,
                f"{crane}.SP" if kind is JobType.DSCH else tp,
                tp if kind is JobType.DSCH else f"{crane}.SP",
                crane,
                k // 6,
                ready_in_s=rng.uniform(0, 200),
            )
        )
    return trucks, jobs


def test_every_strategy_by_id() -> None:
    assert set(STRATEGIES) == {"dedicated", "pooled-nearest", "pooled-optimal", "dual"}
    with pytest.raises(ValueError, match="no strategy 'fifo'"):
        strategy("fifo")


def test_dedicated_keeps_gangs_and_sequence(haiphong: Yard, tables: tuple) -> None:  # type: ignore[type-arg]
    trucks, jobs = shift(1, 12, 36, haiphong)
    decisions = strategy("dedicated").decide(view(haiphong, tables, trucks, jobs))
    by_job = {j.job_id: j for j in jobs}
    gang = {t.id: t.gang for t in trucks}
    assert len(decisions) == 12
    for d in decisions:
        assert by_job[d.job or ""].crane == gang[d.truck]
    for crane in {j.crane for j in jobs}:
        got = sorted(
            by_job[d.job or ""].seq or 0 for d in decisions if by_job[d.job or ""].crane == crane
        )
        assert got == sorted(j.seq or 0 for j in jobs if j.crane == crane)[: len(got)]


def _total(decisions: list[Decision]) -> float:
    return sum(d.eta_pickup_s for d in decisions if d.job)


def test_pooled_optimal_beats_nearest_and_keeps_loads_in_sequence(
    haiphong: Yard,
    tables: tuple,  # type: ignore[type-arg]
) -> None:
    trucks, jobs = shift(2, 18, 60, haiphong)
    v = view(haiphong, tables, trucks, jobs)
    nearest = strategy("pooled-nearest").decide(v)
    optimal = strategy("pooled-optimal").decide(v)
    assert len(optimal) == len(nearest) == 18
    assert len({d.job for d in optimal}) == 18
    assert _total(optimal) <= _total(nearest) + 1e-6
    # LOAD boxes reach each crane in its sequence.
    by_job = {j.job_id: j for j in jobs}
    e, la = tables
    pos = {t.id: t.at for t in trucks}
    for crane in {j.crane for j in jobs}:
        loads = sorted(
            (by_job[d.job or ""].seq, d)
            for d in optimal
            if by_job[d.job or ""].crane == crane and by_job[d.job or ""].kind is JobType.LOAD
        )
        arrive = [
            max(
                d.not_before_s,
                e.time(pos[d.truck], by_job[d.job or ""].pickup)
                + la.time(by_job[d.job or ""].pickup, by_job[d.job or ""].drop),
            )
            for _, d in loads
        ]
        assert arrive == sorted(arrive), (crane, arrive)


def test_soon_idle_trucks_are_reserved_not_moved(haiphong: Yard, tables: tuple) -> None:  # type: ignore[type-arg]
    trucks, jobs = shift(3, 6, 12, haiphong)
    trucks = [
        TruckView(t.id, t.at, free_in_s=120.0 if k % 2 else 0.0) for k, t in enumerate(trucks)
    ]
    decisions = strategy("pooled-optimal").decide(view(haiphong, tables, trucks, jobs))
    assert {d.truck for d in decisions} == {t.id for t in trucks if t.free_in_s == 0}


def test_dual_brings_an_import_box_back(haiphong: Yard, tables: tuple) -> None:  # type: ignore[type-arg]
    trucks, jobs = shift(4, 8, 48, haiphong)
    decisions = strategy("dual").decide(view(haiphong, tables, trucks, jobs))
    by_job = {j.job_id: j for j in jobs}
    paired = [d for d in decisions if d.then]
    assert paired
    for d in paired:
        out, back = by_job[d.job or ""], by_job[d.then or ""]
        assert out.kind is JobType.LOAD and back.kind is JobType.DSCH and out.crane == back.crane
    assert len({d.then for d in paired}) == len(paired)


def test_block_choice_balances_the_rtgs(haiphong: Yard, tables: tuple) -> None:  # type: ignore[type-arg]
    job = JobView("J", JobType.DSCH, "QC01.SP", "A1.TP1", "QC01", 1, alt_drops=("A2.TP1",))
    v = view(haiphong, tables, [], [job])
    free = choose_drop(v, job, {})
    other = "A2.TP1" if free == "A1.TP1" else "A1.TP1"
    busy = {free.split(".")[0]: 10.0}
    assert choose_drop(v, job, busy) == other


def test_refuelling_when_it_costs_nothing_and_always_before_running_dry(
    haiphong: Yard,
    tables: tuple,  # type: ignore[type-arg]
) -> None:
    trucks, jobs = shift(5, 12, 6, haiphong)  # more trucks than cranes waiting
    low = TruckView("LOW", "A1.TP1", fuel_l=80.0, tank_l=400.0)
    dry = TruckView("DRY", "B1.TP1", fuel_l=20.0, tank_l=400.0)
    decisions = strategy("pooled-optimal").decide(view(haiphong, tables, [*trucks, low, dry], jobs))
    refuel = {d.truck: d.refuel_at for d in decisions if d.refuel_at}
    assert set(refuel) == {"LOW", "DRY"}
    assert all(p and p.startswith("FUEL.") for p in refuel.values())
    # With every truck needed by a crane, only the critical one goes.
    busy = strategy("pooled-optimal").decide(view(haiphong, tables, [low, dry], jobs))
    assert {d.truck for d in busy if d.refuel_at} == {"DRY"}
    assert np.isfinite(_total(busy))

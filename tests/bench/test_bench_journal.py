"""Journal benchmarks: durable appends per second, and a full replay without snapshots.

Full size: 20,000 appends (one transaction each, as the dispatcher appends) and a replay
of 1,000,000 events; YARDFLEET_BENCH_SCALE scales both. Each checks its result.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_benchmark.fixture import BenchmarkFixture

from fleet.jobs import Job, JobState, JobType, Place, PlaceKind
from fleet.journal import Journal
from fleet.state import FleetState, job_added, job_stepped

SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))
APPENDS = max(100, round(20_000 * SCALE))
REPLAY = max(1_000, round(1_000_000 * SCALE))
STEPS = [
    JobState.RELEASED,
    JobState.ASSIGNED,
    JobState.TO_PICKUP,
    JobState.AT_PICKUP,
    JobState.LOADED,
    JobState.TO_DROP,
    JobState.AT_DROP,
    JobState.DONE,
]


def events(n: int) -> list:  # type: ignore[type-arg]
    """n events: jobs added, each followed by its eight steps to done."""
    out = []
    k = 0
    while len(out) < n:
        job = Job(
            f"J{k:07d}",
            JobType.DSCH,
            "CSQU3054383",
            40,
            20000.0,
            Place(PlaceKind.QUAY_CRANE, "QC01"),
            Place(PlaceKind.YARD, "A1", 3, 2, 1),
        )
        at = f"2026-11-29T06:{(k // 60) % 60:02d}:{k % 60:02d}+00:00"
        out.append(job_added(job, at))
        for i, state in enumerate(STEPS):
            out.append(
                job_stepped(
                    f"s{k}-{i}",
                    job.job_id,
                    state,
                    at,
                    "bench",
                    truck="T01" if state is JobState.ASSIGNED else None,
                )
            )
        k += 1
    return out[:n]


def test_bench_durable_appends(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    todo = events(APPENDS)
    counter = iter(range(1_000_000))

    def run() -> int:
        with Journal(tmp_path / f"a{next(counter)}.db") as journal:
            for e in todo:
                journal.append(e)  # one committed transaction each
            return journal.count()

    assert benchmark.pedantic(run, rounds=3, iterations=1) == APPENDS
    benchmark.extra_info["appends"] = APPENDS
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["appends_per_s"] = APPENDS / benchmark.stats.stats.median


def test_bench_full_replay(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    db = tmp_path / "replay.db"
    with Journal(db) as journal:
        journal.append_all(events(REPLAY))

    def run() -> FleetState:
        state = FleetState()
        with Journal(db) as journal:
            for seq, event in journal.events():
                state.apply(seq, event)
        return state

    state = benchmark.pedantic(run, rounds=1, iterations=1)
    assert state.seq >= REPLAY and not state.rejected
    assert sum(len(j.history) for j in state.jobs.values()) + len(state.jobs) == REPLAY
    benchmark.extra_info["events"] = REPLAY

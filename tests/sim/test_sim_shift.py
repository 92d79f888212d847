"""Simulated shifts in process: the event clock, pacing, safety, faults, seeds, strategies, Ctrl-C.

Every shift is real: the real dispatcher, a real SQLite journal and real bag files under
tmp_path. "A test fails on any conflict": each shift here must report no conflict, no
deadlock and no two trucks on one lane closer than a truck length plus the gap (20 m).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from fleet.jobs import JobState
from fleet.journal import Journal
from fleet.kpi import from_journal
from fleet.state import load as load_state
from fleet.strategies import STRATEGIES
from maps import generate_terminal
from routing.plan import ResourceKind
from routing.vehicle import TERMINAL_TRACTOR
from sim.run import ShiftReport, run_shift
from sim.scenario import Fault, Scenario, load
from sim.traffic import shift_work
from sim.world import Shift

SAFE_SEPARATION_M = 20.0
"""A truck (16 m) plus the gap (4 m)."""
FAULT_AT_S = 600.0
BROKEN_TRUCK = "TT05"
CLOSED_LANE = "drive03-01"


def assert_safe(data: dict[str, Any]) -> None:
    """No conflict, no deadlock, never closer than a truck and the gap on a lane."""
    assert data["conflicts"] == 0, data["conflict_examples"]
    assert data["deadlocks"] == 0, data["deadlock_examples"]
    assert data["drive_problems"] == 0, data["drive_problem_examples"]
    closest = data["min_separation_m"]
    assert closest is None or closest >= SAFE_SEPARATION_M - 1e-6


def events(journal: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """The journal's events as (kind, at, body), in order."""
    with Journal(journal) as j:
        return [(e.kind, e.at, e.body) for _, e in j.events()]


def seconds_into(scenario: Scenario, at: str) -> float:
    return (datetime.fromisoformat(at) - scenario.start_time).total_seconds()


class CtrlC:
    """An on_progress callback that raises KeyboardInterrupt once, at `at_s` simulated."""

    def __init__(self, at_s: float) -> None:
        self.at_s = at_s
        self.fired = False
        self.calls: list[float] = []

    def __call__(self, t: float, total: float) -> None:
        self.calls.append(t)
        if not self.fired and t >= self.at_s:
            self.fired = True
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def default_hour(tmp_path_factory: pytest.TempPathFactory) -> ShiftReport:
    """One hour of the embedded default shift."""
    out = tmp_path_factory.mktemp("default-hour")
    return run_shift(load().with_(hours=1.0), out, pictures=False)


@pytest.fixture(scope="module")
def faulty() -> Scenario:
    """The default hour with a breakdown, a GNSS outage and a lane closure at 600 s."""
    faults = (
        Fault("breakdown", FAULT_AT_S, 900.0, truck=BROKEN_TRUCK),
        Fault("lane_closure", FAULT_AT_S, 1200.0, lane=CLOSED_LANE),
        Fault("gnss_loss", FAULT_AT_S, 300.0, truck="TT11"),
    )
    return load().with_(hours=1.0, faults=faults)


@pytest.fixture(scope="module")
def faulty_hour(faulty: Scenario, tmp_path_factory: pytest.TempPathFactory) -> ShiftReport:
    return run_shift(faulty, tmp_path_factory.mktemp("faulty-hour"), pictures=False)


# -- the clock ---------------------------------------------------------------------------


def test_the_clock_runs_events_in_time_order_and_stops_at_the_horizon(tmp_path: Path) -> None:
    scenario = load().with_(hours=0.05)  # 180 s
    progress: list[float] = []
    shift = Shift(scenario, tmp_path / "journal.db", on_progress=lambda t, _: progress.append(t))
    seen: list[tuple[str, float]] = []

    def probe(name: str) -> Callable[[], None]:
        return lambda: seen.append((name, shift.now))

    shift.at(150.0, probe("c"))
    shift.at(42.5, probe("a"))
    shift.at(150.0, probe("d"))  # same time: first scheduled, first run
    shift.at(100.0, probe("b"))
    shift.at(180.0 + 1e-3, probe("after the end"))
    result = shift.run()
    assert seen == [("a", 42.5), ("b", 100.0), ("c", 150.0), ("d", 150.0)]
    assert result.simulated_seconds == 180.0 and not result.interrupted
    assert progress == sorted(progress) and progress[-1] == 180.0
    assert all(b - a >= 60.0 for a, b in itertools.pairwise(progress[:-1]))


def test_a_paced_shift_is_not_faster_than_its_pace_and_does_the_same(tmp_path: Path) -> None:
    """60 simulated seconds at --speed 60: at least ~1 s of wall time, the same journal."""
    scenario = load().with_(hours=60.0 / 3600.0)
    wall0 = time.perf_counter()
    paced = Shift(scenario, tmp_path / "paced.db", speed=60.0).run()
    wall = time.perf_counter() - wall0
    fast = Shift(scenario, tmp_path / "fast.db").run()
    assert paced.simulated_seconds == fast.simulated_seconds == 60.0
    assert wall >= 0.9 and paced.wall_seconds >= 0.9  # generous: the pace is 1.0 s
    assert events(paced.journal) == events(fast.journal)


# -- safety ------------------------------------------------------------------------------


def test_the_default_hour_is_safe(default_hour: ShiftReport) -> None:
    data = default_hour.data
    assert_safe(data)
    assert data["moves"] > 50 and data["simulated_seconds"] == 3600.0
    assert data["strategy"] == "pooled-optimal" and not data["interrupted"]


def test_trucks_are_held_up_by_the_trucks_ahead_and_it_shows(default_hour: ShiftReport) -> None:
    """Trucks accelerate, so they run late against their plans; the dependency graph holds
    the ones planned behind them, and the dispatcher hears them standing on their way."""
    data = default_hour.data
    assert data["held_up_minutes"] > 0
    assert data["truck_hours"]["total"].get("HELD", 0.0) > 0


def test_an_hour_with_a_breakdown_and_a_lane_closure_is_safe(
    faulty: Scenario, faulty_hour: ShiftReport
) -> None:
    assert_safe(faulty_hour.data)
    assert faulty_hour.data["moves"] > 50
    timeline = events(faulty_hour.result.journal)
    closed = [seconds_into(faulty, at) for k, at, b in timeline if k == "lane.closed"]
    opened = [seconds_into(faulty, at) for k, at, b in timeline if k == "lane.opened"]
    assert closed == [FAULT_AT_S] and opened == [FAULT_AT_S + 1200.0]
    statuses = [
        (seconds_into(faulty, at), b["activity"])
        for k, at, b in timeline
        if k == "truck.status" and b["truck"] == BROKEN_TRUCK
    ]
    broken = [t for t, a in statuses if a == "BROKEN"]
    assert broken and FAULT_AT_S <= broken[0] < 3600.0 - 900.0
    assert any(t >= broken[0] + 900.0 and a != "BROKEN" for t, a in statuses)  # repaired


def test_no_truck_enters_a_closed_lane(faulty_hour: ShiftReport) -> None:
    closed_until = FAULT_AT_S + 1200.0
    entered = [
        (plan.truck, round(step.t_enter, 1))
        for plan in faulty_hour.result.executed
        for step in plan.steps
        if step.kind is ResourceKind.LANE
        and step.resource == CLOSED_LANE
        and step.from_m in (None, 0.0)
        and FAULT_AT_S < step.t_enter < closed_until
    ]
    assert entered == []


def test_a_repaired_truck_reports_where_it_broke_down(
    faulty: Scenario, faulty_hour: ShiftReport
) -> None:
    statuses = [
        (seconds_into(faulty, at), b)
        for k, at, b in events(faulty_hour.result.journal)
        if k == "truck.status" and b["truck"] == BROKEN_TRUCK
    ]
    k = next(i for i, (_, b) in enumerate(statuses) if b["activity"] == "BROKEN")
    at_breakdown = statuses[k][1]
    after = statuses[k + 1][1]
    assert statuses[k + 1][0] >= statuses[k][0] + 900.0 - 1e-6  # nothing while broken
    # It broke down where it said, then at most rolled to a stand: no further than a
    # truck at top speed needs to brake.
    top = TERMINAL_TRACTOR.empty_speed_mps
    rolled = math.hypot(after["x"] - at_breakdown["x"], after["y"] - at_breakdown["y"])
    assert rolled <= top * top / (2 * TERMINAL_TRACTOR.brake_mps2) + 0.01


def test_the_job_of_a_broken_down_truck_is_finished_after_its_repair(
    faulty_hour: ShiftReport,
) -> None:
    carried = next(
        b.get("job")
        for k, _, b in events(faulty_hour.result.journal)
        if k == "truck.status" and b["truck"] == BROKEN_TRUCK and b["activity"] == "BROKEN"
    )
    assert carried, "the truck broke down without a job; pick another fault time"
    with Journal(faulty_hour.result.journal) as j:
        state = load_state(j)
    # 35 minutes after the repair a box already on the truck is long delivered
    assert state.jobs[carried].state is JobState.DONE


# -- the journal -------------------------------------------------------------------------


def test_every_job_the_kpis_count_as_done_is_done_in_the_reloaded_state(
    default_hour: ShiftReport,
) -> None:
    journal = default_hour.result.journal
    done = {b["job"] for k, _, b in events(journal) if k == "job.step" and b["state"] == "done"}
    kpis = from_journal(journal)
    assert kpis.moves == len(done) == default_hour.data["moves"] > 0
    with Journal(journal) as j:
        state = load_state(j)
    assert {job for job in done if state.jobs[job].state is not JobState.DONE} == set()
    assert {i for i, job in state.jobs.items() if job.state is JobState.DONE} == done


def test_the_journal_reloads_without_rejected_events(default_hour: ShiftReport) -> None:
    with Journal(default_hour.result.journal) as j:
        state = load_state(j)
    assert state.rejected == []


# -- seeds and strategies ----------------------------------------------------------------


def test_the_same_seed_gives_the_same_shift(tmp_path: Path) -> None:
    scenario = load().with_(hours=0.25, seed=7)
    a = run_shift(scenario, tmp_path / "a", pictures=False).data
    b = run_shift(scenario, tmp_path / "b", pictures=False).data
    assert a["moves"] == b["moves"] > 0
    for key in ("gross_crane_rate", "crane_wait_minutes", "empty_km_share", "litres_per_move"):
        assert a[key] == b[key], key
    assert a["seed"] == 7
    assert events(tmp_path / "a" / "journal.db") == events(tmp_path / "b" / "journal.db")


def test_another_seed_brings_other_work() -> None:
    scenario = load().with_(seed=7)
    yard = generate_terminal(scenario.spec())
    same = [(a.at_s, a.job) for a in shift_work(scenario, yard)]
    assert same == [(a.at_s, a.job) for a in shift_work(scenario, yard)]
    other = [(a.at_s, a.job) for a in shift_work(scenario.with_(seed=8), yard)]
    assert [j.job_id for _, j in other if j.qc_seq] == [j.job_id for _, j in same if j.qc_seq]
    assert [j.container_no for _, j in other] != [j.container_no for _, j in same]


def test_the_first_hour_of_a_shift_does_not_depend_on_its_length() -> None:
    scenario = load()
    yard = generate_terminal(scenario.spec())

    def first_hour(hours: float) -> list[tuple[float, str, str]]:
        work = shift_work(scenario.with_(hours=hours), yard)
        return [(a.at_s, a.job.job_id, a.job.container_no) for a in work if a.at_s < 3600.0]

    assert first_hour(1.0) == first_hour(8.0)


@pytest.mark.parametrize("strategy", ["dedicated", "pooled-nearest", "dual"])  # + default_hour
def test_every_strategy_runs_a_safe_shift(strategy: str, tmp_path: Path) -> None:
    assert strategy in STRATEGIES
    data = run_shift(load().with_(hours=0.25, strategy=strategy), tmp_path, pictures=False).data
    assert data["strategy"] == strategy
    assert data["moves"] > 0
    assert_safe(data)


# -- Ctrl-C ------------------------------------------------------------------------------


def test_ctrl_c_stops_with_a_partial_report(tmp_path: Path) -> None:
    ctrl_c = CtrlC(900.0)
    report = run_shift(load().with_(hours=1.0), tmp_path, pictures=False, on_progress=ctrl_c)
    data = report.data
    assert ctrl_c.fired and report.result.interrupted and data["interrupted"]
    assert 900.0 <= data["simulated_seconds"] < 1000.0
    assert ctrl_c.calls[-1] == data["simulated_seconds"]  # the bar ends where the shift did
    assert json.loads((tmp_path / "report.json").read_text()) == json.loads(
        json.dumps(data, default=str)
    )
    assert data["moves"] > 0
    assert data["moves"] == from_journal(tmp_path / "journal.db").moves
    assert_safe(data)
    start = load().start_time
    last = max(datetime.fromisoformat(at) for _, at, _ in events(tmp_path / "journal.db"))
    assert (last - start).total_seconds() <= data["simulated_seconds"] + 1e-6


def test_ctrl_c_while_recording_leaves_a_readable_bag(tmp_path: Path) -> None:
    """Fixes at 1 Hz (`fix_hz=1`) up to the Ctrl-C, and no fix while TT01's receiver is out
    (60-90 s)."""
    outage = Fault("gnss_loss", 60.0, 30.0, truck="TT01")
    scenario = load().with_(hours=0.25, faults=(outage,))
    bag = tmp_path / "bag"
    ctrl_c = CtrlC(120.0)
    report = run_shift(
        scenario, tmp_path / "out", pictures=False, record=bag, fix_hz=1.0, on_progress=ctrl_c
    )
    assert report.result.interrupted
    end = report.data["simulated_seconds"]
    t0_ns = int(scenario.start_time.timestamp() * 1e9)
    with AnyReader([bag]) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        topic = "/yardfleet/TT01/gnss/fix"
        assert types[topic] == "sensor_msgs/msg/NavSatFix"
        fixes = [c for c in reader.connections if c.topic == topic]
        stamps, lats, status = [], [], []
        for conn, t_ns, raw in reader.messages(connections=fixes):
            msg: Any = reader.deserialize(raw, conn.msgtype)
            stamps.append(t_ns)
            lats.append(msg.latitude)
            status.append(msg.status.status)
    seconds = (np.array(stamps) - t0_ns) / 1e9
    assert len(seconds) >= 0.9 * end  # about 1 Hz for the shift so far
    assert seconds.min() >= -1e-3 and seconds.max() <= end + 1e-3
    assert np.allclose(np.diff(seconds), 1.0, atol=1e-3)
    assert all(math.isfinite(lat) and 20.0 < lat < 21.5 for lat in lats)  # Lach Huyen
    lost = {round(t): s for t, s in zip(seconds, status, strict=True)}
    assert all(lost[t] == -1 for t in range(61, 90) if t in lost)  # STATUS_NO_FIX
    assert all(s >= 0 for t, s in lost.items() if t < 60 or t > 90)
    assert sum(1 for t in range(61, 90) if t in lost) >= 20

"""Simulated trucks as onboard agents: the agent core drives, the dispatcher is reached
only through bytes and the live handler's API; checked from the journal and the trace."""

from __future__ import annotations

import itertools
import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from routing.plan import ResourceKind
from sim.run import ShiftReport, run_shift
from sim.scenario import Fault, load


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> ShiftReport:
    out = tmp_path_factory.mktemp("agents")
    return run_shift(load().with_(hours=0.35, seed=1), out, pictures=False, agents=True)


def _events(journal: Path, kind: str) -> list[tuple[float, dict[str, object]]]:
    """(seconds since the first event, body) of every journal event of a kind."""
    with sqlite3.connect(journal) as db:
        rows = db.execute("select kind, at, body from events order by seq").fetchall()
    t0 = datetime.fromisoformat(rows[0][1]).timestamp()
    return [
        (datetime.fromisoformat(at).timestamp() - t0, json.loads(body))
        for k, at, body in rows
        if k == kind
    ]


def test_an_agent_shift_is_safe_and_works(shift: ShiftReport) -> None:
    data = shift.data
    assert data["moves"] > 0
    assert data["contacts"] == 0, data["contact_examples"]
    assert data["deadlocks"] == 0, data["deadlock_examples"]
    assert data["drive_problems"] == 0, data["drive_problem_examples"]


def test_the_journal_holds_what_a_live_server_journals(shift: ShiftReport) -> None:
    """Trucks' own states, their factsheets, connections and crane events, with orders."""
    journal = shift.result.journal
    states = _events(journal, "msg.state")
    trucks = {body["truck"] for _, body in states}
    assert len(trucks) == load().fleet.trucks
    assert _events(journal, "msg.factsheet")
    assert _events(journal, "truck.connection")
    assert _events(journal, "crane.event")
    # Every truck beats at least every 10 s (plus a little for the same instant).
    by_truck: dict[str, list[float]] = {}
    for t, body in states:
        by_truck.setdefault(str(body["truck"]), []).append(t)
    for truck, times in by_truck.items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert max(gaps) <= 10.0 + 1e-3, (truck, max(gaps))


def test_trucks_drive_only_what_their_orders_released(shift: ShiftReport) -> None:
    """Every node a truck's front enters was released to it (in an order or an update
    sent before): no truck passes the last released node of its base."""
    released: dict[str, list[tuple[float, set[str]]]] = {}
    for t, body in _events(shift.result.journal, "msg.order"):
        message = body["message"]
        assert isinstance(message, dict)
        nodes = {n["nodeId"] for n in message["nodes"] if n["released"]}
        released.setdefault(str(body["truck"]), []).append((t, nodes))
    checked = 0
    for plan in shift.result.executed:
        orders = released.get(plan.truck, [])
        start = plan.steps[0].resource
        for step in plan.steps:
            if step.kind is not ResourceKind.NODE or step.resource == start:
                continue
            allowed = set().union(*(n for t, n in orders if t <= step.t_enter + 1e-3))
            assert step.resource in allowed, (plan.truck, step.resource, step.t_enter)
            checked += 1
    assert checked > 100


def test_a_truck_without_a_fix_stands_others_go_around_it_and_it_goes_on(tmp_path: Path) -> None:
    """TT01 (autonomous) loses its fix while it drives out of the park on the landside
    road: it reports gnssFixLost and stands; the trucks whose plans passed its place are
    routed around it (their new orders keep off the lane it stands on, and no front
    enters that lane while it stands); it drives on when the fix returns."""
    lost_at, for_s = 180.0, 60.0
    scenario = load().with_(hours=0.1, seed=1, faults=(Fault("gnss_loss", lost_at, for_s, "TT01"),))
    report = run_shift(scenario, tmp_path, pictures=False, agents=True)
    tt01 = next(p for p in report.result.executed if p.truck == "TT01")
    moving = [s for s in tt01.steps if s.kind is ResourceKind.LANE and s.t_exit > s.t_enter]
    # Braking takes at most a few seconds; then nothing moves until the fix is back.
    during = [s for s in moving if lost_at + 6.0 < s.t_enter < lost_at + for_s]
    assert not during, during[:3]
    assert any(s.t_enter >= lost_at + for_s for s in moving), "TT01 never drove on"
    assert any(s.t_enter < lost_at for s in moving), "TT01 was not driving before"
    errors = [
        (t, e)
        for t, body in _events(report.result.journal, "msg.state")
        if body["truck"] == "TT01"
        for e in body["message"]["errors"]  # type: ignore[index]
    ]
    fix_lost = [t for t, e in errors if e["errorType"] == "gnssFixLost"]
    assert fix_lost and min(fix_lost) >= lost_at - 1e-3 and max(fix_lost) < lost_at + for_s
    assert report.data["contacts"] == 0
    # Where it stood, and the others' way around it.
    standing = next(s for s in tt01.steps if s.t_enter <= lost_at + 6.0 < s.t_exit)
    lane = standing.resource
    around = [
        body
        for t, body in _events(report.result.journal, "msg.order")
        if body["truck"] != "TT01" and body["purpose"] == "repair" and abs(t - lost_at) < 2.0
    ]
    assert around, "nobody was re-planned when TT01 stood"
    for body in around:
        edges = [e["edgeId"] for e in body["message"]["edges"]]  # type: ignore[index]
        assert lane not in edges, (body["truck"], lane)
    for plan in report.result.executed:
        if plan.truck != "TT01":
            entered = [
                s for s in plan.steps
                if s.resource == lane and lost_at + 6.0 < s.t_enter < lost_at + for_s
            ]  # fmt: skip
            assert not entered, (plan.truck, entered[:1])

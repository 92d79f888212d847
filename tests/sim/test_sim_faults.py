"""Faults at awkward moments: a breakdown just past a crossing, a closed block lane.

Both found by running the default shift with faults at many moments and places; each test
is one such reproduction. A truck that breaks down with its front a few metres past a node
still stands in that node with its 16 m body, so nobody may cross it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.plan import ResourceKind
from sim.run import run_shift
from sim.scenario import Fault, load


@pytest.mark.xfail(
    strict=True,
    reason="routing/planner.py repair(broken=...): the broken truck's rear is held, but only "
    "trucks passing its front's spot are re-planned; TT24, already planned through the node "
    "behind TT01, drives into it (node conflict at n0049, t=349.7 s)",
)
def test_nobody_drives_through_a_truck_broken_down_just_past_a_node(tmp_path: Path) -> None:
    """TT01 passes n0049 at 325.5 s onto the 11.5 m lane v1n-05 and breaks down at 327 s."""
    faulty = load().with_(hours=0.25, faults=(Fault("breakdown", 327.0, 300.0, truck="TT01"),))
    report = run_shift(faulty, tmp_path, pictures=False)
    tt01 = next(p for p in report.result.executed if p.truck == "TT01")
    passed = [s for s in tt01.steps if s.kind is ResourceKind.NODE and s.t_enter <= 327.0]
    lane = next(
        s for s in tt01.steps if s.kind is ResourceKind.LANE and s.t_enter <= 327.0 < s.t_exit
    )
    if not passed or (327.0 - passed[-1].t_enter) * (lane.speed_mps or 0.0) >= 16.0:
        pytest.skip("TT01 no longer breaks down with its rear in a node; find a new moment")
    data = report.data
    assert data["deadlocks"] == 0
    assert data["conflicts"] == 0, data["conflict_examples"]


@pytest.mark.parametrize(
    "strategy",
    ["dedicated", "pooled-nearest", "pooled-optimal", "dual"],
)
def test_closing_a_block_lane_keeps_the_shift_going(strategy: str, tmp_path: Path) -> None:
    closure = Fault("lane_closure", 300.0, 600.0, lane="block-D1-07")
    scenario = load().with_(hours=0.3, strategy=strategy, faults=(closure,))
    data = run_shift(scenario, tmp_path, pictures=False).data
    assert data["moves"] > 0
    assert data["conflicts"] == 0 and data["deadlocks"] == 0

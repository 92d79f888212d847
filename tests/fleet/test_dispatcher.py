"""The dispatcher core on the Hai Phong yard, driven by typed messages, with a real journal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleet.dispatcher import Dispatch, Dispatcher, Phase
from fleet.jobs import Job, JobState, JobType, Place, PlaceKind
from fleet.journal import Journal
from fleet.problems import ProblemKind
from fleet.protocol import (
    CraneEventKind,
    CraneKind,
    Error,
    ErrorLevel,
    Order,
    State,
    make_crane_event,
    make_state,
    starter_battery,
)
from fleet.state import load
from fleet.strategies import strategy
from maps import Yard
from routing.plan import ResourceKind

ORIGIN = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


@pytest.fixture
def dispatcher(haiphong: Yard, tmp_path: Path) -> Dispatcher:
    return Dispatcher(haiphong, Journal(tmp_path / "j.db"), strategy("pooled-optimal"), ORIGIN)


def dsch(job_id: str, crane: str = "QC01", seq: int = 1, block: str = "A1") -> Job:
    return Job(
        job_id,
        JobType.DSCH,
        "MSKU1234565",
        40,
        20_000.0,
        Place(PlaceKind.QUAY_CRANE, crane),
        Place(PlaceKind.YARD, block, 10, 2, 1),
        qc_seq=seq,
    )


def state(
    d: Dispatcher,
    truck: str,
    now: float,
    *,
    node: str = "",
    driving: bool = False,
    errors: list[Error] | None = None,
) -> State:
    return make_state(
        "YardFleet",
        truck,
        starter_battery(25.0),
        timestamp=d.at(now),
        last_node_id=node,
        driving=driving,
        errors=errors or [],
    )


def goal_node(x: Dispatch) -> str:
    return [s for s in x.plan.steps if s.kind is ResourceKind.NODE][-1].resource


def legs(out: list[Dispatch]) -> list[Dispatch]:
    """The dispatches that give a truck a new plan (base extensions and pauses aside)."""
    return [x for x in out if x.new_plan]


def arrive(d: Dispatcher, x: Dispatch, now: float) -> list[Dispatch]:
    d.on_state(state(d, x.truck, now, driving=True), now)
    return legs(d.on_state(state(d, x.truck, x.plan.t_end, node=goal_node(x)), x.plan.t_end))


def move_done(
    d: Dispatcher, crane: str, kind: CraneKind, truck: str, job: str, now: float
) -> list[Dispatch]:
    msg = make_crane_event(
        crane, kind, CraneEventKind.MOVEDONE, truck_id=truck, job_id=job, timestamp=d.at(now)
    )
    return d.on_crane_event(msg, now)


def test_a_discharge_move_from_crane_to_block_step_by_step(dispatcher: Dispatcher) -> None:
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_jobs([dsch("J1")], 0.0)
    [to_crane] = d.tick(0.0)
    assert to_crane.truck == "TT01"
    assert goal_node(to_crane) == d.yard.node_of("QC01.SP")
    assert isinstance(to_crane.order, Order)
    actions = to_crane.order.nodes[-1].actions
    assert [a.action_type for a in actions] == ["pick"]
    assert d.state.jobs["J1"].state is JobState.TO_PICKUP
    assert d.state.truck_of["J1"] == "TT01"

    assert arrive(d, to_crane, 1.0) == []
    assert d.state.jobs["J1"].state is JobState.AT_PICKUP
    [to_block] = move_done(d, "QC01", CraneKind.QC, "TT01", "J1", to_crane.plan.t_end + 60)
    assert d.state.jobs["J1"].state is JobState.TO_DROP
    drop = to_block.order.nodes[-1] if isinstance(to_block.order, Order) else None
    assert drop is not None and drop.actions[0].action_type == "drop"
    assert d.yard.service_point_by_node[goal_node(to_block)].area == "A1"

    arrive(d, to_block, to_block.plan.t_start + 1)
    assert d.state.jobs["J1"].state is JobState.AT_DROP
    after = move_done(d, "RTG01", CraneKind.RTG, "TT01", "J1", to_block.plan.t_end + 90)
    assert d.state.jobs["J1"].state is JobState.DONE
    # Nothing left to do: it leaves the block's transfer point for a parking spot.
    assert [x.purpose for x in after] == ["park"]
    assert d.trucks["TT01"].phase is Phase.TO_PARK


def test_the_journal_holds_the_whole_story(dispatcher: Dispatcher, tmp_path: Path) -> None:
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0, tank_l=250.0, litres=200.0)
    d.add_jobs([dsch("J1")], 0.0)
    [x] = d.tick(0.0)
    arrive(d, x, 1.0)
    d.journal.close()
    with Journal(tmp_path / "j.db") as j:
        st = load(j)
    assert st.jobs["J1"].state is JobState.AT_PICKUP
    assert st.truck_of == {"J1": "TT01"}
    assert st.trucks["TT01"]["tank_l"] == 250.0
    assert st.trucks["TT01"]["status"]["activity"] == "SERVICE"
    assert st.rejected == []


def test_a_busy_crane_sends_the_next_truck_to_its_queue_siding(dispatcher: Dispatcher) -> None:
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_truck("TT02", "PARK.S02", 0.0)
    qc = next(sp.crane for sp in d.yard.service_points.values() if sp.id.endswith(".Q"))
    assert qc is not None
    d.add_jobs([dsch("J1", qc, seq=1), dsch("J2", qc, seq=2)], 0.0)
    out = d.tick(0.0)
    goals = sorted(d.yard.service_point_by_node[goal_node(x)].id for x in out)
    assert goals == [f"{qc}.Q", f"{qc}.SP"]
    queued = next(x for x in out if goal_node(x) == d.yard.node_of(f"{qc}.Q"))
    first = next(x for x in out if x is not queued)
    arrive(d, queued, 1.0)
    assert d.trucks[queued.truck].phase is Phase.QUEUED
    arrive(d, first, 1.0)
    # The crane is done with the first truck: it leaves, the queued one moves up at once.
    out = move_done(
        d,
        qc,
        CraneKind.QC,
        first.truck,
        d.trucks[first.truck].job or "",
        max(first.plan.t_end, queued.plan.t_end) + 60,
    )
    moved = [x for x in out if x.truck == queued.truck]
    assert moved and goal_node(moved[0]) == d.yard.node_of(f"{qc}.SP")


def test_bad_messages_are_named_and_change_nothing(dispatcher: Dispatcher) -> None:
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_jobs([dsch("J1")], 0.0)
    d.tick(0.0)
    before = (dict(d.state.truck_of), d.state.jobs["J1"].state)
    assert d.on_state(state(d, "TT99", 5.0), 5.0) == []
    assert move_done(d, "QC01", CraneKind.QC, "TT77", "J1", 6.0) == []
    assert move_done(d, "QC01", CraneKind.QC, "TT01", "NOPE", 7.0) == []
    assert (dict(d.state.truck_of), d.state.jobs["J1"].state) == before
    assert any("TT99" in p for p in d.problems)
    assert any("TT77" in p for p in d.problems)
    problems = d.add_jobs([dsch("J1"), dsch("J9", crane="QC99")], 8.0)
    assert any("J1" in p and "already" in p for p in problems)
    assert any("J9" in p for p in problems)
    assert "J9" not in d.state.jobs


def test_a_closed_lane_repairs_the_plans_through_it(dispatcher: Dispatcher) -> None:
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_jobs([dsch("J1", crane="QC06")], 0.0)
    [x] = d.tick(0.0)
    lanes = [s.resource for s in x.plan.steps if s.kind is ResourceKind.LANE]
    middle = lanes[len(lanes) // 2]
    out = d.close_lane(middle, 1.0, "road works")
    assert [r.truck for r in out] == ["TT01"]
    assert middle not in {s.resource for s in out[0].plan.steps}
    assert goal_node(out[0]) == goal_node(x)
    assert d.state.closed_lanes == {middle: "road works"}
    with pytest.raises(KeyError):
        d.close_lane("no-such-lane", 2.0, "x")


def test_a_breakdown_stops_a_truck_and_the_others_go_around_it(dispatcher: Dispatcher) -> None:
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_truck("TT02", "PARK.S02", 0.0)
    d.add_jobs([dsch("J1", crane="QC06", seq=1), dsch("J2", crane="QC05", seq=1)], 0.0)
    out = d.tick(0.0)
    assert len(out) == 2
    broken = out[0].truck
    mid = (out[0].plan.t_start + out[0].plan.t_end) / 2
    engine = Error(error_type="breakdown", error_level=ErrorLevel.FATAL)
    d.on_state(state(d, broken, mid, driving=True, errors=[engine]), mid)
    assert d.trucks[broken].broken_at == mid
    # Repaired: it gets a plan on from where it stopped, to the same goal.
    later = d.on_state(state(d, broken, mid + 600), mid + 600)
    mine = [x for x in later if x.truck == broken]
    assert mine and goal_node(mine[-1]) == goal_node(out[0])
    assert d.trucks[broken].broken_at is None


def test_a_late_truck_is_repaired_from_where_it_reports_not_where_its_plan_says(
    dispatcher: Dispatcher,
) -> None:
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_jobs([dsch("J1", crane="QC06")], 0.0)
    [x] = d.tick(0.0)
    nodes = [s for s in x.plan.steps if s.kind is ResourceKind.NODE]
    early = nodes[3]  # the truck reports passing its 4th node only much later than planned
    late_by = 120.0
    now = early.t_enter + late_by
    d.on_state(state(d, "TT01", now, node=early.resource, driving=True), now)
    assert d.trucks["TT01"].lag == pytest.approx(late_by)
    # Close a lane well after where it really is (but before where its plan says it is).
    ahead = [s for s in x.plan.steps if s.kind is ResourceKind.LANE and s.t_enter > now]
    closing = ahead[len(ahead) // 2].resource
    [fixed] = d.close_lane(closing, now, "road works")
    first = next(s for s in fixed.plan.steps if s.kind is not ResourceKind.CONFLICT_GROUP)
    planned_there = d.planner.resource_at(x.plan, now)
    reported_there = d.planner.resource_at(x.plan, now - late_by)
    assert planned_there != reported_there
    # It starts where it reported: the lane its front is in, or, standing at a stop line,
    # the lane that ends there (it has not entered the junction).
    stop_line_of = {ln.id for ln in d.yard.lanes.values() if ln.end == early.resource}
    assert first.resource == d.planner.cells.name[reported_there] or (
        first.resource in stop_line_of
    )
    assert closing not in {s.resource for s in fixed.plan.steps}


def test_a_crane_move_that_overtakes_the_trucks_arrival_waits_for_it(
    dispatcher: Dispatcher,
) -> None:
    """The crane and the truck send on different links: the crane's MOVEDONE may land
    first. It is held (and said), and takes effect when the truck reports its arrival."""
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_jobs([dsch("J1")], 0.0)
    [to_crane] = d.tick(0.0)
    d.on_state(state(d, "TT01", 1.0, driving=True), 1.0)
    t_end = to_crane.plan.t_end
    assert move_done(d, "QC01", CraneKind.QC, "TT01", "J1", t_end - 0.5) == []
    assert d.state.jobs["J1"].state is JobState.TO_PICKUP
    assert any("before it arrived; held" in p for p in d.problems)
    [to_block] = legs(d.on_state(state(d, "TT01", t_end, node=goal_node(to_crane)), t_end))
    assert d.state.jobs["J1"].state is JobState.TO_DROP
    assert d.yard.service_point_by_node[goal_node(to_block)].area == "A1"
    # A MOVEDONE from a crane that is not at the end of the truck's leg is not held.
    arrive(d, to_block, to_block.plan.t_start + 1)
    assert move_done(d, "QC02", CraneKind.QC, "TT01", "J1", to_block.plan.t_end + 5) == []
    assert d.state.jobs["J1"].state is JobState.AT_DROP


def restarted(d: Dispatcher, tmp_path: Path, now: float) -> Dispatcher:
    """The dispatcher killed and started again on its journal (the trucks not yet heard)."""
    d.journal.close()
    again = Dispatcher(d.yard, Journal(tmp_path / "j.db"), strategy("pooled-optimal"), ORIGIN)
    again.resume(now)
    return again


def spot_of(d: Dispatcher, x: Dispatch) -> str:
    return d.yard.service_point_by_node[goal_node(x)].id


def test_the_journal_holds_each_trucks_life(dispatcher: Dispatcher, tmp_path: Path) -> None:
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_jobs([dsch("J1")], 0.0)
    [to_crane] = d.tick(0.0)
    life = d.state.trucks["TT01"]["phase"]
    assert (life["phase"], life["spot"], life["goal"], life["job"], life["laden"]) == (
        "TO_PICKUP",
        "PARK.S01",
        "QC01.SP",
        "J1",
        False,
    )
    arrive(d, to_crane, 1.0)
    d.journal.close()
    with Journal(tmp_path / "j.db") as j:
        life = load(j).trucks["TT01"]["phase"]
    assert (life["phase"], life["spot"], life["goal"]) == ("AT_PICKUP", "QC01.SP", "QC01.SP")


def test_a_restart_takes_up_the_truck_under_its_crane(
    dispatcher: Dispatcher, tmp_path: Path
) -> None:
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_jobs([dsch("J1")], 0.0)
    [to_crane] = d.tick(0.0)
    arrive(d, to_crane, 1.0)
    now = to_crane.plan.t_end + 30
    d = restarted(d, tmp_path, now)
    assert d.state.jobs["J1"].state is JobState.AT_PICKUP  # under way: it stays with TT01
    d.add_truck("TT01", "QC01.SP", now)
    t = d.trucks["TT01"]
    assert (t.phase, t.job, t.goal, t.laden) == (Phase.AT_PICKUP, "J1", "QC01.SP", False)
    assert legs(d.tick(now)) == []  # it stays under the crane
    [to_block] = move_done(d, "QC01", CraneKind.QC, "TT01", "J1", now + 30)
    assert d.state.jobs["J1"].state is JobState.TO_DROP
    assert d.yard.service_point(spot_of(d, to_block)).area == "A1"
    assert d.state.rejected == []


def test_a_restart_takes_up_a_laden_truck_and_the_drop_it_was_heading_for(
    dispatcher: Dispatcher, tmp_path: Path
) -> None:
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_jobs([dsch("J1")], 0.0)
    [to_crane] = d.tick(0.0)
    arrive(d, to_crane, 1.0)
    [to_block] = move_done(d, "QC01", CraneKind.QC, "TT01", "J1", to_crane.plan.t_end + 60)
    drop = spot_of(d, to_block)
    now = to_block.plan.t_start + 5
    d = restarted(d, tmp_path, now)
    d.add_truck("TT01", "QC01.SP", now)  # it had not left the crane yet
    t = d.trucks["TT01"]
    assert (t.phase, t.job, t.laden) == (Phase.WAITING, "J1", True)
    [again] = legs(d.tick(now))
    assert spot_of(d, again) == drop
    assert d.state.jobs["J1"].state is JobState.TO_DROP
    assert d.state.rejected == []


def test_a_truck_that_reached_its_drop_while_the_dispatcher_restarted_is_there(
    dispatcher: Dispatcher, tmp_path: Path
) -> None:
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_jobs([dsch("J1")], 0.0)
    [to_crane] = d.tick(0.0)
    arrive(d, to_crane, 1.0)
    [to_block] = move_done(d, "QC01", CraneKind.QC, "TT01", "J1", to_crane.plan.t_end + 60)
    drop = spot_of(d, to_block)
    now = to_block.plan.t_end + 10
    d = restarted(d, tmp_path, now)
    d.add_truck("TT01", drop, now)
    t = d.trucks["TT01"]
    assert (t.phase, t.job, t.goal, t.laden) == (Phase.AT_DROP, "J1", drop, True)
    assert d.state.jobs["J1"].state is JobState.AT_DROP
    move_done(d, "RTG01", CraneKind.RTG, "TT01", "J1", now + 60)
    assert d.state.jobs["J1"].state is JobState.DONE
    assert d.state.rejected == []


def test_a_restart_opens_again_the_jobs_not_under_way(
    dispatcher: Dispatcher, tmp_path: Path
) -> None:
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_jobs([dsch("J1")], 0.0)
    [to_crane] = d.tick(0.0)
    d = restarted(d, tmp_path, 5.0)
    assert d.state.jobs["J1"].state is JobState.RELEASED and "J1" in d.open_jobs
    d.add_truck("TT01", "PARK.S01", 5.0)
    assert (d.trucks["TT01"].phase, d.trucks["TT01"].job) == (Phase.IDLE, None)
    [again] = legs(d.tick(5.0))
    assert (again.truck, spot_of(d, again)) == ("TT01", spot_of(d, to_crane))
    assert d.state.jobs["J1"].state is JobState.TO_PICKUP


def test_problems_are_typed_said_once_and_on_the_record(dispatcher: Dispatcher) -> None:
    d = dispatcher
    for now in (5.0, 6.0):
        assert d.on_state(state(d, "TT99", now), now) == []
    [problem] = d.problems
    assert (problem.kind, problem.truck, problem.at) == (ProblemKind.UNKNOWN_TRUCK, "TT99", 5.0)
    assert str(problem) == "t=5s state from unknown truck 'TT99' ignored"
    [event] = [e for _, e in d.journal.events() if e.kind == "problem"]
    assert event.body == {
        "kind": "unknown_truck",
        "truck": "TT99",
        "text": "state from unknown truck 'TT99' ignored",
    }


def test_a_held_crane_move_is_journalled_and_taken_up_after_a_restart(
    dispatcher: Dispatcher, tmp_path: Path
) -> None:
    """The crane's MOVEDONE came first and is held; the dispatcher restarts before the
    truck reports its arrival: the journal holds the move, the job stays with the truck,
    and the truck's arrival after the restart lets the move take effect."""
    d = dispatcher
    d.add_truck("TT01", "PARK.S01", 0.0)
    d.add_jobs([dsch("J1")], 0.0)
    [to_crane] = d.tick(0.0)
    d.on_state(state(d, "TT01", 1.0, driving=True), 1.0)
    t_end = to_crane.plan.t_end
    assert move_done(d, "QC01", CraneKind.QC, "TT01", "J1", t_end - 0.5) == []
    assert d.state.held["TT01"]["jobId"] == "J1"
    d = restarted(d, tmp_path, t_end)
    assert d.state.held["TT01"]["craneId"] == "QC01"  # held still, from the journal
    assert "J1" not in d.open_jobs  # the box went on TT01: the job stays with it
    d.add_truck("TT01", "PARK.S01", t_end)  # it stopped short of the crane meanwhile
    [again] = legs(d.tick(t_end + 1))  # on to the crane, where the move waits for it
    assert again.truck == "TT01" and spot_of(d, again) == "QC01.SP"
    [to_block] = arrive(d, again, t_end + 2)  # the held move takes effect: on to the block
    assert d.state.jobs["J1"].state is JobState.TO_DROP
    assert d.yard.service_point(spot_of(d, to_block)).area == "A1"
    assert d.state.held == {} and d.state.rejected == []

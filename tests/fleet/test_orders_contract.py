"""The dispatcher's orders through the onboard agent's real core, and back.

Nothing here builds an order by hand: the real `Dispatcher` decides and releases, its
messages go over the codec as bytes into the real `AgentCore`, and the truck's wheels
(this test) drive only what the core commands, node by node; the core's states go back
to the dispatcher. Every order must be accepted, keep VDA 5050's update rules and, where
the shared schemas are at hand, validate against them; no base may end where a standing
truck's body would be in a junction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
from shapely import LineString, Point, Polygon
from shapely.ops import substring

from drivers.agent.config import MapConfig, TruckConfig
from drivers.agent.core import AgentCore
from fleet.dispatcher import Dispatch, Dispatcher, Phase
from fleet.jobs import Job, JobState, JobType, Place, PlaceKind
from fleet.journal import Journal
from fleet.live import LiveDispatcher
from fleet.protocol import (
    CraneEventKind,
    CraneKind,
    Factsheet,
    InstantActions,
    Order,
    make_crane_event,
)
from fleet.protocol.codec import encode, message_topic
from fleet.protocol.extensions import Driver
from fleet.release import stitches
from fleet.strategies import strategy
from maps import Yard
from routing.vehicle import VehicleClass

ORIGIN = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "vda5050" / "2.1"
REJECTIONS = {"validationError", "orderError", "orderUpdateError"}


def order_schema() -> jsonschema.protocols.Validator | None:
    path = SCHEMAS / "order.schema"
    if not path.exists():
        return None
    schema = json.loads(path.read_text())
    validator: jsonschema.protocols.Validator = jsonschema.validators.validator_for(schema)(schema)
    return validator


@dataclass
class Cab:
    """One truck: its agent core, and wheels that drive only what the core commands."""

    core: AgentCore
    yard: Yard
    orders: list[Order] = field(default_factory=list)
    instant: list[str] = field(default_factory=list)
    bases: list[tuple[str, list[str], tuple[float, float]]] = field(default_factory=list)
    """(base-end node, the order's edge ids up to it) of every base the truck held."""

    @property
    def id(self) -> str:
        return self.core.truck.serial_number

    def hear(self, out: list[Dispatch], now: float) -> None:
        """The dispatcher's messages for this truck, as bytes, through the core."""
        for x in out:
            if x.truck != self.id:
                continue
            body = encode(x.order)
            address = message_topic(x.order)
            self.core.on_message(address, body, now)
            bad = [e for e in self.core.book.errors if e.error_type in REJECTIONS]
            assert not bad, f"{type(x.order).__name__} ({x.purpose}) refused: {bad}"
            if isinstance(x.order, Order):
                self.orders.append(x.order)
                self._note_base()
            elif isinstance(x.order, InstantActions):
                self.instant += [a.action_type for a in x.order.actions]

    def _note_base(self) -> None:
        book = self.core.book
        released = [n for n in book.node_states if n.released]
        if not released:
            return
        edges = [e.edge_id for e in book.edge_states if e.released]
        end = released[-1].node_position
        assert end is not None
        self.bases.append((released[-1].node_id, edges, (end.x, end.y)))

    def stand_at(self, node_id: str, now: float) -> None:
        node = self.yard.node(node_id)
        self.core.on_position(node.x, node.y, 0.0, None, None, now)

    def step(self, now: float) -> bool:
        """Drive to the next node if the command allows it; whether it moved."""
        command = self.core.command(now)
        ahead = [n for n in self.core.book.node_states if n.released]
        where = self.core.where
        assert where is not None
        if (
            not command.may_drive
            or command.sequence_id is None
            or not ahead
            or ahead[0].sequence_id > command.sequence_id
        ):
            self.core.on_position(where.x, where.y, 0.0, None, None, now)  # it stands
            return False
        position = ahead[0].node_position
        assert position is not None  # (the dispatcher's orders carry every node's position)
        self.core.on_position(position.x, position.y, 3.0, None, None, now)
        return True

    def report(self, d: Dispatcher, now: float) -> list[Dispatch]:
        out = d.on_state(self.core.build_state(now), now)
        self.hear(out, now)
        return out


def make_core(yard: Yard, truck: str, *, autonomous: bool = False) -> AgentCore:
    return AgentCore(
        TruckConfig(
            serial_number=truck,
            manufacturer="YardFleet",
            tank_litres=400.0,
            battery_volts=25.2,
            driver=Driver.AUTONOMOUS if autonomous else Driver.HUMAN,
        ),
        yard,
        MapConfig(
            terminal="haiphong",
            file=None,
            map_id=yard.id,
            map_version=yard.version,
            max_distance_m=10.0,
            node_tolerance_m=2.0,
        ),
        boot_id=f"boot-{truck}",
        utc_at_zero=ORIGIN,
        autonomous=autonomous,
    )


def dsch(job_id: str, crane: str = "QC01", block: str = "A1") -> Job:
    return Job(
        job_id,
        JobType.DSCH,
        "MSKU1234565",
        40,
        20_000.0,
        Place(PlaceKind.QUAY_CRANE, crane),
        Place(PlaceKind.YARD, block, 10, 2, 1),
        qc_seq=1,
    )


@pytest.fixture
def dispatcher(haiphong: Yard, tmp_path: Path) -> Dispatcher:
    return Dispatcher(haiphong, Journal(tmp_path / "j.db"), strategy("pooled-optimal"), ORIGIN)


def join(d: Dispatcher, yard: Yard, truck: str, spot: str, *, autonomous: bool = False) -> Cab:
    cab = Cab(make_core(yard, truck, autonomous=autonomous), yard)
    cab.stand_at(yard.node_of(spot), 0.0)
    assert cab.core.build_state(0.0).last_node_id == yard.node_of(spot)
    d.add_truck(truck, spot, 0.0)
    return cab


def crane_move(
    d: Dispatcher, crane: str, kind: CraneKind, truck: str, job: str, now: float
) -> list[Dispatch]:
    event = make_crane_event(
        crane, kind, CraneEventKind.MOVEDONE, truck_id=truck, job_id=job, timestamp=d.at(now)
    )
    return d.on_crane_event(event, now)


def run_until(
    d: Dispatcher, cabs: list[Cab], done: Any, now: float, limit_s: float = 3000.0
) -> float:
    """Drive every cab a node at a time, a second per round, reporting and ticking."""
    end = now + limit_s
    while not done():
        assert now < end, "not done before the deadline"
        now += 1.0
        for cab in cabs:
            cab.step(now)
            cab.report(d, now)
        out = d.tick(now)
        for cab in cabs:
            cab.hear(out, now)
    return now


def check_wire(cab: Cab, yard: Yard, vehicle: VehicleClass) -> None:
    """Update rules between consecutive messages of an order, schema, junction-free bases."""
    validator = order_schema()
    by_id: dict[str, Order] = {}
    for order in cab.orders:
        if validator is not None:
            validator.validate(msgspec.to_builtins(order))
        previous = by_id.get(order.order_id)
        if previous is not None:
            assert stitches(previous, order) is None, stitches(previous, order)
        else:
            assert order.order_update_id == 0
        by_id[order.order_id] = order
    goals = {yard.node_of(sp) for sp in yard.service_points}
    # A truck standing at a base's end is clear of every movement through the junctions
    # around it but those that start where it stands (its own way on).
    sweeps = {
        lane.id: lane.geometry.buffer(vehicle.width_m / 2)
        for lane in yard.lanes.values()
        if lane.conflict_group in yard.junction_ids
    }
    for end, edges, front in cab.bases:
        if end in goals or not edges:
            continue
        body = body_behind(yard, edges, vehicle, front)
        for lane_id, sweep in sweeps.items():
            if yard.lanes[lane_id].start == end or lane_id in edges:
                continue
            inside = body.intersection(sweep).area
            assert inside < 0.05, f"a base ends at {end}: {inside:.2f} m² of body on {lane_id}"


def body_behind(
    yard: Yard, edges: list[str], vehicle: VehicleClass, front: tuple[float, float]
) -> Polygon:
    """The body of a truck standing with its front at `front` (the base's last node: a
    lane's end, or a point part-way along it), after driving `edges`, in metres."""
    points: list[tuple[float, float]] = []
    lanes = [e for k, e in enumerate(edges) if k == 0 or edges[k - 1] != e]  # (cut lanes)
    for edge in lanes:
        coords = list(yard.lanes[edge].geometry.coords)
        points += coords if not points else coords[1:]
    way = LineString(points)
    at = way.project(Point(front))
    back = substring(way, max(0.0, at - vehicle.length_m), at)
    return back.buffer(vehicle.width_m / 2, cap_style="flat")


def test_a_leg_goes_out_in_bases_the_agent_accepts_and_the_job_is_done(
    dispatcher: Dispatcher, haiphong: Yard
) -> None:
    d, yard = dispatcher, haiphong
    cab = join(d, yard, "TT01", "PARK.S01")
    d.add_jobs([dsch("J1")], 0.0)
    out = d.tick(0.0)
    cab.hear(out, 0.0)
    [first] = cab.orders
    assert not all(n.released for n in first.nodes), "the first order is released whole"
    now = run_until(d, [cab], lambda: d.state.jobs["J1"].state is JobState.AT_PICKUP, 0.0)
    cab.hear(crane_move(d, "QC01", CraneKind.QC, "TT01", "J1", now), now)
    now = run_until(d, [cab], lambda: d.state.jobs["J1"].state is JobState.AT_DROP, now)
    cab.hear(crane_move(d, "RTG01", CraneKind.RTG, "TT01", "J1", now), now)
    assert d.state.jobs["J1"].state is JobState.DONE
    extensions = [o for o in cab.orders if o.order_update_id > 0]
    assert len(extensions) >= 3, [o.order_update_id for o in cab.orders]
    check_wire(cab, yard, d.config.vehicle)
    sent = [e for _, e in d.journal.events() if e.kind == "msg.order"]
    assert len(sent) == len(cab.orders)


def drive_nodes(d: Dispatcher, cab: Cab, now: float, nodes: int) -> float:
    """Drive `nodes` nodes on (waiting for releases as they come)."""
    moved = 0
    end = now + 600.0
    while moved < nodes:
        assert now < end, "the truck got no further"
        now += 1.0
        moved += cab.step(now)
        cab.report(d, now)
        cab.hear(d.tick(now), now)
    return now


def forks(yard: Yard, lanes: list[str]) -> list[str]:
    """Those of `lanes` that leave a node with other ways out (a closure has a way around)."""
    out = {lane.start: 0 for lane in yard.lanes.values()}
    for lane in yard.lanes.values():
        out[lane.start] += 1
    return [lane for lane in lanes if out[yard.lanes[lane].start] > 1]


def horizon_lanes(cab: Cab) -> list[str]:
    return [e.edge_id for e in cab.core.book.edge_states if not e.released]


def base_lanes_ahead(cab: Cab) -> list[str]:
    return [e.edge_id for e in cab.core.book.edge_states if e.released]


def _cancel_by_closing(d: Dispatcher, cab: Cab, yard: Yard, lanes: list[str], now: float) -> bool:
    """Close lanes of the base one by one (opening each again) until one gives a cancel."""
    for lane in forks(yard, lanes):
        out = d.close_lane(lane, now, "test: a box fell")
        cab.hear(out, now)
        if "cancelOrder" in cab.instant:
            return True
        d.open_lane(lane, now, "test: not this one")
    return False


def started(
    d: Dispatcher, yard: Yard, nodes: int = 3, *, autonomous: bool = False
) -> tuple[Cab, float]:
    """TT01 on its way to QC01 for J1, `nodes` nodes from its parking spot (14: out on the
    landside road, where a closure has ways around it; fewer: in the one-way park loop)."""
    cab = join(d, yard, "TT01", "PARK.S01", autonomous=autonomous)
    d.add_jobs([dsch("J1")], 0.0)
    cab.hear(d.tick(0.0), 0.0)
    return cab, drive_nodes(d, cab, 0.0, nodes)


def test_a_closure_on_the_horizon_is_an_update_the_agent_takes(
    dispatcher: Dispatcher, haiphong: Yard
) -> None:
    d, yard = dispatcher, haiphong
    cab, now = started(d, yard, 14)
    order_id = cab.orders[-1].order_id
    for lane in forks(yard, horizon_lanes(cab)[:-2]):
        out = d.close_lane(lane, now, "test: a box fell")
        cab.hear(out, now)
        repairs = [x for x in out if x.truck == "TT01" and x.purpose == "repair"]
        if repairs and isinstance(repairs[0].order, Order):
            break
        d.open_lane(lane, now, "test: not this one")
    else:
        pytest.fail("no lane on the horizon could be closed with a way around it")
    update = cab.orders[-1]
    assert update.order_id == order_id and update.order_update_id > 0
    assert lane not in [e.edge_id for e in update.edges]
    assert cab.instant == [], "a horizon change needs no cancel"
    run_until(d, [cab], lambda: d.state.jobs["J1"].state is JobState.AT_PICKUP, now)
    check_wire(cab, yard, d.config.vehicle)


def test_a_closure_in_the_base_cancels_and_a_new_order_starts_where_the_truck_stands(
    dispatcher: Dispatcher, haiphong: Yard
) -> None:
    d, yard = dispatcher, haiphong
    cab, now = started(d, yard, 14)
    for _ in range(30):  # node by node along the landside road, until a closure works
        ahead = base_lanes_ahead(cab)
        if ahead and _cancel_by_closing(d, cab, yard, ahead[1:], now):
            break
        now = drive_nodes(d, cab, now, 1)
    else:
        pytest.fail("no closure in the base gave a cancel")
    cancelled, new = cab.orders[-2], cab.orders[-1]
    assert new.order_id != cancelled.order_id and new.order_update_id == 0
    assert new.nodes[0].node_id == cab.core.build_state(now).last_node_id
    run_until(d, [cab], lambda: d.state.jobs["J1"].state is JobState.AT_PICKUP, now)
    check_wire(cab, yard, d.config.vehicle)


def test_a_truck_that_must_stand_is_paused_and_goes_on_after_stop_pause(
    dispatcher: Dispatcher, haiphong: Yard
) -> None:
    d, yard = dispatcher, haiphong
    cab, now = started(d, yard)
    goal_lane = cab.core.book.edge_states[-1].edge_id  # into the crane's spot: no way around
    cab.hear(d.close_lane(goal_lane, now, "test: lashing platform"), now)
    assert cab.instant[-1:] == ["startPause"]
    assert not cab.core.command(now).may_drive
    assert not cab.step(now + 1.0)
    cab.hear(d.open_lane(goal_lane, now + 5.0, "test: cleared"), now + 5.0)
    cab.hear(d.tick(now + 6.0), now + 6.0)
    assert cab.instant[-1:] == ["stopPause"]
    run_until(d, [cab], lambda: d.state.jobs["J1"].state is JobState.AT_PICKUP, now + 6.0)
    check_wire(cab, yard, d.config.vehicle)


def test_a_lost_truck_loses_its_job_to_another_and_is_re_planned_when_it_is_back(
    dispatcher: Dispatcher, haiphong: Yard
) -> None:
    d, yard = dispatcher, haiphong
    cab, now = started(d, yard)
    other = join(d, yard, "TT02", "PARK.S02")
    other.report(d, now)
    limit = d.config.lost_after_s
    assert limit is not None
    silent_until = now + limit + 2.0
    while now < silent_until:  # TT01 says nothing; the dispatcher's clock runs on
        now += 1.0
        other.report(d, now)
        out = d.tick(now)
        other.hear(out, now)
        cab.hear([x for x in out if x.truck == "TT01"], now)  # sent, but it is not there
    assert d.trucks["TT01"].lost_at is not None
    assert d.state.truck_of.get("J1") == "TT02"
    cab.report(d, now)  # it speaks again
    assert d.trucks["TT01"].lost_at is None
    now = run_until(
        d,
        [cab, other],
        lambda: d.trucks["TT01"].phase is Phase.IDLE and d.trucks["TT01"].spot in d.spots.parking,
        now,
    )
    check_wire(cab, yard, d.config.vehicle)
    kinds = [e.body.get("activity") for _, e in d.journal.events() if e.kind == "truck.status"]
    assert "LOST" in kinds


@pytest.mark.parametrize("nodes", [4, 8, 12, 14, 16])
def test_an_autonomous_truck_without_link_stands_clear_of_junctions(
    dispatcher: Dispatcher, haiphong: Yard, nodes: int
) -> None:
    """Its link down past `link_lost_stop_s`, the agent core stops the truck at the next
    node of its base where a standing body is off every other movement's path."""
    d, yard = dispatcher, haiphong
    cab, now = started(d, yard, nodes, autonomous=True)
    core = cab.core
    core.on_link(True, now - 1.0)
    core.on_link(False, now)
    limit = core.link_lost_stop_s
    assert limit is not None
    command = core.command(now + limit + 1.0)
    assert command.node_id is not None and command.sequence_id is not None
    released = [n for n in core.book.node_states if n.released]
    assert command.sequence_id in {n.sequence_id for n in released}
    edges = [e.edge_id for e in core.book.edge_states if e.sequence_id < command.sequence_id]
    driven = [e for _, base, _ in cab.bases for e in base]
    way = [e for e in dict.fromkeys(driven) if e not in edges] + edges  # the edges behind it
    stop = core.book.node(command.sequence_id)
    assert stop is not None and stop.node_position is not None
    cab.bases.append((command.node_id, way, (stop.node_position.x, stop.node_position.y)))
    check_wire(cab, yard, d.config.vehicle)


def test_a_truck_that_joins_before_its_first_fix_gets_work_once_it_is_located(
    haiphong: Yard, tmp_path: Path
) -> None:
    """The agent's first state goes out before the receiver's first fix (no lastNodeId):
    the live dispatcher tracks the truck, and places it when it reports its spot."""
    live = LiveDispatcher(haiphong, Journal(tmp_path / "j.db"))
    live.dispatcher.add_jobs([dsch("J1")], 0.0)
    core = make_core(haiphong, "TT01", autonomous=True)
    at = live.origin.timestamp()
    first = core.build_state(0.0)
    assert first.last_node_id == ""
    [(_, ask)] = live.on_message("TT01", "state", first, at + 1.0)
    assert isinstance(ask, InstantActions)
    assert [a.action_type for a in ask.actions] == ["factsheetRequest"]
    assert live.dispatcher.trucks["TT01"].spot is None
    for message in core.on_message("uagv/v2/YardFleet/TT01/instantActions", encode(ask), 1.0):
        if isinstance(message, Factsheet):  # the dispatcher learns who drives it
            live.on_message("TT01", "factsheet", message, at + 1.5)
    assert live.dispatcher.trucks["TT01"].driver == "AUTONOMOUS"
    assert live.dispatcher.trucks["TT01"].tank_l == 400.0
    node = haiphong.node(haiphong.node_of("PARK.S01"))
    core.on_position(node.x, node.y, 0.0, None, None, 2.0)
    out = live.on_message("TT01", "state", core.build_state(2.0), at + 2.0)
    orders = [m for truck, m in out if truck == "TT01" and isinstance(m, Order)]
    assert orders, "a located truck got no work"
    core.on_message("uagv/v2/YardFleet/TT01/order", encode(orders[0]), 2.0)
    assert core.book.order_id == orders[0].order_id

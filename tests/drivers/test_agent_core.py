"""The onboard agent's core without I/O: events with `now` in, messages and a command out.

A straight one-way road A → B → C → D → E, 100 m apart along y = 0, and beside A a
parking spot: a junction J at (0, 50) and the spot's node P 2 m east of it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from shapely.geometry import LineString

from drivers.agent.config import MapConfig, TruckConfig, parse_config
from drivers.agent.core import LINK_LOST, AgentCore, DriveCommand, DriveReason
from drivers.agent.orders import Verdict
from drivers.fuel.reading import FuelReading
from drivers.fuel.theft import FuelDropEvent
from drivers.gnss import CovarianceType, Fix, Mode, NavSatStatus, Service
from fleet.protocol.builders import Waypoint, make_action, make_instant_actions, make_order
from fleet.protocol.codec import Message, encode
from fleet.protocol.connection import Connection, ConnectionState
from fleet.protocol.extensions import Driver, FuelLoss
from fleet.protocol.factsheet import Factsheet
from fleet.protocol.order import Order
from fleet.protocol.state import State
from fleet.protocol.visualization import Visualization
from maps.model import Lane, LaneKind, Node, Origin, ServicePoint, ServicePointKind, Yard

MAKER, TRUCK, MAP = "YardFleet", "TT07", "sketch"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ROAD = {"A": 0.0, "B": 100.0, "C": 200.0, "D": 300.0, "E": 400.0}
A, B, C, D, E = (Waypoint(k, x, 0.0) for k, x in ROAD.items())


def _lane(lane_id: str, start: Node, end: Node, kind: LaneKind = LaneKind.MAIN) -> Lane:
    line = LineString([(start.x, start.y), (end.x, end.y)])
    return Lane(lane_id, start.id, end.id, line, line.length, 7.0, kind)


def sketch() -> Yard:
    road = [Node(k, x, 0.0) for k, x in ROAD.items()]
    j, p = Node("J", 0.0, 50.0), Node("P", 2.0, 50.0)
    lanes = [_lane(f"{a.id}-{b.id}", a, b) for a, b in itertools.pairwise(road)]
    lanes += [_lane("J-P", j, p, LaneKind.SERVICE), _lane("P-A", p, road[0], LaneKind.SERVICE)]
    spot = ServicePoint("PARK.S01", ServicePointKind.PARKING, "P", area=None)
    return Yard.build("sketch", "1", Origin(106.9, 20.8), [*road, j, p], lanes, (), [spot])


YARD = sketch()


def make_core(
    yard: Yard = YARD, *, autonomous: bool = False, interval: float = 1.0, map_id: str = MAP
) -> AgentCore:
    truck = TruckConfig(TRUCK, MAKER, 300.0, 24.6)
    maps = MapConfig(None, None, map_id, "1", max_distance_m=20.0, node_tolerance_m=5.0)
    return AgentCore(
        truck,
        yard,
        maps,
        boot_id="boot-1",
        utc_at_zero=T0,
        state_interval_s=interval,
        link_lost_stop_s=10.0,
        autonomous=autonomous,
    )


def order(*route: Waypoint, released: int | None = None, update: int = 0, first: int = 0) -> Order:
    return make_order(
        MAKER, TRUCK, "job-1", route, released=released, order_update_id=update,
        first_sequence_id=first, map_id=MAP,
    )  # fmt: skip


def at(core: AgentCore, x: float, now: float, *, y: float = 0.0, speed: float = 5.0) -> None:
    core.on_position(x, y, speed, 90.0, None, now)


def drive(core: AgentCore, start: float, end: float, now: float, step: float = 10.0) -> float:
    """Positions every `step` metres east from `start` to `end`, one a second; the time after."""
    x = start
    while x <= end:
        at(core, x, now)
        x, now = x + step, now + 1.0
    return now


def instant(core: AgentCore, action_type: str, now: float) -> list[Message]:
    actions = make_instant_actions(MAKER, TRUCK, [make_action(action_type, action_id=action_type)])
    return core.on_instant_actions(actions, now)


def state(core: AgentCore, now: float) -> State:
    return core.build_state(now)


def error_types(core: AgentCore, now: float) -> list[str]:
    return [e.error_type for e in state(core, now).errors]


# -- last node from the position


def test_a_truck_standing_on_a_node_reports_it_before_any_order() -> None:
    core = make_core()
    assert state(core, 0.0).last_node_id == ""
    at(core, 0.5, 0.0, y=50.0, speed=0.0)  # J is 0.5 m away, P 1.5 m: the service point's
    assert (state(core, 0.0).last_node_id, state(core, 0.0).last_node_sequence_id) == ("P", 0)
    at(core, 50.0, 1.0)  # between A and B: no node
    assert state(core, 1.0).last_node_id == ""
    at(core, 98.0, 2.0, speed=0.0)  # 2 m before B
    assert state(core, 2.0).last_node_id == "B"
    assert core.book.last_node_id == ""  # the order book's own is untouched
    # An order from where it stands is accepted; its node counts as traversed.
    assert core.on_order(order(B, C, D), 3.0) is Verdict.ACCEPTED
    s = state(core, 3.0)
    assert (s.last_node_id, s.last_node_sequence_id) == ("B", 0)
    assert [n.node_id for n in s.node_states] == ["C", "D"]


def test_after_an_order_the_node_it_ended_on_keeps_its_sequence_id() -> None:
    core = make_core()
    at(core, 0.0, 0.0, speed=0.0)
    assert core.on_order(order(A, B), 0.0) is Verdict.ACCEPTED
    now = drive(core, 10.0, 100.0, 1.0)
    at(core, 100.0, now, speed=0.0)
    assert not core.book.executing()
    assert (state(core, now).last_node_id, state(core, now).last_node_sequence_id) == ("B", 2)
    now = drive(core, 110.0, 200.0, now)  # a driver takes it on to C
    assert (state(core, now).last_node_id, state(core, now).last_node_sequence_id) == ("C", 0)
    at(core, 250.0, now)  # between nodes: the last node traversed
    assert state(core, now).last_node_id == "B"


def test_a_truck_on_the_node_of_park_s01_gets_work(haiphong: Yard) -> None:
    core = make_core(haiphong, map_id="haiphong")
    park = haiphong.nodes[haiphong.service_points["PARK.S01"].node]
    core.on_position(park.x + 0.4, park.y - 0.3, 0.0, None, None, 0.0)
    assert core.tick(0.0)[0].last_node_id == park.id  # type: ignore[union-attr]
    out = haiphong.nodes[haiphong.lane("PARK.S01-out").end]
    job = make_order(
        MAKER, TRUCK, "job-1",
        [Waypoint(park.id, park.x, park.y), Waypoint(out.id, out.x, out.y, "PARK.S01-out")],
        map_id="haiphong",
    )  # fmt: skip
    assert core.on_order(job, 1.0) is Verdict.ACCEPTED
    assert core.command(1.0) == DriveCommand.drive_to(out.id, 2, DriveReason.ORDER)


# -- the command


def test_no_order_stands_and_an_order_drives_to_its_last_released_node() -> None:
    core = make_core()
    assert core.command(0.0) == DriveCommand.stand(DriveReason.NO_ORDER)
    assert not core.command(0.0).may_drive
    at(core, 0.0, 0.0, speed=0.0)
    assert core.on_order(order(A, B, C, D, E, released=3), 0.0) is Verdict.ACCEPTED
    assert core.book.decision_point == ("C", 4)
    command = core.command(0.0)
    assert command == DriveCommand.drive_to("C", 4, DriveReason.ORDER) and command.may_drive
    now = drive(core, 10.0, 150.0, 1.0)  # past B: the limit stays C, never the horizon
    assert core.book.last_node_id == "B"
    assert core.command(now) == DriveCommand.drive_to("C", 4, DriveReason.ORDER)
    now = drive(core, 160.0, 200.0, now)  # at C: the base is done, D and E wait for release
    assert core.book.last_node_id == "C"
    assert core.command(now) == DriveCommand.stand(DriveReason.AWAITING_RELEASE)


def test_an_update_extending_the_base_moves_the_limit() -> None:
    core = make_core()
    at(core, 0.0, 0.0, speed=0.0)
    core.on_order(order(A, B, C, D, E, released=2), 0.0)
    assert core.command(0.0) == DriveCommand.drive_to("B", 2, DriveReason.ORDER)
    now = drive(core, 10.0, 60.0, 1.0)
    # The update stitches at the decision point B and releases C and D; E stays horizon.
    assert core.on_order(order(B, C, D, E, released=3, update=1, first=2), now) is Verdict.UPDATED
    assert core.command(now) == DriveCommand.drive_to("D", 6, DriveReason.ORDER)
    now = drive(core, 70.0, 300.0, now)
    assert core.command(now) == DriveCommand.stand(DriveReason.AWAITING_RELEASE)
    assert core.on_order(order(D, E, update=2, first=6), now) is Verdict.UPDATED
    assert core.command(now) == DriveCommand.drive_to("E", 8, DriveReason.ORDER)
    now = drive(core, 310.0, 400.0, now)
    assert core.command(now) == DriveCommand.stand(DriveReason.ORDER_DONE)


def test_start_pause_stands_and_stop_pause_drives_on() -> None:
    core = make_core()
    at(core, 0.0, 0.0, speed=0.0)
    core.on_order(order(A, B, C), 0.0)
    assert instant(core, "startPause", 1.0) == []
    assert core.command(1.0) == DriveCommand.stand(DriveReason.PAUSED)
    assert state(core, 1.0).paused is True
    instant(core, "stopPause", 2.0)
    assert core.command(2.0) == DriveCommand.drive_to("C", 4, DriveReason.ORDER)


def test_cancel_order_stands() -> None:
    core = make_core()
    at(core, 0.0, 0.0, speed=0.0)
    core.on_order(order(A, B, C), 0.0)
    drive(core, 10.0, 120.0, 1.0)
    instant(core, "cancelOrder", 20.0)
    assert core.command(20.0) == DriveCommand.stand(DriveReason.CANCELLED)
    s = state(core, 20.0)
    assert s.order_id == "job-1" and s.node_states == [] and s.last_node_id == "B"
    # A new order from where the truck is cancels the cancellation.
    at(core, 100.0, 21.0, speed=0.0)
    job2 = make_order(MAKER, TRUCK, "job-2", [B, C], map_id=MAP)
    assert core.on_order(job2, 21.0) is Verdict.ACCEPTED
    assert core.command(21.0) == DriveCommand.drive_to("C", 2, DriveReason.ORDER)


def test_an_autonomous_truck_without_link_stops_at_the_next_node_ahead() -> None:
    core = make_core(autonomous=True)
    core.on_link(True, 0.0)
    at(core, 0.0, 0.0, speed=0.0)
    core.on_order(order(A, B, C, D, E), 0.0)
    now = drive(core, 10.0, 150.0, 1.0)  # past B; C is next
    core.on_link(False, now)
    lost = now
    assert core.command(lost + 5.0) == DriveCommand.drive_to("E", 8, DriveReason.ORDER)
    assert LINK_LOST not in error_types(core, lost + 5.0)
    at(core, 160.0, lost + 10.5)  # the stop is fixed when the time runs out: C, not E
    assert core.command(lost + 10.5) == DriveCommand.drive_to("C", 4, DriveReason.LINK_LOST)
    s = state(core, lost + 10.5)
    warning = next(e for e in s.errors if e.error_type == LINK_LOST)
    assert [r.reference_value for r in warning.error_references or []] == ["C", "4"]
    drive(core, 170.0, 200.0, lost + 11.0)  # reaching C, it stands: not on to D
    assert core.command(lost + 15.0) == DriveCommand.stand(DriveReason.LINK_LOST)
    core.on_link(True, lost + 20.0)  # the link is back: the whole base again
    assert core.command(lost + 20.0) == DriveCommand.drive_to("E", 8, DriveReason.ORDER)
    assert LINK_LOST not in error_types(core, lost + 20.0)


def test_an_autonomous_truck_standing_at_its_last_node_stays_there() -> None:
    core = make_core(autonomous=True)
    at(core, 0.0, 0.0, speed=0.0)
    core.on_order(order(A, B, C), 0.0)
    core.on_link(False, 1.0)  # it never left A
    assert core.command(12.0) == DriveCommand.stand(DriveReason.LINK_LOST)


def test_a_driver_without_link_keeps_the_command_and_is_warned() -> None:
    core = make_core(autonomous=False)
    at(core, 0.0, 0.0, speed=0.0)
    core.on_order(order(A, B, C, D, E), 0.0)
    now = drive(core, 10.0, 150.0, 1.0)
    core.on_link(False, now)
    assert core.command(now + 30.0) == DriveCommand.drive_to("E", 8, DriveReason.ORDER)
    assert LINK_LOST in error_types(core, now + 30.0)
    assert core.tick(now + 30.0)  # the warning is news: a state at once
    core.on_link(True, now + 31.0)
    assert LINK_LOST not in error_types(core, now + 31.0)


# -- what the core reports


def test_the_odometer_counts_metres_driven() -> None:
    core = make_core()
    now = drive(core, 0.0, 100.0, 0.0)  # 100 m at 5 m/s
    at(core, 100.0, now, speed=0.0)
    at(core, 103.0, now + 1.0, speed=0.1)  # creeping below the moving speed: not driven
    at(core, 350.0, now + 2.0)  # a jump of 247 m: a re-fix, not driven
    at(core, 360.0, now + 3.0)
    telemetry = state(core, now + 3.0).yardfleet
    assert telemetry is not None and telemetry.travel is not None
    assert telemetry.travel.odometer == pytest.approx(110.0)
    assert core.odometer_m == pytest.approx(110.0)


def test_a_state_on_change_and_at_the_interval_driven_by_now() -> None:
    core = make_core(interval=1.0)
    first = core.tick(10.0)
    assert [type(m) for m in first] == [State] and first[0].header_id == 0
    assert first[0].timestamp == T0 + timedelta(seconds=10.0)
    assert core.tick(10.5) == []
    at(core, 50.0, 10.6)  # driving now: a change
    assert [m.header_id for m in core.tick(10.6)] == [1]
    at(core, 60.0, 10.7)
    assert core.tick(10.8) == []  # nothing in the state changed
    assert [m.header_id for m in core.tick(11.6)] == [2]  # the interval
    assert core.tick(12.0) == []
    core.on_gnss_port(False, 12.1, "/dev/ttyUSB0")  # a new error: at once
    sent = core.tick(12.1)
    assert isinstance(sent[0], State) and [e.error_type for e in sent[0].errors] == ["gnssPortDown"]
    assert core.tick(12.2) == []
    core.on_gnss_port(True, 12.3)
    assert core.tick(12.3) and error_types(core, 12.3) == []


def test_a_fix_comes_back_as_visualization_with_its_own_header_ids() -> None:
    core = make_core()
    lon, lat = YARD.frame.point_to_wgs84(50.0, 0.4)
    fix = Fix(
        time=None, latitude=lat, longitude=lon, altitude_msl=5.0, altitude_hae=-15.0,
        geoid_separation=-20.0, mode=Mode.FIX_3D, status=NavSatStatus.GBAS_FIX,
        service=int(Service.GPS), quality=4, satellites_used=14, hdop=0.7, speed_mps=5.0,
        track_deg=90.0, heading_deg=None, position_covariance=(0.01, 0, 0, 0, 0.01, 0, 0, 0, 0.04),
        position_covariance_type=CovarianceType.DIAGONAL_KNOWN,
    )  # fmt: skip
    out = [core.on_fix(fix, 1.0), core.on_fix(fix, 2.0)]
    assert [[type(m) for m in o] for o in out] == [[Visualization], [Visualization]]
    vis = out[1][0]
    assert isinstance(vis, Visualization) and vis.header_id == 1
    assert vis.agv_position is not None and vis.agv_position.position_initialized
    assert vis.agv_position.x == pytest.approx(50.0, abs=0.01)
    assert vis.agv_position.theta == pytest.approx(0.0, abs=1e-3)  # east
    assert vis.agv_position.deviation_range == pytest.approx(0.141, abs=0.001)
    assert core.fixes == 2 and core.where is not None and core.where.lane_id == "A-B"
    no_fix = fix._replace(latitude=None, longitude=None, status=NavSatStatus.NO_FIX)
    assert core.on_fix(no_fix, 3.0) == []
    position = state(core, 3.0).agv_position
    assert position is not None and not position.position_initialized


def test_instant_actions_factsheet_state_and_connection() -> None:
    core = make_core(autonomous=True)
    out = instant(core, "factsheetRequest", 1.0)
    assert [type(m) for m in out] == [Factsheet]
    sheet = out[0]
    assert isinstance(sheet, Factsheet) and sheet.yardfleet is not None
    assert sheet.yardfleet.driver is Driver.AUTONOMOUS and sheet.yardfleet.boot_id == "boot-1"
    out = instant(core, "stateRequest", 2.0)
    assert [type(m) for m in out] == [State]
    sent = out[0]
    assert isinstance(sent, State) and sent.timestamp == T0 + timedelta(seconds=2.0)
    assert [a.action_id for a in sent.action_states] == ["factsheetRequest", "stateRequest"]
    assert core.tick(2.5) == []  # the state just sent restarted the interval
    online = core.connection(ConnectionState.ONLINE, 0.0)
    assert isinstance(online, Connection) and online.header_id == 0
    assert online.yardfleet is not None and online.yardfleet.boot_id == "boot-1"


def test_a_malformed_message_is_a_validation_warning() -> None:
    core = make_core()
    assert core.on_message(f"uagv/v2/{MAKER}/{TRUCK}/order", b"{nope", 1.0) == []
    assert error_types(core, 1.0) == ["validationError"]
    good = order(A, B)
    at(core, 0.0, 2.0, speed=0.0)
    assert core.on_message(f"uagv/v2/{MAKER}/{TRUCK}/order", encode(good), 2.0) == []
    assert core.book.order_id == "job-1" and error_types(core, 2.0) == []


def test_a_fuel_drop_is_held_by_now_and_faults_and_the_spool_are_reported() -> None:
    core = make_core()
    core.on_fuel(FuelReading(0.0, 150.0, 2048.0, None, True, "lls"), 0.0)
    core.on_fuel_drop(FuelDropEvent(0.0, 5.0, 150.0, 75.0), 10.0)

    def loss(now: float) -> FuelLoss | None:
        telemetry = state(core, now).yardfleet
        fuel = None if telemetry is None else telemetry.fuel
        return None if fuel is None else fuel.loss

    assert loss(10.0 + 599.0) is FuelLoss.THEFT and loss(10.0 + 601.0) is FuelLoss.NONE
    core.on_fuel(FuelReading(1.0, None, None, None, False, "lls", "timeout"), 20.0)
    assert error_types(core, 20.0) == ["fuelSensorFault"]
    telemetry = state(core, 20.0).yardfleet
    assert telemetry is not None and telemetry.fuel is not None and telemetry.fuel.litres == 150.0
    core.on_fuel(FuelReading(2.0, 150.0, 2048.0, None, True, "lls"), 21.0)
    core.on_spool(3, 9000, 10000, 22.0)
    assert error_types(core, 22.0) == ["spoolFull"]
    core.on_spool(3, 6000, 10000, 23.0)  # not yet half empty
    assert error_types(core, 23.0) == ["spoolFull"]
    core.on_spool(3, 4000, 10000, 24.0)
    assert error_types(core, 24.0) == []


# -- configuration


def test_the_configuration_names_the_driver_and_the_link_lost_stop(tmp_path: Path) -> None:
    doc: dict[str, dict[str, object]] = {
        "truck": {"serial_number": TRUCK},
        "map": {"terminal": "haiphong"},
        "gnss": {"port": "/dev/ttyUSB0"},
        "dispatcher": {"endpoint": "tcp://127.0.0.1:5556"},
    }
    config = parse_config(doc, base=tmp_path)
    assert config.truck.driver is Driver.HUMAN and not config.truck.autonomous
    assert config.dispatcher.link_lost_stop_s == 10.0
    doc["truck"]["driver"] = "autonomous"
    doc["dispatcher"]["link_lost_stop_s"] = False
    config = parse_config(doc, base=tmp_path)
    assert config.truck.autonomous and config.dispatcher.link_lost_stop_s is None
    core = AgentCore.from_config(config, YARD, boot_id="b", utc_at_zero=T0)
    assert core.autonomous and core.link_lost_stop_s is None
    core.on_link(False, 0.0)
    assert not core.link_lost(1e6)
    doc["truck"]["driver"] = "robot"
    with pytest.raises(ValueError, match=r"\[truck\] driver: 'robot'"):
        parse_config(doc, base=tmp_path)

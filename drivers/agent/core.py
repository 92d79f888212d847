"""The onboard agent's core: events in, messages and a driving command out; no I/O.

`AgentCore` holds what the truck knows: the order book, progress along the order, the
latest fix, fuel reading and link status, the odometer. The shell (`drivers.agent.agent`,
or the simulator) feeds it events, each with `now` (seconds on a monotonic clock the
caller keeps), and sends on what it returns. It opens no port or socket, starts no
thread, takes no lock, never sleeps and reads no clock: the same events at the same
`now` give the same messages, so tests drive it directly.

- Position: a fix (`on_fix`) or a typed position (`on_position`, the simulator's fast
  mode) is map-matched, advances the order (`drivers.agent.progress`), adds the metres
  driven to the odometer and comes back as a visualization.
- Last node: while no order is executed, a truck whose map-matched position is within
  `node_tolerance_m` of a yard node reports that node as `lastNodeId` (a service point's
  node first; `lastNodeSequenceId` 0, or the finished order's when it is that order's
  last node), so the dispatcher can give a truck standing at, say, PARK.S01 its first
  work; an order from there is accepted as the truck stands within its first node's reach.
- State (`tick`): every `state_interval_s`, and at once when something in it changed.
- Command (`command`): how far the truck may drive. While executing, up to the last
  released node of the order (the end of its base, `OrderBook.decision_point`) and never
  beyond; stand with no order, with the order done or its base done (waiting for the
  update that releases more), cancelled, or paused by startPause.
- Link lost: after `link_lost_stop_s` without the dispatcher, an autonomous truck stops
  at the next node of its base ahead of it (where it stands, when it stands at its last
  node), fixed when the time runs out; a person driving keeps the command. Both report a
  `linkLost` warning. With the link back, the whole base applies again.
- Conditions the shell sees (GNSS port closed, spool full, ...) come in through
  `on_gnss_port`, `on_spool` or `set_condition` and go out in the state's `errors`.

Header ids are the core's own, per topic; header timestamps are `utc_at_zero + now`.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
from shapely.geometry import Point

from drivers.agent.config import AgentConfig, MapConfig, TruckConfig
from drivers.agent.orders import OrderBook, Verdict
from drivers.agent.progress import Progress, Whereabouts
from drivers.agent.telemetry import (
    agv_position,
    fuel_extension,
    gnss_extension,
    has_position,
    theta_of_track,
)
from drivers.fuel.reading import FuelReading
from drivers.fuel.theft import FuelDropEvent
from drivers.gnss import Fix
from fleet.protocol.actions import Action
from fleet.protocol.base import PI
from fleet.protocol.battery import starter_battery
from fleet.protocol.builders import (
    make_connection,
    make_factsheet,
    make_state,
    make_visualization,
)
from fleet.protocol.codec import Message, decode, topic_name
from fleet.protocol.connection import Connection, ConnectionState
from fleet.protocol.errors import ProtocolError
from fleet.protocol.extensions import Driver, Fuel, FuelLoss, Gnss, Travel, TruckTelemetry
from fleet.protocol.factsheet import Factsheet
from fleet.protocol.geometry import AgvPosition, Velocity
from fleet.protocol.header import HeaderIds
from fleet.protocol.instant_actions import InstantActions
from fleet.protocol.order import Order
from fleet.protocol.state import Error, ErrorLevel, ErrorReference, Map, MapStatus, State
from fleet.protocol.visualization import Visualization
from maps.matching import MapMatcher
from maps.model import Node, Yard

__all__ = [
    "LINK_LOST",
    "LOSS_HOLD_S",
    "MAX_JUMP_M",
    "AgentCore",
    "DriveCommand",
    "DriveReason",
]

log = logging.getLogger(__name__)

LOSS_HOLD_S = 600.0
"""How long a detected fuel drop is reported (`yardfleet.fuel.loss`)."""
MAX_JUMP_M = 100.0
"""A jump between fixes longer than this is not driven distance (a lost fix, a re-fix)."""
LINK_LOST = "linkLost"
"""The errorType of the warning while the dispatcher has been away too long."""
GNSS_PORT_DOWN = "gnssPortDown"
NO_FIX = "gnssFixLost"
"""The errorType while the receiver has no fix: FATAL for an autonomous truck (it stands
where it is), a warning for a person driving."""
FUEL_SENSOR_FAULT = "fuelSensorFault"
SPOOL_FULL = "spoolFull"


BODY_M = 20.0
"""A terminal tractor with a 40' chassis plus the gap to the truck ahead [m]: what must be
clear of junctions behind a node for the truck to stand there."""


class DriveReason(enum.StrEnum):
    """Why the command is what it is."""

    ORDER = "order"
    """Drive to the end of the order's base."""
    LINK_LOST = "linkLost"
    """Autonomous, no dispatcher for too long: to the next node of the base, or stand."""
    NO_ORDER = "noOrder"
    ORDER_DONE = "orderDone"
    AWAITING_RELEASE = "awaitingRelease"
    """The base is done; the horizon waits for an update that releases it."""
    CANCELLED = "cancelled"
    PAUSED = "paused"
    NO_FIX = "noFix"
    """Autonomous, the receiver has no fix: stand where it is until it has one again."""


@dataclass(frozen=True, slots=True)
class DriveCommand:
    """May drive up to node `node_id` (sequence `sequence_id`) and must stop there; or stand.

    The limit is a released node of the order, never beyond its base; `node_id` None
    means stand where you are.
    """

    reason: DriveReason
    node_id: str | None = None
    sequence_id: int | None = None

    @property
    def may_drive(self) -> bool:
        """Whether the truck may move at all."""
        return self.node_id is not None

    @classmethod
    def stand(cls, reason: DriveReason) -> DriveCommand:
        """Stand (stop now, or stay stopped)."""
        return cls(reason)

    @classmethod
    def drive_to(cls, node_id: str, sequence_id: int, reason: DriveReason) -> DriveCommand:
        """Drive up to this node of the order and stop there."""
        return cls(reason, node_id, sequence_id)


class _NodeGrid:
    """The yard's nodes in square cells, to find those within a radius of a point."""

    def __init__(self, nodes: Iterable[Node], cell_m: float) -> None:
        self.cell_m = cell_m
        self.cells: dict[tuple[int, int], list[Node]] = {}
        for node in nodes:
            self.cells.setdefault(self._key(node.x, node.y), []).append(node)

    def _key(self, x: float, y: float) -> tuple[int, int]:
        return math.floor(x / self.cell_m), math.floor(y / self.cell_m)

    def near(self, x: float, y: float, radius_m: float) -> list[tuple[float, Node]]:
        """(distance, node) of the nodes within `radius_m` (<= the cell size) of (x, y)."""
        i, j = self._key(x, y)
        out: list[tuple[float, Node]] = []
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                for node in self.cells.get((i + di, j + dj), ()):
                    d = math.hypot(x - node.x, y - node.y)
                    if d <= radius_m:
                        out.append((d, node))
        return out


class AgentCore:
    """One truck's onboard logic; every method takes `now` [s] from the caller's clock."""

    def __init__(
        self,
        truck: TruckConfig,
        yard: Yard,
        map_config: MapConfig,
        *,
        boot_id: str,
        utc_at_zero: datetime,
        state_interval_s: float = 1.0,
        link_lost_stop_s: float | None = 10.0,
        autonomous: bool | None = None,
        held_actions: frozenset[str] = frozenset(),
        matcher: MapMatcher | None = None,
    ) -> None:
        """A core for `truck` on `yard`.

        `utc_at_zero` is the UTC time at `now` = 0 (header timestamps are it plus `now`);
        `link_lost_stop_s` None never stops for a lost link; `autonomous` None takes
        `truck.driver`; `held_actions` are action types that take time at their node
        (`finish_action` ends them); `matcher` shares one yard's map-matcher between
        cores (the simulator's trucks).
        """
        self.truck = truck
        self.yard = yard
        self.map_config = map_config
        self.boot_id = boot_id
        self.utc_at_zero = utc_at_zero
        self.state_interval_s = state_interval_s
        self.link_lost_stop_s = link_lost_stop_s
        self.autonomous = truck.autonomous if autonomous is None else autonomous
        tolerance = map_config.node_tolerance_m
        self.matcher = matcher or MapMatcher(yard, max_distance_m=map_config.max_distance_m)
        self.book = OrderBook(map_config.map_id, tolerance, held=held_actions)
        self.progress = Progress(tolerance, self._yard_node, lane_offset=self._lane_offset)
        self.header_ids = HeaderIds()
        self.fixes = 0
        """Fixes seen (with a position or not)."""
        self.where: Whereabouts | None = None
        """The latest map-matched position."""
        self.gnss: Gnss | None = None
        self.odometer_m = 0.0
        """Metres driven since the core was made (or the vehicle's odometer, when told)."""
        self.no_fix_since: float | None = None
        """Since when the receiver has had no fix (None: it has one, or never had)."""
        self._nodes = _NodeGrid(yard.nodes.values(), max(tolerance, 1.0))
        self._offsets: dict[tuple[str, float, float], float | None] = {}
        self._standing: str | None = None
        """The yard node the truck stands on (service point's first), None between nodes."""
        self._theta = 0.0
        self._fuel_reading: FuelReading | None = None  # the latest, valid or not
        self._fuel_valid: FuelReading | None = None  # the latest valid one
        self._loss_until = -math.inf
        self._conditions: dict[str, Error] = {}
        self._spool_seen_drops = 0
        self._link_down_since: float | None = None
        self._link_stop: tuple[str, int] | None = None
        """(nodeId, sequenceId) an autonomous truck stops at while the link is lost."""
        self._cancelled: str | None = None
        """The orderId cancelled by cancelOrder, until another order is accepted."""
        self._last_state_at = -math.inf
        self._last_signature: tuple[object, ...] = ()
        self._dirty = True

    @classmethod
    def from_config(
        cls, config: AgentConfig, yard: Yard, *, boot_id: str, utc_at_zero: datetime
    ) -> AgentCore:
        """A core as `onboard.toml` describes the truck."""
        return cls(
            config.truck,
            yard,
            config.map,
            boot_id=boot_id,
            utc_at_zero=utc_at_zero,
            state_interval_s=config.state_interval_s,
            link_lost_stop_s=config.dispatcher.link_lost_stop_s,
        )

    # -- position

    def on_fix(self, fix: Fix, now: float) -> list[Message]:
        """A GNSS fix: map-match it, advance the order; its visualization (none without one)."""
        self.fixes += 1
        gnss = gnss_extension(fix)
        self.gnss = gnss
        if not has_position(fix):
            self.on_fix_lost(now)
            return []
        assert fix.longitude is not None and fix.latitude is not None
        x, y = self.yard.frame.point_to_local(fix.longitude, fix.latitude)
        course = fix.heading_deg if fix.heading_deg is not None else fix.track_deg
        return self.on_position(x, y, fix.speed_mps, course, gnss, now)

    def on_position(
        self,
        x: float,
        y: float,
        speed_mps: float | None,
        course_deg: float | None,
        gnss: Gnss | None,
        now: float,
        *,
        odometer_m: float | None = None,
        visualize: bool = True,
    ) -> list[Message]:
        """A position in the yard's local metres (course: compass degrees); its visualization.

        `gnss` None keeps the last one (a simulated truck has none: its pose is then
        initialized, without a deviation range). `odometer_m` is the vehicle's own
        odometer (the simulator's wheels), instead of adding up the steps between fixes.
        `visualize` False: no visualization is made (the simulator sends none); its
        headerId is taken all the same.
        """
        if gnss is not None:
            self.gnss = gnss
        if self.no_fix_since is not None:
            self.no_fix_since = None
            self._dirty = True
        match = self.matcher.match_one(x, y, course_deg)
        where = Whereabouts(
            x=x,
            y=y,
            speed_mps=speed_mps,
            lane_id=match.lane_id,
            offset_m=match.offset_m if match.matched else None,
            snap_x=match.snap_x if match.matched else None,
            snap_y=match.snap_y if match.matched else None,
        )
        previous = self.where
        if odometer_m is not None:
            self.odometer_m = odometer_m
        elif previous is not None:
            step = math.hypot(x - previous.x, y - previous.y)
            if step <= MAX_JUMP_M and (speed_mps or 0.0) >= self.progress.moving_mps:
                self.odometer_m += step
        if course_deg is not None:
            self._theta = theta_of_track(course_deg)
        self.where = where
        if self.progress.update(self.book, where):
            self._dirty = True
        self._standing = self._node_at(*where.point)
        self._refresh(now)
        if not visualize:
            self.header_ids.next(topic_name(Visualization))
            return []
        position = self._position()
        if position is None:
            return []
        truck = self.truck
        visualization = make_visualization(
            truck.manufacturer,
            truck.serial_number,
            position,
            velocity=None if speed_mps is None else Velocity(vx=round(speed_mps, 3)),
            telemetry=self._telemetry(now, with_travel=False),
            header_id=self.header_ids.next(topic_name(Visualization)),
            timestamp=self._stamp(now),
        )
        return [visualization]

    def on_fix_lost(self, now: float) -> None:
        """The receiver has no fix (it says so, or falls silent): `gnssFixLost`; an
        autonomous truck stands where it is until a position comes again."""
        if self.no_fix_since is None:
            self.no_fix_since = now
            self._dirty = True

    def _lane_offset(self, lane_id: str, x: float, y: float) -> float | None:
        key = (lane_id, round(x, 3), round(y, 3))
        if key not in self._offsets:
            self._offsets[key] = self._project(lane_id, x, y)
        return self._offsets[key]

    def _project(self, lane_id: str, x: float, y: float) -> float | None:
        lane = self.yard.lanes.get(lane_id)
        if lane is None:
            return None
        start = self.yard.nodes.get(lane.start)
        if start is not None and math.hypot(start.x - x, start.y - y) < 1e-3:
            return 0.0
        return float(lane.geometry.project(Point(x, y)))

    def _yard_node(self, node_id: str) -> tuple[float, float] | None:
        node = self.yard.nodes.get(node_id)
        return None if node is None else (node.x, node.y)

    def _node_at(self, x: float, y: float) -> str | None:
        """The yard node within the node tolerance of (x, y): a service point's first."""
        near = self._nodes.near(x, y, self.map_config.node_tolerance_m)
        if not near:
            return None
        services = self.yard.service_point_by_node
        return min((node.id not in services, d, node.id) for d, node in near)[2]

    # -- fuel

    def on_fuel(self, reading: FuelReading, now: float) -> None:
        """A fuel reading, valid or not (an invalid one is reported, the last litres stay)."""
        self._fuel_reading = reading
        if reading.valid and reading.litres is not None:
            self._fuel_valid = reading

    def on_fuel_drop(self, event: FuelDropEvent, now: float) -> None:
        """The fuel watch saw litres fall while the truck stood: `loss` THEFT for a while."""
        log.warning(
            "fuel dropped by %.1f L while standing: possible theft or leak", event.litres_lost
        )
        self._loss_until = now + LOSS_HOLD_S
        self._dirty = True

    # -- the shell's conditions

    def set_condition(self, key: str, error: Error | None) -> None:
        """Report `error` in the state's errors under `key` until it is set to None."""
        if error is None:
            self._conditions.pop(key, None)
        else:
            self._conditions[key] = error

    def on_gnss_port(self, up: bool, now: float, port: str = "") -> None:
        """Whether the GNSS receiver's port is open (`gnssPortDown` while it is not)."""
        self.set_condition(
            GNSS_PORT_DOWN,
            None if up else _warning(GNSS_PORT_DOWN, f"GNSS port {port} is not open".strip()),
        )

    def on_spool(self, dropped: int, used_bytes: int, max_bytes: int, now: float) -> None:
        """The spool's counts: `spoolFull` from a new drop until it is half empty again."""
        if dropped > self._spool_seen_drops:
            self._spool_seen_drops = dropped
            self.set_condition(
                SPOOL_FULL,
                _warning(
                    SPOOL_FULL,
                    f"spool full ({max_bytes} bytes): {dropped} visualization messages "
                    "dropped, state kept",
                ),
            )
        elif used_bytes < max_bytes // 2:
            self.set_condition(SPOOL_FULL, None)

    # -- the link and the dispatcher

    def on_link(self, up: bool, now: float) -> None:
        """The link to the dispatcher came up or went."""
        if up:
            self._link_down_since, self._link_stop = None, None
        elif self._link_down_since is None:
            self._link_down_since = now

    def link_lost(self, now: float) -> bool:
        """Whether the dispatcher has been away longer than `link_lost_stop_s`."""
        since, limit = self._link_down_since, self.link_lost_stop_s
        return since is not None and limit is not None and now - since > limit

    def on_message(self, address: str, body: bytes, now: float) -> list[Message]:
        """A message from the dispatcher as it came; what to send back at once.

        One that does not decode is a `validationError` warning.
        """
        try:
            message = decode(address, body)
        except ProtocolError as exc:
            log.warning("rejected a message on %s: %s", address, exc)
            self.book.malformed(address, str(exc))
            self._dirty = True
            return []
        if isinstance(message, Order):
            self.on_order(message, now)
            return []
        if isinstance(message, InstantActions):
            return self.on_instant_actions(message, now)
        log.warning("ignored a %s from the dispatcher", topic_name(message))
        return []

    def on_order(self, order: Order, now: float) -> Verdict:
        """An order or order update, by the order book's rules."""
        where = self.where
        verdict = self.book.receive_order(order, None if where is None else where.point)
        if verdict in (Verdict.ACCEPTED, Verdict.UPDATED):
            self._cancelled = None
            if where is not None:
                self.progress.update(self.book, where)
        log.info("order %s/%d: %s", order.order_id, order.order_update_id, verdict.value)
        if verdict is not Verdict.IGNORED:
            self._dirty = True
        return verdict

    def on_instant_actions(self, message: InstantActions, now: float) -> list[Message]:
        """Instant actions; a factsheet on factsheetRequest, a state at once on stateRequest."""
        done = self.book.receive_instant_actions(message)
        if "cancelOrder" in done:
            self._cancelled = self.book.order_id
        self._dirty = True
        out: list[Message] = []
        if "factsheetRequest" in done:
            out.append(self.factsheet(now))
        if "stateRequest" in done:
            out.append(self.state_message(now))
        return out

    # -- what the truck does

    def command(self, now: float) -> DriveCommand:
        """How far the truck may drive now (see the module's docstring)."""
        self._refresh(now)
        book = self.book
        if book.paused:
            return DriveCommand.stand(DriveReason.PAUSED)
        if self.autonomous and self.no_fix_since is not None:
            return DriveCommand.stand(DriveReason.NO_FIX)
        released = [n for n in book.node_states if n.released]
        if not released:
            return DriveCommand.stand(self._idle_reason())
        stop = self._link_stop
        if stop is not None:
            if not any(n.sequence_id == stop[1] for n in released):
                return DriveCommand.stand(DriveReason.LINK_LOST)  # there, or past it
            return DriveCommand.drive_to(stop[0], stop[1], DriveReason.LINK_LOST)
        end = released[-1]  # the decision point
        return DriveCommand.drive_to(end.node_id, end.sequence_id, DriveReason.ORDER)

    def _idle_reason(self) -> DriveReason:
        """Why a truck with no released node ahead stands."""
        book = self.book
        if not book.order_id:
            return DriveReason.NO_ORDER
        if self._cancelled == book.order_id:
            return DriveReason.CANCELLED
        if book.node_states:
            return DriveReason.AWAITING_RELEASE
        return DriveReason.ORDER_DONE

    def _refresh(self, now: float) -> None:
        """Fix an autonomous truck's stop once the link has been lost too long."""
        if self._link_stop is not None or not self.autonomous or not self.link_lost(now):
            return
        book = self.book
        ahead = next((n for n in book.node_states if n.released), None)
        if ahead is None:
            self._link_stop = ("", -1)  # nothing to drive to: stand
        elif self._at_last_node():
            self._link_stop = (book.last_node_id, book.last_node_sequence_id)
        else:
            self._link_stop = self._next_stand()
        log.warning("no dispatcher for too long: stopping at %r", self._link_stop[0])
        self._dirty = True

    def _next_stand(self) -> tuple[str, int]:
        """The first released node ahead where the truck may stand: its body (`BODY_M`
        behind the node, along the order's edges) off every junction's connectors, or a
        service point; the base's end (the dispatcher ends bases only there) otherwise."""
        book, yard = self.book, self.yard
        released = [n for n in book.node_states if n.released]
        edges = {e.sequence_id: e.edge_id for e in book.edge_states}
        behind: list[str] = []  # edges driven to each node, newest last
        for node in released:
            edge = edges.get(node.sequence_id - 1)
            if edge is not None:
                behind.append(edge)
            if node.node_id in yard.service_point_by_node:
                return node.node_id, node.sequence_id
            clear, covered = bool(behind), 0.0
            for edge_id in reversed(behind):
                lane = yard.lanes.get(edge_id)
                if lane is None or lane.conflict_group in yard.junction_ids:
                    clear = False
                    break
                covered += lane.length_m
                if covered >= BODY_M:
                    break
            if clear and covered >= BODY_M:
                return node.node_id, node.sequence_id
        end = released[-1]
        return end.node_id, end.sequence_id

    def _at_last_node(self) -> bool:
        """Whether the truck stands (not driving) within reach of its last node."""
        where, book = self.where, self.book
        if where is None or self.progress.driving or not book.last_node_id:
            return False
        node = book.node(book.last_node_sequence_id)
        if node is not None and node.node_position is not None:
            xy: tuple[float, float] | None = (node.node_position.x, node.node_position.y)
        else:
            xy = self._yard_node(book.last_node_id)
        if xy is None:
            return False
        px, py = where.point
        return math.hypot(px - xy[0], py - xy[1]) <= self.map_config.node_tolerance_m

    def finish_action(self, action_id: str, now: float) -> bool:
        """A held action (see `held_actions`) is done; whether it was running."""
        done = self.book.finish(action_id)
        self._dirty = self._dirty or done
        return done

    def actions_here(self) -> list[Action]:
        """The actions of the order node the truck last passed (its work there)."""
        node = self.book.node(self.book.last_node_sequence_id)
        return [] if node is None else list(node.actions)

    # -- messages

    def last_node(self) -> tuple[str, int]:
        """(lastNodeId, lastNodeSequenceId) as the state reports them."""
        book, standing = self.book, self._standing
        if standing is None or book.executing() or standing == book.last_node_id:
            return book.last_node_id, book.last_node_sequence_id
        return standing, 0

    def tick(self, now: float) -> list[Message]:
        """A state when `state_interval_s` has passed since the last, or something changed."""
        self._refresh(now)
        signature = self._signature(now)
        due = now - self._last_state_at >= self.state_interval_s
        if due or self._dirty or signature != self._last_signature:
            return [self._state_message(now, signature)]
        return []

    def state_message(self, now: float) -> State:
        """A state to send now, with the next header id (restarts the interval)."""
        self._refresh(now)
        return self._state_message(now, self._signature(now))

    def _state_message(self, now: float, signature: tuple[object, ...]) -> State:
        state = self.build_state(now, self.header_ids.next(topic_name(State)))
        self._last_state_at, self._last_signature, self._dirty = now, signature, False
        return state

    def build_state(self, now: float, header_id: int = 0) -> State:
        """The state as it is at `now` (takes no header id of its own)."""
        truck, book, where = self.truck, self.book, self.where
        last_node_id, last_sequence_id = self.last_node()
        distance = self.progress.distance_since_last_node
        cfg = self.map_config
        state = make_state(
            truck.manufacturer,
            truck.serial_number,
            starter_battery(truck.battery_volts),
            header_id=header_id,
            timestamp=self._stamp(now),
            order_id=book.order_id,
            order_update_id=book.order_update_id,
            last_node_id=last_node_id,
            last_node_sequence_id=last_sequence_id,
            distance_since_last_node=None if distance is None else round(distance, 2),
            node_states=list(book.node_states),
            edge_states=list(book.edge_states),
            action_states=[msgspec.structs.replace(a) for a in book.action_states],
            driving=self.progress.driving,
            paused=book.paused,
            position=self._position(),
            velocity=None
            if where is None or where.speed_mps is None
            else Velocity(vx=round(where.speed_mps, 3)),
            errors=self._errors(now),
            telemetry=self._telemetry(now),
        )
        maps = [Map(map_id=cfg.map_id, map_version=cfg.map_version, map_status=MapStatus.ENABLED)]
        return msgspec.structs.replace(state, maps=maps)

    def connection(self, state: ConnectionState, now: float) -> Connection:
        """A connection message (ONLINE on start, OFFLINE on an orderly stop)."""
        truck = self.truck
        return make_connection(
            truck.manufacturer,
            truck.serial_number,
            state,
            header_id=self.header_ids.next(topic_name(Connection)),
            timestamp=self._stamp(now),
            boot_id=self.boot_id,
        )

    def factsheet(self, now: float) -> Factsheet:
        """The truck's factsheet, with the boot id."""
        truck = self.truck
        sheet = make_factsheet(
            truck.manufacturer,
            truck.serial_number,
            driver=Driver.AUTONOMOUS if self.autonomous else Driver.HUMAN,
            tank_litres=truck.tank_litres,
            header_id=self.header_ids.next(topic_name(Factsheet)),
            timestamp=self._stamp(now),
        )
        facts = sheet.yardfleet
        if facts is None:
            return sheet
        return msgspec.structs.replace(
            sheet, yardfleet=msgspec.structs.replace(facts, boot_id=self.boot_id)
        )

    def _stamp(self, now: float) -> datetime:
        return self.utc_at_zero + timedelta(seconds=now)

    def _signature(self, now: float) -> tuple[object, ...]:
        """What, when it changes, makes a state worth sending at once."""
        book = self.book
        return (
            book.order_id,
            book.order_update_id,
            self.last_node(),
            len(book.node_states),
            len(book.edge_states),
            book.paused,
            self.progress.driving,
            tuple((a.action_id, a.action_status) for a in book.action_states),
            tuple(e.error_type for e in self._errors(now)),
            now < self._loss_until,
        )

    def _errors(self, now: float) -> list[Error]:
        errors = [*self.book.errors, *self._conditions.values()]
        fuel = self._fuel_reading
        if fuel is not None and not fuel.valid:
            errors.append(_warning(FUEL_SENSOR_FAULT, f"fuel sensor {fuel.source}: {fuel.reason}"))
        if self.link_lost(now):
            errors.append(self._link_lost_warning())
        if self.no_fix_since is not None:
            errors.append(self._no_fix_error())
        return errors

    def _no_fix_error(self) -> Error:
        if not self.autonomous:
            return _warning(NO_FIX, "no GNSS fix: the position is the last known one")
        return Error(
            error_type=NO_FIX,
            error_description="no GNSS fix: standing where it is until the fix returns",
            error_level=ErrorLevel.FATAL,
        )

    def _link_lost_warning(self) -> Error:
        what = f"no dispatcher for over {self.link_lost_stop_s:g} s"
        stop = self._link_stop
        if not self.autonomous:
            return _warning(LINK_LOST, f"{what}: drive on with care, no new orders arrive")
        if stop is None or not stop[0]:
            return _warning(LINK_LOST, f"{what}: standing")
        return Error(
            error_type=LINK_LOST,
            error_description=f"{what}: stopping at node {stop[0]}",
            error_references=[
                ErrorReference(reference_key="nodeId", reference_value=stop[0]),
                ErrorReference(reference_key="sequenceId", reference_value=str(stop[1])),
            ],
            error_level=ErrorLevel.WARNING,
        )

    def _position(self) -> AgvPosition | None:
        where, gnss = self.where, self.gnss
        if where is None:
            return None
        map_id = self.map_config.map_id
        if gnss is None:  # a typed position (the simulator): no receiver, no deviation
            initialized = self.no_fix_since is None
            theta = max(-PI, min(PI, round(self._theta, 4)))
            return AgvPosition(
                x=round(where.x, 3),
                y=round(where.y, 3),
                theta=theta,
                map_id=map_id,
                position_initialized=initialized,
            )
        initialized = gnss.latitude is not None
        return agv_position(where.x, where.y, self._theta, gnss, map_id, initialized=initialized)

    def _telemetry(self, now: float, *, with_travel: bool = True) -> TruckTelemetry:
        odometer = round(self.odometer_m, 1)
        return TruckTelemetry(
            fuel=self._fuel_now(now),
            gnss=self.gnss,
            travel=Travel(odometer=odometer, trip_distance=odometer) if with_travel else None,
            boot_id=self.boot_id,
        )

    def _fuel_now(self, now: float) -> Fuel | None:
        reading = self._fuel_valid
        if reading is None:
            return None
        loss = FuelLoss.THEFT if now < self._loss_until else FuelLoss.NONE
        return fuel_extension(reading, self.truck.tank_litres, loss)


def _warning(error_type: str, description: str) -> Error:
    return Error(
        error_type=error_type, error_description=description, error_level=ErrorLevel.WARNING
    )

"""The onboard agent: GNSS and fuel in, map-matched state and visualization out, orders in.

Threads: the GNSS port's reader (decode, map-match, progress, one visualization per
fix), the fuel runner's (latest litres, theft detector), the link's (ZeroMQ; orders
and instant actions are handled there) and the state thread (state every
`state_interval_s`, and at once when something in it changed). Everything sent goes
through the spool first (`drivers.agent.spool`), so nothing is lost while the link is
down. `start()` sends connection ONLINE; `stop()` sends a last state and connection
OFFLINE, then waits (bounded) until the dispatcher has acknowledged the whole spool.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from drivers.agent.config import AgentConfig, ConfigError
from drivers.agent.link import Link, LinkSettings
from drivers.agent.orders import OrderBook, Verdict
from drivers.agent.progress import Progress, Whereabouts
from drivers.agent.spool import Spool
from drivers.agent.telemetry import (
    agv_position,
    fuel_extension,
    gnss_extension,
    has_position,
    theta_of_track,
)
from drivers.fuel.calibration import Calibration
from drivers.fuel.reading import FuelReading
from drivers.fuel.theft import FuelDropEvent, TheftConfig
from drivers.gnss import Fix, GnssDecoder
from drivers.serialport import SerialLink
from fleet.protocol.battery import starter_battery
from fleet.protocol.builders import (
    make_connection,
    make_factsheet,
    make_state,
    make_visualization,
)
from fleet.protocol.codec import Message, decode, encode, topic_name
from fleet.protocol.connection import ConnectionState
from fleet.protocol.errors import ProtocolError
from fleet.protocol.extensions import Fuel, FuelLoss, Gnss, Travel, TruckTelemetry
from fleet.protocol.geometry import AgvPosition, Velocity
from fleet.protocol.header import HeaderIds
from fleet.protocol.instant_actions import InstantActions
from fleet.protocol.link import new_boot_id
from fleet.protocol.order import Order
from fleet.protocol.state import Error, ErrorLevel, Map, MapStatus, State
from fleet.protocol.topics import topic
from maps.geojson import load_yard
from maps.matching import MapMatcher
from maps.model import Yard
from maps.terminals import terminal

if TYPE_CHECKING:
    from drivers.fuel.runner import FuelRunner

__all__ = ["Agent", "load_map"]

log = logging.getLogger(__name__)

TICK_S = 0.05
"""How often the state thread looks for changes."""
LOSS_HOLD_S = 600.0
"""How long a detected fuel drop is reported (`yardfleet.fuel.loss`)."""
MAX_JUMP_M = 100.0
"""A jump between fixes longer than this is not driven distance (a lost fix, a re-fix)."""


def load_map(config: AgentConfig) -> Yard:
    """The yard the configuration names: an embedded terminal or a GeoJSON file."""
    cfg = config.map
    if cfg.terminal is not None:
        yard = terminal(cfg.terminal)
    else:
        assert cfg.file is not None  # the configuration has one of the two
        yard = load_yard(cfg.file)
    if yard.version != cfg.map_version:
        raise ConfigError(
            f"{config.source}: [map] map_version: {cfg.map_version!r}, but the yard "
            f"{yard.id!r} is version {yard.version!r}"
        )
    return yard


class Agent:
    """One truck's onboard agent; `start()`, then `stop()` (from a signal handler's caller)."""

    def __init__(self, config: AgentConfig, *, yard: Yard | None = None) -> None:
        self.config = config
        self.yard = yard if yard is not None else load_map(config)
        self.boot_id = new_boot_id()
        self.matcher = MapMatcher(self.yard, max_distance_m=config.map.max_distance_m)
        self.book = OrderBook(config.map.map_id, config.map.node_tolerance_m)
        self.progress = Progress(config.map.node_tolerance_m, self._yard_node)
        fuel = config.fuel
        # Everything that can refuse to start is read before the spool is created on disk.
        self.calibration = (
            None
            if fuel is None or fuel.calibration is None
            else Calibration.from_csv(fuel.calibration)
        )
        self.spool = Spool(config.spool.path, config.spool.max_bytes)
        d = config.dispatcher
        self.link = Link(
            self.spool,
            LinkSettings(
                endpoint=d.endpoint,
                routing_id=config.truck.serial_number,
                heartbeat_s=d.heartbeat_s,
                heartbeat_timeout_s=d.heartbeat_timeout_s,
                heartbeat_ttl_s=d.heartbeat_ttl_s,
                reconnect_s=d.reconnect_s,
                reconnect_max_s=d.reconnect_max_s,
                ack_timeout_s=d.ack_timeout_s,
            ),
            self._on_message,
        )
        self.decoder = GnssDecoder()
        self.gnss_port = SerialLink(
            config.gnss.port, self._on_gnss_bytes, baudrate=config.gnss.baudrate, max_backoff_s=1.0
        )
        self.fuel: FuelRunner | None = None
        self.header_ids = HeaderIds()
        self.fixes = 0
        self._lock = threading.RLock()  # the order book, progress and latest readings
        self._publish_lock = threading.Lock()  # header ids and spool order agree
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._state_thread = threading.Thread(target=self._state_loop, name="state", daemon=True)
        self._where: Whereabouts | None = None
        self._gnss: Gnss | None = None
        self._theta = 0.0
        self._fuel_reading: FuelReading | None = None  # the latest, valid or not
        self._fuel_valid: FuelReading | None = None  # the latest valid one
        self._loss_until = 0.0
        self._odometer = 0.0
        self._seen_drops = 0
        self._spool_warning = False
        self._started = False

    # -- life

    def start(self) -> Agent:
        """Open the ports, connect, say ONLINE and start reporting."""
        self._publish_connection(ConnectionState.ONLINE)
        self.link.start()
        self.gnss_port.start()
        self.fuel = self._make_fuel()
        if self.fuel is not None:
            self.fuel.start()
        self._started = True
        self._state_thread.start()
        self._changed.set()
        log.info(
            "agent %s (boot %s) started: gnss %s, dispatcher %s",
            self.config.truck.serial_number,
            self.boot_id,
            self.config.gnss.port,
            self.config.dispatcher.endpoint,
        )
        return self

    def stop(self, flush_timeout_s: float | None = None) -> bool:
        """Stop reading, send a last state and OFFLINE, flush the spool; True if all was acked."""
        timeout = self.config.dispatcher.flush_timeout_s
        if flush_timeout_s is not None:
            timeout = flush_timeout_s
        self._stopping.set()
        if self._started:
            self._state_thread.join(2.0)
            self.gnss_port.stop()
        if self.fuel is not None:
            self.fuel.stop()
        self._publish_state()
        self._publish_connection(ConnectionState.OFFLINE)
        flushed = self.link.wait_empty(timeout)
        self.link.stop()
        if not flushed:
            log.warning(
                "%d messages still in the spool; they go out after the next start", len(self.spool)
            )
        self.spool.close()
        return flushed

    def _make_fuel(self) -> FuelRunner | None:
        cfg = self.config.fuel
        if cfg is None:
            return None
        from drivers.fuel.runner import FuelRunner  # late: no sensor, no protocol modules

        return FuelRunner(
            cfg.port,
            cfg.protocol,
            address=cfg.address,
            baudrate=cfg.baudrate,
            calibration=self.calibration,
            poll_s=cfg.poll_s,
            timeout_s=cfg.timeout_s,
            on_reading=self._on_fuel,
            theft=TheftConfig(),
            on_event=self._on_drop,
        )

    # -- sending

    def _publish(self, build: Callable[[int], Message]) -> bool:
        """Build a message with the next header id of its topic and spool it."""
        with self._publish_lock:
            probe = build(0)
            name = topic_name(probe)
            header_id = self.header_ids.next(name)
            message = msgspec.structs.replace(probe, header_id=header_id)
            truck = self.config.truck
            address = topic(truck.manufacturer, truck.serial_number, name)
            return self.spool.append(name, address, header_id, self.boot_id, encode(message))

    def _publish_connection(self, state: ConnectionState) -> None:
        truck = self.config.truck
        self._publish(
            lambda h: make_connection(
                truck.manufacturer, truck.serial_number, state, header_id=h, boot_id=self.boot_id
            )
        )

    def _telemetry(self, *, with_travel: bool = True) -> TruckTelemetry:
        return TruckTelemetry(
            fuel=self._fuel_now(),
            gnss=self._gnss,
            travel=Travel(odometer=round(self._odometer, 1), trip_distance=round(self._odometer, 1))
            if with_travel
            else None,
            boot_id=self.boot_id,
        )

    def _fuel_now(self) -> Fuel | None:
        reading = self._fuel_valid
        if reading is None:
            return None
        loss = FuelLoss.THEFT if time.monotonic() < self._loss_until else FuelLoss.NONE
        return fuel_extension(reading, self.config.truck.tank_litres, loss)

    def _position(self) -> AgvPosition | None:
        where, gnss = self._where, self._gnss
        if where is None or gnss is None:
            return None
        initialized = gnss.latitude is not None
        return agv_position(
            where.x, where.y, self._theta, gnss, self.config.map.map_id, initialized=initialized
        )

    def _errors(self) -> list[Error]:
        errors = list(self.book.errors)
        if not self.gnss_port.stats.connected:
            errors.append(
                Error(
                    error_type="gnssPortDown",
                    error_description=f"GNSS port {self.config.gnss.port} is not open",
                    error_level=ErrorLevel.WARNING,
                )
            )
        fuel = self._fuel_reading
        if fuel is not None and not fuel.valid:
            errors.append(
                Error(
                    error_type="fuelSensorFault",
                    error_description=f"fuel sensor {fuel.source}: {fuel.reason}",
                    error_level=ErrorLevel.WARNING,
                )
            )
        dropped = self.spool.stats.dropped
        if dropped > self._seen_drops:
            self._seen_drops, self._spool_warning = dropped, True
        elif self._spool_warning and self.spool.used_bytes < self.spool.max_bytes // 2:
            self._spool_warning = False
        if self._spool_warning:
            errors.append(
                Error(
                    error_type="spoolFull",
                    error_description=(
                        f"spool full ({self.spool.max_bytes} bytes): {dropped} visualization "
                        "messages dropped, state kept"
                    ),
                    error_level=ErrorLevel.WARNING,
                )
            )
        return errors

    def build_state(self, header_id: int = 0) -> State:
        """The state as it is now."""
        truck, book = self.config.truck, self.book
        with self._lock:
            where = self._where
            state = make_state(
                truck.manufacturer,
                truck.serial_number,
                starter_battery(truck.battery_volts),
                header_id=header_id,
                order_id=book.order_id,
                order_update_id=book.order_update_id,
                last_node_id=book.last_node_id,
                last_node_sequence_id=book.last_node_sequence_id,
                node_states=list(book.node_states),
                edge_states=list(book.edge_states),
                action_states=[msgspec.structs.replace(a) for a in book.action_states],
                driving=self.progress.driving,
                paused=book.paused,
                position=self._position(),
                velocity=None
                if where is None or where.speed_mps is None
                else Velocity(vx=round(where.speed_mps, 3)),
                errors=self._errors(),
                telemetry=self._telemetry(),
            )
            distance = self.progress.distance_since_last_node
        cfg = self.config.map
        return msgspec.structs.replace(
            state,
            maps=[
                Map(map_id=cfg.map_id, map_version=cfg.map_version, map_status=MapStatus.ENABLED)
            ],
            distance_since_last_node=None if distance is None else round(distance, 2),
        )

    def _publish_state(self) -> None:
        self._publish(self.build_state)

    def _signature(self) -> tuple[object, ...]:
        """What, when it changes, makes a state worth sending at once."""
        book = self.book
        return (
            book.order_id,
            book.order_update_id,
            book.last_node_sequence_id,
            len(book.node_states),
            len(book.edge_states),
            book.paused,
            self.progress.driving,
            tuple((a.action_id, a.action_status) for a in book.action_states),
            tuple(e.error_type for e in self._errors()),
            time.monotonic() < self._loss_until,
        )

    def _state_loop(self) -> None:
        interval = self.config.state_interval_s
        last_sent = -math.inf
        last_signature: tuple[object, ...] = ()
        while not self._stopping.is_set():
            self._changed.wait(TICK_S)
            with self._lock:
                signature = self._signature()
            due = time.monotonic() - last_sent >= interval
            if due or self._changed.is_set() or signature != last_signature:
                self._changed.clear()
                self._publish_state()
                last_sent, last_signature = time.monotonic(), signature

    # -- sensors

    def _yard_node(self, node_id: str) -> tuple[float, float] | None:
        node = self.yard.nodes.get(node_id)
        return None if node is None else (node.x, node.y)

    def _on_gnss_bytes(self, data: bytes) -> None:
        for fix in self.decoder.feed(data):
            self._on_fix(fix)

    def _on_fix(self, fix: Fix) -> None:
        self.fixes += 1
        gnss = gnss_extension(fix)
        with self._lock:
            self._gnss = gnss
            if not has_position(fix):
                return
            assert fix.longitude is not None and fix.latitude is not None
            x, y = self.yard.frame.point_to_local(fix.longitude, fix.latitude)
            course = fix.heading_deg if fix.heading_deg is not None else fix.track_deg
            match = self.matcher.match_one(x, y, course)
            where = Whereabouts(
                x=x,
                y=y,
                speed_mps=fix.speed_mps,
                lane_id=match.lane_id,
                offset_m=match.offset_m if match.matched else None,
                snap_x=match.snap_x if match.matched else None,
                snap_y=match.snap_y if match.matched else None,
            )
            previous = self._where
            if previous is not None:
                step = math.hypot(x - previous.x, y - previous.y)
                if step <= MAX_JUMP_M and (fix.speed_mps or 0.0) >= self.progress.moving_mps:
                    self._odometer += step
            if course is not None:
                self._theta = theta_of_track(course)
            if self.fuel is not None and fix.speed_mps is not None:
                self.fuel.set_speed(fix.speed_mps * 3.6)  # for the theft/leak watch
            self._where = where
            if self.progress.update(self.book, where):
                self._changed.set()
            position = self._position()
            telemetry = self._telemetry(with_travel=False)
        if position is None:
            return
        truck = self.config.truck
        speed = fix.speed_mps
        self._publish(
            lambda h: make_visualization(
                truck.manufacturer,
                truck.serial_number,
                position,
                velocity=None if speed is None else Velocity(vx=round(speed, 3)),
                telemetry=telemetry,
                header_id=h,
            )
        )

    def _on_fuel(self, reading: FuelReading) -> None:
        with self._lock:
            self._fuel_reading = reading
            if not reading.valid or reading.litres is None:
                return
            self._fuel_valid = reading

    def _on_drop(self, event: FuelDropEvent) -> None:
        """The fuel runner's theft/leak watch saw litres fall while the truck stood."""
        log.warning(
            "fuel dropped by %.1f L while standing: possible theft or leak", event.litres_lost
        )
        self._loss_until = time.monotonic() + LOSS_HOLD_S
        self._changed.set()

    # -- from the dispatcher

    def _on_message(self, address: str, body: bytes) -> None:
        try:
            message = decode(address, body)
        except ProtocolError as exc:
            log.warning("rejected a message on %s: %s", address, exc)
            with self._lock:
                self.book.malformed(address, str(exc))
            self._changed.set()
            return
        if isinstance(message, Order):
            self._on_order(message)
        elif isinstance(message, InstantActions):
            self._on_instant_actions(message)
        else:
            log.warning("ignored a %s from the dispatcher", topic_name(message))

    def _on_order(self, order: Order) -> None:
        with self._lock:
            where = self._where
            verdict = self.book.receive_order(order, None if where is None else where.point)
            if verdict in (Verdict.ACCEPTED, Verdict.UPDATED) and where is not None:
                self.progress.update(self.book, where)
        log.info("order %s/%d: %s", order.order_id, order.order_update_id, verdict.value)
        if verdict is not Verdict.IGNORED:
            self._changed.set()

    def _on_instant_actions(self, message: InstantActions) -> None:
        with self._lock:
            done = self.book.receive_instant_actions(message)
        if "factsheetRequest" in done:
            self._publish_factsheet()
        self._changed.set()

    def _publish_factsheet(self) -> None:
        truck = self.config.truck

        def build(h: int) -> Message:
            sheet = make_factsheet(
                truck.manufacturer, truck.serial_number, tank_litres=truck.tank_litres, header_id=h
            )
            facts = sheet.yardfleet
            if facts is None:
                return sheet
            return msgspec.structs.replace(
                sheet, yardfleet=msgspec.structs.replace(facts, boot_id=self.boot_id)
            )

        self._publish(build)

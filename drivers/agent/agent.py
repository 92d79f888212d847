"""The onboard agent's shell: serial ports, the spool, the link and the clock around the core.

`drivers.agent.core.AgentCore` does the thinking; this module does the I/O and the
timing. Threads: the GNSS port's reader (NMEA bytes → fixes → the core), the fuel
runner's (readings and the theft/leak watch → the core), the link's (ZeroMQ; orders,
instant actions and the link's up/down → the core) and the state thread (asks the core
every `TICK_S` whether a state is due, and reports the GNSS port and the spool to it).
One lock guards the core; every event reaches it with `time.monotonic()`. Everything the
core returns goes through the spool (`drivers.agent.spool`), in the order of its header
ids, so nothing is lost while the link is down. `start()` sends connection ONLINE;
`stop()` sends a last state and connection OFFLINE, then waits (bounded) until the
dispatcher has acknowledged the whole spool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from drivers.agent.config import AgentConfig, ConfigError
from drivers.agent.core import AgentCore, DriveCommand
from drivers.agent.link import Link, LinkSettings, curve_keys
from drivers.agent.orders import OrderBook
from drivers.agent.progress import Progress, Whereabouts
from drivers.agent.spool import Spool
from drivers.fuel.calibration import Calibration
from drivers.fuel.reading import FuelReading
from drivers.fuel.theft import FuelDropEvent, TheftConfig
from drivers.gnss import Fix, GnssDecoder
from drivers.serialport import PortEvent, SerialLink
from fleet.keys import KeyFileError
from fleet.protocol.codec import Message, encode, topic_name
from fleet.protocol.connection import ConnectionState
from fleet.protocol.header import HeaderIds
from fleet.protocol.link import new_boot_id
from fleet.protocol.state import State
from fleet.protocol.timestamps import utc_now
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
"""How often the state thread asks the core whether a state is due."""
PORT_LOG_EVERY_S = 5.0
"""A port that stays unopenable is logged at once, then at most this often (each line says
how many attempts failed in a row)."""


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


def _log_port(what: str, event: PortEvent) -> None:
    """A port event in the log: WARNING while the port is not usable, INFO when it is back."""
    log.log(logging.WARNING if event.trouble else logging.INFO, "%s %s", what, event)


class Agent:
    """One truck's onboard agent; `start()`, then `stop()` (from a signal handler's caller)."""

    def __init__(self, config: AgentConfig, *, yard: Yard | None = None) -> None:
        self.config = config
        self.yard = yard if yard is not None else load_map(config)
        self.boot_id = new_boot_id()
        # Header timestamps follow the monotonic clock from the UTC time of this start.
        self.core = AgentCore.from_config(
            config,
            self.yard,
            boot_id=self.boot_id,
            utc_at_zero=utc_now() - timedelta(seconds=time.monotonic()),
        )
        fuel = config.fuel
        # Everything that can refuse to start is read before the spool is created on disk.
        self.calibration = (
            None
            if fuel is None or fuel.calibration is None
            else Calibration.from_csv(fuel.calibration)
        )
        d = config.dispatcher
        try:
            curve = curve_keys(d.key, d.dispatcher_key)
        except KeyFileError as exc:
            raise ConfigError(f"{config.source}: [dispatcher] key: {exc}") from None
        self.spool = Spool(config.spool.path, config.spool.max_bytes)
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
                curve=curve,
            ),
            self._on_message,
            self._on_link,
        )
        self.decoder = GnssDecoder()
        self.gnss_port = SerialLink(
            config.gnss.port,
            self._on_gnss_bytes,
            baudrate=config.gnss.baudrate,
            max_backoff_s=1.0,
            on_event=lambda event: _log_port("gnss", event),
            report_every_s=PORT_LOG_EVERY_S,
        )
        self.fuel: FuelRunner | None = None
        self._lock = threading.RLock()  # the core, and spooling in its header ids' order
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._state_thread = threading.Thread(target=self._state_loop, name="state", daemon=True)
        self._started = False

    # -- the core's parts, as before the split

    @property
    def book(self) -> OrderBook:
        """The order book (the core's)."""
        return self.core.book

    @property
    def progress(self) -> Progress:
        """Progress along the order (the core's)."""
        return self.core.progress

    @property
    def matcher(self) -> MapMatcher:
        """The map matcher (the core's)."""
        return self.core.matcher

    @property
    def header_ids(self) -> HeaderIds:
        """Header ids per topic (the core's)."""
        return self.core.header_ids

    @property
    def fixes(self) -> int:
        """Fixes decoded so far."""
        return self.core.fixes

    @property
    def _where(self) -> Whereabouts | None:
        return self.core.where

    # -- life

    def start(self) -> Agent:
        """Open the ports, connect, say ONLINE and start reporting."""
        with self._lock:
            now = time.monotonic()
            self.core.on_link(False, now)  # until the link says it is up
            self._spool([self.core.connection(ConnectionState.ONLINE, now)])
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
        with self._lock:
            now = time.monotonic()
            self._report_conditions(now)
            self._spool(
                [self.core.state_message(now), self.core.connection(ConnectionState.OFFLINE, now)]
            )
        flushed = self.link.wait_empty(timeout)
        self.link.stop()  # not under the lock: its thread reports the link down on the way out
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
            on_port=lambda event: _log_port("fuel", event),
            report_every_s=PORT_LOG_EVERY_S,
        )

    # -- to the core and back

    def _spool(self, messages: Iterable[Message]) -> None:
        """Spool what the core returned, in its order (call with the lock held)."""
        truck = self.config.truck
        for message in messages:
            name = topic_name(message)
            address = topic(truck.manufacturer, truck.serial_number, name)
            header_id = message.header_id
            assert header_id is not None  # the core numbers every message it makes
            self.spool.append(name, address, header_id, self.boot_id, encode(message))

    def build_state(self, header_id: int = 0) -> State:
        """The state as it is now."""
        with self._lock:
            return self.core.build_state(time.monotonic(), header_id)

    def command(self) -> DriveCommand:
        """How far the truck may drive now."""
        with self._lock:
            return self.core.command(time.monotonic())

    def _report_conditions(self, now: float) -> None:
        """The GNSS port's and the spool's condition, to the core."""
        self.core.on_gnss_port(self.gnss_port.stats.connected, now, self.config.gnss.port)
        spool = self.spool
        self.core.on_spool(spool.stats.dropped, spool.used_bytes, spool.max_bytes, now)

    def _state_loop(self) -> None:
        while not self._stopping.is_set():
            self._changed.wait(TICK_S)
            self._changed.clear()
            with self._lock:
                now = time.monotonic()
                self._report_conditions(now)
                self._spool(self.core.tick(now))

    def _on_gnss_bytes(self, data: bytes) -> None:
        for fix in self.decoder.feed(data):
            self._on_fix(fix)

    def _on_fix(self, fix: Fix) -> None:
        with self._lock:
            self._spool(self.core.on_fix(fix, time.monotonic()))
        if self.fuel is not None and fix.speed_mps is not None:
            self.fuel.set_speed(fix.speed_mps * 3.6)  # for the theft/leak watch
        self._changed.set()

    def _on_fuel(self, reading: FuelReading) -> None:
        with self._lock:
            self.core.on_fuel(reading, time.monotonic())

    def _on_drop(self, event: FuelDropEvent) -> None:
        with self._lock:
            self.core.on_fuel_drop(event, time.monotonic())
        self._changed.set()

    def _on_message(self, address: str, body: bytes) -> None:
        with self._lock:
            self._spool(self.core.on_message(address, body, time.monotonic()))
        self._changed.set()

    def _on_link(self, up: bool) -> None:
        with self._lock:
            self.core.on_link(up, time.monotonic())
        self._changed.set()

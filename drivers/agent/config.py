"""The onboard agent's TOML configuration, read with tomllib and checked key by key.

Every problem raises `ConfigError` naming the file and the key (`[gnss] baudrate`), so a
truck that will not start says why. Relative paths (map file, calibration, spool) are
taken relative to the configuration file's folder.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fleet.protocol.extensions import Driver

__all__ = [
    "AgentConfig",
    "ConfigError",
    "DispatcherConfig",
    "FuelConfig",
    "GnssConfig",
    "MapConfig",
    "SpoolConfig",
    "TruckConfig",
    "load_config",
    "parse_config",
]

DEFAULT_SPOOL_BYTES = 1 << 30
"""The spool's default bound: 1 GiB."""
DEFAULT_LINK_LOST_STOP_S = 10.0
"""How long an autonomous truck drives on without the dispatcher before it stops at a node."""
_SERIAL = re.compile(r"^[A-Za-z0-9_.:\-]+$")
_LEVEL = re.compile(r"^[^/$+#]+$")
FUEL_PROTOCOLS = ("lls", "modbus", "j1939")
DRIVERS = ("human", "autonomous")

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class TruckConfig:
    """Who the truck is: its VDA 5050 serialNumber (also its ZeroMQ routing id), who drives."""

    serial_number: str
    manufacturer: str
    tank_litres: float
    battery_volts: float
    driver: Driver = Driver.HUMAN
    """A person guided by the cab's display, or the vehicle itself."""

    @property
    def autonomous(self) -> bool:
        """Whether the vehicle drives itself (and so stops by itself when the link is lost)."""
        return self.driver is Driver.AUTONOMOUS


@dataclass(frozen=True, slots=True)
class MapConfig:
    """The yard to map-match on: an embedded terminal or a GeoJSON file, and its id/version."""

    terminal: str | None
    file: Path | None
    map_id: str
    map_version: str
    max_distance_m: float
    node_tolerance_m: float


@dataclass(frozen=True, slots=True)
class GnssConfig:
    """The GNSS receiver's port (any pyserial URL) and baud rate."""

    port: str
    baudrate: int


@dataclass(frozen=True, slots=True)
class FuelConfig:
    """The fuel sensor's port, protocol, bus address, calibration table and poll period."""

    port: str
    protocol: str
    address: int
    baudrate: int | None
    calibration: Path | None
    poll_s: float
    timeout_s: float


@dataclass(frozen=True, slots=True)
class DispatcherConfig:
    """Where the dispatcher's ROUTER listens and how the link keeps itself alive."""

    endpoint: str
    heartbeat_s: float
    heartbeat_timeout_s: float
    heartbeat_ttl_s: float
    reconnect_s: float
    reconnect_max_s: float
    ack_timeout_s: float
    flush_timeout_s: float
    link_lost_stop_s: float | None = DEFAULT_LINK_LOST_STOP_S
    """After this long without the dispatcher an autonomous truck stops at the next node
    of its base and a driver is warned; None: never."""


@dataclass(frozen=True, slots=True)
class SpoolConfig:
    """The on-disk spool: where, and how many bytes of messages it may hold."""

    path: Path
    max_bytes: int


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything `yardfleet agent` needs; `fuel` None runs without a fuel sensor."""

    truck: TruckConfig
    map: MapConfig
    gnss: GnssConfig
    fuel: FuelConfig | None
    dispatcher: DispatcherConfig
    state_interval_s: float
    spool: SpoolConfig
    source: str = "<config>"


class _Table:
    """One TOML table, read key by key; unknown keys are errors (a typo must not pass)."""

    def __init__(self, data: dict[str, Any], name: str, source: str) -> None:
        self.data = data
        self.name = name
        self.source = source
        self.used: set[str] = set()

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(f"{self.source}: [{self.name}] {key}: {reason}")

    def _get(self, key: str, kind: type[T], what: str, default: T | None) -> T | None:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(key, f"expected {what}, got {value!r}")
        return value

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str:
        value = self._get(key, str, "a string", default)
        if value is None or (required and not value):
            raise self.error(key, "missing (required)")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self._get(key, str, "a string", None)
        if value == "":
            raise self.error(key, "must not be empty")
        return value

    def number(
        self, key: str, default: float, *, minimum: float = 0.0, above: bool = True
    ) -> float:
        value = self._get(key, float, "a number", default)
        assert value is not None
        if math.isnan(value) or (value <= minimum if above else value < minimum):
            sign = ">" if above else ">="
            raise self.error(key, f"must be {sign} {minimum:g}, got {value!r}")
        return value

    def optional_number(self, key: str, default: float) -> float | None:
        """A number > 0, or `false` for "never" (None)."""
        if self.data.get(key) is False:
            self.used.add(key)
            return None
        if isinstance(self.data.get(key), bool):
            raise self.error(key, "expected a number or false")
        return self.number(key, default)

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        """A string out of `choices`."""
        value = self.text(key, default, required=True)
        if value not in choices:
            raise self.error(key, f"{value!r}: expected one of {', '.join(choices)}")
        return value

    def integer(self, key: str, default: int | None, *, low: int, high: int) -> int | None:
        value = self._get(key, int, "an integer", default)
        if value is not None and not low <= value <= high:
            raise self.error(key, f"must be within {low}..{high}, got {value}")
        return value

    def path(self, key: str, base: Path, default: str | None = None) -> Path | None:
        value = self.optional_text(key) if default is None else self.text(key, default)
        if value is None:
            return None
        path = Path(value).expanduser()
        return path if path.is_absolute() else base / path

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.error(unknown[0], f"unknown key (known: {', '.join(sorted(self.used))})")


def _table(doc: dict[str, Any], name: str, source: str, *, required: bool = True) -> _Table | None:
    if name not in doc:
        if required:
            raise ConfigError(f"{source}: [{name}]: missing table (required)")
        return None
    data = doc[name]
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: [{name}]: expected a table, got {data!r}")
    return _Table(data, name, source)


def parse_config(doc: dict[str, Any], *, base: Path, source: str = "<config>") -> AgentConfig:
    """A checked configuration from a parsed TOML document; paths relative to `base`."""
    known = {"truck", "map", "gnss", "fuel", "dispatcher", "state", "spool"}
    for name in doc:
        if name not in known:
            raise ConfigError(
                f"{source}: [{name}]: unknown table (known: {', '.join(sorted(known))})"
            )

    t = _table(doc, "truck", source)
    assert t is not None
    serial = t.text("serial_number", required=True)
    if not _SERIAL.match(serial):
        raise t.error("serial_number", f"{serial!r}: only A-Z a-z 0-9 _ . : - allowed")
    manufacturer = t.text("manufacturer", "YardFleet", required=True)
    if not _LEVEL.match(manufacturer):
        raise t.error("manufacturer", f"{manufacturer!r}: no / $ + # allowed")
    truck = TruckConfig(
        serial_number=serial,
        manufacturer=manufacturer,
        tank_litres=t.number("tank_litres", 300.0),
        battery_volts=t.number("battery_volts", 24.6),
        driver=Driver(t.choice("driver", "human", DRIVERS).upper()),
    )
    t.done()

    m = _table(doc, "map", source)
    assert m is not None
    terminal = m.optional_text("terminal")
    file = m.path("file", base)
    if (terminal is None) == (file is None):
        raise m.error("terminal", "give exactly one of 'terminal' and 'file'")
    map_cfg = MapConfig(
        terminal=terminal,
        file=file,
        map_id=m.text("map_id", terminal or "", required=True),
        map_version=m.text("map_version", "1", required=True),
        max_distance_m=m.number("max_distance_m", 20.0),
        node_tolerance_m=m.number("node_tolerance_m", 5.0),
    )
    m.done()

    g = _table(doc, "gnss", source)
    assert g is not None
    gnss = GnssConfig(
        port=g.text("port", required=True),
        baudrate=g.integer("baudrate", 115200, low=300, high=4_000_000) or 115200,
    )
    g.done()

    fuel: FuelConfig | None = None
    f = _table(doc, "fuel", source, required=False)
    if f is not None:
        protocol = f.text("protocol", "lls", required=True)
        if protocol not in FUEL_PROTOCOLS:
            raise f.error("protocol", f"{protocol!r}: expected one of {', '.join(FUEL_PROTOCOLS)}")
        fuel = FuelConfig(
            port=f.text("port", required=True),
            protocol=protocol,
            address=f.integer("address", 1, low=0, high=255) or 0,
            baudrate=f.integer("baudrate", None, low=300, high=4_000_000),
            calibration=f.path("calibration", base),
            poll_s=f.number("poll_s", 1.0),
            timeout_s=f.number("timeout_s", 3.0),
        )
        f.done()

    d = _table(doc, "dispatcher", source)
    assert d is not None
    endpoint = d.text("endpoint", required=True)
    if not re.match(r"^(tcp|ipc)://\S+$", endpoint):
        raise d.error("endpoint", f"{endpoint!r}: expected tcp://host:port or ipc://path")
    dispatcher = DispatcherConfig(
        endpoint=endpoint,
        heartbeat_s=d.number("heartbeat_s", 1.0),
        heartbeat_timeout_s=d.number("heartbeat_timeout_s", 3.0),
        heartbeat_ttl_s=d.number("heartbeat_ttl_s", 3.0),
        reconnect_s=d.number("reconnect_s", 0.1),
        reconnect_max_s=d.number("reconnect_max_s", 5.0),
        ack_timeout_s=d.number("ack_timeout_s", 5.0),
        flush_timeout_s=d.number("flush_timeout_s", 5.0),
        link_lost_stop_s=d.optional_number("link_lost_stop_s", DEFAULT_LINK_LOST_STOP_S),
    )
    if dispatcher.reconnect_max_s < dispatcher.reconnect_s:
        raise d.error("reconnect_max_s", "must be >= reconnect_s")
    d.done()

    s = _table(doc, "state", source, required=False) or _Table({}, "state", source)
    interval = s.number("interval_s", 1.0)
    s.done()

    sp = _table(doc, "spool", source, required=False) or _Table({}, "spool", source)
    spool_path = sp.path("path", base, "spool.sqlite")
    assert spool_path is not None
    spool = SpoolConfig(
        path=spool_path,
        max_bytes=sp.integer("max_bytes", DEFAULT_SPOOL_BYTES, low=4096, high=1 << 50)
        or DEFAULT_SPOOL_BYTES,
    )
    sp.done()

    return AgentConfig(truck, map_cfg, gnss, fuel, dispatcher, interval, spool, source)


def load_config(path: str | Path) -> AgentConfig:
    """The configuration in a TOML file; ConfigError names the file, the key and the reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not TOML ({exc})") from None
    return parse_config(doc, base=path.resolve().parent, source=str(path))

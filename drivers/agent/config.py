"""The onboard agent's TOML configuration, read into typed values by `maps.config_files`.

The file's shape is a set of msgspec structs (`_AgentFile` and its tables: types, ranges,
defaults, unknown keys refused); what a type cannot say (the serial number's characters,
exactly one of `[map] terminal` and `file`, the endpoint's scheme) is checked after. Every
problem raises `ConfigError` naming the file and the key (`onboard.toml: [gnss] baudrate:
expected an integer, got 'fast'`), one line each, so a truck that will not start says why.
Relative paths (map file, calibration, spool) are taken relative to the configuration
file's folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

from fleet.protocol.extensions import Driver
from maps.config_files import ConfigFileError, convert, key_name, read_document

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
_ENDPOINT = re.compile(r"^(tcp|ipc)://\S+$")
FuelProtocol = Literal["lls", "modbus", "j1939"]
DriverName = Literal["human", "autonomous"]
FUEL_PROTOCOLS: tuple[str, ...] = get_args(FuelProtocol)
DRIVERS: tuple[str, ...] = get_args(DriverName)


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
    key: Path | None = None
    """CURVE: the truck's own secret certificate (`TT07.key_secret`); None: no CURVE."""
    dispatcher_key: Path | None = None
    """CURVE: the dispatcher's public certificate, pinned: no other dispatcher is obeyed."""


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


# -- the file's shape ---------------------------------------------------------------------

NonEmpty = Annotated[str, Meta(min_length=1)]
Positive = Annotated[float, Meta(gt=0)]
Baudrate = Annotated[int, Meta(ge=300, le=4_000_000)]


class _Table(msgspec.Struct, forbid_unknown_fields=True):
    """A table of the file: unknown keys are errors (a typo must not pass)."""


class _TruckFile(_Table):
    serial_number: NonEmpty
    manufacturer: NonEmpty = "YardFleet"
    tank_litres: Positive = 300.0
    battery_volts: Positive = 24.6
    driver: DriverName = "human"


class _MapFile(_Table):
    terminal: NonEmpty | None = None
    file: NonEmpty | None = None
    map_id: NonEmpty | None = None
    """Defaults to the terminal's name; required with a file."""
    map_version: NonEmpty = "1"
    max_distance_m: Positive = 20.0
    node_tolerance_m: Positive = 5.0


class _GnssFile(_Table):
    port: NonEmpty
    baudrate: Baudrate = 115200


class _FuelFile(_Table):
    port: NonEmpty
    protocol: FuelProtocol = "lls"
    address: Annotated[int, Meta(ge=0, le=255)] = 1
    baudrate: Baudrate | None = None
    calibration: NonEmpty | None = None
    poll_s: Positive = 1.0
    timeout_s: Positive = 3.0


class _DispatcherFile(_Table):
    endpoint: NonEmpty
    heartbeat_s: Positive = 1.0
    heartbeat_timeout_s: Positive = 3.0
    heartbeat_ttl_s: Positive = 3.0
    reconnect_s: Positive = 0.1
    reconnect_max_s: Positive = 5.0
    ack_timeout_s: Positive = 5.0
    flush_timeout_s: Positive = 5.0
    link_lost_stop_s: Positive | bool = DEFAULT_LINK_LOST_STOP_S
    """Seconds, or false for never (true means nothing)."""
    key: NonEmpty | None = None
    dispatcher_key: NonEmpty | None = None


class _StateFile(_Table):
    interval_s: Positive = 1.0


class _SpoolFile(_Table):
    path: NonEmpty = "spool.sqlite"
    max_bytes: Annotated[int, Meta(ge=4096, le=1 << 50)] = DEFAULT_SPOOL_BYTES


class _AgentFile(_Table):
    truck: _TruckFile
    map: _MapFile
    gnss: _GnssFile
    dispatcher: _DispatcherFile
    fuel: _FuelFile | None = None
    """Left out: a truck without a fuel sensor."""
    state: _StateFile = msgspec.field(default_factory=_StateFile)
    spool: _SpoolFile = msgspec.field(default_factory=_SpoolFile)


# -- reading ---------------------------------------------------------------------------------


def _path(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _problems(doc: _AgentFile) -> list[str]:
    """What the types cannot say, one `key: reason` each."""
    out: list[str] = []

    def bad(table: str, key: str, reason: str) -> None:
        out.append(f"{key_name((table, key))}: {reason}")

    if not _SERIAL.match(doc.truck.serial_number):
        bad(
            "truck",
            "serial_number",
            f"{doc.truck.serial_number!r}: only A-Z a-z 0-9 _ . : - allowed",
        )
    if not _LEVEL.match(doc.truck.manufacturer):
        bad("truck", "manufacturer", f"{doc.truck.manufacturer!r}: no / $ + # allowed")
    if (doc.map.terminal is None) == (doc.map.file is None):
        bad("map", "terminal", "give exactly one of 'terminal' and 'file'")
    elif doc.map.terminal is None and doc.map.map_id is None:
        bad("map", "map_id", "missing (required with a file)")
    d = doc.dispatcher
    if not _ENDPOINT.match(d.endpoint):
        bad("dispatcher", "endpoint", f"{d.endpoint!r}: expected tcp://host:port or ipc://path")
    if d.link_lost_stop_s is True:
        bad("dispatcher", "link_lost_stop_s", "expected a number or false, got true")
    if d.reconnect_max_s < d.reconnect_s:
        bad("dispatcher", "reconnect_max_s", "must be >= reconnect_s")
    if (d.key is None) != (d.dispatcher_key is None):
        bad("dispatcher", "key", "give both 'key' and 'dispatcher_key' (CURVE), or neither")
    return out


def parse_config(doc: dict[str, Any], *, base: Path, source: str = "<config>") -> AgentConfig:
    """A checked configuration from a parsed TOML document; paths relative to `base`."""
    try:
        f = convert(doc, _AgentFile, source=source)
        problems = _problems(f)
        if problems:
            raise ConfigFileError(source, problems)
    except ConfigFileError as exc:
        raise ConfigError(str(exc)) from None
    m, d = f.map, f.dispatcher
    fuel = None
    if f.fuel is not None:
        fuel = FuelConfig(
            port=f.fuel.port,
            protocol=f.fuel.protocol,
            address=f.fuel.address,
            baudrate=f.fuel.baudrate,
            calibration=None if f.fuel.calibration is None else _path(f.fuel.calibration, base),
            poll_s=f.fuel.poll_s,
            timeout_s=f.fuel.timeout_s,
        )
    return AgentConfig(
        truck=TruckConfig(
            serial_number=f.truck.serial_number,
            manufacturer=f.truck.manufacturer,
            tank_litres=f.truck.tank_litres,
            battery_volts=f.truck.battery_volts,
            driver=Driver(f.truck.driver.upper()),
        ),
        map=MapConfig(
            terminal=m.terminal,
            file=None if m.file is None else _path(m.file, base),
            map_id=m.map_id or m.terminal or "",
            map_version=m.map_version,
            max_distance_m=m.max_distance_m,
            node_tolerance_m=m.node_tolerance_m,
        ),
        gnss=GnssConfig(port=f.gnss.port, baudrate=f.gnss.baudrate),
        fuel=fuel,
        dispatcher=DispatcherConfig(
            endpoint=d.endpoint,
            heartbeat_s=d.heartbeat_s,
            heartbeat_timeout_s=d.heartbeat_timeout_s,
            heartbeat_ttl_s=d.heartbeat_ttl_s,
            reconnect_s=d.reconnect_s,
            reconnect_max_s=d.reconnect_max_s,
            ack_timeout_s=d.ack_timeout_s,
            flush_timeout_s=d.flush_timeout_s,
            link_lost_stop_s=None if d.link_lost_stop_s is False else float(d.link_lost_stop_s),
            key=None if d.key is None else _path(d.key, base),
            dispatcher_key=None if d.dispatcher_key is None else _path(d.dispatcher_key, base),
        ),
        state_interval_s=f.state.interval_s,
        spool=SpoolConfig(path=_path(f.spool.path, base), max_bytes=f.spool.max_bytes),
        source=source,
    )


def load_config(path: str | Path) -> AgentConfig:
    """The configuration in a TOML file; ConfigError names the file, the key and the reason."""
    path = Path(path)
    try:
        doc = read_document(path, what="the agent configuration")
    except ConfigFileError as exc:
        raise ConfigError(str(exc)) from None
    return parse_config(doc, base=path.resolve().parent, source=str(path))

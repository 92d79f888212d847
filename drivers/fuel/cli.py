"""`yardfleet fuel read --port URL --protocol P`: a fuel sensor's readings live, then its counts.

A port that cannot be opened is said on stderr at once, one line with the port and the OS's
reason, and retried; each failed retry says so again (0.5 s after the first, the wait
doubling up to 5 s), and so does a port that goes away. Ctrl-C prints the counts so far and
exits 130.
"""

from __future__ import annotations

import json
import queue
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from drivers.serialport import PortEvent

from .calibration import Calibration, CalibrationError
from .modbus import RegisterMap, RegisterMapError
from .reading import FuelReading, FuelStats
from .runner import PROTOCOLS, FuelRunner, J1939Extra
from .theft import FuelDropEvent, TheftConfig

INTERRUPTED_EXIT = 130
"""The exit status after Ctrl-C, as a shell gives a command killed by SIGINT."""


@click.group("fuel")
def fuel_group() -> None:
    """Fuel sensors: read LLS, J1939 (SLCAN) and Modbus level sensors as the agent does."""


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _line(reading: FuelReading, extra: J1939Extra | None) -> str:
    """One reading as a readable line."""
    litres = "-- L" if reading.litres is None else f"{reading.litres:.1f} L"
    level = "" if reading.level_raw is None else f"  level {reading.level_raw:g}"
    temp = "" if reading.temperature_c is None else f"  {reading.temperature_c:g} °C"
    state = "valid" if reading.valid else "INVALID"
    why = f" ({reading.reason})" if reading.reason else ""
    text = f"{_iso(reading.time)}  {reading.source}  {litres}{level}{temp}  {state}{why}"
    if extra is not None:
        parts = [
            ("speed", extra.speed_kmh, ".1f", "km/h"),
            ("battery", extra.battery_v, ".2f", "V"),
            ("rate", extra.fuel_rate_lph, ".2f", "L/h"),
            ("used", extra.total_fuel_used_l, ".1f", "L"),
        ]
        text += "".join(
            f"  {name} {'--' if v is None else format(v, fmt)} {unit}"
            for name, v, fmt, unit in parts
        )
    return text


def _json(reading: FuelReading, extra: J1939Extra | None) -> str:
    doc: dict[str, object] = {
        "class": "FUEL",
        "time": _iso(reading.time),
        "source": reading.source,
        "litres": reading.litres,
        "level_raw": reading.level_raw,
        "temperature_c": reading.temperature_c,
        "valid": reading.valid,
        "reason": reading.reason,
    }
    if extra is not None:
        doc.update(
            speed_kmh=extra.speed_kmh,
            battery_v=extra.battery_v,
            fuel_rate_lph=extra.fuel_rate_lph,
            total_fuel_used_l=extra.total_fuel_used_l,
        )
    return json.dumps(doc)


def _event_text(event: FuelDropEvent, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "class": "FUEL_DROP",
                "start": _iso(event.start),
                "end": _iso(event.end),
                "litres_before": event.litres_before,
                "litres_after": event.litres_after,
                "litres_lost": event.litres_lost,
            }
        )
    return (
        f"POSSIBLE THEFT OR LEAK: {event.litres_lost:.1f} L lost while standing, "
        f"{_iso(event.start)} → {_iso(event.end)} ({event.litres_before:.1f} → "
        f"{event.litres_after:.1f} L)"
    )


def summary(stats: FuelStats) -> str:
    """The counts in one line."""
    return (
        f"{stats.frames} frames, {stats.bad_crc} bad CRC, {stats.short_frames} short frames, "
        f"{stats.unknown} unknown (frames or PGNs), {stats.malformed} malformed, "
        f"{stats.timeouts} timeouts, {stats.exceptions} Modbus exceptions, "
        f"{stats.not_available} not available, {stats.garbage_bytes} garbage bytes, "
        f"{stats.bytes} bytes"
    )


@fuel_group.command("read")
@click.option("--port", metavar="URL", required=True, help="/dev/ttyUSB0, a pty, socket://...")
@click.option("--protocol", type=click.Choice(PROTOCOLS), required=True)
@click.option(
    "--address",
    type=click.IntRange(0, 255),
    default=1,
    show_default=True,
    help="LLS network address or Modbus slave id (J1939: not used)",
)
@click.option("--baudrate", type=int, help="default: LLS 19200, Modbus 19200, SLCAN 115200")
@click.option(
    "--calibration",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV with a 'level,litres' header (level in sensor units; J1939: %)",
)
@click.option(
    "--register-map",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Modbus: TOML register map (default: level in holding register 0)",
)
@click.option(
    "--poll",
    "poll_s",
    type=click.FloatRange(min=0.0),
    default=1.0,
    show_default=True,
    help="seconds between requests; 0 listens (LLS periodic output)",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.01),
    default=3.0,
    show_default=True,
    help="silence after which the sensor counts as not answering",
)
@click.option(
    "--can-bitrate",
    type=int,
    default=250_000,
    show_default=True,
    help="J1939: 250000 (J1939-11) or 500000 (J1939-14)",
)
@click.option(
    "--still",
    is_flag=True,
    help="watch for drops as if the truck stood still (no J1939 speed needed)",
)
@click.option(
    "--drop-litres",
    type=click.FloatRange(min=0.0),
    default=10.0,
    show_default=True,
    help="a fall of more than this while standing is a possible theft or leak",
)
@click.option(
    "--drop-window",
    type=click.FloatRange(min=1.0),
    default=300.0,
    show_default=True,
    help="seconds within which the fall counts",
)
@click.option(
    "--still-below",
    type=click.FloatRange(min=0.0),
    default=1.0,
    show_default=True,
    help="km/h below which the truck stands",
)
@click.option("--count", type=click.IntRange(min=1), help="stop after N readings")
@click.option("--seconds", type=click.FloatRange(min=0.0), help="stop after S seconds")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: one per reading, then stats")
def read_cmd(
    port: str,
    protocol: str,
    address: int,
    baudrate: int | None,
    calibration: Path | None,
    register_map: Path | None,
    poll_s: float,
    timeout_s: float,
    can_bitrate: int,
    still: bool,
    drop_litres: float,
    drop_window: float,
    still_below: float,
    count: int | None,
    seconds: float | None,
    as_json: bool,
) -> None:
    """Read a fuel sensor live: a line per reading, drop events, and the counts at the end."""
    table, regs = _tables(calibration, register_map)
    readings: Items = queue.Queue()
    try:
        runner = FuelRunner(
            port,
            protocol,
            address=address,
            baudrate=baudrate,
            calibration=table,
            poll_s=poll_s,
            timeout_s=timeout_s,
            register_map=regs,
            on_reading=readings.put,
            can_bitrate=can_bitrate,
            theft=TheftConfig(min_drop_l=drop_litres, window_s=drop_window, still_kmh=still_below),
            on_event=readings.put,
            on_port=readings.put,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    interrupted = False
    runner.start()
    try:
        _show(runner, readings, count=count, seconds=seconds, still=still, as_json=as_json)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        runner.stop()
    while not readings.empty():  # a drop event reported as the runner stopped
        item = readings.get()
        if isinstance(item, FuelDropEvent):
            click.echo(_event_text(item, as_json))
    click.echo(_stats_text(runner, port, as_json))
    if interrupted:
        sys.exit(INTERRUPTED_EXIT)


Items = queue.Queue[FuelReading | FuelDropEvent | PortEvent]
"""What the runner hands the command: readings, drop events, port events."""


def _tables(
    calibration: Path | None, register_map: Path | None
) -> tuple[Calibration | None, RegisterMap | None]:
    """The calibration table and the register map the options name, or a usage error."""
    try:
        table = Calibration.from_csv(calibration) if calibration is not None else None
    except (CalibrationError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--calibration") from None
    try:
        regs = RegisterMap.from_toml(register_map) if register_map is not None else None
    except (RegisterMapError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--register-map") from None
    return table, regs


def _show(
    runner: FuelRunner,
    readings: Items,
    *,
    count: int | None,
    seconds: float | None,
    still: bool,
    as_json: bool,
) -> None:
    """Print what comes (port events on stderr) until `count` readings or `seconds`."""
    deadline = time.monotonic() + seconds if seconds is not None else None
    seen = 0
    while (count is None or seen < count) and (deadline is None or time.monotonic() < deadline):
        if still:
            runner.set_speed(0.0)
        try:
            item = readings.get(timeout=0.1)
        except queue.Empty:
            continue
        if isinstance(item, PortEvent):
            click.echo(str(item), err=True)
        elif isinstance(item, FuelDropEvent):
            click.echo(_event_text(item, as_json))
        else:
            extra = runner.latest_j1939 if runner.protocol == "j1939" else None
            click.echo(_json(item, extra) if as_json else _line(item, extra))
            seen += 1


def _stats_text(runner: FuelRunner, port: str, as_json: bool) -> str:
    """The counts at the end: the sensor's and the port's."""
    link = runner.link_stats
    if as_json:
        return json.dumps(
            {
                "class": "STATS",
                **runner.stats.as_dict(),
                "port": port,
                "connects": link.connects,
                "disconnects": link.disconnects,
                "last_error": link.last_error,
            }
        )
    return (
        summary(runner.stats)
        + f"; port {port}: {link.bytes} bytes, {link.connects} connect(s), "
        f"{link.disconnects} disconnect(s)"
        + (f", last error: {link.last_error}" if link.last_error else "")
    )

"""`yardfleet gnss decode LOG`: a receiver's log → its fixes and what was rejected, to debug it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import BinaryIO

import click

from .decoder import GnssDecoder
from .fix import Fix
from .stats import GnssStats

CHUNK = 64 * 1024


@click.group("gnss")
def gnss_group() -> None:
    """GNSS receivers: decode NMEA 0183 logs the way the onboard agent reads them."""


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    """The stream in chunks as they come (a pipe from a live port too), after the `#` comment
    header that gpsd's test logs open with."""
    line = stream.readline()
    while line.startswith(b"#"):
        line = stream.readline()
    yield line
    read = getattr(stream, "read1", stream.read)
    while chunk := read(CHUNK):
        yield chunk


def _line(fix: Fix) -> str:
    """One fix as a readable line."""
    when = "no time" if fix.time is None else fix.time.isoformat(timespec="milliseconds")
    where = "no position"
    if fix.latitude is not None and fix.longitude is not None:
        where = f"{fix.latitude:.7f} {fix.longitude:.7f}"
    alt = "" if fix.altitude_msl is None else f" alt {fix.altitude_msl:.1f} m"
    speed = "" if fix.speed_mps is None else f" {fix.speed_mps:.2f} m/s"
    track = "" if fix.track_deg is None else f" track {fix.track_deg:.1f}°"
    sigma = ""
    if fix.position_covariance_type:
        east, north = fix.position_covariance[0] ** 0.5, fix.position_covariance[4] ** 0.5
        sigma = f" σE {east:.2f} m σN {north:.2f} m"
    return (
        f"{when.replace('+00:00', 'Z')}  {where}{alt}  mode {int(fix.mode)}"
        f" {fix.status.name}{speed}{track}{sigma}"
    )


def _summary(stats: GnssStats) -> str:
    """What the stream held, in one line."""
    rejected = sum(stats.rejected.values())
    reasons = ", ".join(f"{r.value} {n}" for r, n in sorted(stats.rejected.items()) if n)
    return (
        f"{stats.bytes_seen} bytes, {stats.sentences} sentences: {stats.accepted} accepted, "
        f"{stats.proprietary} proprietary passed over, {rejected} rejected"
        + (f" ({reasons})" if reasons else "")
    )


@gnss_group.command("decode")
@click.argument("log", type=click.File("rb"), required=False)
@click.option(
    "--port",
    metavar="URL",
    help="read a live port instead: /dev/ttyUSB0, a pty, socket://host:port, loop://",
)
@click.option("--baudrate", type=int, default=9600, show_default=True, help="with --port")
@click.option("--count", type=click.IntRange(min=1), help="with --port: stop after N fixes")
@click.option("--seconds", type=click.FloatRange(min=0.0), help="with --port: stop after S s")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: one per fix, then the stats")
@click.option(
    "--no-checksum-ok",
    is_flag=True,
    help="accept sentences sent without a checksum (receivers that never send one)",
)
def decode_cmd(
    log: BinaryIO | None,
    port: str | None,
    baudrate: int,
    count: int | None,
    seconds: float | None,
    as_json: bool,
    no_checksum_ok: bool,
) -> None:
    """Decode a receiver's NMEA log (`-` reads stdin) or live port: each fix, then the counts."""
    if (log is None) == (port is None):
        raise click.UsageError("give a LOG file or --port URL (one of them)")
    decoder = GnssDecoder(require_checksum=not no_checksum_ok)
    if port is not None:
        _from_port(decoder, port, baudrate, count, seconds, as_json)
        return
    assert log is not None
    for chunk in _chunks(log):
        for fix in decoder.feed(chunk):
            _emit(fix, as_json)
    for fix in decoder.flush():
        _emit(fix, as_json)
    _report(decoder, as_json)


def _report(decoder: GnssDecoder, as_json: bool, link: str = "") -> None:
    if as_json:
        click.echo(json.dumps({"class": "STATS", **decoder.stats.as_dict()}))
    else:
        click.echo(_summary(decoder.stats) + link)


def _from_port(
    decoder: GnssDecoder,
    url: str,
    baudrate: int,
    count: int | None,
    seconds: float | None,
    as_json: bool,
) -> None:
    """Read a live port through a reconnecting SerialLink until N fixes, S seconds or Ctrl-C."""
    import queue
    import time

    from drivers.serialport import SerialLink

    chunks: queue.Queue[bytes] = queue.Queue()
    deadline = time.monotonic() + seconds if seconds is not None else None
    fixes = 0
    link = SerialLink(url, chunks.put, baudrate=baudrate)
    with link:
        try:
            while (count is None or fixes < count) and (
                deadline is None or time.monotonic() < deadline
            ):
                try:
                    chunk = chunks.get(timeout=0.1)
                except queue.Empty:
                    continue
                for fix in decoder.feed(chunk):
                    _emit(fix, as_json)
                    fixes += 1
        except KeyboardInterrupt:
            pass
    st = link.stats
    _report(
        decoder,
        as_json,
        f"; port {url}: {st.bytes} bytes, {st.connects} connect(s), "
        f"{st.disconnects} disconnect(s)"
        + (f", last error: {st.last_error}" if st.last_error else ""),
    )


def _emit(fix: Fix, as_json: bool) -> None:
    """Print one fix."""
    click.echo(json.dumps({"class": "FIX", **fix.to_json()}) if as_json else _line(fix))

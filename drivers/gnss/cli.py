"""`yardfleet gnss decode LOG`: a receiver's log → its fixes and what was rejected, to debug it.

A log that holds no NMEA 0183 at all (a binary file, the wrong file) is an error, exit 1. A
live `--port` that cannot be opened is reported on stderr at once, one line, and retried;
each failed retry says so again (0.5 s after the first, the wait doubling up to 5 s), and so
does a port that goes away. Ctrl-C prints the counts so far and exits 130.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

import click

from .decoder import GnssDecoder
from .fix import Fix
from .stats import GnssStats, Reject

if TYPE_CHECKING:
    from drivers.serialport import LinkStats

CHUNK = 64 * 1024
INTERRUPTED_EXIT = 130
"""The exit status after Ctrl-C, as a shell gives a command killed by SIGINT."""
FIRST_RETRY_S = 0.5
"""Wait before retrying a port that could not be opened; it doubles up to the link's 5 s."""

_NMEA_REASONS = (Reject.UNSUPPORTED, Reject.MALFORMED, Reject.BAD_TALKER, Reject.NO_CHECKSUM)
"""Rejections of sentences that are NMEA, just not what we decode (or sent without checksum)."""
_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] (?P<reason>[^\[]*?)(?:: '[^']*')?$")


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


def _reasons(stats: GnssStats) -> str:
    """The rejections by reason: "bad_checksum 2, garbled 1"."""
    return ", ".join(f"{r.value} {n}" for r, n in sorted(stats.rejected.items()) if n)


def _summary(stats: GnssStats) -> str:
    """What the stream held, in one line."""
    rejected = sum(stats.rejected.values())
    reasons = _reasons(stats)
    return (
        f"{stats.bytes_seen} bytes, {stats.sentences} sentences: {stats.accepted} accepted, "
        f"{stats.proprietary} proprietary passed over, {rejected} rejected"
        + (f" ({reasons})" if reasons else "")
    )


def held_nmea(stats: GnssStats) -> bool:
    """Whether the stream held any NMEA 0183: a sentence whose checksum held, or that was sent
    without one, decoded or not. Garbled lines and bad checksums alone are not NMEA."""
    return bool(stats.accepted + stats.proprietary) or any(stats.rejected[r] for r in _NMEA_REASONS)


def _no_nmea(name: str, stats: GnssStats) -> str:
    """The one-line error for a stream that held no NMEA."""
    if not stats.bytes_seen:
        return f"{name}: no NMEA 0183 sentences (it is empty)"
    reasons = _reasons(stats)
    return f"{name}: no NMEA 0183 sentences in {stats.bytes_seen} bytes" + (
        f" (rejected: {reasons})" if reasons else ""
    )


@gnss_group.command("decode")
@click.argument("log", type=click.File("rb"), required=False)
@click.option(
    "--port",
    metavar="URL",
    help="read a live port instead: /dev/ttyUSB0, a pty, socket://host:port, loop://; "
    "one that cannot be opened is reported at once and retried until Ctrl-C",
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
    """Decode a receiver's NMEA log (`-` reads stdin) or live port: each fix, then the counts.

    Exit 1 if the input held no NMEA 0183 at all; 130 after Ctrl-C (the counts still printed).
    """
    if (log is None) == (port is None):
        raise click.UsageError("give a LOG file or --port URL (one of them)")
    decoder = GnssDecoder(require_checksum=not no_checksum_ok)
    if port is not None:
        _check_url(port)
        _from_port(decoder, port, baudrate, count, seconds, as_json)
        return
    assert log is not None
    try:
        for chunk in _chunks(log):
            for fix in decoder.feed(chunk):
                _emit(fix, as_json)
    except KeyboardInterrupt:
        _report(decoder, as_json)
        sys.exit(INTERRUPTED_EXIT)
    for fix in decoder.flush():
        _emit(fix, as_json)
    if not held_nmea(decoder.stats):
        raise click.ClickException(_no_nmea(log.name, decoder.stats))
    _report(decoder, as_json)


def _check_url(url: str) -> None:
    """Refuse a port URL that pyserial cannot understand (`foo://x`): retrying would not help."""
    import serial

    try:
        serial.serial_for_url(url, do_not_open=True)
    except (ValueError, serial.SerialException) as exc:
        raise click.BadParameter(str(exc), param_hint="--port") from None


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
    interrupted = False
    link = SerialLink(url, chunks.put, baudrate=baudrate, min_backoff_s=FIRST_RETRY_S)
    watch = PortWatch(url)
    with link:
        try:
            while (count is None or fixes < count) and (
                deadline is None or time.monotonic() < deadline
            ):
                watch.check(link.stats)
                try:
                    chunk = chunks.get(timeout=0.1)
                except queue.Empty:
                    continue
                for fix in decoder.feed(chunk):
                    if count is not None and fixes >= count:
                        break
                    _emit(fix, as_json)
                    fixes += 1
        except KeyboardInterrupt:
            interrupted = True
    st = link.stats
    _report(
        decoder,
        as_json,
        f"; port {url}: {st.bytes} bytes, {st.connects} connect(s), "
        f"{st.disconnects} disconnect(s)"
        + (f", {st.failed_opens} failed open(s)" if st.failed_opens else "")
        + (f", last error: {st.last_error}" if st.last_error else ""),
    )
    if interrupted:
        sys.exit(INTERRUPTED_EXIT)
    if decoder.stats.bytes_seen and not held_nmea(decoder.stats):
        raise click.ClickException(
            _no_nmea(f"port {url}", decoder.stats) + f" at {baudrate} baud (another --baudrate?)"
        )


def port_reason(error: str) -> str:
    """The OS's reason in one of SerialLink's error texts ("open URL: [Errno 2] could not open
    port URL: [Errno 2] No such file or directory: 'URL'" → "No such file or directory")."""
    found = _ERRNO_REASON.search(error)  # the last "[Errno n] reason", to the end
    if found is not None and found["reason"]:
        return found["reason"]
    _, _, rest = error.partition(": ")
    return rest or error


class PortWatch:
    """Says on stderr, one line each, when a port cannot be opened, goes away, or is back.

    Polled from the reading loop: one line per failed attempt at most, so never more often
    than the link's retry back-off.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.failed = 0
        self.failed_before = 0  # failed opens before this outage
        self.lost = 0
        self.connects = 0
        self.troubled = False

    def check(self, stats: LinkStats) -> None:
        """Report what changed since the last check (the link's thread may be mid-update: an
        error text not yet written is reported at the next check)."""
        error = stats.last_error
        if stats.disconnects > self.lost:
            self.lost = stats.disconnects
            self.troubled = True
            why = port_reason(error) if error.startswith("read") else "the device went away"
            self._say(f"lost: {why} (retrying; Ctrl-C to stop)")
        if stats.failed_opens > self.failed and error.startswith("open"):
            self.failed = stats.failed_opens
            self.troubled = True
            attempt = self.failed - self.failed_before
            self._say(
                f"cannot open: {port_reason(error)} (attempt {attempt}, retrying; Ctrl-C to stop)"
            )
        if stats.connects > self.connects:
            self.connects = stats.connects
            self.failed_before = self.failed = stats.failed_opens
            if self.troubled:
                self.troubled = False
                self._say("open, reading")

    def _say(self, text: str) -> None:
        click.echo(f"port {self.url}: {text}", err=True)


def _emit(fix: Fix, as_json: bool) -> None:
    """Print one fix."""
    click.echo(json.dumps({"class": "FIX", **fix.to_json()}) if as_json else _line(fix))

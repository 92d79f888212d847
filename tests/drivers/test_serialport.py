"""Serial links on real pseudo-terminals: chunks, statistics, unplugging and replugging."""

from __future__ import annotations

import functools
import itertools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from drivers.gnss import GnssDecoder
from drivers.gnss.cli import gnss_group
from drivers.serialport import PortEvent, SerialLink, port_reason


def nmea(body: str) -> bytes:
    check = functools.reduce(lambda a, c: a ^ ord(c), body, 0)
    return f"${body}*{check:02X}\r\n".encode()


def epoch(k: int) -> bytes:
    """One second of a receiver: RMC and GGA at 08:00:k, moving north slowly."""
    t = f"0800{k:02d}.00"
    lat = f"2050.{2800 + k:04d}"
    return nmea(f"GPRMC,{t},A,{lat},N,10655.8600,E,5.0,10.0,291126,,,A") + nmea(
        f"GPGGA,{t},{lat},N,10655.8600,E,1,09,0.9,5.0,M,-20.0,M,,"
    )


def plug(path: Path) -> tuple[int, int]:
    """A new pseudo-terminal, reachable at `path` (as a udev symlink names a USB adapter)."""
    master, slave = os.openpty()
    path.unlink(missing_ok=True)
    path.symlink_to(os.ttyname(slave))
    return master, slave


def unplug(path: Path, fds: tuple[int, int]) -> None:
    for fd in fds:
        os.close(fd)
    path.unlink()


def until(what: Callable[[], bool], deadline_s: float = 10.0) -> None:
    """Poll a condition with a deadline (no sleeping as synchronisation)."""
    end = time.monotonic() + deadline_s
    while not what():
        assert time.monotonic() < end, "condition not reached before the deadline"
        time.sleep(0.005)


def test_reads_chunks_and_survives_being_unplugged(tmp_path: Path) -> None:
    gps = tmp_path / "gps"
    fds = plug(gps)
    decoder = GnssDecoder()
    fixes: list[object] = []
    link = SerialLink(
        str(gps),
        lambda b: fixes.extend(decoder.feed(b)),
        baudrate=115200,
        min_backoff_s=0.02,
        max_backoff_s=0.2,
    )
    with link:
        until(lambda: link.stats.connected)
        sent = b"".join(epoch(k) for k in range(5))
        os.write(fds[0], sent)
        until(lambda: len(fixes) >= 4)
        assert link.stats.bytes == len(sent)
        # Pull the plug: the port goes away; the link notices and keeps trying to reopen.
        unplug(gps, fds)
        until(lambda: link.stats.disconnects == 1 and not link.stats.connected)
        until(lambda: link.stats.failed_opens >= 3)
        # The back-off grows: each wait at least the scheduled one (0.02, 0.04, 0.08 ...).
        fails = [t for t, what in link.stats.history if what == "open failed"]
        gaps = [b - a for a, b in itertools.pairwise(fails)]
        for k, gap in enumerate(gaps[:3]):
            assert gap >= min(0.2, 0.02 * 2**k) * 0.95, gaps
        # Plug it back in at the same path: it resumes, no restart.
        fds = plug(gps)
        until(lambda: link.stats.connects == 2)
        more = b"".join(epoch(k) for k in range(5, 10))
        os.write(fds[0], more)
        until(lambda: len(fixes) >= 8)
    unplug(gps, fds)
    assert link.stats.bytes == len(sent) + len(more)
    assert link.stats.callback_errors == 0
    assert decoder.stats.as_dict()["accepted"] >= 18


def test_a_consumer_that_fails_does_not_stop_the_port(tmp_path: Path) -> None:
    gps = tmp_path / "gps"
    fds = plug(gps)
    seen: list[bytes] = []

    def picky(data: bytes) -> None:
        seen.append(data)
        raise RuntimeError("consumer bug")

    with SerialLink(str(gps), picky) as link:
        until(lambda: link.stats.connected)
        os.write(fds[0], b"abc")
        until(lambda: link.stats.callback_errors >= 1)
        os.write(fds[0], b"def")
        until(lambda: b"".join(seen).endswith(b"def"))
        assert "consumer bug" in link.stats.last_error
    unplug(gps, fds)


def test_loop_url_and_missing_port() -> None:
    got: list[bytes] = []
    with SerialLink("loop://", got.append) as link:
        until(lambda: link.stats.connected)
        assert link.write(epoch(0))
        until(lambda: b"".join(got) == epoch(0))
    with SerialLink("/dev/no-such-gps", got.append, min_backoff_s=0.01) as missing:
        until(lambda: missing.stats.failed_opens >= 2)
        assert "no-such-gps" in missing.stats.last_error
        assert not missing.write(b"x")


def test_a_port_that_cannot_be_opened_is_said_at_once_and_on_each_retry(tmp_path: Path) -> None:
    """Events: the first failed open at once, then each retry (0.01 s, 0.02 s ...); the port
    going away; and open again when it is back."""
    gps = tmp_path / "gps"
    events: list[PortEvent] = []
    link = SerialLink(
        str(gps), lambda b: None, min_backoff_s=0.01, max_backoff_s=0.05, on_event=events.append
    )
    with link:
        until(lambda: len(events) >= 3)
        first, second = events[0], events[1]
        assert (first.kind, first.reason, first.attempt) == (
            "cannot open",
            "No such file or directory",
            1,
        )
        assert (second.attempt, second.retry_in_s) == (2, 0.02)
        assert str(first) == (
            f"port {gps}: cannot open: No such file or directory (attempt 1; retrying in 0.01 s)"
        )
        fds = plug(gps)
        until(lambda: link.stats.connected)
        until(lambda: events[-1].kind == "open")
        assert str(events[-1]) == f"port {gps}: open again, reading"
        assert not events[-1].trouble and first.trouble
        seen = len(events)
        unplug(gps, fds)
        until(lambda: any(e.kind == "lost" for e in events[seen:]))
    assert link.stats.callback_errors == 0


def test_reports_are_thinned_for_a_log_and_count_the_attempts() -> None:
    events: list[PortEvent] = []
    with SerialLink(
        "/dev/no-such-gps",
        lambda b: None,
        min_backoff_s=0.01,
        max_backoff_s=0.01,
        on_event=events.append,
        report_every_s=3600.0,
    ) as link:
        until(lambda: link.stats.failed_opens >= 5)
    assert [e.attempt for e in events] == [1]  # the first at once, the rest within the hour


def test_port_reason_takes_the_os_words() -> None:
    assert port_reason(OSError(2, "x")) == "No such file or directory"
    assert port_reason(ValueError("invalid URL, protocol 'x' not known")) == (
        "invalid URL, protocol 'x' not known"
    )
    text = "Could not open port socket://h:1: [Errno 111] Connection refused"
    assert port_reason(Exception(text)) == "Connection refused"


def test_gnss_decode_from_a_live_port(tmp_path: Path) -> None:
    gps = tmp_path / "gps"
    fds = plug(gps)
    stop = threading.Event()

    def receiver() -> None:  # a GNSS receiver: one epoch every 20 ms, at most 30 s
        for k in range(1500):
            if stop.wait(0.02):
                return
            os.write(fds[0], epoch(k % 60))

    feeder = threading.Thread(target=receiver, daemon=True)
    feeder.start()
    try:
        result = CliRunner().invoke(
            gnss_group, ["decode", "--port", str(gps), "--count", "3", "--seconds", "20"]
        )
    finally:
        stop.set()
        feeder.join(5)
        unplug(gps, fds)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 4 and "20.838" in lines[0]
    assert f"port {gps}" in lines[-1] and "1 connect(s)" in lines[-1]


def test_gnss_decode_needs_a_log_or_a_port() -> None:
    result = CliRunner().invoke(gnss_group, ["decode"])
    assert result.exit_code == 2 and "give a LOG file or --port URL" in result.output

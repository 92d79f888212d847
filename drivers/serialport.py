"""Serial ports that survive flaky cables: chunked reads on a thread, reconnect with back-off.

Ports open through pyserial's `serial_for_url`, so one code path serves a real device
(`/dev/ttyUSB0`), a pseudo-terminal, `loop://` and `socket://host:port`. Bytes are read in
chunks (never `readline`: a receiver's sentences do not line up with reads) and handed to
a callback on the reader thread. When the port disappears — a USB adapter unplugged, a
pseudo-terminal closed — the link counts it, closes, and tries again with exponential
back-off until the port is back, then resumes: the agent never restarts.

A port that cannot be opened is said at once: with `on_event`, the link hands over a
`PortEvent` (one line: the port, what happened and the OS's reason) when an open fails,
when the port goes away and when it is open again after trouble. Failed opens are retried
0.5 s after the first, the wait doubling up to `max_backoff_s`; each retry that fails is
an event again (`report_every_s` thins them out for a log: the attempt number says how
many were not reported).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import serial

OnBytes = Callable[[bytes], None]

FIRST_RETRY_S = 0.5
"""Wait before retrying a port that could not be opened; it doubles up to the maximum."""

_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] (?P<reason>[^\[]*?)(?:: '[^']*')?$")


def port_reason(exc: BaseException) -> str:
    """The OS's reason a port failed, without the repeated path: "No such file or directory",
    "Permission denied", "Connection refused" (else the exception's text)."""
    code = getattr(exc, "errno", None)
    if isinstance(code, int) and code > 0:
        return os.strerror(code)
    text = str(exc)
    found = _ERRNO_REASON.search(text)  # the last "[Errno n] reason", to the end
    if found is not None and found["reason"]:
        return found["reason"]
    return text or type(exc).__name__


@dataclass(frozen=True, slots=True)
class PortEvent:
    """Something to say about a port: it cannot be opened, it went away, it is open again."""

    url: str
    kind: str
    """"cannot open", "lost" or "open"."""
    reason: str = ""
    attempt: int = 0
    """Failed opens in a row, this one included ("cannot open")."""
    retry_in_s: float = 0.0
    """Seconds until the next attempt ("cannot open")."""

    @property
    def trouble(self) -> bool:
        """True when the port is not usable (a warning), False when it is open again."""
        return self.kind != "open"

    def __str__(self) -> str:
        head = f"port {self.url}"
        if self.kind == "cannot open":
            return (
                f"{head}: cannot open: {self.reason} (attempt {self.attempt}; "
                f"retrying in {self.retry_in_s:g} s)"
            )
        if self.kind == "lost":
            return f"{head}: lost: {self.reason} (retrying)"
        return f"{head}: open again, reading"


@dataclass
class LinkStats:
    """What a link has seen: bytes and chunks read, connects, disconnects, the last error."""

    bytes: int = 0
    chunks: int = 0
    connects: int = 0
    disconnects: int = 0
    failed_opens: int = 0
    callback_errors: int = 0
    last_error: str = ""
    open_error: str = ""
    """Why the port is not open, the OS's reason (empty while it is open)."""
    connected: bool = False
    history: list[tuple[float, str]] = field(default_factory=list)

    def note(self, what: str) -> None:
        """Remember an event (bounded), for `fuel read` and the agent's health report."""
        self.history.append((time.time(), what))
        del self.history[:-50]


class SerialLink:
    """One serial port, read on its own thread, reopened whenever it goes away."""

    def __init__(
        self,
        url: str,
        on_bytes: OnBytes,
        *,
        baudrate: int = 9600,
        chunk: int = 4096,
        read_timeout_s: float = 0.05,
        min_backoff_s: float = FIRST_RETRY_S,
        max_backoff_s: float = 5.0,
        on_event: Callable[[PortEvent], None] | None = None,
        report_every_s: float = 0.0,
    ) -> None:
        self.url = url
        self.on_bytes = on_bytes
        self.baudrate = baudrate
        self.chunk = chunk
        self.read_timeout_s = read_timeout_s
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.on_event = on_event
        self.report_every_s = report_every_s
        self.stats = LinkStats()
        self._failed_in_row = 0
        self._troubled = False
        self._last_report = -float("inf")
        self._stop = threading.Event()
        self._port: Any = None  # a pyserial port; its classes type in_waiting unevenly
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"serial {url}", daemon=True)

    def start(self) -> SerialLink:
        """Start reading (returns at once; the port may open later)."""
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop reading and close the port."""
        self._stop.set()
        self._thread.join(timeout_s)
        self._close()

    def __enter__(self) -> SerialLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write(self, data: bytes) -> bool:
        """Send bytes if the port is open now (False when it is not)."""
        with self._lock:
            port = self._port
            if port is None:
                return False
            try:
                port.write(data)
                return True
            except (serial.SerialException, OSError) as exc:
                self.stats.last_error = f"write: {exc}"
                return False

    def _open(self, backoff: float) -> bool:
        try:
            port = serial.serial_for_url(
                self.url, baudrate=self.baudrate, timeout=self.read_timeout_s
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            self.stats.failed_opens += 1
            self.stats.last_error = f"open {self.url}: {exc}"
            self.stats.open_error = port_reason(exc)
            self.stats.note("open failed")
            self._failed_in_row += 1
            now = time.monotonic()
            if self._failed_in_row == 1 or now - self._last_report >= self.report_every_s:
                self._last_report = now
                self._report(
                    PortEvent(
                        self.url, "cannot open", self.stats.open_error, self._failed_in_row,
                        backoff,
                    )
                )
            return False
        with self._lock:
            self._port = port
        self.stats.connects += 1
        self.stats.connected = True
        self.stats.open_error = ""
        self.stats.note("connected")
        self._failed_in_row = 0
        if self._troubled:
            self._report(PortEvent(self.url, "open"))
        return True

    def _report(self, event: PortEvent) -> None:
        """Hand `event` to `on_event` (a consumer's bug must not stop the port)."""
        self._troubled = event.trouble
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception as exc:
            self.stats.callback_errors += 1
            self.stats.last_error = f"on_event: {exc!r}"

    def _close(self) -> None:
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()
        self.stats.connected = False

    def _run(self) -> None:
        backoff = self.min_backoff_s
        while not self._stop.is_set():
            if self._port is None:
                if not self._open(backoff):
                    self._stop.wait(backoff)
                    backoff = min(self.max_backoff_s, backoff * 2)
                    continue
                backoff = self.min_backoff_s
            port = self._port
            assert port is not None
            try:
                waiting = port.in_waiting
                if waiting:
                    data = port.read(min(self.chunk, waiting))
                else:  # block up to the read timeout for the next byte, then take the rest
                    data = port.read(1)
                    if data:
                        data += port.read(min(self.chunk, port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                self.stats.disconnects += 1
                self.stats.last_error = f"read {self.url}: {exc}"
                self.stats.open_error = port_reason(exc)
                self.stats.note("disconnected")
                self._close()
                self._report(PortEvent(self.url, "lost", self.stats.open_error))
                continue
            if not data:
                continue
            self.stats.bytes += len(data)
            self.stats.chunks += 1
            try:
                self.on_bytes(data)
            except Exception as exc:  # a consumer's bug must not kill the port
                self.stats.callback_errors += 1
                self.stats.last_error = f"callback: {exc!r}"

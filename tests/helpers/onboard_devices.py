"""A truck's sensors on pseudo-terminals, for agents under test (`from onboard_devices import ...`).

- `GnssReceiver`: writes NMEA RMC + GGA epochs (RTK fixed) at a position in a yard's local
  metres, converted with the yard's frame, as a receiver on a serial port would.
- `LlsFuelSensor`: an Omnicomm LLS level sensor that answers each read request with a
  level, from its own thread.

Each opens a pty pair and links the slave's name at `path`, so an agent's configuration
can name the path as its port. The test keeps both ends open: a write before the agent
opens the port is not an error (opening it may flush what came before; a receiver
streams, so the next epoch gets through).
"""

from __future__ import annotations

import functools
import math
import os
import select
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drivers.fuel.lls import crc8_maxim
from maps.georef import LocalFrame

__all__ = ["GnssReceiver", "LlsFuelSensor", "nmea"]


def nmea(body: str) -> bytes:
    """`$body*hh\\r\\n` with its checksum."""
    check = functools.reduce(lambda a, c: a ^ ord(c), body, 0)
    return f"${body}*{check:02X}\r\n".encode()


def _dm(value: float, width: int) -> str:
    degrees = int(abs(value))
    return f"{degrees:0{width}d}{(abs(value) - degrees) * 60:09.6f}"


class GnssReceiver:
    """A GNSS receiver on a pty: `epoch(x, y, speed, track)` writes one RMC + GGA pair.

    Epoch times are UTC, strictly rising by at least a hundredth of a second (NMEA's
    resolution), so every epoch is a new fix however fast the test writes them.
    """

    def __init__(self, path: Path, frame: LocalFrame) -> None:
        self.path = path
        self.frame = frame
        self.epochs = 0
        self._master, self._slave = os.openpty()
        path.unlink(missing_ok=True)
        path.symlink_to(os.ttyname(self._slave))
        self._last: datetime | None = None

    def _time(self) -> tuple[str, str]:
        """(hhmmss.ss, ddmmyy) of a new epoch."""
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 10_000 * 10_000)
        if self._last is not None and now <= self._last:
            now = self._last + timedelta(milliseconds=10)
        self._last = now
        return f"{now:%H%M%S}.{now.microsecond // 10_000:02d}", f"{now:%d%m%y}"

    def no_fix(self) -> None:
        """One epoch without a fix, as a receiver still acquiring satellites sends it."""
        t, d = self._time()
        os.write(
            self._master,
            nmea(f"GPRMC,{t},V,,,,,,,{d},,,N") + nmea(f"GPGGA,{t},,,,,0,00,99.99,,,,,,"),
        )
        self.epochs += 1

    def epoch(self, x: float, y: float, *, speed_mps: float, track_deg: float) -> None:
        """One fix at (x, y) in local metres, moving at `speed_mps` on compass `track_deg`."""
        t, d = self._time()
        lon, lat = self.frame.point_to_wgs84(x, y)
        where = f"{_dm(lat, 2)},{'N' if lat >= 0 else 'S'},{_dm(lon, 3)},{'E' if lon >= 0 else 'W'}"
        knots = max(0.0, speed_mps) / 0.514444
        track = math.fmod(track_deg + 360.0, 360.0)
        data = nmea(f"GPRMC,{t},A,{where},{knots:.2f},{track:.1f},{d},,,A") + nmea(
            f"GPGGA,{t},{where},4,14,0.7,5.0,M,-20.0,M,1.0,0001"
        )
        os.write(self._master, data)
        self.epochs += 1

    def close(self) -> None:
        for fd in (self._master, self._slave):
            os.close(fd)
        self.path.unlink(missing_ok=True)


class LlsFuelSensor:
    """An Omnicomm LLS sensor on a pty: answers each read request with `level` (0-4095)."""

    def __init__(self, path: Path, level: int, address: int = 1) -> None:
        self.level = level
        self.address = address
        self.requests = 0
        self._master, self._slave = os.openpty()
        path.unlink(missing_ok=True)
        path.symlink_to(os.ttyname(self._slave))
        self.path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lls {path.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        buf = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.02)
            if not ready:
                continue
            try:
                buf += os.read(self._master, 64)
            except OSError:
                return
            while len(buf) >= 4:
                request, buf = buf[:4], buf[4:]
                if request[:3] != bytes((0x31, self.address, 0x06)):
                    buf = request[1:] + buf  # out of step: look for the next request
                    continue
                self.requests += 1
                level = self.level
                body = bytes((0x3E, self.address, 0x06, 27, level & 0xFF, level >> 8, 0x10, 0x27))
                os.write(self._master, body + bytes((crc8_maxim(body),)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        for fd in (self._master, self._slave):
            os.close(fd)
        self.path.unlink(missing_ok=True)

"""Omnicomm LLS capacitive level sensors: binary frames, polled or periodic, → readings.

Request `0x31 addr 0x06 crc`; response `0x3E addr 0x06 temperature(int8 °C) level(uint16 LE)
frequency(uint16 LE) crc`, CRC-8/MAXIM over the bytes before it. In periodic output mode the
sensor sends the same responses unprompted, so one parser serves both. Bad input is counted
in the stats, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass

from .calibration import Calibration
from .reading import FuelReading, FuelStats, calibrated

REQUEST_PREFIX = 0x31
RESPONSE_PREFIX = 0x3E
READ_DATA = 0x06
FRAME_LEN = 9
DEFAULT_BAUDRATE = 19200
DEFAULT_GAP_S = 0.1
"""A partial frame left waiting longer than this is dropped as short (a byte was lost)."""


def _crc8_table() -> bytes:
    table = bytearray(256)
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
        table[i] = crc
    return bytes(table)


_CRC8 = _crc8_table()


def crc8_maxim(data: bytes | bytearray) -> int:
    """CRC-8/MAXIM (Dallas 1-Wire: poly 0x31 reflected, init 0), as LLS frames carry it."""
    crc = 0
    for byte in data:
        crc = _CRC8[crc ^ byte]
    return crc


def request(address: int) -> bytes:
    """The read-data request for the sensor at `address` (0-255)."""
    if not 0 <= address <= 255:
        raise ValueError(f"LLS address must be 0-255, got {address}")
    body = bytes((REQUEST_PREFIX, address, READ_DATA))
    return body + bytes((crc8_maxim(body),))


@dataclass(frozen=True, slots=True)
class LlsFrame:
    """One checked response: who sent it, temperature, relative level and raw frequency."""

    address: int
    temperature_c: int
    level: int
    frequency: int
    raw: bytes

    def reading(
        self, time: float, calibration: Calibration | None, *, source: str = "lls"
    ) -> FuelReading:
        """This frame as a fuel reading, litres through the tank's calibration table."""
        return calibrated(
            time,
            self.level,
            calibration,
            source=f"{source}:{self.address}",
            temperature_c=float(self.temperature_c),
        )


def decode(frame: bytes | bytearray) -> LlsFrame:
    """The fields of a 9-byte response whose prefix, command and CRC the caller has checked."""
    return LlsFrame(
        address=frame[1],
        temperature_c=frame[3] - 256 if frame[3] >= 128 else frame[3],
        level=frame[4] | frame[5] << 8,
        frequency=frame[6] | frame[7] << 8,
        raw=bytes(frame),
    )


class LlsParser:
    """Frames LLS responses out of a byte stream in chunks of any size, resyncing on 0x3E."""

    __slots__ = ("_buf", "_last", "address", "gap_s", "stats")

    def __init__(
        self,
        *,
        address: int | None = None,
        gap_s: float = DEFAULT_GAP_S,
        stats: FuelStats | None = None,
    ) -> None:
        self.address = address
        self.gap_s = gap_s
        self.stats = stats if stats is not None else FuelStats()
        self._buf = bytearray()
        self._last: float | None = None

    def feed(self, data: bytes, now: float | None = None) -> list[LlsFrame]:
        """Frames completed by `data`; `now` (seconds) lets a stale partial frame count as short."""
        stats = self.stats
        stats.bytes += len(data)
        if now is not None:
            if self._buf and self._last is not None and now - self._last > self.gap_s:
                self.flush()
            self._last = now
        buf = self._buf
        buf += data
        out: list[LlsFrame] = []
        while buf:
            start = buf.find(RESPONSE_PREFIX)
            if start < 0:
                stats.garbage_bytes += len(buf)
                buf.clear()
                break
            if start:
                stats.garbage_bytes += start
                del buf[:start]
            if len(buf) >= 3 and buf[2] != READ_DATA:
                stats.unknown += 1  # not a read-data answer (or a stray 0x3E): skip it
                del buf[:1]
                continue
            if len(buf) < FRAME_LEN:
                break
            if crc8_maxim(buf[: FRAME_LEN - 1]) != buf[FRAME_LEN - 1]:
                stats.bad_crc += 1
                del buf[:1]
                continue
            frame = decode(buf[:FRAME_LEN])
            del buf[:FRAME_LEN]
            if self.address is not None and frame.address != self.address:
                stats.unknown += 1
                continue
            stats.frames += 1
            out.append(frame)
        return out

    def flush(self) -> None:
        """Drop a partial frame left waiting (counted as short): the rest of it is not coming."""
        if self._buf:
            self.stats.short_frames += 1
            self._buf.clear()

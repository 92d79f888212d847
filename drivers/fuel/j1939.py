"""J1939 fuel and vehicle values from a serial CAN adapter speaking SLCAN (Lawicel ASCII).

An SLCAN adapter turns each CAN frame into a line: `T` + 8 hex id + DLC digit + 2 hex a data
byte (+ 4 hex timestamp when the adapter stamps frames) + `\\r`; `t` with 3 hex for 11-bit
ids, `R`/`r` for remote frames. It answers commands with `\\r` (ok) or `\\a` (error). J1939
rides 29-bit ids: priority, data page and PDU format/specific give the PGN (PDU1, PF < 240:
the PS byte is a destination address, not part of the PGN; PDU2: PS is the group extension),
the low byte is the sender's source address. Values J1939 sends as "not available" or
"error" (0xFF / 0xFE, 0xFFxx / 0xFExx ...) decode to None, never 0. Nothing here raises on
bad input: it is counted in the stats.
"""

from __future__ import annotations

from dataclasses import dataclass

from .reading import FuelStats

PGN_FUEL_LEVEL = 65276
"""Dash Display (DD1): SPN 96 fuel level 1, byte 2, 0.4 %/bit."""
PGN_FUEL_RATE = 65266
"""Fuel Economy (LFE1): SPN 183 engine fuel rate, bytes 1-2, 0.05 L/h per bit."""
PGN_FUEL_USED = 65257
"""Fuel Consumption (LFC1): SPN 250 total fuel used, bytes 5-8, 0.5 L/bit."""
PGN_SPEED = 65265
"""Cruise Control/Vehicle Speed (CCVS1): SPN 84 wheel-based speed, bytes 2-3, 1/256 km/h/bit."""
PGN_BATTERY = 65271
"""Vehicle Electrical Power (VEP1): SPN 168 battery potential, bytes 5-6, 0.05 V/bit."""

MAX_LINE = 64
"""Longest SLCAN line we wait for (T + 8 + 1 + 16 + 4 timestamp = 30); beyond it, garbage."""

CAN_BITRATES = {
    10_000: "S0",
    20_000: "S1",
    50_000: "S2",
    100_000: "S3",
    125_000: "S4",
    250_000: "S5",
    500_000: "S6",
    800_000: "S7",
    1_000_000: "S8",
}
"""SLCAN bit-rate commands. J1939-11 buses run at 250 kbit/s (S5), J1939-14 at 500 (S6)."""


def open_commands(bitrate: int = 250_000) -> list[bytes]:
    """What opens an SLCAN adapter: clear a half-typed command, close, set the rate, open."""
    if bitrate not in CAN_BITRATES:
        known = ", ".join(str(b) for b in CAN_BITRATES)
        raise ValueError(f"CAN bit rate {bitrate} not one SLCAN knows ({known})")
    return [b"\r\r\r", b"C\r", CAN_BITRATES[bitrate].encode() + b"\r", b"O\r"]


CLOSE_COMMAND = b"C\r"


@dataclass(frozen=True, slots=True)
class CanFrame:
    """One CAN frame as the adapter reported it."""

    can_id: int
    extended: bool
    data: bytes
    remote: bool = False


def pgn_of(can_id: int) -> int:
    """The J1939 parameter group number in a 29-bit id, by the PDU1/PDU2 rules."""
    pf = (can_id >> 16) & 0xFF
    ps = (can_id >> 8) & 0xFF
    dp = (can_id >> 24) & 0x03  # extended data page and data page
    return (dp << 16) | (pf << 8) | (ps if pf >= 240 else 0)


def source_address(can_id: int) -> int:
    """The sender's J1939 source address (the id's low byte)."""
    return can_id & 0xFF


def priority(can_id: int) -> int:
    """The J1939 priority (0 highest, 7 lowest)."""
    return (can_id >> 26) & 0x07


def can_id(pgn: int, source: int, *, prio: int = 6, destination: int = 0xFF) -> int:
    """A 29-bit id for `pgn` from `source` (PDU1 PGNs get `destination` in the PS byte)."""
    pf = (pgn >> 8) & 0xFF
    ps = pgn & 0xFF if pf >= 240 else destination
    return (prio & 7) << 26 | ((pgn >> 16) & 3) << 24 | pf << 16 | ps << 8 | (source & 0xFF)


def slcan_line(frame: CanFrame) -> bytes:
    """The SLCAN line for a frame (what an adapter sends; tests and simulators use it)."""
    kind = ("R" if frame.remote else "T") if frame.extended else ("r" if frame.remote else "t")
    ident = f"{frame.can_id:08X}" if frame.extended else f"{frame.can_id:03X}"
    body = "" if frame.remote else frame.data.hex().upper()
    return f"{kind}{ident}{len(frame.data)}{body}\r".encode()


_HEX = frozenset(b"0123456789abcdefABCDEF")


class SlcanParser:
    """Splits an adapter's byte stream into CAN frames; replies and bad lines are counted."""

    __slots__ = ("_buf", "_last", "acks", "gap_s", "nacks", "replies", "stats")

    def __init__(self, *, stats: FuelStats | None = None, gap_s: float = 0.5) -> None:
        self.stats = stats if stats is not None else FuelStats()
        self.gap_s = gap_s
        self.acks = 0
        """Empty lines: the adapter's `\\r` saying a command was taken."""
        self.nacks = 0
        """`\\a` bytes: the adapter refused a command (e.g. `S5` while the channel is open)."""
        self.replies = 0
        """Other adapter replies: version, serial number, status flags, transmit acks."""
        self._buf = bytearray()
        self._last: float | None = None

    def feed(self, data: bytes, now: float | None = None) -> list[CanFrame]:
        """Frames completed by `data`; `now` (seconds) lets a stale partial line count as short."""
        self.stats.bytes += len(data)
        if now is not None:
            if self._buf and self._last is not None and now - self._last > self.gap_s:
                self.flush()
            self._last = now
        out: list[CanFrame] = []
        for byte in data:
            if byte in (0x0D, 0x0A, 0x07):  # \r ends a line, \n is tolerated, \a is a refusal
                if byte == 0x07:
                    self.nacks += 1
                if self._buf:
                    frame = self._line(bytes(self._buf))
                    self._buf.clear()
                    if frame is not None:
                        out.append(frame)
                elif byte == 0x0D:
                    self.acks += 1
                continue
            self._buf.append(byte)
            if len(self._buf) > MAX_LINE:
                self.stats.garbage_bytes += len(self._buf)
                self.stats.malformed += 1
                self._buf.clear()
        return out

    def flush(self) -> None:
        """Drop a partial line left waiting (counted as short): its end is not coming."""
        if self._buf:
            self.stats.short_frames += 1
            self._buf.clear()

    def _line(self, line: bytes) -> CanFrame | None:
        stats = self.stats
        kind = line[:1]
        if kind not in (b"T", b"t", b"R", b"r"):
            if kind in (b"z", b"Z", b"V", b"v", b"N", b"F"):
                self.replies += 1
            else:
                stats.garbage_bytes += len(line)
                stats.malformed += 1
            return None
        extended = kind in (b"T", b"R")
        remote = kind in (b"R", b"r")
        id_len = 8 if extended else 3
        head = 1 + id_len + 1
        if len(line) < head:
            stats.short_frames += 1
            return None
        if not all(b in _HEX for b in line[1:]) or not 0x30 <= line[head - 1] <= 0x38:
            stats.garbage_bytes += len(line)
            stats.malformed += 1
            return None
        ident = int(line[1 : 1 + id_len], 16)
        dlc = line[head - 1] - 0x30
        body = 0 if remote else 2 * dlc
        rest = len(line) - head
        if rest < body:
            stats.short_frames += 1
            return None
        if rest not in (body, body + 4) or ident > (0x1FFFFFFF if extended else 0x7FF):
            stats.garbage_bytes += len(line)
            stats.malformed += 1
            return None
        data = bytes(dlc) if remote else bytes.fromhex(line[head : head + body].decode())
        return CanFrame(ident, extended, data, remote)


@dataclass(frozen=True, slots=True)
class Spn:
    """Where a suspect parameter sits in its PGN's data and how to scale it."""

    spn: int
    name: str
    start: int
    """First byte, 1-based as J1939-71 counts them."""
    length: int
    """Bytes, little-endian: 1, 2 or 4."""
    resolution: float
    unit: str


SPNS: dict[int, Spn] = {
    PGN_FUEL_LEVEL: Spn(96, "fuel_level", 2, 1, 0.4, "%"),
    PGN_FUEL_RATE: Spn(183, "fuel_rate", 1, 2, 0.05, "L/h"),
    PGN_FUEL_USED: Spn(250, "total_fuel_used", 5, 4, 0.5, "L"),
    PGN_SPEED: Spn(84, "wheel_speed", 2, 2, 1 / 256, "km/h"),
    PGN_BATTERY: Spn(168, "battery_potential", 5, 2, 0.05, "V"),
}
"""The PGNs we read, each with the one SPN we take from it."""

_VALID_MAX = {1: 0xFA, 2: 0xFAFF, 4: 0xFAFFFFFF}
_ERROR_MIN = {1: 0xFE, 2: 0xFE00, 4: 0xFE000000}
_NA_MIN = {1: 0xFF, 2: 0xFF00, 4: 0xFF000000}


@dataclass(frozen=True, slots=True)
class J1939Value:
    """One SPN from one frame: the scaled value, or None with `status` saying why."""

    pgn: int
    spn: int
    name: str
    source: int
    raw: int
    value: float | None
    unit: str
    status: str
    """"ok", "not available", "error" or "reserved" (J1939-71's ranges)."""


def spn_status(raw: int, length: int) -> str:
    """Which J1939-71 range a raw parameter falls in."""
    if raw <= _VALID_MAX[length]:
        return "ok"
    if raw >= _NA_MIN[length]:
        return "not available"
    if raw >= _ERROR_MIN[length]:
        return "error"
    return "reserved"


def decode_frame(frame: CanFrame, stats: FuelStats | None = None) -> J1939Value | None:
    """The value a J1939 frame carries, or None (counted) for other PGNs and short frames."""
    stats = stats if stats is not None else FuelStats()
    if not frame.extended or frame.remote:
        stats.unknown += 1
        return None
    pgn = pgn_of(frame.can_id)
    spn = SPNS.get(pgn)
    if spn is None:
        stats.unknown += 1
        return None
    end = spn.start - 1 + spn.length
    if len(frame.data) < end:
        stats.short_frames += 1
        return None
    raw = int.from_bytes(frame.data[spn.start - 1 : end], "little")
    status = spn_status(raw, spn.length)
    stats.frames += 1
    if status != "ok":
        stats.not_available += 1
    value = raw * spn.resolution if status == "ok" else None
    source = source_address(frame.can_id)
    return J1939Value(pgn, spn.spn, spn.name, source, raw, value, spn.unit, status)


class J1939Decoder:
    """SLCAN bytes in, J1939 values out, with one set of counts for both layers."""

    __slots__ = ("slcan", "stats")

    def __init__(self, *, stats: FuelStats | None = None, gap_s: float = 0.5) -> None:
        self.stats = stats if stats is not None else FuelStats()
        self.slcan = SlcanParser(stats=self.stats, gap_s=gap_s)

    def feed(self, data: bytes, now: float | None = None) -> list[J1939Value]:
        """Values completed by `data`."""
        out: list[J1939Value] = []
        for frame in self.slcan.feed(data, now):
            value = decode_frame(frame, self.stats)
            if value is not None:
                out.append(value)
        return out

    def flush(self) -> None:
        """Drop a partial line (counted as short)."""
        self.slcan.flush()

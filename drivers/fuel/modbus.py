"""Modbus RTU level sensors: read-registers requests, checked responses, a register map.

Request `addr fn start(u16 BE) count(u16 BE) crc`; response `addr fn n data(n bytes) crc` or
the exception `addr fn|0x80 code crc`; the CRC is CRC-16/MODBUS, sent low byte first. Which
registers hold the level (and a temperature, if the sensor has one), their width, scale,
sign and word order differ from sensor to sensor, so they come from a register map (a TOML
file read by `maps.config_files`: every problem names the file and the key). Bad input from
the sensor is counted in the stats, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from .reading import FuelStats

READ_HOLDING = 0x03
READ_INPUT = 0x04
DEFAULT_BAUDRATE = 19200
MAX_REGISTERS = 125

EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


def _crc16_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC16 = _crc16_table()


def crc16_modbus(data: bytes | bytearray) -> int:
    """CRC-16/MODBUS (poly 0x8005 reflected, init 0xFFFF); on the wire low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC16[(crc ^ byte) & 0xFF]
    return crc


def with_crc(body: bytes) -> bytes:
    """`body` followed by its CRC, low byte first."""
    return body + crc16_modbus(body).to_bytes(2, "little")


def read_request(address: int, function: int, start: int, count: int) -> bytes:
    """A read holding (03) or input (04) registers request."""
    if not 1 <= address <= 247:
        raise ValueError(f"Modbus address must be 1-247, got {address}")
    if function not in (READ_HOLDING, READ_INPUT):
        raise ValueError(f"function must be 3 or 4, got {function}")
    if not 0 <= start <= 0xFFFF or not 1 <= count <= MAX_REGISTERS or start + count > 0x10000:
        raise ValueError(f"registers {start}+{count} outside 0-65535 or more than 125")
    return with_crc(
        bytes((address, function)) + start.to_bytes(2, "big") + count.to_bytes(2, "big")
    )


class RegisterMapError(ValueError):
    """A register map that cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class RegisterField:
    """One value: its first register, 1 or 2 registers wide, scale, sign and word order."""

    register: int
    count: int = 1
    scale: float = 1.0
    signed: bool = False
    word_order: str = "big"
    """For 2-register values: "big" sends the high word first, "little" the low word."""

    def __post_init__(self) -> None:
        if not 0 <= self.register <= 0xFFFF:
            raise RegisterMapError(f"register {self.register} outside 0-65535")
        if self.count not in (1, 2):
            raise RegisterMapError(f"count must be 1 or 2 registers, got {self.count}")
        if self.word_order not in ("big", "little"):
            raise RegisterMapError(f"word_order must be 'big' or 'little', got {self.word_order!r}")

    def value(self, registers: tuple[int, ...], first: int) -> float:
        """This field's scaled value from registers read starting at register `first`."""
        i = self.register - first
        words = list(registers[i : i + self.count])
        if self.word_order == "little":
            words.reverse()
        raw = 0
        for word in words:
            raw = raw << 16 | word
        bits = 16 * self.count
        if self.signed and raw >= 1 << (bits - 1):
            raw -= 1 << bits
        return raw * self.scale


@dataclass(frozen=True, slots=True)
class RegisterMap:
    """Which registers to read, with which function, and where the level (and °C) sit."""

    level: RegisterField
    temperature: RegisterField | None = None
    function: int = READ_HOLDING

    def __post_init__(self) -> None:
        if self.function not in (READ_HOLDING, READ_INPUT):
            raise RegisterMapError(f"function must be 3 or 4, got {self.function}")
        if self.count > MAX_REGISTERS:
            raise RegisterMapError(f"the fields span {self.count} registers, at most 125")

    @property
    def fields(self) -> list[RegisterField]:
        """The fields read, level first."""
        return [self.level] + ([self.temperature] if self.temperature is not None else [])

    @property
    def start(self) -> int:
        """The first register one request reads."""
        return min(f.register for f in self.fields)

    @property
    def count(self) -> int:
        """How many registers one request reads (all fields in one span)."""
        return max(f.register + f.count for f in self.fields) - self.start

    def request(self, address: int) -> bytes:
        """The request that reads every field of this map from the sensor at `address`."""
        return read_request(address, self.function, self.start, self.count)

    def decode(self, registers: tuple[int, ...]) -> tuple[float, float | None]:
        """Level and temperature (None without one) from the registers a request read."""
        temperature = self.temperature
        return (
            self.level.value(registers, self.start),
            None if temperature is None else temperature.value(registers, self.start),
        )

    @classmethod
    def from_mapping(cls, doc: Mapping[str, Any], *, name: str = "<register map>") -> RegisterMap:
        """A map from parsed TOML/JSON: `function`, a `level` table, an optional `temperature`."""
        # imported here: `yardfleet fuel read` without a register map need not load the yard room
        from maps.config_files import ConfigFileError, convert

        try:
            f = convert(doc, _RegisterMapFile, source=name)
        except ConfigFileError as exc:
            raise RegisterMapError(str(exc)) from None
        try:
            return cls(
                _field(f.level),
                None if f.temperature is None else _field(f.temperature),
                f.function,
            )
        except RegisterMapError as exc:
            raise RegisterMapError(f"{name}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> RegisterMap:
        """A map from a TOML file (see `from_mapping`); RegisterMapError names file and key."""
        from maps.config_files import ConfigFileError, read_document

        try:
            doc = read_document(path, what="the register map")
        except ConfigFileError as exc:
            raise RegisterMapError(str(exc)) from None
        return cls.from_mapping(doc, name=str(path))


DEFAULT_MAP = RegisterMap(RegisterField(0))
"""Level in holding register 0, unsigned, unscaled: override it for your sensor."""


class _FieldFile(msgspec.Struct, forbid_unknown_fields=True):
    """A `[level]` or `[temperature]` table of a register map file."""

    register: Annotated[int, msgspec.Meta(ge=0, le=0xFFFF)]
    count: Literal[1, 2] = 1
    scale: float = 1.0
    signed: bool = False
    word_order: Literal["big", "little"] = "big"


class _RegisterMapFile(msgspec.Struct, forbid_unknown_fields=True):
    """A register map file."""

    level: _FieldFile
    temperature: _FieldFile | None = None
    function: Literal[3, 4] = 3  # READ_HOLDING


def _field(f: _FieldFile) -> RegisterField:
    return RegisterField(f.register, f.count, f.scale, f.signed, f.word_order)


@dataclass(frozen=True, slots=True)
class ModbusResponse:
    """A checked answer: the registers read, or the exception code the sensor sent instead."""

    address: int
    function: int
    registers: tuple[int, ...]
    exception: int | None
    raw: bytes

    @property
    def exception_text(self) -> str:
        """What the exception code means."""
        code = self.exception
        return "" if code is None else f"exception {code} ({EXCEPTIONS.get(code, 'unknown')})"


class ModbusParser:
    """Finds the answer to our read request in a byte stream; skips our echo and noise."""

    __slots__ = ("_buf", "address", "count", "function", "request", "stats")

    def __init__(
        self,
        address: int,
        function: int,
        count: int,
        *,
        request: bytes = b"",
        stats: FuelStats | None = None,
    ) -> None:
        self.address = address
        self.function = function
        self.count = count
        self.request = request
        """Our request, recognised and dropped when a half-duplex RS-485 adapter echoes it."""
        self.stats = stats if stats is not None else FuelStats()
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[ModbusResponse]:
        """Responses completed by `data`."""
        stats = self.stats
        stats.bytes += len(data)
        buf = self._buf
        buf += data
        out: list[ModbusResponse] = []
        want = 5 + 2 * self.count
        while buf:
            if buf[0] != self.address:
                start = buf.find(self.address)
                skip = len(buf) if start < 0 else start
                stats.garbage_bytes += skip
                del buf[:skip]
                continue
            if self.request and buf[: len(self.request)] == self.request[: len(buf)]:
                if len(buf) < len(self.request):
                    break  # maybe our echo, maybe the answer: wait for more
                del buf[: len(self.request)]
                continue
            if len(buf) < 2:
                break
            function = buf[1]
            if function == self.function | 0x80:
                if len(buf) < 5:
                    break
                if crc16_modbus(buf[:3]) != int.from_bytes(buf[3:5], "little"):
                    stats.bad_crc += 1
                    del buf[:1]
                    continue
                stats.exceptions += 1
                out.append(ModbusResponse(buf[0], self.function, (), buf[2], bytes(buf[:5])))
                del buf[:5]
                continue
            if function != self.function:
                stats.garbage_bytes += 1
                del buf[:1]
                continue
            if len(buf) < 3:
                break
            if buf[2] != 2 * self.count:
                stats.malformed += 1
                stats.garbage_bytes += 1
                del buf[:1]
                continue
            if len(buf) < want:
                break
            if crc16_modbus(buf[: want - 2]) != int.from_bytes(buf[want - 2 : want], "little"):
                stats.bad_crc += 1
                del buf[:1]
                continue
            body = bytes(buf[3 : want - 2])
            registers = tuple(
                int.from_bytes(body[i : i + 2], "big") for i in range(0, len(body), 2)
            )
            stats.frames += 1
            out.append(ModbusResponse(buf[0], function, registers, None, bytes(buf[:want])))
            del buf[:want]
        return out

    def flush(self) -> None:
        """Drop a partial answer (counted as short): the poll timed out or a new one starts."""
        if self._buf:
            self.stats.short_frames += 1
            self._buf.clear()

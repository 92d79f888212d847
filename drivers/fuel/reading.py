"""What every fuel driver yields — litres with a time and a validity flag — and its counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .calibration import Calibration


@dataclass(frozen=True, slots=True)
class FuelReading:
    """One tank reading; `valid` False says why in `reason` (litres may still be a guess)."""

    time: float
    litres: float | None
    level_raw: float | None
    temperature_c: float | None
    valid: bool
    source: str
    reason: str = ""


def calibrated(
    time: float,
    level: float,
    calibration: Calibration | None,
    *,
    source: str,
    temperature_c: float | None = None,
) -> FuelReading:
    """A reading from a raw level: litres through the table, invalid when the table clamps."""
    if calibration is None:
        return FuelReading(time, None, level, temperature_c, True, source, "no calibration")
    volume = calibration.litres(level)
    if volume.clamped:
        low, high = calibration.level_range
        reason = f"level {level:g} outside the calibration table [{low:g}, {high:g}]"
        return FuelReading(time, volume.litres, level, temperature_c, False, source, reason)
    return FuelReading(time, volume.litres, level, temperature_c, True, source)


@dataclass(slots=True)
class FuelStats:
    """Running counts for one sensor stream, so a flaky sensor shows in `fuel read` output.

    `frames` are accepted frames; `unknown` are well-formed ones we do not use (another
    command or address, a J1939 PGN we do not read); `malformed` have a valid start but
    senseless contents (an SLCAN line with bad hex or length, a Modbus byte count that does
    not match); `exceptions` are Modbus exception responses; `not_available` are J1939
    values sent as "not available" or "error"; `errors` are bugs caught so the driver runs on.
    """

    bytes: int = 0
    frames: int = 0
    bad_crc: int = 0
    short_frames: int = 0
    unknown: int = 0
    exceptions: int = 0
    timeouts: int = 0
    garbage_bytes: int = 0
    malformed: int = 0
    not_available: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts as a JSON-ready dict."""
        return asdict(self)


class AnswerWatch:
    """Counts a timeout each time a sensor stays silent longer than `timeout_s` (once a spell)."""

    __slots__ = ("_last", "_silent", "stats", "timeout_s")

    def __init__(self, stats: FuelStats, timeout_s: float, now: float) -> None:
        self.stats = stats
        self.timeout_s = timeout_s
        self._last = now
        self._silent = False

    def heard(self, now: float) -> None:
        """The sensor answered at `now`."""
        self._last = now
        self._silent = False

    def check(self, now: float) -> bool:
        """True (and one timeout counted per silent spell) when the sensor is silent too long."""
        if now - self._last <= self.timeout_s:
            return False
        if not self._silent:
            self._silent = True
            self.stats.timeouts += 1
        return True

"""NMEA field text → values: times, dates, coordinates, numbers; empty → None, bad → ValueError."""

from __future__ import annotations

from datetime import date

KNOTS_TO_MPS = 1852.0 / 3600.0
KMH_TO_MPS = 1.0 / 3.6
LIMIT = 1e9
"""Any number read must lie strictly within ±LIMIT: float() also takes "nan" and "inf"."""

_TODS: dict[bytes, float] = {}
"""The last few times of fix: GGA, RMC, GLL and ZDA of one epoch send the same string."""
_TODS_KEPT = 16
_DATES: dict[bytes, date] = {}
"""Dates seen: a receiver sends the same one all day."""
_DATES_KEPT = 4096
_LETTERS = {bytes([c]): chr(c) for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def parse_tod(f: bytes) -> float | None:
    """`hhmmss[.sss]` → seconds of the UTC day."""
    if not f:
        return None
    tod = _TODS.get(f)
    if tod is not None:
        return tod
    if not (
        f.isdigit()
        if len(f) == 6
        else f[6:7] == b"." and f[:6].isdigit() and (len(f) == 7 or f[7:].isdigit())
    ):
        raise ValueError(f"time {f!r}")
    x = float(f)
    h = x // 10000.0
    m = x // 100.0 - h * 100.0
    s = x - (x // 100.0) * 100.0
    if h > 23.0 or m > 59.0 or s >= 61.0:
        raise ValueError(f"time {f!r}")
    if len(_TODS) >= _TODS_KEPT:
        _TODS.clear()
    tod = _TODS[f] = h * 3600.0 + m * 60.0 + s
    return tod


def parse_ddmmyy(f: bytes) -> date | None:
    """`ddmmyy` → a date; years 80-99 are 19xx, as gpsd's default century makes them."""
    if not f:
        return None
    d = _DATES.get(f)
    if d is None:
        if len(f) != 6 or not f.isdigit():
            raise ValueError(f"date {f!r}")
        yy = int(f[4:])
        d = date(yy + (1900 if yy >= 80 else 2000), int(f[2:4]), int(f[:2]))
        if len(_DATES) >= _DATES_KEPT:
            _DATES.clear()
        _DATES[f] = d
    return d


def parse_position(
    lat: bytes, ns: bytes, lon: bytes, ew: bytes
) -> tuple[float | None, float | None]:
    """`ddmm.mm`,N/S,`dddmm.mm`,E/W → signed degrees; a value or its hemisphere empty → None.

    Both at once, inline: every fix sentence carries them, so this is on the hot path.
    """
    if not (lat and ns and lon and ew):
        return parse_lat(lat, ns), parse_lon(lon, ew)
    x = float(lat)
    y = float(lon)
    x_deg = x // 100.0
    y_deg = y // 100.0
    x_min = x - x_deg * 100.0
    y_min = y - y_deg * 100.0
    if not (0.0 <= x <= 9000.0 and 0.0 <= y <= 18000.0 and x_min < 60.0 and y_min < 60.0):
        raise ValueError(f"position {lat!r} {lon!r}")
    north = x_deg + x_min / 60.0
    east = y_deg + y_min / 60.0
    if ns != b"N":
        if ns != b"S":
            raise ValueError(f"hemisphere {ns!r}")
        north = -north
    if ew != b"E":
        if ew != b"W":
            raise ValueError(f"hemisphere {ew!r}")
        east = -east
    return north, east


def parse_lat(value: bytes, hemi: bytes) -> float | None:
    """`ddmm.mmmm` and N/S → signed degrees; either one empty → None."""
    if not value or not hemi:
        return None
    x = float(value)
    deg = x // 100.0
    minutes = x - deg * 100.0
    if not (0.0 <= x <= 9000.0 and minutes < 60.0):
        raise ValueError(f"latitude {value!r}")
    if hemi == b"N":
        return deg + minutes / 60.0
    if hemi == b"S":
        return -(deg + minutes / 60.0)
    raise ValueError(f"hemisphere {hemi!r}")


def parse_lon(value: bytes, hemi: bytes) -> float | None:
    """`dddmm.mmmm` and E/W → signed degrees; either one empty → None."""
    if not value or not hemi:
        return None
    x = float(value)
    deg = x // 100.0
    minutes = x - deg * 100.0
    if not (0.0 <= x <= 18000.0 and minutes < 60.0):
        raise ValueError(f"longitude {value!r}")
    if hemi == b"E":
        return deg + minutes / 60.0
    if hemi == b"W":
        return -(deg + minutes / 60.0)
    raise ValueError(f"hemisphere {hemi!r}")


def parse_float(f: bytes) -> float | None:
    """A finite decimal, or None for an empty field."""
    if not f:
        return None
    x = float(f)
    if not -LIMIT < x < LIMIT:
        raise ValueError(f"number {f!r}")
    return x


def parse_int(f: bytes) -> int | None:
    """A decimal integer, or None for an empty field."""
    if not f:
        return None
    if not f.isdigit():
        raise ValueError(f"integer {f!r}")
    return int(f)


def parse_letter(f: bytes) -> str | None:
    """A mode letter (or letters), or None for an empty field."""
    if not f:
        return None
    letter = _LETTERS.get(f)
    if letter is not None:
        return letter
    if not f.isalpha():
        raise ValueError(f"mode {f!r}")
    return f.decode()


def finite(a: float | None, b: float | None = None, c: float | None = None) -> bool:
    """No NaN or infinity among up to three numbers read inline with float()."""
    return (
        -LIMIT < (a or 0.0) < LIMIT and -LIMIT < (b or 0.0) < LIMIT and -LIMIT < (c or 0.0) < LIMIT
    )

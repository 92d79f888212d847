"""Checksummed NMEA sentences → records, one parser per type; anything else is counted, not used.

Supported: GGA, RMC, GLL, GNS, GSA, GST, VTG, ZDA, HDT and THS from the talkers in TALKERS;
`$P…` proprietary sentences are passed over. A field that does not parse rejects the whole
sentence as malformed: a truck acts on what it accepts, so half-read sentences are not used.
The parsers of the frequent sentences read numbers inline: this is the decoder's hot path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date

from .fields import (
    KMH_TO_MPS,
    KNOTS_TO_MPS,
    finite,
    parse_ddmmyy,
    parse_float,
    parse_int,
    parse_letter,
    parse_position,
    parse_tod,
)
from .records import GGA, GLL, GNS, GSA, GST, HDT, RMC, THS, VTG, ZDA, Sentence
from .stats import Reject

TALKERS: dict[bytes, str] = {
    t.encode(): t for t in ("GP", "GN", "GL", "GA", "GB", "BD", "GQ", "GI", "QZ")
}
"""Talkers we accept: GPS, combined, GLONASS, Galileo, BeiDou (two ids), QZSS (two), NavIC."""

_new = tuple.__new__
"""Builds a record from a tuple: a quarter of the cost of the NamedTuple's own constructor."""


def _gga(t: str, f: list[bytes]) -> GGA:
    """GGA: time, position, quality, satellites, HDOP, MSL altitude, geoid separation."""
    quality = parse_int(f[6])
    if not quality:  # no fix: receivers fill the position with placeholders (8960.0000,N)
        return _new(
            GGA, (t, parse_tod(f[1]), None, None, quality, parse_int(f[7]), None, None, None)
        )
    h, a, g = f[8], f[9], f[11]
    hdop = float(h) if h else None
    alt = float(a) if a else None
    sep = float(g) if g else None
    if not finite(hdop, alt, sep):
        raise ValueError(f"number in {f!r}")
    lat, lon = parse_position(f[2], f[3], f[4], f[5])
    return _new(GGA, (t, parse_tod(f[1]), lat, lon, quality, parse_int(f[7]), hdop, alt, sep))


def _rmc(t: str, f: list[bytes]) -> RMC:
    """RMC: time, status, position, speed (knots → m/s), track, date, FAA mode."""
    valid = f[2]
    if valid not in (b"A", b"D"):  # V: the rest is not valid data, often placeholders
        return _new(
            RMC, (t, parse_tod(f[1]), False, None, None, None, None, None, parse_letter(f[12]))
        )
    v, c = f[7], f[8]
    speed = float(v) * KNOTS_TO_MPS if v else None
    track = float(c) if c else None
    if not finite(speed, track):
        raise ValueError(f"number in {f!r}")
    lat, lon = parse_position(f[3], f[4], f[5], f[6])
    when = parse_ddmmyy(f[9])
    return _new(RMC, (t, parse_tod(f[1]), True, lat, lon, speed, track, when, parse_letter(f[12])))


def _gll(t: str, f: list[bytes]) -> GLL:
    """GLL: position, time, status, FAA mode."""
    if f[6] != b"A":
        return _new(GLL, (t, parse_tod(f[5]), False, None, None, parse_letter(f[7])))
    lat, lon = parse_position(f[1], f[2], f[3], f[4])
    return _new(GLL, (t, parse_tod(f[5]), True, lat, lon, parse_letter(f[7])))


def _gns(t: str, f: list[bytes]) -> GNS:
    """GNS: time, position, one mode letter per system, satellites, HDOP, altitudes."""
    modes = parse_letter(f[6])
    if modes is None or modes.strip("N") == "":
        return GNS(t, parse_tod(f[1]), None, None, modes, parse_int(f[7]), None, None, None, None)
    lat, lon = parse_position(f[2], f[3], f[4], f[5])
    return GNS(
        t,
        parse_tod(f[1]),
        lat,
        lon,
        modes,
        parse_int(f[7]),
        parse_float(f[8]),
        parse_float(f[9]),
        parse_float(f[10]),
        parse_letter(f[13]),
    )


def _gsa(t: str, f: list[bytes]) -> GSA:
    """GSA: fix type, how many satellites are used, PDOP/HDOP/VDOP, NMEA 4.1 system id."""
    if len(f) == 19:  # NMEA 4.1: twelve satellites, three DOPs, the GNSS system id
        prns, p, h, v, system = f[3:15], f[15], f[16], f[17], parse_int(f[18])
    else:  # some send more satellite fields (Navior CH-4701: 24); the DOPs come last
        prns, p, h, v, system = f[3:-3], f[-3], f[-2], f[-1], None
    pdop = float(p) if p else None
    hdop = float(h) if h else None
    vdop = float(v) if v else None
    if not finite(pdop, hdop, vdop):
        raise ValueError(f"DOP in {f!r}")
    kind = f[2]
    fix_type = int(kind) if kind.isdigit() else None  # Antaris sends E when dead reckoning
    return _new(GSA, (t, fix_type, len(prns) - prns.count(b""), pdop, hdop, vdop, system))


def _gst(t: str, f: list[bytes]) -> GST:
    """GST: time and the error statistics (RMS, ellipse, lat/lon/alt sigmas)."""
    return GST(t, parse_tod(f[1]), *(parse_float(x) for x in f[2:9]))


def _vtg(t: str, f: list[bytes]) -> VTG:
    """VTG: true track and speed (knots, else km/h), FAA mode."""
    c, knots, kmh = f[1], f[5], f[7]
    track = float(c) if c else None
    speed = float(knots) * KNOTS_TO_MPS if knots else float(kmh) * KMH_TO_MPS if kmh else None
    if not finite(track, speed):
        raise ValueError(f"number in {f!r}")
    return _new(VTG, (t, track, speed, parse_letter(f[9])))


def _zda(t: str, f: list[bytes]) -> ZDA:
    """ZDA: time and the full date (four-digit year)."""
    day, month, year = parse_int(f[2]), parse_int(f[3]), parse_int(f[4])
    when = None
    if day is not None and month is not None and year is not None:
        if year < 1980:
            raise ValueError(f"year {year}")
        when = date(year, month, day)
    return ZDA(t, parse_tod(f[1]), when)


def _hdt(t: str, f: list[bytes]) -> HDT:
    """HDT: true heading."""
    return HDT(t, parse_float(f[1]))


def _ths(t: str, f: list[bytes]) -> THS:
    """THS: true heading and its mode letter."""
    return THS(t, parse_float(f[1]), parse_letter(f[2]))


_Parser = Callable[[str, list[bytes]], Sentence]
PARSERS: dict[bytes, tuple[_Parser, int, int]] = {
    b"GGA": (_gga, 13, 12),
    b"RMC": (_rmc, 8, 13),
    b"GLL": (_gll, 7, 8),
    b"GNS": (_gns, 13, 14),
    b"GSA": (_gsa, 18, 18),
    b"GST": (_gst, 8, 9),
    b"VTG": (_vtg, 5, 10),
    b"ZDA": (_zda, 4, 5),
    b"HDT": (_hdt, 2, 2),
    b"THS": (_ths, 2, 3),
}
"""Sentence type → (parser, fewest fields accepted as gpsd counts them, fields the parser reads)."""
Dispatch = dict[bytes, tuple[_Parser, str, int, int]]
"""`GPGGA,` → (parser, talker, fewest, width): one look-up per sentence."""


def dispatch_table(kinds: Iterable[str] | None = None) -> Dispatch:
    """The look-up table for these sentence types (all supported ones by default)."""
    chosen = PARSERS if kinds is None else {k.encode(): PARSERS[k.encode()] for k in kinds}
    return {
        tb + kind + b",": (parser, talker, fewest, width)
        for tb, talker in TALKERS.items()
        for kind, (parser, fewest, width) in chosen.items()
    }


_ALL = dispatch_table()
_PADDING = [[b""] * n for n in range(16)]


def parse_bodies(
    bodies: Iterable[bytes], rejected: Counter[Reject], table: Dispatch = _ALL
) -> tuple[list[Sentence], int]:
    """Records of the bodies (what lies between `$` and `*`), and how many were proprietary.

    Each body rejected is counted in `rejected` under its reason; types missing from `table`
    count as unsupported.
    """
    out: list[Sentence] = []
    append = out.append
    dispatch = table.get
    proprietary = unsupported = malformed = 0
    for body in bodies:
        entry = dispatch(body[:6])
        if entry is None:
            if body[:1] == b"P":
                proprietary += 1
            elif body[:2] in TALKERS:
                unsupported += 1
            else:
                rejected[Reject.BAD_TALKER] += 1
            continue
        parser, talker, fewest, width = entry
        fields = body.split(b",")
        n = len(fields)
        if n < width:
            if n < fewest:
                malformed += 1
                continue
            fields += _PADDING[width - n]
        try:
            append(parser(talker, fields))
        except ValueError:
            malformed += 1
    if unsupported:
        rejected[Reject.UNSUPPORTED] += unsupported
    if malformed:
        rejected[Reject.MALFORMED] += malformed
    return out, proprietary


def parse_body(body: bytes) -> Sentence | Reject | None:
    """What lies between `$` and `*` → its record, why it is rejected, or None if proprietary."""
    rejected: Counter[Reject] = Counter()
    records, proprietary = parse_bodies((body,), rejected)
    if records:
        return records[0]
    return None if proprietary else next(iter(rejected))


def parse_sentence(raw: bytes) -> Sentence | Reject | None:
    """A framed sentence (`$` … `*hh`) → its record, the reason it is rejected, or None if `$P`."""
    return parse_body(raw[1:-3] if raw[-3:-2] == b"*" else raw[1:])

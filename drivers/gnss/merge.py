"""How each sentence folds into the epoch under way: the last value sent wins, and a position
counts only when the sentence that carries it says the fix is valid."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from .fix import QUALITY_BY_FAA_MODE, Service
from .records import GGA, GLL, GNS, GSA, GST, HDT, RMC, THS, VTG, ZDA

SERVICE_BY_TALKER: dict[str, int] = {
    "GP": Service.GPS,
    "QZ": Service.GPS,
    "GQ": Service.GPS,
    "GL": Service.GLONASS,
    "GA": Service.GALILEO,
    "GB": Service.COMPASS,
    "BD": Service.COMPASS,
}
SERVICE_BY_SYSTEM_ID: dict[int, int] = {
    1: Service.GPS,
    2: Service.GLONASS,
    3: Service.GALILEO,
    4: Service.COMPASS,
    5: Service.GPS,
}
"""NMEA 4.1 GNSS system id (GSA's last field) → service bit; QZSS counts as GPS."""

MODE_LETTER_SAYS, GNS_SAYS, GGA_SAYS = 1, 2, 3
"""Who says the fix quality, weakest first: RMC/GLL mode letter, GNS's letters, GGA's number."""


class EpochState:
    """What the sentences of one epoch said so far; None is "not said"."""

    __slots__ = (
        "alt",
        "counts",
        "date",
        "fix_type",
        "hdop",
        "heading",
        "key",
        "last_kind",
        "lat",
        "lon",
        "quality",
        "quality_from",
        "sats",
        "sats_gsa",
        "sep",
        "service",
        "sigmas",
        "speed",
        "tod",
        "track",
        "valid",
    )

    def __init__(self) -> None:
        self.key: int | None = None
        self.tod: float | None = None
        self.date: date | None = None
        self.lat: float | None = None
        self.lon: float | None = None
        self.alt: float | None = None
        self.sep: float | None = None
        self.valid: bool | None = None
        self.quality: int | None = None
        self.quality_from = 0
        self.fix_type: int | None = None
        self.sats: int | None = None
        self.sats_gsa = 0
        self.hdop: float | None = None
        self.sigmas: tuple[float | None, float | None, float | None] | None = None
        self.speed: float | None = None
        self.track: float | None = None
        self.heading: float | None = None
        self.service = 0
        self.counts: dict[tuple[type, str], int] = {}
        self.last_kind: tuple[type, str, int] | None = None

    def say_quality(self, quality: int | None, who: int) -> None:
        """Take a fix quality unless a more authoritative sentence of the epoch gave one."""
        if quality is not None and who >= self.quality_from:
            self.quality, self.quality_from = quality, who


def faa_quality(faa: str | None) -> int | None:
    """The GGA fix quality an FAA mode string means (GNS sends one letter per system)."""
    if not faa:
        return None
    for letter in faa:
        if letter != "N":
            return QUALITY_BY_FAA_MODE.get(letter, 1)
    return 0


FEWEST_SATELLITES = 3
"""A GPGGA or GNGGA that says fewer satellites used than this has no fix, whatever its quality."""

ALL_SYSTEMS_TALKERS = frozenset({"GP", "GN"})
"""The GGA talkers whose satellite count is the whole fix's (GLGGA, GAGGA… count one system)."""


def gga_has_fix(s: GGA) -> bool:
    """gpsd's decision (drivers/driver_nmea0183.c, processGGA): a fix needs a quality above 0
    and, from a GP or GN talker, at least 3 satellites used. Receivers send quality 1 with 0
    satellites before they have a real fix; an empty count is 0, as gpsd's atoi() reads it.
    Other talkers report one constellation's count, which may be 0 in a good fix."""
    if s.quality is None or s.quality <= 0:
        return False
    return s.talker not in ALL_SYSTEMS_TALKERS or (s.satellites or 0) >= FEWEST_SATELLITES


def merge_gga(e: EpochState, s: GGA) -> None:
    """GGA: quality (0 is no fix), satellites, HDOP, position and altitudes; a fix from too
    few satellites (`gga_has_fix`) is no fix, its position not taken."""
    valid = gga_has_fix(s)
    e.valid = valid
    e.say_quality(s.quality, GGA_SAYS)
    if s.satellites is not None:
        e.sats = s.satellites
    if s.hdop is not None:
        e.hdop = s.hdop
    if valid and s.latitude is not None and s.longitude is not None:
        e.lat, e.lon = s.latitude, s.longitude
        if s.altitude_msl is not None:
            e.alt, e.sep = s.altitude_msl, s.geoid_separation


def merge_rmc(e: EpochState, s: RMC) -> None:
    """RMC: validity, position, speed, track, the date, and a mode letter for the quality."""
    valid = s.valid and s.faa != "N"
    e.valid = valid
    if not valid:
        return
    if s.latitude is not None and s.longitude is not None:
        e.lat, e.lon = s.latitude, s.longitude
    if s.speed_mps is not None:
        e.speed = s.speed_mps
    if s.track_deg is not None:
        e.track = s.track_deg
    if s.date is not None:
        e.date = s.date
    e.say_quality(faa_quality(s.faa), MODE_LETTER_SAYS)


def merge_gll(e: EpochState, s: GLL) -> None:
    """GLL: validity and position."""
    valid = s.valid and s.faa != "N"
    e.valid = valid
    if valid:
        e.say_quality(faa_quality(s.faa), MODE_LETTER_SAYS)
        if s.latitude is not None and s.longitude is not None:
            e.lat, e.lon = s.latitude, s.longitude


def merge_gns(e: EpochState, s: GNS) -> None:
    """GNS: valid when any system's mode letter is not N; nav status U or V is not used."""
    if s.nav_status in ("U", "V"):
        return
    quality = faa_quality(s.faa)
    valid = quality is not None and quality > 0
    e.valid = valid
    e.say_quality(quality, GNS_SAYS)
    if s.satellites is not None:
        e.sats = s.satellites
    if s.hdop is not None:
        e.hdop = s.hdop
    if valid and s.latitude is not None and s.longitude is not None:
        e.lat, e.lon = s.latitude, s.longitude
        if s.altitude_msl is not None:
            e.alt, e.sep = s.altitude_msl, s.geoid_separation


def merge_gsa(e: EpochState, s: GSA) -> None:
    """GSA: fix type, satellites used (summed over a cycle's GSAs, one per system), HDOP."""
    if s.fix_type is not None:
        e.fix_type = s.fix_type
    e.sats_gsa += s.satellites_used
    if s.hdop is not None:
        e.hdop = s.hdop
    if s.system is not None:
        e.service |= SERVICE_BY_SYSTEM_ID.get(s.system, 0)


def merge_vtg(e: EpochState, s: VTG) -> None:
    """VTG: speed and track, unless its mode says not valid (N) or dead reckoning (E)."""
    if s.faa not in ("N", "E"):
        if s.speed_mps is not None:
            e.speed = s.speed_mps
        if s.track_deg is not None:
            e.track = s.track_deg


def merge_zda(e: EpochState, s: ZDA) -> None:
    """ZDA: the date."""
    if s.date is not None:
        e.date = s.date


def merge_gst(e: EpochState, s: GST) -> None:
    """GST: the 1-sigma errors, when they are for this epoch's time."""
    if s.tod is None or round(s.tod * 100.0) == e.key:
        e.sigmas = (s.lat_sd_m, s.lon_sd_m, s.alt_sd_m)


def merge_hdt(e: EpochState, s: HDT) -> None:
    """HDT: true heading."""
    if s.heading_deg is not None:
        e.heading = s.heading_deg


def merge_ths(e: EpochState, s: THS) -> None:
    """THS: true heading, unless marked invalid (V)."""
    if s.heading_deg is not None and s.mode != "V":
        e.heading = s.heading_deg


MERGE: dict[type, Callable[[EpochState, Any], None]] = {
    GGA: merge_gga,
    RMC: merge_rmc,
    GLL: merge_gll,
    GNS: merge_gns,
    GSA: merge_gsa,
    VTG: merge_vtg,
    ZDA: merge_zda,
    GST: merge_gst,
    HDT: merge_hdt,
    THS: merge_ths,
}
"""Record type → how it folds into the epoch."""

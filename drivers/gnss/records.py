"""The record each supported NMEA sentence becomes; None in a field is "not sent", never 0.

Times are seconds of the UTC day (`tod`), positions signed degrees, speeds m/s, angles
degrees true; the date comes only with RMC and ZDA.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple


class GGA(NamedTuple):
    """Fix data: time, position, fix quality, satellites, HDOP, altitudes."""

    talker: str
    tod: float | None
    latitude: float | None
    longitude: float | None
    quality: int | None
    satellites: int | None
    hdop: float | None
    altitude_msl: float | None
    geoid_separation: float | None


class RMC(NamedTuple):
    """Recommended minimum: time, date, validity, position, speed and track, FAA mode."""

    talker: str
    tod: float | None
    valid: bool
    latitude: float | None
    longitude: float | None
    speed_mps: float | None
    track_deg: float | None
    date: date | None
    faa: str | None


class GLL(NamedTuple):
    """Geographic position with time and validity."""

    talker: str
    tod: float | None
    valid: bool
    latitude: float | None
    longitude: float | None
    faa: str | None


class GNS(NamedTuple):
    """Multi-constellation fix: per-system mode letters, satellites, HDOP, altitudes."""

    talker: str
    tod: float | None
    latitude: float | None
    longitude: float | None
    faa: str | None
    satellites: int | None
    hdop: float | None
    altitude_msl: float | None
    geoid_separation: float | None
    nav_status: str | None


class GSA(NamedTuple):
    """DOPs and satellites used; fix type 1 none, 2 2D, 3 3D."""

    talker: str
    fix_type: int | None
    satellites_used: int
    pdop: float | None
    hdop: float | None
    vdop: float | None
    system: int | None


class GST(NamedTuple):
    """Pseudorange error statistics: 1-sigma errors in metres for the fix at `tod`."""

    talker: str
    tod: float | None
    rms: float | None
    major_m: float | None
    minor_m: float | None
    orientation_deg: float | None
    lat_sd_m: float | None
    lon_sd_m: float | None
    alt_sd_m: float | None


class VTG(NamedTuple):
    """Track made good and speed over ground."""

    talker: str
    track_deg: float | None
    speed_mps: float | None
    faa: str | None


class ZDA(NamedTuple):
    """Time and full date."""

    talker: str
    tod: float | None
    date: date | None


class HDT(NamedTuple):
    """True heading (a dual-antenna receiver or a gyro)."""

    talker: str
    heading_deg: float | None


class THS(NamedTuple):
    """True heading with a mode: A autonomous, E estimated, M manual, S simulator, V invalid."""

    talker: str
    heading_deg: float | None
    mode: str | None


Sentence = GGA | RMC | GLL | GNS | GSA | GST | VTG | ZDA | HDT | THS
TIMED = (GGA, RMC, GLL, GNS, ZDA)
"""Sentences whose time is the time of fix, so they mark epochs (GST's refers to a GGA)."""

"""The fix a GNSS receiver reports for one epoch: what sensor_msgs/NavSatFix carries, and more."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from types import MappingProxyType
from typing import Any, NamedTuple


class Mode(IntEnum):
    """gpsd's fix mode: what dimension of fix the receiver claims."""

    UNKNOWN = 0
    NO_FIX = 1
    FIX_2D = 2
    FIX_3D = 3


class NavSatStatus(IntEnum):
    """sensor_msgs/NavSatStatus.status: whether, and how, the position is augmented."""

    NO_FIX = -1
    FIX = 0
    SBAS_FIX = 1
    GBAS_FIX = 2


class Service(IntEnum):
    """sensor_msgs/NavSatStatus.service bits: the constellations used."""

    GPS = 1
    GLONASS = 2
    COMPASS = 4
    GALILEO = 8


class CovarianceType(IntEnum):
    """sensor_msgs/NavSatFix.position_covariance_type: how much the covariance can be trusted."""

    UNKNOWN = 0
    APPROXIMATED = 1
    DIAGONAL_KNOWN = 2
    KNOWN = 3


STATUS_BY_QUALITY: Mapping[int, NavSatStatus] = MappingProxyType(
    {
        1: NavSatStatus.FIX,
        2: NavSatStatus.SBAS_FIX,
        4: NavSatStatus.GBAS_FIX,
        5: NavSatStatus.GBAS_FIX,
        9: NavSatStatus.GBAS_FIX,
    }
)
"""GGA fix quality → status, as ROS nmea_navsat_driver maps it; any other quality is NO_FIX."""

QUALITY_BY_FAA_MODE: Mapping[str, int] = MappingProxyType(
    {"N": 0, "A": 1, "D": 2, "P": 3, "R": 4, "F": 5, "E": 6, "M": 7, "S": 8}
)
"""RMC/GNS/GLL FAA mode indicator → the GGA fix quality that means the same."""

DEFAULT_EPE_M: Mapping[int, float] = MappingProxyType({1: 4.0, 2: 0.1, 4: 0.02, 5: 4.0, 9: 3.0})
"""Horizontal error (m, at HDOP 1) per GGA fix quality: nmea_navsat_driver's defaults."""

UNKNOWN_COVARIANCE: tuple[float, ...] = (0.0,) * 9


@dataclass(frozen=True, slots=True)
class ErrorModel:
    """Position covariance from GST sigmas when sent, else HDOP × a configured error per quality."""

    epe_m: Mapping[int, float] = field(default_factory=lambda: DEFAULT_EPE_M)
    vertical_factor: float = 2.0
    """Vertical error as a multiple of the horizontal one (VDOP is typically 1.5-2 × HDOP)."""

    def covariance(
        self,
        quality: int | None,
        hdop: float | None,
        sigmas: tuple[float | None, float | None, float | None] | None,
    ) -> tuple[tuple[float, ...], CovarianceType]:
        """ENU covariance (row-major 3 × 3) and its type for one fix.

        GST's 1-sigma errors are used squared as they are: they already include the geometry
        (nmea_navsat_driver multiplies them by HDOP again). All three must be sent and
        positive; receivers without a fix send zeros.
        """
        if sigmas is not None:
            lat_sd, lon_sd, alt_sd = sigmas
            if lat_sd and lon_sd and alt_sd and lat_sd > 0 and lon_sd > 0 and alt_sd > 0:
                cov = (lon_sd**2, 0.0, 0.0, 0.0, lat_sd**2, 0.0, 0.0, 0.0, alt_sd**2)
                return cov, CovarianceType.DIAGONAL_KNOWN
        epe = self.epe_m.get(quality) if quality is not None else None
        if epe is None or hdop is None:
            return UNKNOWN_COVARIANCE, CovarianceType.UNKNOWN
        horizontal = (hdop * epe) ** 2
        vertical = horizontal * self.vertical_factor**2
        cov = (horizontal, 0.0, 0.0, 0.0, horizontal, 0.0, 0.0, 0.0, vertical)
        return cov, CovarianceType.APPROXIMATED


class Fix(NamedTuple):
    """One epoch's fix: position, altitudes, quality, velocity and heading; None is "not sent"."""

    time: datetime | None
    latitude: float | None
    longitude: float | None
    altitude_msl: float | None
    altitude_hae: float | None
    geoid_separation: float | None
    mode: Mode
    status: NavSatStatus
    service: int
    quality: int | None
    satellites_used: int | None
    hdop: float | None
    speed_mps: float | None
    track_deg: float | None
    heading_deg: float | None
    position_covariance: tuple[float, ...]
    position_covariance_type: CovarianceType

    def to_json(self) -> dict[str, Any]:
        """The fix as a JSON-ready dict, rounded for reading; gpsd's TPV names where gpsd has one,
        but `status` is sensor_msgs/NavSatStatus (-1 no fix … 2 GBAS), not gpsd's."""
        return {
            "time": None if self.time is None else _iso(self.time),
            "lat": _round(self.latitude, 9),
            "lon": _round(self.longitude, 9),
            "altMSL": _round(self.altitude_msl, 4),
            "altHAE": _round(self.altitude_hae, 4),
            "mode": int(self.mode),
            "status": int(self.status),
            "service": self.service,
            "quality": self.quality,
            "satellitesUsed": self.satellites_used,
            "speed": _round(self.speed_mps, 4),
            "track": _round(self.track_deg, 4),
            "heading": _round(self.heading_deg, 4),
            "hdop": self.hdop,
            "covariance": [round(c, 6) for c in self.position_covariance],
            "covarianceType": int(self.position_covariance_type),
        }


def _round(x: float | None, digits: int) -> float | None:
    """Round for display, keeping None."""
    return None if x is None else round(x, digits)


def _iso(t: datetime) -> str:
    """ISO 8601 UTC to the millisecond, with a Z, as gpsd writes times."""
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")

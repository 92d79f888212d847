"""Sensor readings → the wire's pieces: a GNSS fix as pose and `Gnss`, litres as `Fuel`.

Compass track (0 = north, clockwise) becomes VDA 5050's theta (0 = +x = east,
counter-clockwise): theta = 90° − track, in [-π, π]. `deviationRange` is the fix's
horizontal DRMS (see `fleet.protocol.extensions.deviation_range_m`).
"""

from __future__ import annotations

import math

from drivers.fuel.reading import FuelReading
from drivers.gnss.fix import CovarianceType as FixCovariance
from drivers.gnss.fix import Fix, Mode, NavSatStatus, Service
from fleet.protocol.base import PI
from fleet.protocol.extensions import (
    CovarianceType,
    FixMode,
    FixStatus,
    FixType,
    Fuel,
    FuelLoss,
    Gnss,
    GnssService,
    deviation_range_m,
)
from fleet.protocol.geometry import AgvPosition

__all__ = ["agv_position", "fuel_extension", "gnss_extension", "theta_of_track"]

_STATUS = {
    NavSatStatus.NO_FIX: FixStatus.NOFIX,
    NavSatStatus.FIX: FixStatus.FIX,
    NavSatStatus.SBAS_FIX: FixStatus.SBASFIX,
    NavSatStatus.GBAS_FIX: FixStatus.GBASFIX,
}
_SERVICE = {
    Service.GPS: GnssService.GPS,
    Service.GLONASS: GnssService.GLONASS,
    Service.COMPASS: GnssService.COMPASS,
    Service.GALILEO: GnssService.GALILEO,
}
_MODE = {Mode.NO_FIX: FixMode.NOFIX, Mode.FIX_2D: FixMode.FIX2D, Mode.FIX_3D: FixMode.FIX3D}
_FIX_TYPES = list(FixType)  # GGA quality 0..8, in order
_COVARIANCE = {
    FixCovariance.UNKNOWN: CovarianceType.UNKNOWN,
    FixCovariance.APPROXIMATED: CovarianceType.APPROXIMATED,
    FixCovariance.DIAGONAL_KNOWN: CovarianceType.DIAGONALKNOWN,
    FixCovariance.KNOWN: CovarianceType.KNOWN,
}


def has_position(fix: Fix) -> bool:
    """Whether the fix says where the truck is."""
    return fix.latitude is not None and fix.longitude is not None and fix.status >= 0


def gnss_extension(fix: Fix) -> Gnss:
    """The fix as `yardfleet.gnss` (NavSatFix field for field)."""
    where = has_position(fix)
    quality = fix.quality
    return Gnss(
        status=_STATUS[fix.status],
        service=[name for bit, name in _SERVICE.items() if fix.service & bit] or None,
        latitude=fix.latitude if where else None,
        longitude=fix.longitude if where else None,
        altitude=fix.altitude_hae if where else None,
        position_covariance=list(fix.position_covariance) if where else None,
        position_covariance_type=_COVARIANCE[fix.position_covariance_type],
        fix_type=_FIX_TYPES[quality] if quality is not None and 0 <= quality < 9 else None,
        fix_mode=_MODE.get(fix.mode),
        satellites=fix.satellites_used,
        hdop=fix.hdop,
    )


def theta_of_track(track_deg: float) -> float:
    """VDA 5050 theta [rad] of a compass course [deg]."""
    theta = math.atan2(math.cos(math.radians(track_deg)), math.sin(math.radians(track_deg)))
    return max(-PI, min(PI, theta))


def agv_position(
    x: float, y: float, theta: float, gnss: Gnss, map_id: str, *, initialized: bool = True
) -> AgvPosition:
    """The truck's pose on the yard's map, with the fix's DRMS as its deviation range."""
    return AgvPosition(
        x=round(x, 3),
        y=round(y, 3),
        theta=max(-PI, min(PI, round(theta, 4))),  # rounded, then clamped: -pi rounds out
        map_id=map_id,
        position_initialized=initialized,
        deviation_range=deviation_range_m(gnss),
    )


def fuel_extension(reading: FuelReading, tank_litres: float, loss: FuelLoss) -> Fuel | None:
    """`yardfleet.fuel` from a calibrated reading; None without litres (no calibration)."""
    if reading.litres is None or not math.isfinite(reading.litres):
        return None
    litres = max(0.0, reading.litres)
    return Fuel(
        litres=round(litres, 2),
        tank_litres=tank_litres,
        level_percent=round(min(100.0, 100.0 * litres / tank_litres), 2),
        loss=loss,
    )

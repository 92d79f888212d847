"""The yard's local east-north frame: transverse Mercator centred on the WGS84 origin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LocalFrame:
    """Metres east (x) and north (y) of the yard origin; y points to true north at the origin.

    A transverse Mercator projection with scale 1 centred on the origin keeps the grid
    aligned with true north (a UTM grid is rotated by its convergence) and the scale error
    below 1e-8 within a few kilometres, so lengths in the frame are lengths on the ground.
    """

    lon0: float
    lat0: float
    _to_local: Any = field(init=False, repr=False, compare=False)
    _to_wgs84: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (-180.0 <= self.lon0 <= 180.0 and -90.0 < self.lat0 < 90.0):
            raise ValueError(f"origin lon/lat out of range: {self.lon0}, {self.lat0}")
        local = CRS.from_proj4(
            f"+proj=tmerc +lat_0={self.lat0!r} +lon_0={self.lon0!r} +k=1 "
            "+x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
        )
        wgs84 = CRS.from_epsg(4326)
        object.__setattr__(self, "_to_local", Transformer.from_crs(wgs84, local, always_xy=True))
        object.__setattr__(self, "_to_wgs84", Transformer.from_crs(local, wgs84, always_xy=True))

    def to_local(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Longitudes and latitudes (degrees) to local x, y (metres)."""
        x, y = self._to_local.transform(np.asarray(lon, float), np.asarray(lat, float))
        return np.asarray(x, float), np.asarray(y, float)

    def to_wgs84(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Local x, y (metres) to longitudes and latitudes (degrees)."""
        lon, lat = self._to_wgs84.transform(np.asarray(x, float), np.asarray(y, float))
        return np.asarray(lon, float), np.asarray(lat, float)

    def point_to_local(self, lon: float, lat: float) -> tuple[float, float]:
        """One lon/lat to one local x, y."""
        x, y = self._to_local.transform(lon, lat)
        return float(x), float(y)

    def point_to_wgs84(self, x: float, y: float) -> tuple[float, float]:
        """One local x, y to one lon/lat."""
        lon, lat = self._to_wgs84.transform(x, y)
        return float(lon), float(lat)

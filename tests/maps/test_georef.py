"""The local frame: transverse Mercator on the origin, x east and y true north, metres true."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from maps import LocalFrame

GEOD = Geod(ellps="WGS84")
ORIGINS = [(106.931, 20.838), (4.05, 51.95), (-75.19, 39.951), (151.2, -33.86), (18.9, 69.65)]


@pytest.mark.parametrize(("lon0", "lat0"), ORIGINS)
def test_one_km_east_is_one_km_at_azimuth_90(lon0: float, lat0: float) -> None:
    frame = LocalFrame(lon0, lat0)
    lon, lat = frame.point_to_wgs84(1000.0, 0.0)
    az, _, dist = GEOD.inv(lon0, lat0, lon, lat)
    assert dist == pytest.approx(1000.0, abs=0.01)
    assert az == pytest.approx(90.0, abs=0.001)


@pytest.mark.parametrize(("lon0", "lat0"), ORIGINS)
def test_one_km_north_is_one_km_at_azimuth_0(lon0: float, lat0: float) -> None:
    frame = LocalFrame(lon0, lat0)
    lon, lat = frame.point_to_wgs84(0.0, 1000.0)
    az, _, dist = GEOD.inv(lon0, lat0, lon, lat)
    assert dist == pytest.approx(1000.0, abs=0.01)
    assert az == pytest.approx(0.0, abs=0.001)


def test_origin_is_zero_and_round_trip_is_exact() -> None:
    frame = LocalFrame(106.931, 20.838)
    assert frame.point_to_local(106.931, 20.838) == pytest.approx((0.0, 0.0), abs=1e-9)
    rng = np.random.default_rng(7)
    x, y = rng.uniform(-3000, 3000, 500), rng.uniform(-3000, 3000, 500)
    lon, lat = frame.to_wgs84(x, y)
    x2, y2 = frame.to_local(lon, lat)
    assert np.max(np.hypot(x2 - x, y2 - y)) < 1e-6


def test_distances_in_the_frame_are_ground_distances() -> None:
    frame = LocalFrame(106.931, 20.838)
    rng = np.random.default_rng(3)
    a, b = rng.uniform(-2000, 2000, (2, 200, 2))
    lon_a, lat_a = frame.to_wgs84(a[:, 0], a[:, 1])
    lon_b, lat_b = frame.to_wgs84(b[:, 0], b[:, 1])
    _, _, ground = GEOD.inv(lon_a, lat_a, lon_b, lat_b)
    local = np.hypot(*(a - b).T)
    assert np.max(np.abs(ground - local)) < 0.01


def test_utm_would_be_rotated_but_the_frame_is_not() -> None:
    """The reason for the frame: UTM 48N's grid north is off true north at Lach Huyen."""
    from pyproj import Proj

    utm = Proj(proj="utm", zone=48, ellps="WGS84")
    factors = utm.get_factors(106.931, 20.838)
    assert abs(factors.meridian_convergence) > 0.5
    frame = LocalFrame(106.931, 20.838)
    lon, _lat = frame.point_to_wgs84(0.0, 500.0)
    assert lon == pytest.approx(106.931, abs=1e-12)


def test_bad_origin_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        LocalFrame(200.0, 10.0)

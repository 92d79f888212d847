"""The vehicle class: the body a truck is and where its GNSS antenna sits."""

from __future__ import annotations

import math

import pytest

from routing.vehicle import TERMINAL_TRACTOR, VehicleClass


def test_the_default_tractor_is_16_by_2_5_m_with_its_antenna_3_m_behind_the_front() -> None:
    v = TERMINAL_TRACTOR
    assert (v.length_m, v.width_m, v.antenna_m) == (16.0, 2.5, 3.0)
    assert v.footprint_m == 20.0  # what it was: length plus gap
    assert VehicleClass("itv", length_m=12.0, antenna_m=12.0).antenna_m == 12.0  # at the rear
    assert VehicleClass("itv", antenna_m=0.0).antenna_m == 0.0  # at the front


@pytest.mark.parametrize("antenna", [-0.1, 16.01, math.nan])
def test_an_antenna_outside_the_body_is_refused_by_name(antenna: float) -> None:
    with pytest.raises(ValueError, match=r"'odd'.*antenna_m"):
        VehicleClass("odd", antenna_m=antenna)


@pytest.mark.parametrize("width", [0.0, -2.5, math.nan])
def test_a_body_without_width_is_refused_by_name(width: float) -> None:
    with pytest.raises(ValueError, match="width_m must be positive"):
        VehicleClass("odd", width_m=width)

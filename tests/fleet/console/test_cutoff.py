"""Which closures cut a quay crane off from the yard."""

from __future__ import annotations

from fleet.console.cutoff import cut_off_cranes
from maps import Yard


def test_the_lane_into_a_cranes_spot_and_the_apron_before_it_cut_it_off(haiphong: Yard) -> None:
    assert cut_off_cranes(haiphong, [], "QC03.SP-in") == ["QC03"]
    assert cut_off_cranes(haiphong, [], "apron-u-01") != []


def test_a_main_lane_with_a_way_around_cuts_nobody_off(haiphong: Yard) -> None:
    assert cut_off_cranes(haiphong, [], "apron-u-02") == []


def test_a_crane_cut_off_already_is_not_the_next_closures_doing(haiphong: Yard) -> None:
    assert cut_off_cranes(haiphong, ["QC03.SP-in"], "apron-u-02") == []

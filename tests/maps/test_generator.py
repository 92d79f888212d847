"""The terminal generator: counts as asked, well-formed service points, deterministic."""

from __future__ import annotations

import dataclasses
import json

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maps import (
    AreaKind,
    CraneKind,
    ServicePointKind,
    TerminalSpec,
    Yard,
    check_yard,
    generate_terminal,
    yard_differences,
    yard_to_geojson,
)
from maps.terminals import HAIPHONG


def test_haiphong_has_the_numbers_of_the_design(haiphong: Yard) -> None:
    blocks = haiphong.areas_of(AreaKind.BLOCK)
    assert len(blocks) == 20
    assert {(b.bays, b.rows, b.tiers) for b in blocks} == {(40, 6, 5)}
    assert len(haiphong.cranes_of(CraneKind.QC)) == 6
    assert len(haiphong.cranes_of(CraneKind.RTG)) == 24
    assert len(haiphong.areas_of(AreaKind.QUAY)) == 2
    quay = sum(a.polygon.bounds[2] - a.polygon.bounds[0] for a in haiphong.areas_of(AreaKind.QUAY))
    assert quay == pytest.approx(750.0)
    assert len(haiphong.service_points_of(ServicePointKind.PARKING)) == 32
    assert len(haiphong.service_points_of(ServicePointKind.QUAY_CRANE)) == 6
    assert len(haiphong.service_points_of(ServicePointKind.TRANSFER_POINT)) == 80
    assert len(haiphong.service_points_of(ServicePointKind.FUEL_PUMP)) == 2
    assert len(haiphong.service_points_of(ServicePointKind.GATE_LANE)) == 4
    for kind in (AreaKind.GATE, AreaKind.FUEL_STATION, AreaKind.PARK):
        assert len(haiphong.areas_of(kind)) == 1
    # Speeds: 25 km/h on main lanes, 10 km/h in block lanes and under the cranes.
    speeds = {
        lane.kind.value: round(lane.speed_limit_mps * 3.6, 6)
        for lane in haiphong.lanes.values()
        if lane.id.startswith(("drive", "block", "apron-u"))
    }
    assert speeds == {"main": 25.0, "block": 10.0, "apron": 10.0}


def test_haiphong_breaks_no_rule(haiphong: Yard) -> None:
    assert check_yard(haiphong) == []


def test_every_block_lane_is_one_way_and_every_crane_has_a_stop(haiphong: Yard) -> None:
    g = haiphong.graph
    for lane in haiphong.lanes.values():
        if lane.kind.value == "block":
            assert not g.has_edge(lane.end, lane.start), lane.id
    stops = {sp.crane for sp in haiphong.service_points_of(ServicePointKind.QUAY_CRANE)}
    assert stops == {c.id for c in haiphong.cranes_of(CraneKind.QC)}


def test_service_points_stand_off_the_through_lanes(haiphong: Yard) -> None:
    stops = {sp.node for sp in haiphong.service_points.values()}
    through = nx.DiGraph(
        (lane.start, lane.end) for lane in haiphong.lanes.values() if lane.is_through
    )
    assert not stops & set(through.nodes)
    assert nx.is_strongly_connected(through)


def test_every_siding_holds_a_truck_and_its_gap(haiphong: Yard) -> None:
    """A 16 m tractor plus its 4 m gap, parked at a stop, leaves the junction behind it clear."""
    for sp in haiphong.service_points.values():
        entry = [lane for lane in haiphong.lanes.values() if lane.end == sp.node]
        assert entry and all(lane.length_m >= 20.5 for lane in entry), sp.id


def test_the_fuel_station_access_is_single_track(haiphong: Yard) -> None:
    access = [lane for lane in haiphong.lanes.values() if lane.conflict_group == "FUEL.ACCESS"]
    assert len(access) == 2
    assert access[0].start == access[1].end and access[0].end == access[1].start


def test_same_parameters_same_yard() -> None:
    a, b = generate_terminal(HAIPHONG), generate_terminal(HAIPHONG)
    assert yard_differences(a, b, tolerance_m=0.0) == []
    assert json.dumps(yard_to_geojson(a)) == json.dumps(yard_to_geojson(b))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"quay_cranes": 0}, "quay_cranes must be at least 1"),
        ({"quay_length_m": 100.0, "quay_cranes": 6}, "per quay crane"),
        ({"transfer_points_per_block": 30}, "transfer_points_per_block 30"),
        ({"parking_spots": -1}, "parking_spots must not be negative"),
        ({"berths": 3, "quay_cranes": 2}, "fewer than berths"),
        ({"slow_speed_kmh": float("nan")}, "slow_speed_kmh must be a positive number"),
    ],
)
def test_impossible_parameters_are_named(change: dict[str, object], expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        generate_terminal(dataclasses.replace(HAIPHONG, **change))  # type: ignore[arg-type]


specs = st.builds(
    TerminalSpec,
    id=st.just("prop"),
    quay_length_m=st.floats(300, 1500),
    berths=st.integers(1, 3),
    quay_cranes=st.integers(3, 7),
    block_columns=st.integers(1, 4),
    block_rows=st.integers(1, 6),
    bays=st.integers(12, 44),
    rows=st.integers(4, 9),
    tiers=st.integers(1, 6),
    rtgs=st.integers(0, 30),
    transfer_points_per_block=st.integers(1, 3),
    gate_lanes=st.integers(1, 8),
    fuel_pumps=st.integers(1, 6),
    parking_spots=st.integers(0, 150),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_every_generated_terminal_is_well_formed(spec: TerminalSpec) -> None:
    if spec.problems():
        with pytest.raises(ValueError):
            generate_terminal(spec)
        return
    yard = generate_terminal(spec)
    assert check_yard(yard) == []
    assert len(yard.areas_of(AreaKind.BLOCK)) == spec.block_columns * spec.block_rows
    assert len(yard.cranes_of(CraneKind.QC)) == spec.quay_cranes
    assert len(yard.cranes_of(CraneKind.RTG)) == spec.rtgs
    assert len(yard.service_points_of(ServicePointKind.PARKING)) == spec.parking_spots
    assert len(yard.service_points_of(ServicePointKind.TRANSFER_POINT)) == (
        spec.block_columns * spec.block_rows * spec.transfer_points_per_block
    )
    assert len(yard.service_points_of(ServicePointKind.GATE_LANE)) == spec.gate_lanes
    assert len(yard.service_points_of(ServicePointKind.FUEL_PUMP)) == spec.fuel_pumps
    assert nx.is_strongly_connected(yard.graph)

"""The terminal generator: counts as asked, well-formed service points, deterministic; the
compiled yard clean (no junction problems, small junctions, standing trucks clear)."""

from __future__ import annotations

import dataclasses
import json

import networkx as nx
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.ops import substring

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
from maps.generator import sketch_terminal
from maps.junctions import compile_junctions
from maps.terminals import HAIPHONG

BODY_M, HALF_WIDTH_M, CLEARANCE_M = 16.0, 1.25, 0.9


def standing_too_close(yard: Yard) -> list[str]:
    """Service points whose standing truck (its body the last 16 m of its lane in, drawn
    here, not by maps.bodies) is not wholly on that lane or is within 0.9 m of a body on
    any through lane."""
    through = [lane for lane in yard.lanes.values() if lane.is_through]
    tree = shapely.STRtree([lane.geometry for lane in through])
    out: list[str] = []
    for sp in yard.service_points.values():
        for lane in (ln for ln in yard.lanes.values() if ln.end == sp.node):
            g = lane.geometry
            if g.length < BODY_M:
                out.append(f"{sp.id}: {lane.id} holds {g.length:.1f} m, not a body")
                continue
            body = substring(g, g.length - BODY_M, g.length).buffer(HALF_WIDTH_M, cap_style="flat")
            for k in tree.query(body, predicate="dwithin", distance=CLEARANCE_M + HALF_WIDTH_M):
                gap = body.distance(through[int(k)].geometry) - HALF_WIDTH_M
                if gap < CLEARANCE_M - 1e-6:
                    out.append(f"{sp.id}: {gap:.2f} m from {through[int(k)].id}")
    return out


def junction_sizes(sketch: Yard, yard: Yard) -> dict[str, int]:
    """Each junction of the compiled yard and how many nodes of the sketch it took in."""
    nodes: dict[str, set[str]] = {}
    for lane in yard.lanes.values():
        if lane.conflict_group and lane.id.startswith(lane.conflict_group + ":"):
            way_in, way_out = lane.id.split(":", 1)[1].split(">")
            members = nodes.setdefault(lane.conflict_group, set())
            members |= {sketch.lanes[way_in].end, sketch.lanes[way_out].start}
    return {k: len(v) for k, v in nodes.items()}


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


def test_every_service_point_holds_a_standing_truck_clear_of_through_traffic(
    haiphong: Yard,
) -> None:
    assert standing_too_close(haiphong) == []


def test_haiphong_compiles_clean_into_small_junctions() -> None:
    sketch = sketch_terminal(HAIPHONG)
    yard, problems = compile_junctions(sketch)
    assert problems == []
    sizes = junction_sizes(sketch, yard)
    assert len(yard.areas_of(AreaKind.JUNCTION)) == len(sizes)
    # Sidings' mouths (a merge and the next bay's diverge are one where bays share it) and
    # crossings alone; the vertical roads' crossings with a driving lane and a block lane
    # 8.5 m on are one junction each (31 of them).
    assert 200 <= len(sizes) <= 240
    assert max(sizes.values()) <= 3  # a row's crossing, with a bay close by at most
    assert 25 <= sum(size == 2 for size in sizes.values()) <= 35


def test_the_landside_loops_are_one_way_and_drive_through(haiphong: Yard) -> None:
    g = haiphong.graph
    for name in ("park", "fuel", "gate"):
        lanes = [ln for ln in haiphong.lanes.values() if ln.id.startswith(f"{name}-")]
        assert lanes, name
        for lane in lanes:
            assert not g.has_edge(lane.end, lane.start), lane.id
    for sp in haiphong.service_points.values():
        ins = [ln for ln in haiphong.lanes.values() if ln.end == sp.node]
        outs = [ln for ln in haiphong.lanes.values() if ln.start == sp.node]
        assert len(ins) == len(outs) == 1, sp.id
        assert ins[0].start != outs[0].end, f"{sp.id} is a dead end"


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
    quay_cranes=st.integers(1, 8),
    block_columns=st.integers(1, 3),
    block_rows=st.integers(1, 10),
    bays=st.integers(20, 48),
    rows=st.integers(4, 9),
    tiers=st.integers(1, 6),
    rtgs=st.integers(0, 30),
    transfer_points_per_block=st.integers(1, 4),
    gate_lanes=st.integers(1, 6),
    fuel_pumps=st.integers(1, 4),
    parking_spots=st.integers(0, 40),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_every_generated_terminal_is_well_formed(spec: TerminalSpec) -> None:
    if spec.problems():
        with pytest.raises(ValueError):
            generate_terminal(spec)
        return
    sketch = sketch_terminal(spec)
    yard, problems = compile_junctions(sketch)
    assert problems == []
    assert check_yard(yard) == []
    assert standing_too_close(yard) == []
    # a row's crossing, with a bay close by at most
    assert max(junction_sizes(sketch, yard).values()) <= 3
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
    through = nx.DiGraph((ln.start, ln.end) for ln in yard.lanes.values() if ln.is_through)
    assert nx.is_strongly_connected(through)


def test_generate_terminal_is_the_compiled_sketch_and_cached() -> None:
    yard = generate_terminal(HAIPHONG)
    assert generate_terminal(HAIPHONG) is yard
    assert yard.lane_width_m == 3.5
    assert yard.areas_of(AreaKind.JUNCTION)
    sketch = sketch_terminal(HAIPHONG)
    assert not sketch.areas_of(AreaKind.JUNCTION)
    assert set(sketch.service_points) == set(yard.service_points)


def test_trucks_can_wait_between_the_junctions_of_bays_and_roads(haiphong: Yard) -> None:
    """Every piece of through lane beside or between bays (apron, block lanes, landside
    aisles) holds a waiting truck and its gap clear of both junctions."""
    for lane in haiphong.lanes.values():
        if lane.conflict_group or not lane.is_through:
            continue
        if lane.id.startswith(("apron-u", "block-", "park-a", "fuel-a", "gate-a")):
            assert lane.length_m >= 21.0, (lane.id, lane.length_m)


def test_every_quay_crane_but_one_has_a_queue_bay(haiphong: Yard) -> None:
    queues = haiphong.service_points_of(ServicePointKind.QUEUE)
    assert len(queues) >= len(haiphong.cranes_of(CraneKind.QC)) - 1


def test_a_narrow_block_takes_fewer_transfer_points() -> None:
    with pytest.raises(ValueError, match=r"transfer_points_per_block 4 .* at most 2 fit"):
        generate_terminal(dataclasses.replace(HAIPHONG, bays=20))

"""`yardfleet map validate`: every kind of problem, each from a small broken GeoJSON file."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import LineString, Polygon

from maps import (
    Area,
    AreaKind,
    Lane,
    LaneKind,
    Node,
    Origin,
    ServicePoint,
    ServicePointKind,
    Yard,
    check_yard,
    validate_file,
    yard_to_geojson,
)

ORIGIN = Origin(106.9, 20.8)


def _lane(
    lane_id: str, a: Node, b: Node, kind: LaneKind = LaneKind.MAIN, group: str | None = None
) -> Lane:
    geom = LineString([(a.x, a.y), (b.x, b.y)])
    return Lane(lane_id, a.id, b.id, geom, geom.length, 5.0, kind, group)


def small_yard(
    extra_nodes: list[Node] = (),
    extra_lanes: list[Lane] = (),  # type: ignore[assignment]
    service_points: list[ServicePoint] | None = None,
    areas: list[Area] | None = None,
) -> Yard:
    """A one-way square loop, 100 m a side, with a siding to a stop on the south and north sides.

    The stops stand 20 m off the loop: a 16 m truck there is clear of the loop's lanes.
    """
    n = {
        k: Node(k, x, y)
        for k, x, y in [
            ("a", 0, 0),
            ("e", 40, 0),
            ("f", 60, 0),
            ("b", 100, 0),
            ("c", 100, 100),
            ("g", 60, 100),
            ("h", 40, 100),
            ("d", 0, 100),
            ("s1", 50, -20),
            ("s2", 50, 120),
        ]
    }
    for node in extra_nodes:
        n[node.id] = node
    lanes = [
        _lane("ae", n["a"], n["e"]),
        _lane("ef", n["e"], n["f"]),
        _lane("fb", n["f"], n["b"]),
        _lane("bc", n["b"], n["c"]),
        _lane("cg", n["c"], n["g"]),
        _lane("gh", n["g"], n["h"]),
        _lane("hd", n["h"], n["d"]),
        _lane("da", n["d"], n["a"]),
        _lane("s1-in", n["e"], n["s1"], LaneKind.SERVICE),
        _lane("s1-out", n["s1"], n["f"], LaneKind.SERVICE),
        _lane("s2-in", n["g"], n["s2"], LaneKind.SERVICE),
        _lane("s2-out", n["s2"], n["h"], LaneKind.SERVICE),
        *extra_lanes,
    ]
    if service_points is None:
        service_points = [
            ServicePoint("SP1", ServicePointKind.TRANSFER_POINT, "s1", "BLK"),
            ServicePoint("SP2", ServicePointKind.QUAY_CRANE, "s2", "BLK"),
        ]
    if areas is None:
        areas = [
            Area(
                "BLK",
                AreaKind.BLOCK,
                Polygon([(10, 20), (90, 20), (90, 80), (10, 80)]),
                "Block",
                10,
                6,
                5,
            )
        ]
    return Yard.build("small", "1", ORIGIN, n.values(), lanes, areas, service_points)


def write(tmp_path: Path, doc: Any, name: str = "yard.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def feature(doc: dict[str, Any], fid: str) -> dict[str, Any]:
    return next(f for f in doc["features"] if f["properties"]["id"] == fid)


def messages(path: Path) -> list[str]:
    return [str(p) for p in validate_file(path)]


def test_the_small_yard_is_valid(tmp_path: Path) -> None:
    assert check_yard(small_yard()) == []
    assert messages(write(tmp_path, yard_to_geojson(small_yard()))) == []


def test_duplicate_ids(tmp_path: Path) -> None:
    doc = yard_to_geojson(small_yard())
    doc["features"].append(copy.deepcopy(feature(doc, "ae")))
    found = messages(write(tmp_path, doc))
    assert len(found) == 1
    assert "'ae'" in found[0] and "duplicate id" in found[0]
    assert f"feature #{len(doc['features']) - 1}" in found[0]


def test_lane_not_starting_at_its_node(tmp_path: Path) -> None:
    doc = yard_to_geojson(small_yard())
    coords = feature(doc, "bc")["geometry"]["coordinates"]
    coords[0] = [coords[0][0] + 0.0001, coords[0][1]]  # about 10 m east
    found = messages(write(tmp_path, doc))
    assert any("'bc'" in m and "does not start at its node 'b'" in m for m in found), found


def test_lane_not_ending_at_its_node(tmp_path: Path) -> None:
    doc = yard_to_geojson(small_yard())
    feature(doc, "bc")["properties"]["to"] = "g"
    found = messages(write(tmp_path, doc))
    assert any("'bc'" in m and "does not end at its node 'g'" in m for m in found), found


def test_zero_length_lane(tmp_path: Path) -> None:
    nodes = [Node("z1", 200, 200), Node("z2", 200, 200.001)]
    yard = small_yard(extra_nodes=nodes, extra_lanes=[_lane("zz", *nodes)])
    found = messages(write(tmp_path, yard_to_geojson(yard)))
    assert any("'zz'" in m and "zero length" in m for m in found), found


@pytest.mark.parametrize(
    ("fid", "field", "value", "expected"),
    [
        ("ae", "speed_limit_mps", None, "field 'speed_limit_mps': missing"),
        ("ae", "length_m", "ten", "field 'length_m': must be a number, got 'ten'"),
        ("ae", "length_m", -3, "must be greater than 0"),
        ("ae", "kind", "motorway", "field 'kind': must be one of main, block, apron"),
        ("ae", "from", None, "field 'from': missing"),
        ("ae", "to", "nowhere", "refers to node 'nowhere'"),
        ("BLK", "bays", 0, "field 'bays': must be a whole number"),
        ("BLK", "rows", "six", "field 'rows': must be a whole number"),
        ("SP1", "kind", None, "field 'kind': must be one of quay_crane"),
        ("SP1", "area", "NOPE", "refers to area 'NOPE'"),
        ("SP1", "node", 7, "field 'node': must be a non-empty string"),
    ],
)
def test_missing_or_ill_typed_properties(
    tmp_path: Path, fid: str, field: str, value: Any, expected: str
) -> None:
    doc = yard_to_geojson(small_yard())
    props = feature(doc, fid)["properties"]
    if value is None:
        props.pop(field)
    else:
        props[field] = value
    found = messages(write(tmp_path, doc))
    assert any(f"'{fid}'" in m and expected in m for m in found), found


def test_length_that_disagrees_with_geometry(tmp_path: Path) -> None:
    doc = yard_to_geojson(small_yard())
    feature(doc, "ae")["properties"]["length_m"] = 55.0
    found = messages(write(tmp_path, doc))
    assert any("'ae'" in m and "length_m 55.0 disagrees" in m for m in found), found


def test_self_intersecting_area(tmp_path: Path) -> None:
    bowtie = Polygon([(10, 20), (90, 80), (90, 20), (10, 80), (10, 20)])
    yard = small_yard(areas=[Area("BLK", AreaKind.BLOCK, bowtie, "Block", 10, 6, 5)])
    found = messages(write(tmp_path, yard_to_geojson(yard)))
    assert any("'BLK'" in m and "self-intersecting" in m for m in found), found


def test_unclosed_polygon_ring(tmp_path: Path) -> None:
    doc = yard_to_geojson(small_yard())
    feature(doc, "BLK")["geometry"]["coordinates"][0].pop()
    found = messages(write(tmp_path, doc))
    assert any("'BLK'" in m and "not closed" in m for m in found), found


def test_lanes_crossing_without_a_shared_node(tmp_path: Path) -> None:
    # A road straight across the loop, from the west side to the east side.
    nodes = [Node("w", -20, 50), Node("x", 120, 50)]
    yard = small_yard(extra_nodes=nodes, extra_lanes=[_lane("wx", *nodes)])
    found = messages(write(tmp_path, yard_to_geojson(yard)))
    crossing = [m for m in found if "'wx'" in m and "crosses lane" in m]
    assert len(crossing) == 2, found  # it crosses da and bc
    assert any("'bc'" in m and "at (100.0, 50.0)" in m for m in crossing), crossing
    assert any("'da'" in m and "at (0.0, 50.0)" in m for m in crossing), crossing


def test_crossing_lanes_in_one_conflict_group_are_allowed(tmp_path: Path) -> None:
    nodes = [Node("w", 20, -30), Node("x", 20, 30), Node("p", 5, 10), Node("q", 40, 10)]
    yard = small_yard(
        extra_nodes=nodes,
        extra_lanes=[
            _lane("wx", nodes[0], nodes[1], group="X1"),
            _lane("pq", nodes[2], nodes[3], group="X1"),
        ],
    )
    found = messages(write(tmp_path, yard_to_geojson(yard)))
    # wx also crosses the loop's lane ae (no shared group there): exactly that one is reported.
    crossings = [m for m in found if "crosses" in m]
    assert len(crossings) == 1, found
    assert "'wx'" in crossings[0] and "'ae'" in crossings[0]


def test_service_point_on_a_through_lane(tmp_path: Path) -> None:
    sps = [
        ServicePoint("SP1", ServicePointKind.TRANSFER_POINT, "s1", "BLK"),
        ServicePoint("SP2", ServicePointKind.QUAY_CRANE, "c", "BLK"),
    ]
    found = messages(write(tmp_path, yard_to_geojson(small_yard(service_points=sps))))
    assert any("'SP2'" in m and "stands on through lane(s) bc, cg" in m for m in found), found


def test_service_point_that_must_pass_another(tmp_path: Path) -> None:
    # A third stop s3 on the south siding, after s1: s1 can then leave only through s3.
    nodes = [Node("s3", 55, -12)]
    yard = small_yard(
        extra_nodes=nodes,
        service_points=[
            ServicePoint("SP1", ServicePointKind.TRANSFER_POINT, "s1", "BLK"),
            ServicePoint("SP2", ServicePointKind.QUAY_CRANE, "s2", "BLK"),
            ServicePoint("SP3", ServicePointKind.PARKING, "s3", "BLK"),
        ],
    )
    lanes = [lane for lane in yard.lanes.values() if lane.id != "s1-out"]
    lanes += [
        _lane("s1-s3", yard.nodes["s1"], nodes[0], LaneKind.SERVICE),
        _lane("s3-out", nodes[0], yard.nodes["f"], LaneKind.SERVICE),
    ]
    yard = Yard.build(
        yard.id,
        yard.version,
        yard.origin,
        yard.nodes.values(),
        lanes,
        yard.areas.values(),
        yard.service_points.values(),
    )
    found = messages(write(tmp_path, yard_to_geojson(yard)))
    assert any(
        "'SP1'" in m
        and "cannot reach 1 other service point(s) without passing through" in m
        and "SP2" in m
        for m in found
    ), found
    assert not any("'SP3'" in m for m in found), found


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"type": "FeatureCollection",\n "features": [}', "not valid JSON at line 2"),
        ("[1, 2, 3]", "not a GeoJSON FeatureCollection"),
        ('{"type": "FeatureCollection", "features": []}', 'missing the top-level "yard"'),
        (
            '{"type": "FeatureCollection", "yard": {"id": "y", "version": "1", "origin": '
            '{"lon": 500, "lat": 0}}, "features": []}',
            "lon/lat out of range",
        ),
        (
            '{"type": "FeatureCollection", "yard": {"id": "y", "version": "1", "origin": '
            '{"lon": 1, "lat": 2}}, "features": [7, {"type": "Feature", "properties": '
            '{"id": "q", "feature": "lane"}, '
            '"geometry": {"type": "Point", "coordinates": [1, 2]}}]}',
            "feature #0: not a GeoJSON Feature",
        ),
    ],
)
def test_broken_files(tmp_path: Path, content: str, expected: str) -> None:
    found = messages(write(tmp_path, content))
    assert any(expected in m for m in found), found


def test_a_yard_without_features_is_not_valid(tmp_path: Path) -> None:
    doc = yard_to_geojson(small_yard())
    doc["features"] = []
    assert messages(write(tmp_path, doc)) == [
        f"{tmp_path / 'yard.geojson'}: field 'features': the yard has no lanes: nothing for a "
        "truck to drive on (an empty FeatureCollection?)"
    ]


def test_lane_with_wrong_geometry_type(tmp_path: Path) -> None:
    doc = yard_to_geojson(small_yard())
    feature(doc, "ae")["geometry"] = {"type": "Point", "coordinates": [106.9, 20.8]}
    found = messages(write(tmp_path, doc))
    assert any("'ae'" in m and "must be a LineString, got 'Point'" in m for m in found), found


def test_missing_file(tmp_path: Path) -> None:
    found = messages(tmp_path / "nope.geojson")
    assert len(found) == 1 and "cannot read the file" in found[0]


def test_the_command_lists_problems_and_fails_without_a_traceback(tmp_path: Path) -> None:
    doc = yard_to_geojson(small_yard())
    doc["features"].append(copy.deepcopy(feature(doc, "ae")))
    feature(doc, "bc")["properties"]["speed_limit_mps"] = "fast"
    path = write(tmp_path, doc)
    run = subprocess.run(
        [sys.executable, "-m", "sim.cli", "map", "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr + run.stdout
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 2
    assert any("'ae'" in line and "duplicate id" in line for line in lines)
    assert any("'bc'" in line and "speed_limit_mps" in line for line in lines)
    assert "2 problem(s)" in run.stderr


def test_the_command_accepts_a_valid_file(tmp_path: Path) -> None:
    path = write(tmp_path, yard_to_geojson(small_yard()))
    run = subprocess.run(
        [sys.executable, "-m", "sim.cli", "map", "validate", str(path), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == []

"""GeoJSON out and in: lon/lat with at least 9 decimals, a `yard` header, an equal yard back."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from maps import TerminalSpec, Yard, generate_terminal, load_yard, save_yard, yard_differences


def test_save_then_load_gives_an_equal_yard(haiphong: Yard, tmp_path: Path) -> None:
    path = save_yard(haiphong, tmp_path / "haiphong.geojson")
    back = load_yard(path)
    assert yard_differences(haiphong, back, tolerance_m=0.001) == []
    # Geometry is within a millimetre everywhere, not just on average.
    worst = max(
        lane.geometry.hausdorff_distance(back.lanes[lane.id].geometry)
        for lane in haiphong.lanes.values()
    )
    assert worst < 0.001


def test_a_generated_terminal_round_trips_too(tmp_path: Path) -> None:
    yard = generate_terminal(TerminalSpec(id="t2", quay_cranes=4, block_rows=3, block_columns=3))
    back = load_yard(save_yard(yard, tmp_path / "t2.geojson"))
    assert yard_differences(yard, back) == []


def test_the_file_is_geojson_a_gis_reads(haiphong: Yard, tmp_path: Path) -> None:
    path = save_yard(haiphong, tmp_path / "y.geojson")
    doc = json.loads(path.read_text())
    assert doc["type"] == "FeatureCollection"
    assert doc["yard"] == {
        "id": "haiphong",
        "version": "1",
        "format": "yardfleet-yard/1",
        "origin": {"lon": 106.931, "lat": 20.838},
    }
    kinds = {f["properties"]["feature"] for f in doc["features"]}
    assert kinds == {"node", "lane", "area", "service_point", "crane"}
    for f in doc["features"]:
        assert f["type"] == "Feature" and f["id"] == f["properties"]["id"]
    lane = next(f for f in doc["features"] if f["properties"]["feature"] == "lane")
    assert set(lane["properties"]) == {
        "feature",
        "id",
        "from",
        "to",
        "length_m",
        "speed_limit_mps",
        "kind",
        "conflict_group",
    }


def test_coordinates_carry_at_least_nine_decimals(haiphong: Yard, tmp_path: Path) -> None:
    text = save_yard(haiphong, tmp_path / "y.geojson").read_text()
    numbers = re.findall(r"\[(-?\d+\.\d+), (-?\d+\.\d+)\]", text)
    assert len(numbers) > 1000
    decimals = [len(n.split(".")[1]) for pair in numbers for n in pair]
    # A number may end in zeros that JSON drops; nearly all must show 9 or more digits.
    assert np.mean(np.array(decimals) >= 9) > 0.98


def test_lon_lat_agree_with_the_local_frame(haiphong: Yard, tmp_path: Path) -> None:
    doc = json.loads(save_yard(haiphong, tmp_path / "y.geojson").read_text())
    for f in doc["features"][:50]:
        if f["properties"]["feature"] != "node":
            continue
        node = haiphong.nodes[f["id"]]
        x, y = haiphong.frame.point_to_local(*f["geometry"]["coordinates"])
        assert (x, y) == pytest.approx((node.x, node.y), abs=0.001)

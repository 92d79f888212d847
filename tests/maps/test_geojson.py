"""GeoJSON out and in: lon/lat with at least 9 decimals, a `yard` header, an equal yard back;
format yardfleet-yard/2 (compiled lanes, the lane width), the previous one refused."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sketches import crossing

from maps import (
    AreaKind,
    TerminalSpec,
    Yard,
    YardFileError,
    generate_terminal,
    load_yard,
    save_yard,
    validate_file,
    yard_differences,
)
from maps.geojson import FORMAT, YardFormatError
from maps.junctions import compile_junctions


def compiled_crossing() -> Yard:
    """Two two-way roads crossing, compiled: offset lanes, stop lines, a junction area."""
    yard, problems = compile_junctions(crossing())
    assert problems == []
    return yard


def test_save_then_load_gives_an_equal_yard(haiphong: Yard, tmp_path: Path) -> None:
    path = save_yard(haiphong, tmp_path / "haiphong.geojson")
    # Whether haiphong keeps every rule is test_generator's; here: what goes out comes back.
    back = load_yard(path, check=False)
    assert yard_differences(haiphong, back, tolerance_m=0.001) == []
    # Geometry is within a millimetre everywhere, not just on average.
    worst = max(
        lane.geometry.hausdorff_distance(back.lanes[lane.id].geometry)
        for lane in haiphong.lanes.values()
    )
    assert worst < 0.001


def test_a_generated_terminal_round_trips_too(tmp_path: Path) -> None:
    yard = generate_terminal(TerminalSpec(id="t2", quay_cranes=4, block_rows=3, block_columns=3))
    back = load_yard(save_yard(yard, tmp_path / "t2.geojson"), check=False)
    assert yard_differences(yard, back) == []


def test_the_file_is_geojson_a_gis_reads(haiphong: Yard, tmp_path: Path) -> None:
    path = save_yard(haiphong, tmp_path / "y.geojson")
    doc = json.loads(path.read_text())
    assert doc["type"] == "FeatureCollection"
    assert doc["yard"] == {
        "id": "haiphong",
        "version": "1",
        "format": "yardfleet-yard/2",
        "origin": {"lon": 106.931, "lat": 20.838},
        "lane_width_m": 3.5,
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
        "conflicts",
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


def test_a_compiled_yard_round_trips_and_keeps_every_rule(tmp_path: Path) -> None:
    """Junction areas, connectors in their conflict group, polyline lanes, the lane width."""
    yard = compiled_crossing()
    yard = replace(yard, lane_width_m=3.75)
    assert yard.areas_of(AreaKind.JUNCTION)
    assert any(len(ln.geometry.coords) > 2 for ln in yard.lanes.values())
    path = save_yard(yard, tmp_path / "x.geojson")
    assert json.loads(path.read_text())["yard"]["lane_width_m"] == 3.75
    back = load_yard(path)  # with every rule, the body rules too
    assert yard_differences(yard, back) == []
    assert back.lane_width_m == 3.75
    connectors = [ln for ln in back.lanes.values() if ln.conflict_group == "X0001"]
    assert len(connectors) == 12


def _as_format(tmp_path: Path, fmt: str | None, name: str = "old.geojson") -> Path:
    doc = json.loads(save_yard(compiled_crossing(), tmp_path / "new.geojson").read_text())
    if fmt is None:
        del doc["yard"]["format"]
    else:
        doc["yard"]["format"] = fmt
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_the_previous_format_is_refused_in_one_line_saying_how_to_regenerate(
    tmp_path: Path,
) -> None:
    path = _as_format(tmp_path, "yardfleet-yard/1")
    with pytest.raises(YardFormatError) as caught:
        load_yard(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: 'yard': field 'format': yardfleet-yard/1 is the previous")
    assert "lanes lie on the road centre lines" in text
    assert f"yardfleet map export --terminal haiphong --out {path}" in text
    assert isinstance(caught.value, YardFileError)  # callers catching YardFileError still do
    found = validate_file(path)
    assert len(found) == 1 and str(found[0]) == text


def test_the_command_refuses_the_previous_format(tmp_path: Path) -> None:
    path = _as_format(tmp_path, "yardfleet-yard/1")
    run = subprocess.run(
        [sys.executable, "-m", "sim.cli", "map", "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = run.stdout.strip().splitlines()
    assert "previous format" in line and "yardfleet map export" in line


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("yardfleet-yard/9", f"field 'format': must be \"{FORMAT}\", got 'yardfleet-yard/9'"),
        (None, f"field 'format': missing (this reader reads \"{FORMAT}\")"),
    ],
)
def test_an_unknown_or_missing_format_is_named(
    tmp_path: Path, fmt: str | None, expected: str
) -> None:
    found = [str(p) for p in validate_file(_as_format(tmp_path, fmt))]
    assert any(expected in m for m in found), found


@pytest.mark.parametrize("width", [0, -3.5, "wide", None])
def test_a_bad_lane_width_is_named(tmp_path: Path, width: object) -> None:
    doc = json.loads(save_yard(compiled_crossing(), tmp_path / "x.geojson").read_text())
    if width is None:
        del doc["yard"]["lane_width_m"]
    else:
        doc["yard"]["lane_width_m"] = width
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(doc))
    found = [str(p) for p in validate_file(path)]
    assert any("'yard': field 'lane_width_m'" in m for m in found), found

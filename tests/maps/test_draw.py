"""The yard picture: a real PNG, an SVG with searchable names, the base map for overlays."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sketches import crossing

from maps import Yard
from maps.draw import OVERLAY_ZORDER, draw_yard, lane_xy, plot_yard

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG_TEXT = "{http://www.w3.org/2000/svg}text"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_MAGIC
    assert head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_png_is_a_real_picture_of_the_yard(haiphong: Yard, tmp_path: Path) -> None:
    path = draw_yard(haiphong, tmp_path / "yard.png")
    assert path == tmp_path / "yard.png"
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert path.stat().st_size > 50_000
    width, height = png_size(path)
    assert width == 16 * 150  # 16 in at 150 dpi
    assert 0.4 * width < height < 1.5 * width  # the yard's aspect, not a sliver


def test_svg_parses_and_names_blocks_and_cranes(haiphong: Yard, tmp_path: Path) -> None:
    path = draw_yard(haiphong, tmp_path / "yard.svg", title="Hai Phong")
    root = ET.parse(path).getroot()
    texts = {"".join(e.itertext()).strip() for e in root.iter(SVG_TEXT)}
    assert {"A1", "J2", "QC01", "QC06", "Berth 1", "Hai Phong"} <= texts
    assert "40×6×5" in texts


def test_a_bad_suffix_is_refused_by_name(haiphong: Yard, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.jpg"):
        draw_yard(haiphong, tmp_path / "yard.jpg")
    with pytest.raises(ValueError, match="none"):
        draw_yard(haiphong, tmp_path / "yard")
    assert list(tmp_path.iterdir()) == []


def test_plot_yard_draws_a_base_map_with_equal_aspect(haiphong: Yard) -> None:
    fig = Figure(figsize=(8, 6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    handles = plot_yard(ax, haiphong, highlight_lanes=["v1n-01"], lane_colors={"v1s-01": "red"})
    assert ax.get_aspect() == 1.0
    labels = [h.get_label() for h in handles]
    assert "main lane" in labels
    assert "highlighted" in labels
    assert ax.get_legend() is not None
    # Base layers stay below the overlay zorder, so routes drawn on top are seen.
    assert max(a.get_zorder() for a in ax.get_children() if a is not ax.patch) < OVERLAY_ZORDER
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    qx0, _, qx1, _ = haiphong.areas["BERTH1"].polygon.union(haiphong.areas["BERTH2"].polygon).bounds
    assert x0 < qx0 < qx1 < x1
    assert y0 < 0 < y1  # water south of the quay is in view
    fig.canvas.draw()


def test_lanes_are_drawn_where_they_lie_and_centre_lines_apart() -> None:
    """A compiled yard's lanes are drawn on their own geometry; a centre-line sketch's two
    directions of a road are drawn 1.75 m right of travel each."""
    compiled = _compiled_crossing()
    for lane in compiled.lanes.values():
        assert np.allclose(lane_xy(compiled, lane), np.asarray(lane.geometry.coords))
    sketch = crossing(arm=90.0, arms="new")
    a, b = lane_xy(sketch, "n-in"), lane_xy(sketch, "n-out")  # southbound, northbound
    assert a[0, 0] == pytest.approx(-1.75) and b[0, 0] == pytest.approx(1.75)


def _compiled_crossing() -> Yard:
    from maps.junctions import compile_junctions

    yard, problems = compile_junctions(crossing(arm=90.0, arms="new"))
    assert problems == []
    return yard


def test_a_close_up_of_a_junction_shows_stop_lines_and_standing_trucks(tmp_path: Path) -> None:
    yard = _compiled_crossing()
    out = draw_yard(yard, tmp_path / "x.svg", around="X0001", radius_m=30)
    texts = ["".join(t.itertext()) for t in ET.parse(out).getroot().iter(SVG_TEXT)]
    assert "X0001" in texts
    assert "stop line" in texts
    assert any(t.startswith("truck at a stop line (16 x 2.5 m)") for t in texts)
    assert "x v1 around X0001" in texts
    png = draw_yard(yard, tmp_path / "x.png", around="X0001", radius_m=30)
    assert png_size(png)[0] > 500


def test_a_close_up_of_an_unknown_feature_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no feature 'X9999'"):
        draw_yard(_compiled_crossing(), tmp_path / "x.png", around="X9999")

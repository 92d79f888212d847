"""A readable picture of a yard (PNG or SVG) and a base map that other rooms draw on.

`draw_yard` writes a file; `plot_yard` draws the same base map onto a matplotlib Axes
so that routing and the simulator can add routes, plans or traffic density on top:

    fig = Figure(figsize=(16, 12))
    ax = fig.add_subplot()
    handles = plot_yard(ax, yard)
    ax.plot(xs, ys, color="red", lw=3, zorder=OVERLAY_ZORDER)   # your layer
    fig.savefig("out.png", dpi=150, bbox_inches="tight")

Everything is in the yard's local metres (x east along the quay, y north inland), with
equal aspect. Base layers stay below `OVERLAY_ZORDER`. `lane_xy` gives the coordinates a
lane is drawn at (the two directions of a two-way road sit either side of the centreline),
so a route drawn from it lies on the lanes of the base map.

Only `matplotlib.figure.Figure` and the Agg canvas are used: no pyplot, no display, and
no global backend switch, so importing this module changes nothing for the caller.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps, rc_context
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import hsv_to_rgb, to_hex
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle
from matplotlib.text import Text
from matplotlib.textpath import TextToPath
from numpy.typing import NDArray
from shapely.geometry import Polygon

from maps.model import Area, AreaKind, CraneKind, Lane, LaneKind, ServicePointKind, Yard

FloatArray = NDArray[np.float64]

OVERLAY_ZORDER = 10.0
"""Draw overlays (routes, plans, density) at this zorder or above to sit on the base map."""

TWO_WAY_OFFSET_M = 1.75
DETAIL_M_PER_PT = 0.3
"""Finer than this many metres per point, lanes are drawn at their width, with stop lines."""
STOP_BODY_COLOR = "#d95f02"
"""Each direction of a two-way road is drawn this far right of the centreline (half a lane)."""

ARROW_MIN_LANE_M = 12.0
"""Lanes shorter than this get no direction arrow (they would be all arrow)."""

ARROW_SPACING_M = 90.0
"""Long lanes get one arrow per this many metres."""

AREA_COLORS: Mapping[AreaKind, str] = {
    AreaKind.BLOCK: "#d4d4d4",
    AreaKind.QUAY: "#a9d5ee",
    AreaKind.GATE: "#f7c6d5",
    AreaKind.FUEL_STATION: "#ffdd99",
    AreaKind.PARK: "#c9e6bf",
    AreaKind.JUNCTION: "#f5e6a8",
}
"""Fill colour per area kind."""

LANE_COLORS: Mapping[LaneKind, str] = {
    LaneKind.MAIN: "#1f3b73",
    LaneKind.BLOCK: "#b35c00",
    LaneKind.APRON: "#138a4a",
    LaneKind.GATE: "#c2185b",
    LaneKind.SERVICE: "#8a6fb8",
}
"""Line colour per lane kind."""

SERVICE_POINT_COLORS: Mapping[ServicePointKind, str] = {
    ServicePointKind.QUAY_CRANE: "#e65100",
    ServicePointKind.TRANSFER_POINT: "#6a1b9a",
    ServicePointKind.GATE_LANE: "#ad1457",
    ServicePointKind.FUEL_PUMP: "#a66f00",
    ServicePointKind.PARKING: "#2e7d32",
    ServicePointKind.QUEUE: "#ef6c00",
}
"""Dot colour per service point kind."""

HIGHLIGHT_COLOR = "#ff1744"
WATER_COLOR = "#e4f2fb"
QC_COLOR = "#d84315"
RTG_COLOR = "#5d4037"

_LANE_WIDTH_PT: Mapping[LaneKind, float] = {
    LaneKind.MAIN: 1.3,
    LaneKind.BLOCK: 1.1,
    LaneKind.APRON: 1.3,
    LaneKind.GATE: 1.1,
    LaneKind.SERVICE: 0.7,
}
_BOOM_M = 25.0
_MARGIN_M = 30.0
_Z_WATER, _Z_AREA, _Z_LANE, _Z_ARROW, _Z_POINT, _Z_CRANE, _Z_LABEL = 0, 1, 2, 3, 4, 5, 6
_SUFFIXES = (".png", ".svg")
_TEXT_TO_PATH = TextToPath()
_DIMS_PT = 7.0


_COLOR_LEVELS = ((0.95, 0.90), (0.85, 0.55), (0.50, 0.85))
"""Saturation and value of the three shades `distinct_colors` uses beyond ten colours."""


def distinct_colors(n: int) -> list[str]:
    """`n` different colours (hex) for things drawn side by side, trucks say.

    Up to ten, matplotlib's tab10. Beyond, `h` = max(10, ⌈n/3⌉) hues evenly round the
    circle in up to three shades (bright, dark, pale): each (hue, shade) is used once, so
    no two colours are the same, and consecutive ones are hues far apart.
    """
    if n <= 10:
        return [to_hex(c) for c in colormaps["tab10"].colors[:n]]  # type: ignore[attr-defined]
    hues = max(10, math.ceil(n / len(_COLOR_LEVELS)))
    step = next(s for s in range(round(0.382 * hues), hues) if math.gcd(s, hues) == 1)
    out: list[str] = []
    for k in range(n):
        sat, val = _COLOR_LEVELS[k // hues]
        r, g, b = (float(v) for v in hsv_to_rgb(((k * step % hues) / hues, sat, val)))
        out.append(to_hex((r, g, b)))
    return out


def lane_xy(yard: Yard, lane: Lane | str, offset_m: float = TWO_WAY_OFFSET_M) -> FloatArray:
    """Where a lane is drawn, as an (n, 2) array: shifted right if its reverse lane exists."""
    lane = yard.lane(lane) if isinstance(lane, str) else lane
    xy = np.asarray(lane.geometry.coords, dtype=np.float64)[:, :2]
    if offset_m and yard.graph.has_edge(lane.end, lane.start):
        xy = _offset_right(xy, offset_m)
    return xy


def _offset_right(xy: FloatArray, d: float) -> FloatArray:
    """A polyline moved `d` metres to the right of its direction (mitred at vertices)."""
    seg = np.diff(xy, axis=0)
    lengths = np.hypot(seg[:, 0], seg[:, 1])
    lengths[lengths == 0] = 1.0
    normals = np.column_stack([seg[:, 1], -seg[:, 0]]) / lengths[:, None]  # right-hand normal
    vertex = np.vstack([normals[:1], normals[:-1] + normals[1:], normals[-1:]])
    norm = np.hypot(vertex[:, 0], vertex[:, 1])
    norm[norm == 0] = 1.0
    vertex /= norm[:, None]
    cos = np.ones(len(xy))
    if len(seg) > 1:
        cos[1:-1] = np.maximum(np.einsum("ij,ij->i", vertex[1:-1], normals[:-1]), 0.5)
    return xy + vertex * (d / cos)[:, None]


def _arrow_triangles(
    xy: FloatArray, length_m: float, width_m: float, at: float = 0.5
) -> list[FloatArray]:
    """Arrowheads along a polyline, one per stretch at fraction `at` of it (none if it is short).

    The two directions of a road use `at` past the middle, so their arrows do not stack up.
    """
    seg = np.diff(xy, axis=0)
    seg_len = np.hypot(seg[:, 0], seg[:, 1])
    total = float(seg_len.sum())
    if total < ARROW_MIN_LANE_M:
        return []
    count = max(1, round(total / ARROW_SPACING_M))
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    out: list[FloatArray] = []
    for i in range(count):
        d = total * (i + at) / count
        k = min(int(np.searchsorted(cum, d, side="right")) - 1, len(seg) - 1)
        if seg_len[k] == 0:
            continue
        u = seg[k] / seg_len[k]
        tip = xy[k] + u * (d - cum[k]) + u * length_m / 2
        base = tip - u * length_m
        n = np.array([-u[1], u[0]]) * width_m / 2
        out.append(np.array([tip, base + n, base - n]))
    return out


def _metres_per_point(ax: Axes, xlim: tuple[float, float], ylim: tuple[float, float]) -> float:
    """How many metres one typographic point spans once the equal-aspect axes are laid out."""
    fig = ax.get_figure(root=True)
    if fig is None:
        raise ValueError("plot_yard needs an Axes that belongs to a Figure")
    fw, fh = (float(v) for v in fig.get_size_inches())
    pos = ax.get_position()
    w_in, h_in = pos.width * fw, pos.height * fh
    inch_per_m = min(w_in / (xlim[1] - xlim[0]), h_in / (ylim[1] - ylim[0]))
    return 1.0 / (72.0 * inch_per_m)


def _extent(yard: Yard) -> tuple[float, float, float, float]:
    """min x, min y, max x, max y over nodes, areas and cranes."""
    xs = [n.x for n in yard.nodes.values()] + [c.x for c in yard.cranes.values()]
    ys = [n.y for n in yard.nodes.values()] + [c.y for c in yard.cranes.values()]
    for area in yard.areas.values():
        x0, y0, x1, y1 = area.polygon.bounds
        xs += [x0, x1]
        ys += [y0, y1]
    if not xs:
        return (0.0, 0.0, 100.0, 100.0)
    return (min(xs), min(ys), max(xs), max(ys))


def _water_depth(m_per_pt: float) -> float:
    """How much water to show south of the quay: crane booms, their labels and the scale bar."""
    return max(60.0, _BOOM_M + 55.0 * m_per_pt)


def _limits(
    yard: Yard, water_depth_m: float = 75.0
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The axes limits: the yard with a margin, and a band of water south of a quay."""
    x0, y0, x1, y1 = _extent(yard)
    has_quay = any(a.kind is AreaKind.QUAY for a in yard.areas.values())
    bottom = min(y0, 0.0) - water_depth_m if has_quay else y0 - _MARGIN_M
    return (x0 - _MARGIN_M, x1 + _MARGIN_M), (bottom, y1 + _MARGIN_M)


def _text_width_m(text: str, size_pt: float, m_per_pt: float, bold: bool = False) -> float:
    """The width of a line of text in metres, measured with the default font."""
    prop = FontProperties(size=size_pt, weight="bold" if bold else "normal")
    width_pt, _, _ = _TEXT_TO_PATH.get_text_width_height_descent(text, prop, ismath=False)
    return float(width_pt) * m_per_pt


def _nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10^k) near an eighth of the span."""
    target = span_m / 8.0
    power = 10.0 ** math.floor(math.log10(target))
    return max(m * power for m in (1.0, 2.0, 5.0) if m * power <= target)


def summary_line(yard: Yard) -> str:
    """The yard at a glance for a title: blocks, cranes, lanes and lane-kilometres."""
    s = yard.summary()
    return (
        f"{s['blocks']:.0f} blocks · {s['quay_cranes']:.0f} QC · {s['rtgs']:.0f} RTG · "
        f"{s['lanes']:.0f} lanes · {s['lane_km']:.1f} lane-km · "
        f"{s['service_points']:.0f} service points"
    )


def plot_yard(
    ax: Axes,
    yard: Yard,
    *,
    highlight_lanes: Sequence[str] = (),
    lane_colors: Mapping[str, str] | None = None,
    other_lanes_color: str | None = None,
    legend: bool = True,
    decorations: bool = True,
    limits: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> list[Artist]:
    """Draw the yard's base map onto `ax` and return the legend handles, for overlays to extend.

    Areas, water, lanes with direction arrows (dashed where they share road space), service
    points and cranes with labels; with `decorations`, a scale bar and north arrow; with
    `legend`, a legend just right of the axes (save with bbox_inches="tight" to keep it).
    `lane_colors` recolours lanes by id, and `other_lanes_color`, if given, every lane not
    in it (a density map greys out the lanes nobody drove, so they do not read as a value
    on its colour scale); `highlight_lanes` are drawn thick on top.
    `limits` ((x0, x1), (y0, y1)) draws a part of the yard; at a scale finer than
    `DETAIL_M_PER_PT` the lanes are drawn with their width, stop lines across the lanes
    entering each junction, and a truck's body standing at each stop line.
    Layers stay below `OVERLAY_ZORDER`; draw your own layers at or above it.
    """
    xlim, ylim = _set_view(ax, yard, limits)
    m_per_pt = _metres_per_point(ax, xlim, ylim)
    handles: list[Artist] = []
    _plot_water(ax, yard, xlim, ylim, m_per_pt)
    handles += _plot_areas(ax, yard, m_per_pt)
    if m_per_pt < DETAIL_M_PER_PT:
        handles += _plot_detail(ax, yard, xlim, ylim)
    handles += _plot_lanes(
        ax, yard, m_per_pt, lane_colors or {}, other_lanes_color, set(highlight_lanes)
    )
    handles += _plot_service_points(ax, yard)
    _plot_cranes(ax, yard, ylim, m_per_pt, handles)
    if decorations:
        _plot_scale_and_north(ax, xlim, ylim, m_per_pt)
    ax.set_xlabel("x east (m)", fontsize=8)
    ax.set_ylabel("y north (m)", fontsize=8)
    ax.tick_params(labelsize=7)
    if legend:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8,
            frameon=False,
            borderaxespad=0.0,
        )
    return handles


def _set_view(
    ax: Axes, yard: Yard, limits: tuple[tuple[float, float], tuple[float, float]] | None
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Set the axes to `limits` (else the whole yard with its water band), at equal aspect;
    returns the limits."""
    if limits is not None:
        xlim, ylim = limits
    else:
        xlim, ylim = _limits(yard)
        for _ in range(2):  # the water band depends on the scale, the scale on the band
            xlim, ylim = _limits(yard, _water_depth(_metres_per_point(ax, xlim, ylim)))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal", adjustable="box")
    return xlim, ylim


def _plot_water(
    ax: Axes, yard: Yard, xlim: tuple[float, float], ylim: tuple[float, float], m_per_pt: float
) -> None:
    """Water south of the quay, labelled."""
    quays = [a for a in yard.areas.values() if a.kind is AreaKind.QUAY]
    y_water = min((a.polygon.bounds[1] for a in quays), default=-math.inf)
    if not quays or y_water <= ylim[0]:
        return
    ax.add_patch(
        Rectangle(
            (xlim[0], ylim[0]),
            xlim[1] - xlim[0],
            y_water - ylim[0],
            facecolor=WATER_COLOR,
            edgecolor="none",
            zorder=_Z_WATER,
        )
    )
    ax.text(
        xlim[1] - 8 * m_per_pt,
        ylim[0] + 6 * m_per_pt,
        "water",
        fontsize=8,
        fontstyle="italic",
        color="#5b8db8",
        ha="right",
        va="bottom",
        zorder=_Z_LABEL,
    )


def _plot_areas(ax: Axes, yard: Yard, m_per_pt: float) -> list[Artist]:
    """Areas, drawn in one collection, with their labels; returns their legend handles."""
    area_polys: list[FloatArray] = []
    area_faces: list[str] = []
    for area in yard.areas.values():
        poly = area.polygon
        if not isinstance(poly, Polygon) or poly.is_empty:
            continue
        area_polys.append(np.asarray(poly.exterior.coords, dtype=np.float64)[:, :2])
        area_faces.append(AREA_COLORS.get(area.kind, "#eeeeee"))
    ax.add_collection(
        PolyCollection(
            area_polys,
            facecolors=area_faces,
            edgecolors="#8c8c8c",
            linewidths=0.6,
            zorder=_Z_AREA,
        )
    )
    handles: list[Artist] = []
    for kind in AreaKind:
        if any(a.kind is kind for a in yard.areas.values()):
            label = kind.value.replace("_", " ")
            label = {"quay": "quay / berth", "block": "block (bays×rows×tiers)"}.get(label, label)
            handles.append(Patch(facecolor=AREA_COLORS[kind], edgecolor="#8c8c8c", label=label))
    _label_areas(ax, yard, m_per_pt)
    return handles


class _LaneLines:
    """Lines of one style (solid or dashed) in one collection: coordinates, colours, widths."""

    def __init__(self) -> None:
        self.xy: list[FloatArray] = []
        self.colors: list[str] = []
        self.widths: list[float] = []

    def add(self, xy: FloatArray, color: str, width: float) -> None:
        self.xy.append(xy)
        self.colors.append(color)
        self.widths.append(width)


def _plot_lanes(
    ax: Axes,
    yard: Yard,
    m_per_pt: float,
    lane_colors: Mapping[str, str],
    other_lanes_color: str | None,
    highlighted: set[str],
) -> list[Artist]:
    """Lanes: one collection for solid lanes, one for dashed (conflict group), one for arrows,
    and the highlighted lanes on top; returns their legend handles."""
    arrow_len = max(3.0, 6.5 * m_per_pt)
    arrow_w = arrow_len * 0.7
    solid = _LaneLines()
    dashed = _LaneLines()
    tris: list[FloatArray] = []
    tri_c: list[str] = []
    for lane in yard.lanes.values():
        xy = lane_xy(yard, lane)
        color = lane_colors.get(lane.id, other_lanes_color or LANE_COLORS.get(lane.kind, "#444444"))
        (dashed if lane.conflict_group else solid).add(
            xy, color, _LANE_WIDTH_PT.get(lane.kind, 1.0)
        )
        scale = 0.75 if lane.kind is LaneKind.SERVICE else 1.0
        if m_per_pt < DETAIL_M_PER_PT:
            if lane.conflict_group:
                continue  # a junction's connectors: their lanes' arrows say the way
            scale *= 0.5
        two_way = yard.graph.has_edge(lane.end, lane.start)
        at = 0.7 if two_way and not lane.conflict_group else 0.5
        for tri in _arrow_triangles(xy, arrow_len * scale, arrow_w * scale, at):
            tris.append(tri)
            tri_c.append(color)
    ax.add_collection(
        LineCollection(
            solid.xy,
            colors=solid.colors,
            linewidths=solid.widths,
            zorder=_Z_LANE,
            capstyle="round",
            gid="lanes",
        )
    )
    if dashed.xy:
        ax.add_collection(
            LineCollection(
                dashed.xy,
                colors=dashed.colors,
                linewidths=dashed.widths,
                linestyles=(0, (3, 2)),
                zorder=_Z_LANE,
                gid="lanes-shared",
            )
        )
    ax.add_collection(
        PolyCollection(
            tris, facecolors=tri_c, edgecolors="none", zorder=_Z_ARROW, gid="lane-arrows"
        )
    )
    if highlighted:
        hl = [lane_xy(yard, lane) for lane in yard.lanes.values() if lane.id in highlighted]
        ax.add_collection(
            LineCollection(
                hl,
                colors=HIGHLIGHT_COLOR,
                linewidths=3.5,
                alpha=0.8,
                zorder=_Z_LABEL + 0.5,
                capstyle="round",
            )
        )
    return _lane_handles(yard, other_lanes_color, bool(dashed.xy), bool(highlighted))


def _lane_handles(
    yard: Yard, other_lanes_color: str | None, dashed: bool, highlighted: bool
) -> list[Artist]:
    """Legend handles for the lanes: one per lane kind drawn (unless the caller colours the
    lanes), shared road space, highlighted lanes."""
    handles: list[Artist] = []
    kinds_shown = list(LaneKind) if other_lanes_color is None else []  # else: the caller's
    for lane_kind in kinds_shown:
        if any(lane.kind is lane_kind for lane in yard.lanes.values()):
            handles.append(
                Line2D(
                    [],
                    [],
                    color=LANE_COLORS[lane_kind],
                    lw=_LANE_WIDTH_PT[lane_kind] * 1.5,
                    marker=">",
                    markersize=5,
                    label=f"{lane_kind.value} lane",
                )
            )
    if dashed:
        handles.append(
            Line2D([], [], color="#555555", lw=1.3, ls=(0, (3, 2)), label="shared road space")
        )
    if highlighted:
        handles.append(Line2D([], [], color=HIGHLIGHT_COLOR, lw=3.5, label="highlighted"))
    return handles


def _plot_service_points(ax: Axes, yard: Yard) -> list[Artist]:
    """Service points as small dots, one scatter per kind; returns their legend handles."""
    handles: list[Artist] = []
    for sp_kind in ServicePointKind:
        pts = [
            yard.nodes[sp.node]
            for sp in yard.service_points.values()
            if sp.kind is sp_kind and sp.node in yard.nodes
        ]
        if not pts:
            continue
        color = SERVICE_POINT_COLORS[sp_kind]
        ax.scatter(
            [n.x for n in pts],
            [n.y for n in pts],
            s=9,
            c=color,
            edgecolors="white",
            linewidths=0.4,
            zorder=_Z_POINT,
        )
        handles.append(
            Line2D(
                [],
                [],
                color=color,
                marker="o",
                ls="none",
                markersize=4,
                label="stop: " + sp_kind.value.replace("_", " "),
            )
        )
    return handles


def _stop_lines(yard: Yard) -> list[Lane]:
    """Lanes that end at a stop line: where the connectors of a junction area begin."""
    junctions = {a.id for a in yard.areas.values() if a.kind is AreaKind.JUNCTION}
    starts = {ln.start for ln in yard.lanes.values() if ln.conflict_group in junctions}
    return [ln for ln in yard.lanes.values() if ln.end in starts and not ln.conflict_group]


def _plot_detail(
    ax: Axes, yard: Yard, xlim: tuple[float, float], ylim: tuple[float, float]
) -> list[Artist]:
    """Lane surfaces at their width, stop lines, and a truck's body at each stop line."""
    from shapely.geometry import box as shapely_box

    from maps.bodies import TRACTOR_40FT, Path, bodies_along

    view = shapely_box(xlim[0] - 30, ylim[0] - 30, xlim[1] + 30, ylim[1] + 30)
    half = yard.lane_width_m / 2
    surfaces = [
        np.asarray(poly.exterior.coords)[:, :2]
        for lane in yard.lanes.values()
        if lane.geometry.intersects(view)
        for poly in [lane.geometry.buffer(half, cap_style="flat")]
        if isinstance(poly, Polygon)
    ]
    ax.add_collection(
        PolyCollection(surfaces, facecolors="#d9d9d9", edgecolors="none", zorder=_Z_AREA + 0.3)
    )
    lines: list[FloatArray] = []
    bodies: list[FloatArray] = []
    for lane in _stop_lines(yard):
        if not lane.geometry.intersects(view):
            continue
        xy = np.asarray(lane.geometry.coords, dtype=np.float64)[:, :2]
        d = xy[-1] - xy[-2]
        n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-9)
        lines.append(np.array([xy[-1] - n * half, xy[-1] + n * half]))
        path = Path(xy)
        body = bodies_along(path, np.array([path.length]), TRACTOR_40FT)[0]
        bodies.append(np.asarray(body.exterior.coords)[:, :2])
    ax.add_collection(
        PolyCollection(
            bodies,
            facecolors="none",
            edgecolors=STOP_BODY_COLOR,
            linewidths=0.9,
            linestyles=(0, (2, 1.5)),
            zorder=_Z_ARROW + 0.2,
        )
    )
    ax.add_collection(
        LineCollection(lines, colors="#111111", linewidths=2.2, zorder=_Z_ARROW + 0.1)
    )
    return [
        Patch(facecolor="#d9d9d9", edgecolor="none", label=f"lane, {yard.lane_width_m:g} m wide"),
        Line2D([], [], color="#111111", lw=2.2, label="stop line"),
        Patch(
            facecolor="none",
            edgecolor=STOP_BODY_COLOR,
            ls=(0, (2, 1.5)),
            label=f"truck at a stop line ({TRACTOR_40FT.length_m:g} x "
            f"{TRACTOR_40FT.width_m:g} m)",
        ),
    ]


def around_limits(
    yard: Yard, feature: str, radius_m: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axes limits `radius_m` around a feature: an area, node, lane, service point or crane."""
    if radius_m <= 0:
        raise ValueError(f"radius must be positive (got {radius_m})")
    if feature in yard.areas:
        x0, y0, x1, y1 = yard.areas[feature].polygon.bounds
    elif feature in yard.nodes or feature in yard.service_points:
        node = yard.nodes[yard.node_of(feature)]
        x0 = x1 = node.x
        y0 = y1 = node.y
    elif feature in yard.lanes:
        x0, y0, x1, y1 = yard.lanes[feature].geometry.bounds
    elif feature in yard.cranes:
        x0 = x1 = yard.cranes[feature].x
        y0 = y1 = yard.cranes[feature].y
    else:
        raise ValueError(
            f"no feature {feature!r} in yard {yard.id!r} to draw around "
            "(an area such as a junction, a node, lane, service point or crane id)"
        )
    return (x0 - radius_m, x1 + radius_m), (y0 - radius_m, y1 + radius_m)


def _rtg_half_width(m_per_pt: float) -> float:
    """Half the drawn width of an RTG frame in metres."""
    return max(3.0, 3 * m_per_pt)


def _free_spot(
    lo: float, hi: float, blocked: Sequence[tuple[float, float]], width: float, target: float
) -> float | None:
    """The centre nearest `target` of a `width` span inside [lo, hi] missing every blocked span."""
    best: float | None = None
    start = lo
    for a, b in [*sorted(blocked), (hi, hi)]:
        end = min(a, hi)
        if end - start >= width:
            x = min(max(target, start + width / 2), end - width / 2)
            # Ties go right (spans run west to east), so labels sit east of a centred RTG.
            if best is None or abs(x - target) <= abs(best - target) + 0.01:
                best = x
        start = max(start, b)
    return best


def _block_obstacles(
    yard: Yard, block_id: str, y_lo: float, y_hi: float, rtg_half: float, sidings: bool = True
) -> list[tuple[float, float]]:
    """The x spans in a block where RTGs (and sidings, if asked) would cross a label band."""
    spans = [
        (c.x - rtg_half, c.x + rtg_half)
        for c in yard.cranes.values()
        if c.kind is CraneKind.RTG and c.area == block_id
    ]
    g = yard.graph
    for sp in yard.service_points.values():
        if not sidings or sp.area != block_id or sp.node not in g:
            continue
        edges = [*g.in_edges(sp.node, data="lane"), *g.out_edges(sp.node, data="lane")]
        xs: list[float] = []
        ys: list[float] = []
        for _, _, lane_id in edges:
            coords = yard.lanes[lane_id].geometry.coords
            xs += [p[0] for p in coords]
            ys += [p[1] for p in coords]
        node = yard.nodes[sp.node]
        xs.append(node.x)
        ys.append(node.y)
        if max(ys) >= y_lo and min(ys) <= y_hi:
            spans.append((min(xs), max(xs)))
    return spans


def _place_block_label(
    yard: Yard, area: Area, m_per_pt: float, rtg_half_m: float
) -> tuple[float, float, float, float | None]:
    """Where a block's name (x, y, size) and its dimensions (x or None) go, clear of RTGs.

    Bands tried top half first (transfer-point sidings fill the lower half), then the middle,
    then the bottom half; in each the name goes as near the centre as the RTGs and sidings
    allow, and the dimensions to its right if they fit. Where no band has room for both
    clear of the sidings, the dimensions may cross a siding's thin lines, never an RTG
    (`rtg_half_m` is half the drawn width of an RTG frame); where they fit nowhere right of
    the name, they are left out. The name only crosses an RTG when the block has no room
    for it at 5 pt.
    """
    x0, y0, x1, y1 = area.polygon.bounds
    h = y1 - y0
    cx = area.polygon.centroid.x
    dims = f"{area.bays}×{area.rows}×{area.tiers}" if area.bays else ""
    pad = 3 * m_per_pt
    dims_w = _text_width_m(dims, _DIMS_PT, m_per_pt) + 2 * pad if dims else 0.0
    fallback: tuple[float, float, float, float | None] | None = None
    for yc, band_h in ((y0 + 0.75 * h, h / 2), (y0 + 0.5 * h, h), (y0 + 0.25 * h, h / 2)):
        size = min(10.0, band_h / (1.25 * m_per_pt))
        if size < 5.0:
            continue
        half = 0.45 * size * m_per_pt
        blocked = _block_obstacles(yard, area.id, yc - half, yc + half, rtg_half_m)
        name_w = _text_width_m(area.id, size, m_per_pt, bold=True) + 2 * pad
        x_name = _free_spot(x0, x1, blocked, name_w, cx)
        if x_name is None:
            continue
        if not dims:
            return x_name, yc, size, None
        name_span = (x_name - name_w / 2, x_name + name_w / 2)
        right = x_name + name_w / 2 + dims_w / 2
        x_dims = _free_spot(x0, x1, [*blocked, name_span], dims_w, right)
        if x_dims is not None and x_dims > x_name:
            return x_name, yc, size, x_dims
        if fallback is None:
            # No spot clear of the sidings: right of the name over them, clear of the RTGs.
            rtgs = _block_obstacles(yard, area.id, yc, yc, rtg_half_m, sidings=False)
            x_dims = _free_spot(x0, x1, [*rtgs, name_span], dims_w, right)
            clear = x_dims is not None and x_dims > x_name
            fallback = (x_name, yc, size, x_dims if clear else None)
    if fallback:
        return fallback
    # Too small to miss the sidings: centred, clear of the RTGs at least, as large as fits.
    yc = y0 + 0.5 * h
    rtgs = _block_obstacles(yard, area.id, yc, yc, rtg_half_m, sidings=False)
    size = max(5.0, min(10.0, h / (1.25 * m_per_pt)))
    while True:
        name_w = _text_width_m(area.id, size, m_per_pt, bold=True) + 2 * pad
        x_name = _free_spot(x0, x1, rtgs, name_w, cx)
        if x_name is not None or size <= 5.0:
            return (cx if x_name is None else x_name), yc, size, None
        size = max(5.0, size - 1.0)


class _BlockLabels(Artist):
    """Places the block labels when the figure is drawn, at the scale the axes ended up with.

    The scale `plot_yard` sees is a forecast: a layout engine, a colour bar or a title added
    afterwards shrinks the axes, and labels sized and placed for the old scale run into the
    RTGs. Drawn below every other layer, this artist moves the label texts (drawn later, at
    `_Z_LABEL`) to where they fit at the final scale.
    """

    def __init__(self, yard: Yard, rtg_half_m: float) -> None:
        super().__init__()
        self.yard = yard
        self.rtg_half_m = rtg_half_m
        self.labels: list[tuple[Area, Text, Text | None]] = []
        self.set_zorder(_Z_WATER - 1)
        self.set_in_layout(False)

    def place(self, m_per_pt: float) -> None:
        """Size and move each block's name and dimensions for `m_per_pt` metres per point."""
        for area, name, dims in self.labels:
            x_name, y_name, size, x_dims = _place_block_label(
                self.yard, area, m_per_pt, self.rtg_half_m
            )
            name.set_position((x_name, y_name))
            name.set_fontsize(size)
            if dims is not None:
                dims.set_visible(x_dims is not None)
                dims.set_position((x_name if x_dims is None else x_dims, y_name))

    def draw(self, renderer: RendererBase) -> None:
        ax = self.axes
        if ax is None or not self.get_visible():
            return
        (ax0, _), (ax1, _) = ax.transData.transform([(0.0, 0.0), (1.0, 0.0)])
        px_per_m = abs(float(ax1) - float(ax0))
        if px_per_m > 0:
            self.place(float(np.asarray(renderer.points_to_pixels(1.0))) / px_per_m)
        self.stale = False


def _label_areas(ax: Axes, yard: Yard, m_per_pt: float) -> None:
    """Block names clear of RTGs and sidings with bays×rows×tiers; other areas named by kind.

    Block labels are placed now for `m_per_pt` and again when the figure is drawn, at the
    scale the axes end up with (`_BlockLabels`).
    """
    placed: list[tuple[float, float, float]] = []  # landside labels: x, y, half width
    blocks = _BlockLabels(yard, _rtg_half_width(m_per_pt))
    for area in yard.areas.values():
        _, _, _, y1 = area.polygon.bounds
        c = area.polygon.centroid
        if area.kind is AreaKind.BLOCK:
            name = ax.text(
                c.x,
                c.y,
                area.id,
                fontweight="bold",
                ha="center",
                va="center_baseline",
                color="#262626",
                zorder=_Z_LABEL,
                gid=f"block-name-{area.id}",
            )
            dims = None
            if area.bays:
                dims = ax.text(
                    c.x,
                    c.y,
                    f"{area.bays}×{area.rows}×{area.tiers}",
                    fontsize=_DIMS_PT,
                    ha="center",
                    va="center_baseline",
                    color="#4d4d4d",
                    zorder=_Z_LABEL,
                    gid=f"block-dims-{area.id}",
                )
            blocks.labels.append((area, name, dims))
        elif area.kind is AreaKind.JUNCTION:
            if m_per_pt < DETAIL_M_PER_PT:  # too many to name on the whole yard
                ax.text(
                    c.x, c.y, area.id, fontsize=8, ha="center", va="center",
                    color="#7a6a1f", zorder=_Z_LABEL, clip_on=True,
                )
        elif area.kind is AreaKind.QUAY:
            ax.text(
                c.x,
                c.y,
                area.name,
                fontsize=10,
                fontweight="bold",
                ha="center",
                va="center",
                color="#1b4f72",
                zorder=_Z_LABEL,
            )
        else:
            # Small landside areas are full of lanes: name them just above their top edge,
            # a line higher while the name would run into one already placed.
            half_w = _text_width_m(area.name, 8, m_per_pt) / 2
            line = 11 * m_per_pt
            y = y1 + 2 * m_per_pt
            while any(
                abs(c.x - px) < half_w + pw + 2 * m_per_pt and abs(y - py) < line
                for px, py, pw in placed
            ):
                y += line
            placed.append((c.x, y, half_w))
            ax.text(
                c.x,
                y,
                area.name,
                fontsize=8,
                ha="center",
                va="bottom",
                color="#333333",
                zorder=_Z_LABEL,
            )
    if blocks.labels:
        blocks.place(m_per_pt)
        ax.add_artist(blocks)


def _plot_cranes(
    ax: Axes,
    yard: Yard,
    ylim: tuple[float, float],
    m_per_pt: float,
    handles: list[Artist],
) -> None:
    """Quay cranes as gantries with a boom over the water and a label; RTGs as frames."""
    qcs = yard.cranes_of(CraneKind.QC)
    if qcs:
        quay_y0 = min(
            (a.polygon.bounds[1] for a in yard.areas.values() if a.kind is AreaKind.QUAY),
            default=min(c.y for c in qcs),
        )
        boom_end = quay_y0 - 25.0
        ax.add_collection(
            LineCollection(
                [np.array([[c.x, c.y], [c.x, boom_end]]) for c in qcs],
                colors=QC_COLOR,
                linewidths=2.0,
                zorder=_Z_CRANE,
            )
        )
        ax.scatter(
            [c.x for c in qcs],
            [c.y for c in qcs],
            marker="s",
            s=70,
            c=QC_COLOR,
            edgecolors="black",
            linewidths=0.6,
            zorder=_Z_CRANE,
        )
        for c in qcs:
            ax.text(
                c.x,
                boom_end - 3 * m_per_pt,
                c.id,
                fontsize=8.5,
                fontweight="bold",
                ha="center",
                va="top",
                color=QC_COLOR,
                zorder=_Z_LABEL,
            )
        handles.append(
            Line2D(
                [],
                [],
                color=QC_COLOR,
                marker="s",
                markersize=7,
                markeredgecolor="black",
                lw=2,
                label="quay crane (boom)",
            )
        )
    rtgs = yard.cranes_of(CraneKind.RTG)
    if rtgs:
        frames: list[FloatArray] = []
        half_w = _rtg_half_width(m_per_pt)
        for c in rtgs:
            area = yard.areas.get(c.area)
            if area is not None:
                _, y0, _, y1 = area.polygon.bounds
                y0, y1 = y0 + 1.0, y1 - 1.0
            else:
                y0, y1 = c.y - 10.0, c.y + 10.0
            frames.append(
                np.array(
                    [[c.x - half_w, y0], [c.x + half_w, y0], [c.x + half_w, y1], [c.x - half_w, y1]]
                )
            )
        ax.add_collection(
            PolyCollection(
                frames,
                facecolors=RTG_COLOR + "33",
                edgecolors=RTG_COLOR,
                linewidths=1.0,
                zorder=_Z_CRANE,
                gid="rtg-frames",
            )
        )
        handles.append(
            Patch(facecolor=RTG_COLOR + "33", edgecolor=RTG_COLOR, label="RTG (gantry over block)")
        )


def _plot_scale_and_north(
    ax: Axes, xlim: tuple[float, float], ylim: tuple[float, float], m_per_pt: float
) -> None:
    """A scale bar in the bottom-left corner and a north arrow in the top-right corner."""
    length = _nice_length(xlim[1] - xlim[0])
    x0 = xlim[0] + 12 * m_per_pt
    y0 = ylim[0] + 10 * m_per_pt
    tick = 3 * m_per_pt
    ax.add_collection(
        LineCollection(
            [
                np.array([[x0, y0], [x0 + length, y0]]),
                np.array([[x0, y0 - tick], [x0, y0 + tick]]),
                np.array([[x0 + length, y0 - tick], [x0 + length, y0 + tick]]),
            ],
            colors="black",
            linewidths=[2.5, 1.2, 1.2],
            zorder=_Z_LABEL,
        )
    )
    ax.text(
        x0 + length / 2,
        y0 + 4 * m_per_pt,
        f"{length:g} m",
        fontsize=8,
        ha="center",
        va="bottom",
        zorder=_Z_LABEL,
    )
    # North arrow: y is true north in the local frame.
    xn = xlim[1] - 16 * m_per_pt
    top = ylim[1] - 8 * m_per_pt
    ax.add_patch(
        FancyArrowPatch(
            (xn, top - 34 * m_per_pt),
            (xn, top - 12 * m_per_pt),
            arrowstyle="-|>",
            mutation_scale=16,
            lw=1.5,
            color="black",
            zorder=_Z_LABEL,
        )
    )
    ax.text(
        xn,
        top - 10 * m_per_pt,
        "N",
        fontsize=11,
        fontweight="bold",
        ha="center",
        va="bottom",
        zorder=_Z_LABEL,
    )


def draw_yard(
    yard: Yard,
    out: str | Path,
    *,
    title: str | None = None,
    highlight_lanes: Sequence[str] = (),
    lane_colors: Mapping[str, str] | None = None,
    width_in: float = 16,
    dpi: float = 150,
    around: str | None = None,
    radius_m: float = 50.0,
) -> Path:
    """Write a picture of the yard as PNG or SVG (by the suffix of `out`) and return its path;
    with `around`, only `radius_m` around that feature (a junction, say), in detail."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise ValueError(
            f"cannot draw a yard to {path.name!r}: suffix {path.suffix or '(none)'!r} "
            f"is not one of {', '.join(_SUFFIXES)}"
        )
    # Axes take the left part of the page; the legend goes in the strip on the right.
    left_in, right_in, top_in, bottom_in = 0.7, 2.6, 0.8, 0.55
    ax_w = max(1.0, width_in - left_in - right_in)
    if around is not None:
        width_in = min(width_in, 11.0)
        ax_w = width_in - left_in - right_in
        xlim, ylim = around_limits(yard, around, radius_m)
    else:
        xlim, _ = _limits(yard)
        m_per_pt = (xlim[1] - xlim[0]) / (72.0 * ax_w)
        xlim, ylim = _limits(yard, _water_depth(m_per_pt))
    ax_h = ax_w * (ylim[1] - ylim[0]) / (xlim[1] - xlim[0])
    height_in = ax_h + top_in + bottom_in
    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    ax = fig.add_axes(
        (left_in / width_in, bottom_in / height_in, ax_w / width_in, ax_h / height_in)
    )
    plot_yard(
        ax,
        yard,
        highlight_lanes=highlight_lanes,
        lane_colors=lane_colors,
        limits=(xlim, ylim) if around is not None else None,
    )
    heading = title if title is not None else f"{yard.id} v{yard.version}"
    if around is not None and title is None:
        heading += f" around {around}"
    fig.suptitle(
        heading,
        x=left_in / width_in,
        y=1 - 0.15 / height_in,
        ha="left",
        va="top",
        fontsize=14,
        fontweight="bold",
    )
    fig.text(
        left_in / width_in,
        1 - 0.45 / height_in,
        summary_line(yard),
        ha="left",
        va="top",
        fontsize=10,
        color="#444444",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # SVG keeps its text as <text> elements, so names stay searchable and selectable.
    with rc_context({"svg.fonttype": "none"}):
        fig.savefig(path, format=suffix[1:], dpi=dpi, facecolor="white")
    return path

"""A picture of a replay: each truck's track over the yard's base map, off-map fixes marked.

Lanes the replay used are highlighted on the base map (`maps.draw.plot_yard`); each
truck's matched fixes are a line of dots in a colour of its own (`maps.draw.distinct_colors`,
however many trucks), named on the map where its track ends and listed in a legend of as
many columns as the room below the base map's legend needs; fixes off the map near the
yard are grey crosses, and fixes too far away to draw (a bag from another city) are counted
in the subtitle instead of stretching the map.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib import patheffects
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from maps.draw import OVERLAY_ZORDER, distinct_colors, plot_yard
from maps.model import Yard
from sim.bags.replay import ReplayReport

OFF_MAP_COLOR = "#616161"
NEAR_M = 300.0
"""Off-map fixes within this distance of the yard's extent are drawn; farther ones counted."""
MAX_LEGEND_COLUMNS = 4
"""The truck legend takes at most this many columns; more trucks are named on the map only."""
_LEGEND_PT = 7.0


def truck_colors(report: ReplayReport) -> dict[str, str]:
    """A different colour for every truck of the replay, in the order of their names."""
    trucks = sorted(report.tracks)
    return dict(zip(trucks, distinct_colors(len(trucks)), strict=True))


def replay_figure(yard: Yard, report: ReplayReport) -> Figure:
    """The replay's picture: tracks on the base map, each truck's colour its own."""
    fig = Figure(figsize=(16, 10))
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.05, 0.06, 0.78, 0.84))
    handles = plot_yard(ax, yard, highlight_lanes=sorted(report.lanes), legend=False)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    far = 0
    colors = truck_colors(report)
    trucks: list[Line2D] = []
    halo = [patheffects.withStroke(linewidth=2.0, foreground="white")]
    for truck, track in sorted(report.tracks.items()):
        x, y = np.asarray(track.x), np.asarray(track.y)
        on = np.asarray(track.matched, dtype=np.bool_)
        near = (x > x0 - NEAR_M) & (x < x1 + NEAR_M) & (y > y0 - NEAR_M) & (y < y1 + NEAR_M)
        far += int(np.count_nonzero(~near))
        color = colors[truck]
        if on.any():
            ax.plot(
                x[on],
                y[on],
                "-o",
                color=color,
                lw=1.2,
                ms=2.5,
                zorder=OVERLAY_ZORDER,
                gid=f"track-{truck}",
            )
            ax.text(
                float(x[on][-1]),
                float(y[on][-1]),
                truck,
                color=color,
                fontsize=_LEGEND_PT,
                fontweight="bold",
                ha="left",
                va="bottom",
                zorder=OVERLAY_ZORDER + 2,
                path_effects=halo,
                gid=f"track-end-{truck}",
                clip_on=True,
            )
            trucks.append(Line2D([], [], color=color, marker="o", ms=3, label=truck))
        off = ~on & near
        if off.any():
            ax.scatter(x[off], y[off], marker="x", s=14, c=OFF_MAP_COLOR, zorder=OVERLAY_ZORDER + 1)
    if report.off_map:
        handles.append(
            Line2D([], [], color=OFF_MAP_COLOR, marker="x", ls="none", label="fix off the map")
        )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    _legends(canvas, ax, handles, trucks)
    state = " (interrupted)" if report.interrupted else ""
    fig.suptitle(
        f"replay of {Path(report.bag).name} on {yard.id}{state}",
        x=0.05,
        ha="left",
        fontsize=14,
        fontweight="bold",
    )
    subtitle = (
        f"{report.fixes} fixes from {len(report.trucks)} truck(s): {report.matched} on "
        f"{len(report.lanes)} lane(s), {report.off_map} off the map, {report.no_fix} without a fix"
    )
    if far:
        subtitle += f"; {far} off-map fix(es) too far from the yard to draw"
    fig.text(0.05, 0.93, subtitle, ha="left", fontsize=10, color="#444444")
    return fig


def _legends(
    canvas: FigureCanvasAgg, ax: Axes, handles: list[Artist], trucks: list[Line2D]
) -> None:
    """The base map's legend right of the axes and, below it, every truck in as many columns
    as the room left needs (up to `MAX_LEGEND_COLUMNS`; beyond, a note: names on the map)."""
    base = ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        frameon=False,
        borderaxespad=0.0,
    )
    if not trucks:
        return
    ax.add_artist(base)
    renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]
    ax.apply_aspect()
    below = float(base.get_window_extent(renderer).transformed(ax.transAxes.inverted()).y0)
    room_pt = (
        max(0.0, below - 0.03) * ax.get_window_extent(renderer).height * 72.0 / canvas.figure.dpi
    )
    rows = max(1, int(room_pt // (_LEGEND_PT * 1.6)) - 2)  # a row, title and padding
    ncols = math.ceil(len(trucks) / rows)
    if ncols > MAX_LEGEND_COLUMNS:
        listed: list[Line2D] = []
        title = f"{len(trucks)} trucks, each its own colour:\nnamed where its track ends"
        ncols = 1
    else:
        listed = trucks
        title = f"{len(trucks)} trucks (named where their tracks end)"
    ax.legend(
        handles=listed,
        loc="upper left",
        bbox_to_anchor=(1.01, below - 0.03),
        fontsize=_LEGEND_PT,
        ncols=ncols,
        frameon=False,
        borderaxespad=0.0,
        title=title,
        title_fontsize=8,
        alignment="left",
        columnspacing=1.0,
        handletextpad=0.4,
    ).set_gid("truck-legend")


def draw_replay(yard: Yard, report: ReplayReport, out: str | Path, *, dpi: float = 120) -> Path:
    """Write the replay's picture as PNG or SVG (by the suffix of `out`) and return its path."""
    path = Path(out)
    if path.suffix.lower() not in {".png", ".svg"}:
        raise ValueError(f"cannot draw a replay to {path.name!r}: use .png or .svg")
    fig = replay_figure(yard, report)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, facecolor="white")
    return path

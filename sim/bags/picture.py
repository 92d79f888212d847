"""A picture of a replay: each truck's track over the yard's base map, off-map fixes marked.

Lanes the replay used are highlighted on the base map (`maps.draw.plot_yard`); each
truck's matched fixes are a coloured line of dots, fixes off the map near the yard are
grey crosses, and fixes too far away to draw (a bag from another city) are counted in
the subtitle instead of stretching the map.
"""

from __future__ import annotations

from itertools import cycle
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from maps.draw import OVERLAY_ZORDER, plot_yard
from maps.model import Yard
from sim.bags.replay import ReplayReport

TRACK_COLORS = ("#d81b60", "#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41")
OFF_MAP_COLOR = "#616161"
NEAR_M = 300.0
"""Off-map fixes within this distance of the yard's extent are drawn; farther ones counted."""
MAX_LEGEND_TRUCKS = 12


def draw_replay(yard: Yard, report: ReplayReport, out: str | Path, *, dpi: float = 120) -> Path:
    """Write the replay's picture as PNG or SVG (by the suffix of `out`) and return its path."""
    path = Path(out)
    if path.suffix.lower() not in {".png", ".svg"}:
        raise ValueError(f"cannot draw a replay to {path.name!r}: use .png or .svg")
    fig = Figure(figsize=(16, 10))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.05, 0.06, 0.78, 0.84))
    handles = plot_yard(ax, yard, highlight_lanes=sorted(report.lanes), legend=False)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    far = 0
    colors = cycle(TRACK_COLORS)
    for n, (truck, track) in enumerate(sorted(report.tracks.items())):
        x, y = np.asarray(track.x), np.asarray(track.y)
        on = np.asarray(track.matched, dtype=np.bool_)
        near = (x > x0 - NEAR_M) & (x < x1 + NEAR_M) & (y > y0 - NEAR_M) & (y < y1 + NEAR_M)
        far += int(np.count_nonzero(~near))
        color = next(colors)
        if on.any():
            ax.plot(x[on], y[on], "-o", color=color, lw=1.2, ms=2.5, zorder=OVERLAY_ZORDER)
            if n < MAX_LEGEND_TRUCKS:
                handles.append(Line2D([], [], color=color, marker="o", ms=3, label=truck))
        off = ~on & near
        if off.any():
            ax.scatter(x[off], y[off], marker="x", s=14, c=OFF_MAP_COLOR, zorder=OVERLAY_ZORDER + 1)
    if report.off_map:
        handles.append(
            Line2D([], [], color=OFF_MAP_COLOR, marker="x", ls="none", label="fix off the map")
        )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        frameon=False,
        borderaxespad=0.0,
    )
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, facecolor="white")
    return path

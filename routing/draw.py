"""Pictures of routes and fleet plans on the yard's base map (PNG or SVG)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from maps import Yard
from maps.draw import OVERLAY_ZORDER, distinct_colors, lane_xy, plot_yard
from routing.paths import Route
from routing.plan import Plan, ResourceKind

_SUFFIXES = (".png", ".svg")


def _save(fig: Figure, out: str | Path) -> Path:
    path = Path(out)
    if path.suffix.lower() not in _SUFFIXES:
        raise ValueError(f"cannot draw to {path.name!r}: use .png or .svg")
    path.parent.mkdir(parents=True, exist_ok=True)
    with rc_context({"svg.fonttype": "none"}):
        fig.savefig(path, dpi=120, bbox_inches="tight", facecolor="white")
    return path


def _path_line(
    ax: Axes, yard: Yard, lanes: Sequence[str], color: str, width: float, label: str | None = None
) -> None:
    for k, lane in enumerate(lanes):
        xy = lane_xy(yard, lane)
        ax.plot(
            xy[:, 0],
            xy[:, 1],
            color=color,
            lw=width,
            solid_capstyle="round",
            zorder=OVERLAY_ZORDER,
            label=label if k == 0 else None,
        )


def _mark(ax: Axes, yard: Yard, node: str, color: str, text: str, marker: str) -> None:
    n = yard.nodes[node]
    ax.plot([n.x], [n.y], marker=marker, ms=9, color=color, mec="black", zorder=OVERLAY_ZORDER + 1)
    ax.annotate(
        text,
        (n.x, n.y),
        xytext=(5, 5),
        textcoords="offset points",
        fontsize=8,
        zorder=OVERLAY_ZORDER + 2,
        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "alpha": 0.8, "lw": 0},
    )


def draw_route(yard: Yard, route: Route, out: str | Path, closed: Sequence[str] = ()) -> Path:
    """The yard with one route drawn over it, its ends marked and closed lanes crossed out."""
    fig = Figure(figsize=(14, 11))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    handles = plot_yard(ax, yard, legend=False)
    _path_line(ax, yard, route.lanes, "#e6194b", 4.0)
    for lane in closed:
        xy = lane_xy(yard, lane)
        ax.plot(xy[:, 0], xy[:, 1], color="black", lw=5, ls=(0, (1, 1)), zorder=OVERLAY_ZORDER + 1)
    _mark(ax, yard, route.nodes[0], "#3cb44b", f"from {route.origin}", "o")
    _mark(ax, yard, route.nodes[-1], "#e6194b", f"to {route.destination}", "s")
    load = "laden" if route.laden else "empty"
    ax.set_title(
        f"{route.origin} → {route.destination} ({load}): {route.length_m:.0f} m in "
        f"{route.time_s:.0f} s" + (f", closed: {', '.join(closed)}" if closed else "")
    )
    extra = [Line2D([], [], color="#e6194b", lw=4, label="route")]
    if closed:
        extra.append(Line2D([], [], color="black", lw=4, ls=(0, (1, 1)), label="closed lane"))
    ax.legend(
        handles=[*extra, *handles],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        frameon=False,
    )
    return _save(fig, out)


def draw_plans(yard: Yard, plans: Sequence[Plan], out: str | Path, title: str = "") -> Path:
    """The fleet's paths on the yard and, beside it, each truck's timeline: driving and waiting."""
    fig = Figure(figsize=(20, max(9.0, 0.22 * len(plans) + 3)))
    FigureCanvasAgg(fig)
    ax_map = fig.add_axes((0.02, 0.06, 0.55, 0.86))
    ax_time = fig.add_axes((0.64, 0.06, 0.34, 0.86))
    plot_yard(ax_map, yard, legend=False)
    palette = distinct_colors(len(plans))  # one per truck, however many
    horizon = max((p.t_end for p in plans), default=1.0) or 1.0
    for k, plan in enumerate(plans):
        color = palette[k % len(palette)]
        _path_line(ax_map, yard, plan.lanes, color, 2.5)
        nodes = plan.nodes
        if nodes:
            _mark(ax_map, yard, nodes[-1], color, plan.truck, "s")
        for step in plan.steps:
            if step.kind is ResourceKind.CONFLICT_GROUP:
                continue
            end = min(step.t_exit, horizon)
            if end <= step.t_enter:
                continue
            driving = (
                step.kind is ResourceKind.LANE
                and step.speed_mps
                and math.isclose(
                    (step.to_m or 0.0) - step.from_m,
                    step.speed_mps * (step.t_exit - step.t_enter),
                    rel_tol=1e-3,
                )
            )
            ax_time.barh(
                k,
                end - step.t_enter,
                left=step.t_enter,
                height=0.7,
                color=color if driving else "#bbbbbb",
                edgecolor="none",
            )
        ax_time.plot([plan.t_end], [k], marker="|", color="black", ms=8)
    ax_time.set_yticks(range(len(plans)), [p.truck for p in plans], fontsize=7)
    ax_time.invert_yaxis()
    ax_time.set_xlabel("time (s)")
    ax_time.set_xlim(0, horizon * 1.02)
    ax_time.grid(axis="x", alpha=0.3)
    ax_time.set_title(
        "timeline: coloured = driving, grey = standing or slowed by traffic, | = arrival",
        fontsize=9,
    )
    ax_map.set_title(title or f"{len(plans)} trucks, makespan {horizon:.0f} s")
    return _save(fig, out)

"""Pictures of a shift: crane rate over time, truck activities over time, traffic on the yard.

Each picture has a function that builds its matplotlib `Figure` (and, where the numbers take
work, one that computes them) and one that writes the file, so tests can read what is drawn.
Only `Figure` and the Agg canvas are used: no pyplot, no global backend switch.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, ListedColormap, LogNorm, to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import NDArray

from fleet.events import ACTIVITIES
from fleet.journal import Journal
from maps import Yard
from maps.draw import plot_yard
from routing.plan import Plan, ResourceKind

FloatArray = NDArray[np.float64]

ACTIVITY_COLOURS = {
    "IDLE": "#bdbdbd",
    "EMPTY": "#64b5f6",
    "LADEN": "#1565c0",
    "SERVICE": "#66bb6a",
    "QUEUED": "#ffb74d",
    "HELD": "#7e57c2",
    "REFUELLING": "#a66f00",
    "BROKEN": "#c62828",
    "LOST": "#212121",
}


def _events(journal: Path, origin: datetime) -> list[tuple[float, str, dict[str, object]]]:
    with Journal(journal) as j:
        return [
            ((datetime.fromisoformat(e.at) - origin).total_seconds(), e.kind, e.body)
            for _, e in j.events(after=0)
            if e.kind in ("crane.event", "truck.status")
        ]


FIELD_RATE = (25.0, 35.0)
"""Gross moves per hour a quay crane makes in the field, drawn as a band for reference."""
CRANE_COLOURS = tuple(to_hex(c) for c in colormaps["tab10"].colors)  # type: ignore[attr-defined]
MEAN_COLOUR = "#212121"


@dataclass(frozen=True)
class CraneRates:
    """Each quay crane's gross rate (moves per hour) in bins over the shift.

    `edges_h` are the bin edges in hours: the last is the shift's end, so the last bin is
    partial when the shift is not a whole number of bins (one shorter than a quarter bin
    is merged into the bin before it). A rate is moves divided by its bin's own length.
    """

    edges_h: FloatArray
    rates: dict[str, FloatArray]
    moves: dict[str, int]

    @property
    def mean(self) -> FloatArray:
        """The cranes' mean rate per bin (zeros without cranes)."""
        if not self.rates:
            return np.zeros(len(self.edges_h) - 1)
        return np.asarray(np.mean(np.vstack(list(self.rates.values())), axis=0), dtype=np.float64)

    @property
    def hours(self) -> float:
        return float(self.edges_h[-1])


def crane_bins(hours: float, bin_min: float) -> FloatArray:
    """Bin edges in seconds from 0 to the shift's end, the last bin partial if need be."""
    end = max(hours * 3600.0, 1.0)
    width = bin_min * 60.0
    edges = np.arange(0.0, end, width)
    if len(edges) > 1 and end - edges[-1] < 0.25 * width:
        edges = edges[:-1]  # a sliver of a bin: merged into the one before
    return np.append(edges, end)


def crane_rates(journal: Path, origin: datetime, hours: float, bin_min: float = 30) -> CraneRates:
    """Moves per hour of each quay crane seen in the journal, in bins over the shift."""
    edges = crane_bins(hours, bin_min)
    moves: dict[str, list[float]] = defaultdict(list)
    for t, kind, body in _events(journal, origin):
        if kind == "crane.event" and body.get("crane_kind") == "QC":
            done = moves[str(body["crane"])]  # a crane with events but no move shows as 0
            if body["event"] == "MOVEDONE":
                done.append(t)
    per_hour = 3600.0 / np.diff(edges)
    rates = {c: np.histogram(moves[c], bins=edges)[0] * per_hour for c in sorted(moves)}
    return CraneRates(edges / 3600.0, rates, {c: len(moves[c]) for c in sorted(moves)})


def crane_rate_figure(rates: CraneRates) -> Figure:
    """One small panel per crane (so no line hides another) with the cranes' mean in each."""
    cranes = sorted(rates.rates)
    ncols = max(1, min(3, len(cranes)))
    nrows = max(1, math.ceil(len(cranes) / ncols))
    height = 1.35 + 2.1 * nrows
    fig = Figure(figsize=(10, height))  # laid out by hand: a layout engine doubles the time
    FigureCanvasAgg(fig)
    axes = fig.subplots(
        nrows,
        ncols,
        sharex=True,
        sharey=True,
        squeeze=False,
        gridspec_kw={
            "left": 0.07,
            "right": 0.975,
            "top": 1 - 0.6 / height,
            "bottom": 0.85 / height,
            "wspace": 0.14,
            "hspace": 0.3,
        },
    )
    edges, mean = rates.edges_h, rates.mean
    top = max([FIELD_RATE[1], *(float(r.max(initial=0.0)) for r in rates.rates.values())])
    for k, ax in enumerate(axes.flat):
        if k >= len(cranes):
            ax.set_visible(False)
            continue
        crane = cranes[k]
        ax.axhspan(*FIELD_RATE, color="#e8f5e9", zorder=0)
        # The mean on top, thin and dashed, so it shows where it equals the crane's rate.
        ax.stairs(mean, edges, baseline=None, color=MEAN_COLOUR, lw=1.2, ls=(0, (4, 2)), zorder=4)
        ax.stairs(
            rates.rates[crane],
            edges,
            baseline=None,
            color=CRANE_COLOURS[k % len(CRANE_COLOURS)],
            lw=2.2,
            zorder=3,
            gid=f"crane-{crane}",
        )
        overall = rates.moves[crane] / max(rates.hours, 1e-9)
        ax.set_title(f"{crane}: {rates.moves[crane]} moves, {overall:.1f}/h", fontsize=9)
        ax.set_xlim(0.0, rates.hours)
        ax.set_ylim(0.0, top * 1.1)
        ax.grid(alpha=0.3)
    if not cranes:
        axes[0, 0].text(
            0.5,
            0.5,
            "no quay crane moves in the journal",
            ha="center",
            transform=axes[0, 0].transAxes,
        )
    for ax in axes[-1, :]:
        ax.set_xlabel("hours into the shift")
    for ax in axes[:, 0]:
        ax.set_ylabel("moves per hour")
    widths = np.diff(edges) * 60.0
    note = f"bins of {widths[0]:.0f} min"
    if len(widths) > 1 and not math.isclose(widths[-1], widths[0]):
        note += f", the last {widths[-1]:.0f} min"
    fig.suptitle(f"Gross quay crane rate over the shift ({note})")
    fig.legend(
        handles=[
            Line2D([], [], color=CRANE_COLOURS[0], lw=2.2, label="the panel's crane"),
            Line2D([], [], color=MEAN_COLOUR, lw=1.2, ls=(0, (4, 2)), label="mean of all cranes"),
            Line2D(
                [],
                [],
                color="#e8f5e9",
                lw=8,
                label=f"field range {FIELD_RATE[0]:g}–{FIELD_RATE[1]:g}/h",
            ),
        ],
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        ncols=3,
        fontsize=8,
        frameon=False,
    )
    return fig


def crane_rate(
    journal: Path, origin: datetime, hours: float, out: Path, bin_min: float = 30
) -> Path:
    """Moves per hour of each quay crane, in bins over the shift."""
    fig = crane_rate_figure(crane_rates(journal, origin, hours, bin_min))
    fig.savefig(out, dpi=120)
    return out


def truck_states(journal: Path, origin: datetime, hours: float, out: Path) -> Path:
    """How many trucks are in each activity, minute by minute."""
    grid = np.arange(0.0, hours * 3600.0, 60.0)
    changes: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for t, kind, body in _events(journal, origin):
        if kind == "truck.status":
            changes[str(body["truck"])].append((t, str(body["activity"])))
    counts = {a: np.zeros(len(grid)) for a in ACTIVITIES}
    for seq in changes.values():
        times = np.array([t for t, _ in seq])
        idx = np.searchsorted(times, grid, side="right") - 1
        for k, i in enumerate(idx):
            if i >= 0:
                counts[seq[i][1]][k] += 1
    fig = Figure(figsize=(9, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.stackplot(
        grid / 3600.0,
        [counts[a] for a in ACTIVITIES],
        labels=list(ACTIVITIES),
        colors=[ACTIVITY_COLOURS[a] for a in ACTIVITIES],
    )
    ax.set_xlabel("hours into the shift")
    ax.set_ylabel("trucks")
    ax.set_title("What the trucks were doing")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.savefig(out, dpi=120)
    return out


def lane_traffic(plans: Sequence[Plan]) -> Counter[str]:
    """How many times each lane was driven (entered from its start)."""
    seen: Counter[str] = Counter()
    for plan in plans:
        last = None
        for st in plan.steps:
            if st.kind is ResourceKind.LANE and st.resource != last:
                seen[st.resource] += 1
                last = st.resource
            elif st.kind is ResourceKind.NODE:
                last = None
    return seen


NEVER_DRIVEN_COLOUR = "#c8c8c8"
"""Lanes nobody drove: a neutral grey, off the traffic colour scale."""


def _traffic_cmap() -> Colormap:
    # inferno_r without its palest end, so one truck is not white on white; below 1: grey.
    colours = colormaps["inferno_r"](np.linspace(0.12, 1.0, 256))
    return ListedColormap(colours, name="traffic").with_extremes(under=NEVER_DRIVEN_COLOUR)


TRAFFIC_CMAP = _traffic_cmap()


def traffic_colours(yard: Yard, counts: Mapping[str, int]) -> tuple[dict[str, str], LogNorm]:
    """A colour for every lane of the yard by how often it was driven, and the scale's norm:
    driven lanes on `TRAFFIC_CMAP` (log scale), the others `NEVER_DRIVEN_COLOUR`."""
    top = max(counts.values(), default=1)
    norm = LogNorm(vmin=1, vmax=max(top, 2))
    colours = {
        lane: to_hex(TRAFFIC_CMAP(norm(counts[lane])))
        if counts.get(lane, 0) >= 1
        else NEVER_DRIVEN_COLOUR
        for lane in yard.lanes
    }
    return colours, norm


def traffic_figure(yard: Yard, counts: Mapping[str, int], title: str = "") -> Figure:
    """The yard with every lane coloured by how often trucks drove it (`lane_traffic`)."""
    fig = Figure(figsize=(11, 9.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colours, norm = traffic_colours(yard, counts)
    driven = {lane: c for lane, c in colours.items() if c != NEVER_DRIVEN_COLOUR}
    plot_yard(ax, yard, lane_colors=driven, other_lanes_color=NEVER_DRIVEN_COLOUR, legend=False)
    sm = ScalarMappable(norm=norm, cmap=TRAFFIC_CMAP)
    fig.colorbar(sm, ax=ax, shrink=0.6, extend="min", label="trucks through the lane")
    never = len(colours) - len(driven)
    fig.legend(
        handles=[
            Line2D(
                [],
                [],
                color=NEVER_DRIVEN_COLOUR,
                lw=2.5,
                label=f"never driven ({never} of {len(colours)} lanes; grey, below 1)",
            ),
        ],
        loc="outside lower center",
        fontsize=9,
        frameon=False,
    )
    ax.set_title(title or "Traffic density over the shift")
    return fig


def traffic_map(yard: Yard, plans: Sequence[Plan], out: Path, title: str = "") -> Path:
    """The yard with every lane coloured by how often trucks drove it, never-driven ones grey."""
    fig = traffic_figure(yard, lane_traffic(plans), title)
    fig.savefig(out, dpi=110)
    return out

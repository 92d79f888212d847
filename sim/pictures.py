"""Pictures of a shift: crane rate over time, truck activities over time, traffic on the yard."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm, to_hex

from fleet.events import ACTIVITIES
from fleet.journal import Journal
from maps import Yard
from maps.draw import plot_yard
from routing.plan import Plan, ResourceKind

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


def crane_rate(
    journal: Path, origin: datetime, hours: float, out: Path, bin_min: float = 30
) -> Path:
    """Moves per hour of each quay crane, in bins over the shift."""
    edges = np.arange(0.0, hours * 3600.0 + 1e-9, bin_min * 60.0)
    moves: dict[str, list[float]] = defaultdict(list)
    for t, kind, body in _events(journal, origin):
        if kind == "crane.event" and body["event"] == "MOVEDONE" and body["crane_kind"] == "QC":
            moves[str(body["crane"])].append(t)
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    for crane in sorted(moves):
        counts, _ = np.histogram(moves[crane], bins=edges)
        ax.step(edges[:-1] / 3600.0, counts * 60.0 / bin_min, where="post", label=crane)
    ax.axhspan(25, 35, color="#e8f5e9", zorder=0, label="field range 25–35/h")
    ax.set_xlabel("hours into the shift")
    ax.set_ylabel("moves per hour")
    ax.set_title("Gross quay crane rate over the shift")
    ax.legend(ncol=4, fontsize=8)
    fig.savefig(out, dpi=120)
    plt.close(fig)
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
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
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
    plt.close(fig)
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


def traffic_map(yard: Yard, plans: Sequence[Plan], out: Path, title: str = "") -> Path:
    """The yard with every lane coloured by how often trucks drove it."""
    counts = lane_traffic(plans)
    fig, ax = plt.subplots(figsize=(11, 9), layout="constrained")
    cmap = colormaps["inferno_r"]
    top = max(counts.values(), default=1)
    norm = LogNorm(vmin=1, vmax=max(top, 2))
    colours = {lane: to_hex(cmap(norm(n))) for lane, n in counts.items()}
    plot_yard(ax, yard, lane_colors=colours, legend=False)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, shrink=0.6, label="trucks through the lane")
    ax.set_title(title or "Traffic density over the shift")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out

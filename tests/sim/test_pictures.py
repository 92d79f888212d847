"""The shift's pictures say what the data says: read from the figures they are drawn from.

traffic.png: lanes nobody drove are a neutral grey off the colour scale (the map's own lane
colours read as heavy traffic on it). crane_rate.png: the last, partial bin is drawn; each
crane has a panel of its own (its line hidden by none) with the cranes' mean in it.
replay.png: every truck its own colour, a legend entry and its name on the map, for 40
trucks and more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import Collection
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import StepPatch
from matplotlib.text import Text

from fleet.journal import Event, Journal
from maps import Yard
from maps.model import CraneKind
from sim.bags.picture import draw_replay, replay_figure
from sim.bags.replay import ReplayReport, Track, TruckTally
from sim.pictures import (
    MEAN_COLOUR,
    NEVER_DRIVEN_COLOUR,
    TRAFFIC_CMAP,
    crane_rate,
    crane_rate_figure,
    crane_rates,
    traffic_colours,
    traffic_figure,
)

ORIGIN = datetime(2026, 3, 2, 6, 0, 0)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _gid(fig: Figure, prefix: str) -> list[object]:
    return [a for a in fig.findobj() if (a.get_gid() or "").startswith(prefix)]


# --- traffic.png ---------------------------------------------------------------------------


def _driven(yard: Yard) -> dict[str, int]:
    """A few lanes of each kind driven 1 to 40 times; the rest never."""
    lanes = sorted(yard.lanes)
    return {lane: 1 + (7 * k) % 40 for k, lane in enumerate(lanes[::9])}


def test_never_driven_lanes_are_grey_off_the_colour_scale(haiphong: Yard) -> None:
    counts = _driven(haiphong)
    fig = traffic_figure(haiphong, counts, "test")
    # The lanes as drawn, in the order plot_yard draws them (solid, then shared road space).
    order = [ln.id for ln in haiphong.lanes.values() if not ln.conflict_group]
    order += [ln.id for ln in haiphong.lanes.values() if ln.conflict_group]
    drawn: list[str] = []
    for gid in ("lanes", "lanes-shared"):
        for coll in _gid(fig, gid):
            if isinstance(coll, Collection) and coll.get_gid() == gid:
                drawn += [to_hex(c) for c in coll.get_edgecolor()]
    assert len(drawn) == len(order)
    _, norm = traffic_colours(haiphong, counts)
    for lane, colour in zip(order, drawn, strict=True):
        if lane in counts:
            assert colour == to_hex(TRAFFIC_CMAP(norm(counts[lane]))), lane
        else:
            assert colour == NEVER_DRIVEN_COLOUR, lane
    assert drawn.count(NEVER_DRIVEN_COLOUR) == len(haiphong.lanes) - len(counts)
    # Neutral: no hue; and nowhere near a colour of the scale.
    r, g, b = to_rgb(NEVER_DRIVEN_COLOUR)
    assert r == g == b
    scale = np.asarray(TRAFFIC_CMAP(np.linspace(0.0, 1.0, 256)))[:, :3]
    assert np.min(np.linalg.norm(scale - np.array([r, g, b]), axis=1)) > 0.25
    # The colour bar shows it below its range, the legend says what it is.
    assert to_hex(TRAFFIC_CMAP.get_under()) == NEVER_DRIVEN_COLOUR
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any(label.startswith("never driven") for label in labels)


def test_traffic_block_labels_miss_the_rtgs(haiphong: Yard) -> None:
    """The colour bar and layout shrink the map after it is drawn; labels are placed at the
    final scale (tests/maps/test_draw_labels.py has the same check for other layouts)."""
    fig = traffic_figure(haiphong, _driven(haiphong))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    [frames] = _gid(fig, "rtg-frames")
    assert isinstance(frames, Collection)
    rtgs = [p.get_extents(frames.get_transform()) for p in frames.get_paths()]
    labels = [t for t in _gid(fig, "block-") if isinstance(t, Text) and t.get_visible()]
    assert len(rtgs) == len(haiphong.cranes_of(CraneKind.RTG))
    assert len(labels) == 40  # 20 names, 20 × bays×rows×tiers
    hits = [t.get_text() for t in labels for r in rtgs if t.get_window_extent(renderer).overlaps(r)]
    assert hits == []


# --- crane_rate.png ------------------------------------------------------------------------


def _crane_journal(path: Path, moves: dict[str, list[float]]) -> Path:
    """A journal with MOVEDONE events of quay cranes at the given minutes into the shift."""
    with Journal(path) as journal:
        events = [
            Event(
                f"c:{crane}:{k}",
                "crane.event",
                (ORIGIN + timedelta(minutes=minute)).isoformat(),
                {"crane": crane, "crane_kind": "QC", "event": "MOVEDONE"},
            )
            for crane, minutes in moves.items()
            for k, minute in enumerate(minutes)
        ]
        events.append(
            Event(
                "r",
                "crane.event",
                ORIGIN.isoformat(),
                {"crane": "RTG01", "crane_kind": "RTG", "event": "MOVEDONE"},
            )
        )
        journal.append_all(events)
    return path


MOVES = {
    # 10 moves in the first half hour, 5 in the second, 3 in the last 12 minutes.
    "QC01": [*np.linspace(1, 29, 10), *np.linspace(31, 59, 5), 62.0, 65.0, 70.0],
    "QC02": [*np.linspace(1, 29, 10), *np.linspace(31, 59, 5), 62.0, 65.0, 70.0],  # the same
    "QC03": [10.0, 50.0],
}


def test_the_last_partial_bin_is_counted_and_drawn(tmp_path: Path) -> None:
    journal = _crane_journal(tmp_path / "j.db", MOVES)
    rates = crane_rates(journal, ORIGIN, 1.2, bin_min=30)
    assert rates.edges_h == pytest.approx([0.0, 0.5, 1.0, 1.2])
    assert sorted(rates.rates) == ["QC01", "QC02", "QC03"]  # the RTG is not a quay crane
    assert rates.rates["QC01"] == pytest.approx([20.0, 10.0, 15.0])  # 3 moves in 12 min
    assert rates.rates["QC03"] == pytest.approx([2.0, 2.0, 0.0])
    assert rates.mean == pytest.approx([14.0, 22 / 3, 10.0])
    fig = crane_rate_figure(rates)
    for crane, series in rates.rates.items():
        [step] = _gid(fig, f"crane-{crane}")
        assert isinstance(step, StepPatch)
        values, edges, _ = step.get_data()
        assert edges[-1] == pytest.approx(1.2)  # the drawn series reaches the shift's end
        assert values == pytest.approx(series)
        assert step.axes is not None
        assert step.axes.get_xlim()[1] == pytest.approx(1.2)
    out = crane_rate(journal, ORIGIN, 1.2, tmp_path / "crane_rate.png")
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_a_whole_number_of_bins_draws_the_last_one_too(tmp_path: Path) -> None:
    journal = _crane_journal(tmp_path / "j.db", MOVES)
    rates = crane_rates(journal, ORIGIN, 1.0, bin_min=30)
    assert rates.edges_h == pytest.approx([0.0, 0.5, 1.0])
    assert rates.rates["QC01"] == pytest.approx([20.0, 10.0])
    # A sliver of a bin at the end is merged into the one before it, not drawn as a spike.
    rates = crane_rates(journal, ORIGIN, 1.05, bin_min=30)
    assert rates.edges_h == pytest.approx([0.0, 0.5, 1.05])


def test_each_crane_has_its_panel_with_the_mean_in_it(tmp_path: Path) -> None:
    rates = crane_rates(_crane_journal(tmp_path / "j.db", MOVES), ORIGIN, 1.2)
    fig = crane_rate_figure(rates)
    steps = {c: _gid(fig, f"crane-{c}")[0] for c in rates.rates}
    axes = [s.axes for s in steps.values()]  # type: ignore[attr-defined]
    assert len({id(ax) for ax in axes}) == len(rates.rates)  # QC01 and QC02 do not hide
    colours = {to_hex(s.get_edgecolor()) for s in steps.values()}  # type: ignore[attr-defined]
    assert len(colours) == len(rates.rates)
    for ax in axes:
        means = [
            p
            for p in ax.patches
            if isinstance(p, StepPatch) and to_hex(p.get_edgecolor()) == MEAN_COLOUR
        ]
        assert len(means) == 1
        assert means[0].get_data()[0] == pytest.approx(rates.mean)
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "mean of all cranes" in labels


def test_a_journal_without_cranes_still_draws(tmp_path: Path) -> None:
    rates = crane_rates(_crane_journal(tmp_path / "j.db", {}), ORIGIN, 0.5)
    assert rates.rates == {}
    assert len(rates.mean) == 1
    crane_rate_figure(rates).canvas.draw()


# --- replay.png ----------------------------------------------------------------------------


def _report(yard: Yard, trucks: int) -> ReplayReport:
    """Each truck driving one through lane, all fixes matched."""
    lanes = [ln for ln in yard.lanes.values() if ln.is_through]
    report = ReplayReport(bag="many", yard=yard.id, speed=0.0, max_distance_m=15.0)
    for k in range(trucks):
        lane = lanes[(k * 37) % len(lanes)]
        xy = np.asarray(lane.geometry.coords)[:, :2]
        name = f"TT{k + 1:03d}"
        report.tracks[name] = Track(list(xy[:, 0]), list(xy[:, 1]), [True] * len(xy))
        report.trucks[name] = TruckTally(fixes=len(xy), matched=len(xy))
        report.fixes += len(xy)
        report.matched += len(xy)
        report.lanes[lane.id] += len(xy)
    return report


@pytest.mark.parametrize("trucks", [6, 40, 64])
def test_replay_gives_every_truck_a_colour_an_entry_and_a_name_on_the_map(
    haiphong: Yard, trucks: int
) -> None:
    report = _report(haiphong, trucks)
    fig = replay_figure(haiphong, report)
    tracks = [a for a in _gid(fig, "track-") if isinstance(a, Line2D)]
    assert sorted(str(t.get_gid()) for t in tracks) == [f"track-{n}" for n in sorted(report.tracks)]
    assert len({to_hex(t.get_color()) for t in tracks}) == trucks
    names = [a for a in _gid(fig, "track-end-") if isinstance(a, Text)]
    assert sorted(t.get_text() for t in names) == sorted(report.tracks)
    [legend] = [a for a in _gid(fig, "truck-legend")]
    entries = [t.get_text() for t in legend.get_texts()]  # type: ignore[attr-defined]
    assert entries == sorted(report.tracks)  # every truck, none left out at 12
    colour_of = {str(t.get_gid())[len("track-") :]: to_hex(t.get_color()) for t in tracks}
    for handle, name in zip(legend.legend_handles, entries, strict=True):  # type: ignore[attr-defined]
        assert to_hex(handle.get_color()) == colour_of[name]
    # The truck legend fits in the figure, below the base map's legend.
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    box = legend.get_window_extent(renderer)  # type: ignore[attr-defined]
    assert box.y0 >= 0 and box.x1 <= fig.bbox.width


def test_replay_of_hundreds_of_trucks_names_them_on_the_map(haiphong: Yard, tmp_path: Path) -> None:
    report = _report(haiphong, 150)
    fig = replay_figure(haiphong, report)
    tracks = [a for a in _gid(fig, "track-") if isinstance(a, Line2D)]
    assert len({to_hex(t.get_color()) for t in tracks}) == 150
    assert len([a for a in _gid(fig, "track-end-") if isinstance(a, Text)]) == 150
    [legend] = _gid(fig, "truck-legend")
    assert "named where its track ends" in legend.get_title().get_text()  # type: ignore[attr-defined]
    path = draw_replay(haiphong, report, tmp_path / "replay.png")
    assert path.read_bytes()[:8] == PNG_MAGIC

"""Block labels stay clear of the RTGs at the scale the picture ends up with; colours for
many things drawn side by side are all different; lanes left out of `lane_colors` can be
drawn in one neutral colour."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import Collection
from matplotlib.colors import Normalize, to_hex
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from maps import Yard
from maps.draw import LANE_COLORS, distinct_colors, plot_yard
from maps.model import LaneKind


def _by_gid(fig: Figure, prefix: str) -> list[Collection | Text]:
    return [a for a in fig.findobj() if (a.get_gid() or "").startswith(prefix)]  # type: ignore[misc]


def block_labels_on_rtgs(fig: Figure) -> list[str]:
    """Block labels (name, dimensions) whose drawn box meets an RTG frame's drawn box."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    [frames] = _by_gid(fig, "rtg-frames")
    assert isinstance(frames, Collection)
    rtgs = [p.get_extents(frames.get_transform()) for p in frames.get_paths()]
    assert rtgs, "no RTG frames drawn"
    labels = [t for t in _by_gid(fig, "block-") if isinstance(t, Text) and t.get_visible()]
    assert len(labels) >= 20  # the 20 blocks' names at least
    hits = []
    for text in labels:
        box: Bbox = text.get_window_extent(renderer)
        hits += [f"{text.get_text()} ({text.get_gid()})" for r in rtgs if box.overlaps(r)]
    return hits


def _plain(haiphong: Yard, size: tuple[float, float]) -> Figure:
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    plot_yard(fig.add_subplot(), haiphong, legend=False)
    return fig


def _shrunk_after_plotting(haiphong: Yard) -> Figure:
    """A density-map layout: constrained layout and a colour bar added after the base map,
    so the axes end up smaller than `plot_yard` saw them."""
    fig = Figure(figsize=(11, 9), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    plot_yard(ax, haiphong, legend=False)
    fig.colorbar(ScalarMappable(norm=Normalize(0, 1)), ax=ax, shrink=0.6, label="density")
    ax.set_title("a title added afterwards")
    return fig


@pytest.mark.parametrize("size", [(16, 12), (11, 9), (8, 6)])
def test_block_labels_miss_the_rtgs(haiphong: Yard, size: tuple[float, float]) -> None:
    assert block_labels_on_rtgs(_plain(haiphong, size)) == []


def test_block_labels_miss_the_rtgs_when_the_axes_shrink_after_plotting(haiphong: Yard) -> None:
    fig = _shrunk_after_plotting(haiphong)
    assert block_labels_on_rtgs(fig) == []
    # ...and they stay inside their blocks.
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    ax = fig.axes[0]
    for text in _by_gid(fig, "block-"):
        assert isinstance(text, Text)
        if not text.get_visible():
            continue
        block = str(text.get_gid()).rsplit("-", 1)[1]
        x0, y0, x1, y1 = haiphong.areas[block].polygon.bounds
        (bx0, _), (bx1, _) = ax.transData.transform([(x0, y0), (x1, y1)])
        box = text.get_window_extent(renderer)
        assert bx0 - 1 <= box.x0 and box.x1 <= bx1 + 1, (text.get_text(), block)


def test_every_block_is_named_and_most_show_their_dimensions(haiphong: Yard) -> None:
    fig = _shrunk_after_plotting(haiphong)
    fig.canvas.draw()
    names = {t.get_text() for t in _by_gid(fig, "block-name-") if isinstance(t, Text)}
    blocks = {a.id for a in haiphong.areas.values() if a.kind.value == "block"}
    assert names == blocks
    dims = [t for t in _by_gid(fig, "block-dims-") if isinstance(t, Text) and t.get_visible()]
    assert len(dims) == len(blocks)


@pytest.mark.parametrize("n", [1, 10, 11, 40, 300])
def test_distinct_colors_are_all_different(n: int) -> None:
    colors = distinct_colors(n)
    assert len(colors) == n
    assert len(set(colors)) == n


def test_other_lanes_color_greys_every_lane_not_coloured(haiphong: Yard) -> None:
    fig = Figure(figsize=(8, 6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    some = sorted(haiphong.lanes)[:5]
    handles = plot_yard(
        ax, haiphong, lane_colors=dict.fromkeys(some, "#ff0000"), other_lanes_color="#c8c8c8"
    )
    drawn = [
        to_hex(c)
        for coll in _by_gid(fig, "lanes")
        if isinstance(coll, Collection)
        for c in coll.get_edgecolor()
    ]
    assert len(drawn) == len(haiphong.lanes)
    assert drawn.count("#ff0000") == len(some)
    assert drawn.count("#c8c8c8") == len(haiphong.lanes) - len(some)
    # The lane-kind colours are nowhere on the map, so not in the legend either.
    labels = {str(h.get_label()) for h in handles}
    assert not labels & {f"{kind.value} lane" for kind in LaneKind}
    arrows = {to_hex(c) for c in _by_gid(fig, "lane-arrows")[0].get_facecolor()}  # type: ignore[union-attr]
    assert arrows <= {"#ff0000", "#c8c8c8"}
    assert not set(LANE_COLORS.values()) & arrows
    assert np.isfinite(ax.get_xlim()).all()

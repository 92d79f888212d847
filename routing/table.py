"""The travel-time table between service points, for the dispatcher's costs.

Built with `scipy.sparse.csgraph.dijkstra` from every service point at once (measured
against networkx in tests/bench: csgraph is the faster by far). When lanes close,
reopen or change speed, only the rows whose shortest-path trees the change can touch
are recomputed: a slower lane matters to the sources whose tree uses it, a faster one
to the sources for which it now offers a shortcut.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.sparse.csgraph import dijkstra

from maps import UnknownFeatureError
from routing.network import LaneChange, LaneNetwork

EPS = 1e-9


class TravelTimeTable:
    """Fastest travel times (s) between every pair of service points, kept fresh on changes."""

    def __init__(
        self, network: LaneNetwork, laden: bool = False, points: list[str] | None = None
    ) -> None:
        self.network = network
        self.laden = laden
        yard = network.yard
        self.points: list[str] = sorted(yard.service_points) if points is None else list(points)
        self.index = {p: i for i, p in enumerate(self.points)}
        self._src = np.array(
            [network.node_index[yard.service_points[p].node] for p in self.points], dtype=np.intp
        )
        self._dist = np.empty((len(self.points), len(network.node_ids)))
        self._pred = np.empty((len(self.points), len(network.node_ids)), dtype=np.int32)
        self._times = network.lane_times(laden).copy()
        self.last_refreshed_rows = 0
        self._times_view: npt.NDArray[np.float64] | None = None
        self._compute(np.arange(len(self.points)))
        network.subscribe(self._on_change)

    def _compute(self, rows: npt.NDArray[np.intp]) -> None:
        if len(rows) == 0:
            return
        dist, pred = dijkstra(
            self.network.matrix(self.laden),
            directed=True,
            indices=self._src[rows],
            return_predecessors=True,
        )
        self._dist[rows] = dist
        self._pred[rows] = pred
        self._times_view = None
        self.last_refreshed_rows = len(rows)

    @property
    def times(self) -> npt.NDArray[np.float64]:
        """The point × point matrix of travel times (inf where unreachable; read-only)."""
        if self._times_view is None:
            self._times_view = self._dist[:, self._src]
            self._times_view.flags.writeable = False
        return self._times_view

    def time(self, origin: str, destination: str) -> float:
        """Travel time between two service points."""
        try:
            return float(self._dist[self.index[origin], self._src[self.index[destination]]])
        except KeyError as exc:
            raise UnknownFeatureError(f"the table has no service point {exc.args[0]!r}") from None

    def _on_change(self, change: LaneChange) -> None:
        net = self.network
        new_times = net.lane_times(self.laden)
        rows = np.zeros(len(self.points), dtype=bool)
        for lane in change.slower | change.faster:
            k = net.lane_index[lane]
            u, v = int(net.lane_src[k]), int(net.lane_dst[k])
            old, new = self._times[k], new_times[k]
            if new > old + EPS:  # slower or closed: rows whose tree uses the lane
                rows |= self._pred[:, v] == u
            elif new < old - EPS:  # faster or reopened: rows it now offers a shortcut
                rows |= self._dist[:, u] + new < self._dist[:, v] - EPS
        self._times = new_times.copy()
        picked = np.nonzero(rows)[0]
        self.last_refreshed_rows = 0
        self._compute(picked)

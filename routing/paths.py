"""Fastest paths by travel time, between nodes or service points, on the live network.

Shortest-path trees come from `scipy.sparse.csgraph` (compiled Dijkstra) and are cached
per source, vehicle load and network version, so a closure or speed zone invalidates
them at once and repeated queries from one place cost a walk up the tree.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse.csgraph import dijkstra

from routing.errors import NoRouteError
from routing.network import LaneNetwork

TREE_CACHE_SIZE = 512


@dataclass(frozen=True, slots=True)
class Route:
    """A fastest path: nodes and lanes in order, with its length and travel time."""

    origin: str
    destination: str
    nodes: tuple[str, ...]
    lanes: tuple[str, ...]
    length_m: float
    time_s: float
    laden: bool


class Router:
    """Answers fastest-path queries on a live `LaneNetwork`."""

    def __init__(self, network: LaneNetwork) -> None:
        self.network = network
        self._trees: OrderedDict[
            tuple[int, bool, int], tuple[npt.NDArray[np.float64], npt.NDArray[np.int32]]
        ] = OrderedDict()

    def resolve(self, place: str) -> str:
        """The node of a place: a service point id or a node id."""
        return self.network.yard.node_of(place)

    def tree(
        self, source: str, laden: bool
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32]]:
        """Travel times and predecessors from one node to all (cached until the network changes)."""
        net = self.network
        src = net.node_index[self.resolve(source)]
        key = (net.version, laden, src)
        hit = self._trees.get(key)
        if hit is not None:
            self._trees.move_to_end(key)
            return hit
        dist, pred = dijkstra(
            net.matrix(laden), directed=True, indices=src, return_predecessors=True
        )
        result = (np.asarray(dist, float), np.asarray(pred, np.int32))
        self._trees[key] = result
        if len(self._trees) > TREE_CACHE_SIZE:
            self._trees.popitem(last=False)
        return result

    def time(self, origin: str, destination: str, laden: bool = False) -> float:
        """Fastest travel time (s), inf when unreachable."""
        dist, _ = self.tree(origin, laden)
        return float(dist[self.network.node_index[self.resolve(destination)]])

    def route(self, origin: str, destination: str, laden: bool = False) -> Route:
        """The fastest route; NoRouteError naming both ends when there is none."""
        net = self.network
        a, b = self.resolve(origin), self.resolve(destination)
        dist, pred = self.tree(a, laden)
        dst = net.node_index[b]
        if not np.isfinite(dist[dst]):
            closed = f" (closed lanes: {', '.join(sorted(net.closed))})" if net.closed else ""
            raise NoRouteError(f"no route from {origin!r} to {destination!r}{closed}")
        idx = [dst]
        while idx[-1] != net.node_index[a]:
            idx.append(int(pred[idx[-1]]))
        idx.reverse()
        lanes = tuple(net.lane_ids[net.lane_of_edge(u, v)] for u, v in itertools.pairwise(idx))
        length = float(sum(net.lane_length[net.lane_index[lane]] for lane in lanes))
        return Route(
            origin,
            destination,
            tuple(net.node_ids[i] for i in idx),
            lanes,
            length,
            float(dist[dst]),
            laden,
        )

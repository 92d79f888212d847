"""Node and edge progress of the order from map-matched positions.

A released node of the order is passed when the truck's position comes within the
node's deviation range (`allowedDeviationXY`, else the configured tolerance); the
position is the fix snapped onto its matched lane when it matched (lane-level, free of
the receiver's sideways noise), the raw fix otherwise. Once the truck has left the
last node it passed, reaching a later node passes every node and edge before it, so a
fix lost at a node does not stall the order; until then only the next node counts, so
an order that loops back (A → B → A) is not cut short where it starts. A node's
position comes from the order, else from the yard (order node ids are yard node ids).
The truck is `driving` above `moving_mps`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from drivers.agent.orders import OrderBook

__all__ = ["Progress", "Whereabouts"]

AT_NODE_M = 0.05
"""Closer than this to a node is on it."""
NodeLookup = Callable[[str], tuple[float, float] | None]
LaneOffset = Callable[[str, float, float], float | None]
"""Metres along a lane of the point on it nearest (x, y); None if there is no such lane."""


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """One map-matched fix: where, how fast, on which lane and how far along it."""

    x: float
    y: float
    speed_mps: float | None
    lane_id: str | None = None
    offset_m: float | None = None
    snap_x: float | None = None
    snap_y: float | None = None

    @property
    def point(self) -> tuple[float, float]:
        """The position progress is judged by: snapped when matched, raw otherwise."""
        if self.lane_id is not None and self.snap_x is not None and self.snap_y is not None:
            return self.snap_x, self.snap_y
        return self.x, self.y


class Progress:
    """Advances an OrderBook from fixes; `update` says whether anything changed."""

    def __init__(
        self,
        tolerance_m: float,
        node_xy: NodeLookup,
        *,
        moving_mps: float = 0.5,
        lane_offset: LaneOffset | None = None,
    ) -> None:
        """`lane_offset` places a node on a lane: where an order node lies part-way along
        a lane (a cell boundary), the distance since it is measured from there."""
        self.tolerance_m = tolerance_m
        self.node_xy = node_xy
        self.lane_offset = lane_offset
        self.moving_mps = moving_mps
        self.driving = False
        self.distance_since_last_node: float | None = None
        self._left: tuple[int, bool] = (-1, False)
        """(sequenceId of the last node passed, whether the truck has left it since)."""

    def update(self, book: OrderBook, where: Whereabouts) -> bool:
        """Pass the nodes the truck has reached; True when the state changed (send it now)."""
        changed = False
        driving = where.speed_mps is not None and where.speed_mps >= self.moving_mps
        if driving != self.driving:
            self.driving, changed = driving, True
        px, py = where.point
        left = self._has_left(book, px, py)
        for state in book.node_states:
            if not state.released:
                break
            xy = self._xy(book, state.node_id, state.sequence_id)
            if xy is not None and self._reached(book, state.sequence_id, where, xy, driving):
                changed = book.traverse(state.sequence_id) or changed
                break
            if not left:
                break  # still at the last node: only the next one may be reached
        self.distance_since_last_node = self._along_edge(book, where)
        return changed

    def _reached(
        self,
        book: OrderBook,
        sequence_id: int,
        where: Whereabouts,
        xy: tuple[float, float],
        driving: bool,
    ) -> bool:
        """Within the node's range, and there: on it, standing, or off the edge into it
        (a truck still driving up the edge is not there yet: counting it early would tell
        the dispatcher its rear is further on than it is)."""
        into = next((e for e in book.edge_states if e.sequence_id == sequence_id - 1), None)
        if into is not None and where.lane_id == into.edge_id and self._past(where, xy):
            return True  # along the edge's own lane, at or past the node part-way along it
        px, py = where.point
        d = math.hypot(px - xy[0], py - xy[1])
        if d > self._tolerance(book, sequence_id):
            return False
        if d <= AT_NODE_M or not driving:
            return True
        return into is None or where.lane_id != into.edge_id

    def _past(self, where: Whereabouts, xy: tuple[float, float]) -> bool:
        """Whether the truck, on a lane, is at or past the point `xy` part-way along it (an
        order node at a cell boundary: the next edge is the same lane, so leaving the edge
        does not tell it passed; a report missed right at the node must not stall it)."""
        if self.lane_offset is None or where.lane_id is None or where.offset_m is None:
            return False
        at = self.lane_offset(where.lane_id, *xy)
        return at is not None and where.offset_m >= at - AT_NODE_M

    def _has_left(self, book: OrderBook, px: float, py: float) -> bool:
        """Whether the truck has been out of the last passed node's range since passing it."""
        seq = book.last_node_sequence_id
        seen, left = self._left
        if seen != seq:
            left = False
        if not left:
            xy = self._xy(book, book.last_node_id, seq) if book.last_node_id else None
            left = xy is None or math.hypot(px - xy[0], py - xy[1]) > self._tolerance(book, seq)
        self._left = (seq, left)
        return left

    def _xy(self, book: OrderBook, node_id: str, sequence_id: int) -> tuple[float, float] | None:
        node = book.node(sequence_id)
        if node is not None and node.node_position is not None:
            return node.node_position.x, node.node_position.y
        return self.node_xy(node_id)

    def _tolerance(self, book: OrderBook, sequence_id: int) -> float:
        node = book.node(sequence_id)
        reach = (
            None
            if node is None or node.node_position is None
            else (node.node_position.allowed_deviation_x_y)
        )
        return self.tolerance_m if reach is None or reach <= 0 else reach

    def _along_edge(self, book: OrderBook, where: Whereabouts) -> float | None:
        """Metres along the edge being driven when the truck is matched onto it."""
        if not book.edge_states or where.lane_id is None:
            return None
        edge = book.edge_states[0]
        if edge.edge_id != where.lane_id or where.offset_m is None:
            return None
        start = 0.0
        xy = self._xy(book, book.last_node_id, book.last_node_sequence_id)
        if self.lane_offset is not None and xy is not None:
            start = self.lane_offset(edge.edge_id, *xy) or 0.0
        return max(0.0, where.offset_m - start)

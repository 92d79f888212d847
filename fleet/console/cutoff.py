"""Whether closing a lane would cut a quay crane off: the check behind a refused closure.

A closure is refused when, with the lanes already closed and this one, a quay crane's
service point no longer lies in the yard's main strongly connected part (the one holding
most service points): trucks could not reach it, or not leave it. A crane already cut off
before this closure is not this closure's doing, so it does not refuse it.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from maps import ServicePointKind, Yard

__all__ = ["cut_off_cranes"]


def _main_part(yard: Yard, closed: set[str]) -> set[str]:
    g = nx.DiGraph()
    g.add_nodes_from(yard.nodes)
    g.add_edges_from((ln.start, ln.end) for ln in yard.lanes.values() if ln.id not in closed)
    service = {sp.node for sp in yard.service_points.values()}
    parts = list(nx.strongly_connected_components(g))
    return set(max(parts, key=lambda p: len(p & service), default=set()))


def _cranes_in(yard: Yard, part: set[str]) -> set[str]:
    return {
        sp.crane or sp.id
        for sp in yard.service_points_of(ServicePointKind.QUAY_CRANE)
        if sp.node in part
    }


def cut_off_cranes(yard: Yard, closed: Iterable[str], lane: str) -> list[str]:
    """The quay cranes that closing `lane` (besides `closed`) would cut off, sorted."""
    shut = set(closed)
    before = _cranes_in(yard, _main_part(yard, shut))
    after = _cranes_in(yard, _main_part(yard, shut | {lane}))
    return sorted(before - after)

"""The rules a yard must keep, each broken rule reported with the feature id and what is wrong.

The last rule is the one routing's completeness rests on: every service point reaches
every other without passing through a third ("well-formed infrastructure", Čáp,
Vokřínek and Kleiner 2015), so a truck parked at a service point never has to be
driven through to let another truck reach its goal.
"""

from __future__ import annotations

import math
from collections import defaultdict

import networkx as nx
import numpy as np
import shapely
from shapely.geometry import Point

from maps.errors import Problem
from maps.model import Lane, Yard

END_TOLERANCE_M = 0.01
"""A lane's geometry must start and end this close to its nodes."""
MIN_LENGTH_M = 0.01
ON_LANE_TOLERANCE_M = 0.5
"""A service point closer than this to a through lane stands on it."""


def check_yard(yard: Yard, *, reachability: bool = True) -> list[Problem]:
    """Every rule the yard breaks, in a stable order (lanes, areas, crossings, service points).

    `reachability=False` skips the service-point rule, which only makes sense on a whole
    yard (a file whose broken lanes were left out would fail it for their sake).
    """
    problems: list[Problem] = []
    problems += _check_lanes(yard)
    problems += _check_areas(yard)
    problems += _check_crossings(yard)
    problems += _check_service_points(yard)
    if reachability:
        problems += _check_reachability(yard)
    return problems


def _check_lanes(yard: Yard) -> list[Problem]:
    out: list[Problem] = []
    by_pair: dict[tuple[str, str], str] = {}
    for lane in yard.lanes.values():

        def bad(message: str, field: str | None = None, lane: Lane = lane) -> None:
            out.append(Problem(message, lane.id, field))

        missing = [n for n in (lane.start, lane.end) if n not in yard.nodes]
        if missing:
            bad(f"refers to node(s) {missing}, which the yard does not have", "from/to")
            continue
        if lane.start == lane.end:
            bad(f"starts and ends at the same node {lane.start!r}", "to")
        coords = list(lane.geometry.coords)
        for end, node_id, xy in (("start", lane.start, coords[0]), ("end", lane.end, coords[-1])):
            node = yard.nodes[node_id]
            gap = math.dist((node.x, node.y), xy[:2])
            if gap > END_TOLERANCE_M:
                bad(
                    f"geometry does not {end} at its node {node_id!r} ({gap:.2f} m away)",
                    "geometry",
                )
        length = lane.geometry.length
        if length < MIN_LENGTH_M:
            bad(f"zero length ({length:.4f} m)", "geometry")
        elif abs(lane.length_m - length) > max(0.05, 0.01 * length):
            bad(
                f"length_m {lane.length_m} disagrees with the geometry's {length:.3f} m", "length_m"
            )
        if not (lane.speed_limit_mps > 0 and math.isfinite(lane.speed_limit_mps)):
            bad(f"speed limit must be positive, got {lane.speed_limit_mps}", "speed_limit_mps")
        pair = (lane.start, lane.end)
        if pair in by_pair:
            bad(
                f"a second lane from {lane.start!r} to {lane.end!r} (lane {by_pair[pair]!r} "
                "has them); split one with a node",
                "from/to",
            )
        else:
            by_pair[pair] = lane.id
    return out


def _check_areas(yard: Yard) -> list[Problem]:
    out: list[Problem] = []
    for area in yard.areas.values():
        if not area.polygon.is_valid:
            reason = shapely.is_valid_reason(area.polygon)
            out.append(
                Problem(f"self-intersecting or invalid polygon: {reason}", area.id, "geometry")
            )
        elif area.polygon.area <= 0:
            out.append(Problem("polygon has no area", area.id, "geometry"))
    for crane in yard.cranes.values():
        if crane.area not in yard.areas:
            out.append(
                Problem(
                    f"refers to area {crane.area!r}, which the yard does not have", crane.id, "area"
                )
            )
    return out


def _check_crossings(yard: Yard) -> list[Problem]:
    """Lanes that meet anywhere but at a shared node, unless they share a conflict group."""
    lanes = [lane for lane in yard.lanes.values() if lane.geometry.length >= MIN_LENGTH_M]
    geoms = np.array([lane.geometry for lane in lanes], dtype=object)
    if len(geoms) < 2:
        return []
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    out: list[Problem] = []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        a, b = lanes[i], lanes[j]
        if a.conflict_group is not None and a.conflict_group == b.conflict_group:
            continue
        twins = a.start == b.end and a.end == b.start
        if twins and a.geometry.hausdorff_distance(b.geometry) <= END_TOLERANCE_M:
            continue  # the two directions of a two-way road
        shared = {a.start, a.end} & {b.start, b.end}
        meeting = a.geometry.intersection(b.geometry)
        if shared:
            cover = shapely.union_all(
                [Point(yard.nodes[n].x, yard.nodes[n].y).buffer(END_TOLERANCE_M) for n in shared]
            )
            meeting = meeting.difference(cover)
        if meeting.is_empty:
            continue
        where = meeting.representative_point()
        out.append(
            Problem(
                f"crosses lane {b.id!r} at ({where.x:.1f}, {where.y:.1f}) without a shared node or "
                "a shared conflict_group",
                a.id,
                "geometry",
            )
        )
    return out


def _check_service_points(yard: Yard) -> list[Problem]:
    out: list[Problem] = []
    through = [lane for lane in yard.lanes.values() if lane.is_through]
    tree = (
        shapely.STRtree(np.array([lane.geometry for lane in through], dtype=object))
        if through
        else None
    )
    nodes_seen: dict[str, str] = {}
    g = yard.graph
    for sp in yard.service_points.values():
        if sp.node not in yard.nodes:
            out.append(
                Problem(f"refers to node {sp.node!r}, which the yard does not have", sp.id, "node")
            )
            continue
        if sp.node in nodes_seen:
            out.append(
                Problem(
                    f"shares node {sp.node!r} with service point {nodes_seen[sp.node]!r}",
                    sp.id,
                    "node",
                )
            )
        nodes_seen[sp.node] = sp.id
        incident = [d["lane"] for _, _, d in g.in_edges(sp.node, data=True)]
        incident += [d["lane"] for _, _, d in g.out_edges(sp.node, data=True)]
        on = sorted(lid for lid in incident if yard.lanes[lid].is_through)
        node = yard.nodes[sp.node]
        if tree is not None:
            near = tree.query(
                Point(node.x, node.y), predicate="dwithin", distance=ON_LANE_TOLERANCE_M
            )
            on = sorted(set(on) | {through[k].id for k in near.tolist()})
        if on:
            out.append(
                Problem(
                    f"stands on through lane(s) {', '.join(on[:5])}; a service "
                    "point must sit on a siding off the through lanes",
                    sp.id,
                    "node",
                )
            )
        if not g.in_degree(sp.node) or not g.out_degree(sp.node):
            out.append(Problem("has no lane in or no lane out", sp.id, "node"))
    return out


def _check_reachability(yard: Yard) -> list[Problem]:
    """Each service point must reach every other without passing through a third one."""
    stops = {sp.node: sp.id for sp in yard.service_points.values() if sp.node in yard.nodes}
    if len(stops) < 2:
        return []
    g = yard.graph
    through = g.subgraph([n for n in g if n not in stops])
    dag = nx.condensation(through)
    scc_of: dict[str, int] = dag.graph["mapping"]
    closure: dict[int, set[int]] = {}
    for c in reversed(list(nx.topological_sort(dag))):
        below = {c}
        for succ in dag.successors(c):
            below |= closure[succ]
        closure[c] = below
    entries: dict[str, set[int]] = defaultdict(set)  # stop node → SCCs that lead into it
    for stop in stops:
        entries[stop] = {scc_of[p] for p in g.predecessors(stop) if p in scc_of}
    out: list[Problem] = []
    for stop, sp_id in stops.items():
        reach: set[int] = set()
        direct = set()
        for succ in g.successors(stop):
            if succ in stops:
                direct.add(succ)
            else:
                reach |= closure[scc_of[succ]]
        missed = sorted(
            stops[t] for t in stops if t != stop and t not in direct and not (entries[t] & reach)
        )
        if missed:
            shown = ", ".join(missed[:5]) + (" ..." if len(missed) > 5 else "")
            out.append(
                Problem(
                    f"cannot reach {len(missed)} other service point(s) without passing through "
                    f"another service point: {shown}",
                    sp_id,
                    "node",
                )
            )
    return out

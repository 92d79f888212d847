"""The rules a yard must keep, each broken rule reported with the feature id and what is wrong.

The body rules judge the yard by what a truck covers (`maps.bodies`: a 16 x 2.5 m
tractor keeping 0.9 m clear), so they hold on a compiled yard (`maps.junctions`: lanes
beside the centre line, stop lines, junction areas) and fail on a centre-line sketch:

- a service point must hold a standing truck clear of every through lane's bodies and
  outside every junction area;
- a truck standing at a junction's stop line must be clear of every truck sweeping the
  junction from another stop line;
- two lanes must be far enough apart for two trucks side by side (their centre lines at
  least a truck's width plus the clearance apart), unless they share a node, a conflict
  group or a junction; a two-way road whose lanes lie on one centre line breaks this.

The last rule is the one routing's completeness rests on: every service point reaches
every other without passing through a third ("well-formed infrastructure", Čáp,
Vokřínek and Kleiner 2015), so a truck parked at a service point never has to be
driven through to let another truck reach its goal.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping

import networkx as nx
import numpy as np
import shapely
import shapely.ops
from shapely.geometry import LineString, Point

from maps.bodies import TRACTOR_40FT, Footprint, Path, bodies_along
from maps.errors import Problem
from maps.model import AreaKind, Lane, Yard

END_TOLERANCE_M = 0.01
"""A lane's geometry must start and end this close to its nodes."""
MIN_LENGTH_M = 0.01
ON_LANE_TOLERANCE_M = 0.5
"""A service point closer than this to a through lane stands on it."""
SAMPLE_M = 1.0
"""The step between the bodies of a truck sweeping a junction."""
INTO_JUNCTION_M = 0.1
"""A standing truck may touch a junction's edge; reaching further in than this, it is in."""
SLACK_M = 1e-6
"""Rounding slack on the clearance: exactly the clearance is clear."""


_EMPTY_YARD = Problem(
    "the yard has no lanes: nothing for a truck to drive on (an empty FeatureCollection?)",
    field="features",
)


def check_yard(
    yard: Yard,
    *,
    reachability: bool = True,
    bodies: bool = True,
    footprint: Footprint = TRACTOR_40FT,
) -> list[Problem]:
    """Every rule the yard breaks, in a stable order (lanes, areas, crossings, service points,
    bodies, reachability).

    `reachability=False` skips the service-point rule, which only makes sense on a whole
    yard (a file whose broken lanes were left out would fail it for their sake).
    `bodies=False` skips the rules on truck bodies (`footprint`): for a centre-line sketch,
    a lane graph not yet compiled (`maps.junctions`), whose two-way roads and junctions
    those rules reject. A whole yard without a lane (0 features, say) is one problem: there is
    nothing to check the rules on.
    """
    if reachability and not yard.lanes:
        return [_EMPTY_YARD]
    problems: list[Problem] = []
    problems += _check_lanes(yard)
    problems += _check_areas(yard)
    problems += _check_crossings(yard)
    problems += _check_service_points(yard)
    if bodies:
        problems += _check_lane_width(yard, footprint)
        problems += _check_standing(yard, footprint)
        problems += _check_stop_lines(yard, footprint)
        problems += _check_side_by_side(yard, footprint)
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
        for other in sorted(lane.conflicts):
            if other not in yard.lanes:
                bad(f"conflicts with lane {other!r}, which the yard does not have", "conflicts")
            elif lane.id not in yard.lanes[other].conflicts:
                bad(f"conflicts with {other!r}, but {other!r} not with it", "conflicts")
            elif yard.lanes[other].conflict_group != lane.conflict_group:
                bad(f"conflicts with {other!r} of another conflict group", "conflicts")
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


def _sound(yard: Yard) -> list[Lane]:
    """The lanes the body rules can judge: both nodes known, of some length."""
    return [
        ln
        for ln in yard.lanes.values()
        if ln.start in yard.nodes and ln.end in yard.nodes and ln.geometry.length >= MIN_LENGTH_M
    ]


def _standing_body(lane: Lane, fp: Footprint) -> shapely.Polygon:
    """A truck standing with its front at the lane's end, its rear back along the lane."""
    path = Path.of(lane.geometry)
    body: shapely.Polygon = bodies_along(path, np.array([path.length]), fp)[0]
    return body


def _shown(ids: list[str], most: int = 3) -> str:
    head = ", ".join(repr(i) for i in ids[:most])
    return head + (f" and {len(ids) - most} more" if len(ids) > most else "")


def _check_lane_width(yard: Yard, fp: Footprint) -> list[Problem]:
    need = fp.width_m + fp.clearance_m
    if yard.lane_width_m + SLACK_M >= need:
        return []
    return [
        Problem(
            f"lane_width_m {yard.lane_width_m} is less than a truck's width plus its clearance "
            f"({fp.width_m} + {fp.clearance_m} m): two trucks cannot pass on a two-way road",
            "yard",
            "lane_width_m",
        )
    ]


def _check_standing(yard: Yard, fp: Footprint) -> list[Problem]:
    """A truck standing at a service point is clear of the through lanes and the junctions."""
    lanes = _sound(yard)
    into: dict[str, list[Lane]] = defaultdict(list)
    for ln in lanes:
        into[ln.end].append(ln)
    owners: list[tuple[str, Lane]] = []
    standing = []
    for sp in yard.service_points.values():
        for ln in into.get(sp.node, []):
            owners.append((sp.id, ln))
            standing.append(_standing_body(ln, fp))
    if not standing:
        return []
    bodies = np.array(standing, dtype=object)
    near: dict[str, dict[str, float]] = defaultdict(dict)  # sp → through lane → distance
    lane_in: dict[str, set[str]] = defaultdict(set)
    through = [ln for ln in lanes if ln.is_through]
    if through:
        swept = shapely.buffer(
            np.array([ln.geometry for ln in through], dtype=object),
            fp.width_m / 2,
            cap_style="flat",
        )
        left, right = shapely.STRtree(swept).query(
            bodies, predicate="dwithin", distance=fp.clearance_m - SLACK_M
        )
        dist = shapely.distance(bodies[left], swept[right])
        for i, j, d in zip(left.tolist(), right.tolist(), dist.tolist(), strict=True):
            sp_id, ln = owners[i]
            other = through[j]
            if other.id == ln.id:
                continue  # a service point on a through lane: reported as standing on it
            near[sp_id][other.id] = min(d, near[sp_id].get(other.id, math.inf))
            lane_in[sp_id].add(ln.id)
    deep: dict[str, tuple[float, str, Lane]] = {}
    junctions = yard.areas_of(AreaKind.JUNCTION)
    if junctions:
        polys = np.array([a.polygon for a in junctions], dtype=object)
        left, right = shapely.STRtree(polys).query(bodies, predicate="intersects")
        overlap = shapely.area(shapely.intersection(bodies[left], polys[right]))
        for i, j, area in zip(left.tolist(), right.tolist(), overlap.tolist(), strict=True):
            depth = area / fp.width_m
            sp_id, ln = owners[i]
            if depth > INTO_JUNCTION_M and depth > deep.get(sp_id, (0.0, "", ln))[0]:
                deep[sp_id] = (depth, junctions[j].id, ln)
    out: list[Problem] = []
    for sp in yard.service_points.values():
        if sp.id in near:
            by_lane = near[sp.id]
            ids = sorted(by_lane, key=lambda k: (by_lane[k], k))
            ways = ", ".join(repr(i) for i in sorted(lane_in[sp.id]))
            out.append(
                Problem(
                    f"cannot hold a truck clear of the through lanes: a {fp.length_m:g} m truck "
                    f"standing here (in by {ways}) comes {by_lane[ids[0]]:.2f} m from the "
                    f"bodies on through lane(s) {_shown(ids)} (at least {fp.clearance_m:g} m "
                    "needed); lengthen the siding or move it away",
                    sp.id,
                    "node",
                )
            )
        if sp.id in deep:
            depth, jid, ln = deep[sp.id]
            out.append(
                Problem(
                    f"cannot hold a truck outside junction {jid!r}: a {fp.length_m:g} m truck "
                    f"standing here reaches {depth:.1f} m back into it (lane {ln.id!r} in is "
                    f"{ln.geometry.length:.1f} m long); lengthen the siding",
                    sp.id,
                    "node",
                )
            )
    return out


def _junction_lanes(yard: Yard, lanes: list[Lane]) -> dict[str, list[Lane]]:
    """The connectors of each junction area: the lanes in its conflict group."""
    ids = {a.id for a in yard.areas.values() if a.kind is AreaKind.JUNCTION}
    out: dict[str, list[Lane]] = defaultdict(list)
    for ln in lanes:
        if ln.conflict_group in ids:
            out[ln.conflict_group].append(ln)
    return out


def _check_stop_lines(yard: Yard, fp: Footprint) -> list[Problem]:
    """A truck standing at a stop line is clear of every truck crossing from another one."""
    lanes = _sound(yard)
    connectors = _junction_lanes(yard, lanes)
    if not connectors:
        return []
    plain_in: dict[str, list[Lane]] = defaultdict(list)
    plain_out: dict[str, list[Lane]] = defaultdict(list)
    for ln in lanes:
        if ln.conflict_group not in connectors:
            plain_in[ln.end].append(ln)
            plain_out[ln.start].append(ln)
    sweeps = []
    swept_by: list[tuple[str, Lane]] = []  # (junction, connector) of each swept body
    standing = []
    stands: list[tuple[str, Lane]] = []  # (junction, lane in) of each standing body
    for jid in sorted(connectors):
        stops: set[str] = set()
        for c in connectors[jid]:
            stops.add(c.start)
            conn = np.asarray(c.geometry.coords, dtype=float)[:, :2]
            parts = [conn]
            before = plain_in.get(c.start, [])
            after = plain_out.get(c.end, [])
            if before:
                parts.insert(0, np.asarray(before[0].geometry.coords, dtype=float)[:-1, :2])
            if after:
                parts.append(np.asarray(after[0].geometry.coords, dtype=float)[1:, :2])
            path = Path(np.concatenate(parts))
            s0 = before[0].geometry.length if before else 0.0
            s1 = s0 + c.geometry.length + fp.length_m
            fronts = np.append(np.arange(s0, s1, SAMPLE_M), s1)
            sweeps.extend(bodies_along(path, fronts, fp).tolist())
            swept_by.extend([(jid, c)] * len(fronts))
        for node in sorted(stops):
            for ln in plain_in.get(node, []):
                standing.append(_standing_body(ln, fp))
                stands.append((jid, ln))
    if not standing or not sweeps:
        return []
    bodies = np.array(standing, dtype=object)
    swept = np.array(sweeps, dtype=object)
    left, right = shapely.STRtree(swept).query(
        bodies, predicate="dwithin", distance=fp.clearance_m - SLACK_M
    )
    dist = shapely.distance(bodies[left], swept[right])
    hits: dict[int, dict[str, float]] = defaultdict(dict)
    for i, j, d in zip(left.tolist(), right.tolist(), dist.tolist(), strict=True):
        jid, ln = stands[i]
        other_jid, c = swept_by[j]
        if other_jid != jid or c.start == ln.end:
            continue
        hits[i][c.id] = min(d, hits[i].get(c.id, math.inf))
    out: list[Problem] = []
    for i in sorted(hits, key=lambda k: stands[k][1].id):
        jid, ln = stands[i]
        by_conn = hits[i]
        ids = sorted(by_conn, key=lambda k: (by_conn[k], k))
        out.append(
            Problem(
                f"its stop line {ln.end!r} lies in the swept area of junction {jid!r}: a truck "
                f"standing there comes {by_conn[ids[0]]:.2f} m from trucks crossing on "
                f"{_shown(ids)} (at least {fp.clearance_m:g} m needed); set the stop line back",
                ln.id,
                "to",
            )
        )
    return out


def _check_side_by_side(yard: Yard, fp: Footprint) -> list[Problem]:
    """Lanes close enough that two trucks side by side would touch.

    Left out are lanes that come close where they meet by design: sharing a node or a
    conflict group, one after the other with a short lane between, or crossing (the
    crossing rule reports those); and near a junction they both touch, its connectors and
    the last (first) truck length of the lanes into (out of) it, where lanes meeting or
    parting at an angle come closer: there a standing truck's body is the stop-line
    rule's (and the compiler's). A lane between two junctions shorter than two truck
    lengths is thus left to that rule. Not left out: the two directions
    of a two-way road lying on one centre line, as a sketch not yet compiled has them.
    """
    lanes = _sound(yard)
    if len(lanes) < 2:
        return []
    limit = fp.width_m + fp.clearance_m
    connectors = _junction_lanes(yard, lanes)
    junction_at: dict[str, str] = {}  # node → the junction it is a stop line or edge of
    for jid, group in connectors.items():
        for c in group:
            junction_at[c.start] = junction_at[c.end] = jid
    codes: dict[tuple[str, str], int] = {}

    def code(space: str, key: str | None) -> int:
        """A number per (namespace, id); -1 for none."""
        return -1 if key is None else codes.setdefault((space, key), len(codes))

    start = np.array([code("node", ln.start) for ln in lanes])
    end = np.array([code("node", ln.end) for ln in lanes])
    group_of = np.array([code("group", ln.conflict_group) for ln in lanes])
    geoms = np.array([ln.geometry for ln in lanes], dtype=object)
    # Candidates by bounding boxes grown by the limit (cheap), then the exclusions as array
    # operations, and exact distances only for the pairs left.
    x0, y0, x1, y1 = shapely.bounds(geoms).T
    grown = shapely.box(x0 - limit, y0 - limit, x1 + limit, y1 + limit)
    i, j = shapely.STRtree(geoms).query(grown)
    keep = i < j
    i, j = i[keep], j[keep]
    twins = (start[i] == end[j]) & (end[i] == start[j])
    shared_node = (
        (start[i] == start[j]) | (start[i] == end[j]) | (end[i] == start[j]) | (end[i] == end[j])
    )
    shared_group = (group_of[i] >= 0) & (group_of[i] == group_of[j])
    keep = ~shared_group & (twins | ~shared_node)
    i, j = i[keep], j[keep]
    dist = shapely.distance(geoms[i], geoms[j])
    close = dist + SLACK_M < limit
    i, j, dist = i[close], j[close], dist[close]
    short_after: dict[str, set[str]] = defaultdict(set)  # node → nodes a short lane away
    for ln in lanes:
        if ln.geometry.length < limit:
            short_after[ln.start].add(ln.end)
            short_after[ln.end].add(ln.start)
    out: list[Problem] = []
    for a, b, d in zip(i.tolist(), j.tolist(), dist.tolist(), strict=True):
        la, lb = lanes[a], lanes[b]
        if la.start == lb.end and la.end == lb.start:
            if la.geometry.hausdorff_distance(lb.geometry) <= END_TOLERANCE_M:
                out.append(
                    Problem(
                        f"lanes {la.id!r} and {lb.id!r} lie on one centre line: the lanes of a "
                        f"two-way road lie {yard.lane_width_m / 2:g} m either side of it; "
                        "compile the yard (maps.junctions.compile_junctions) or regenerate "
                        "it (yardfleet map export)",
                        la.id,
                        "geometry",
                    )
                )
            continue
        if d < END_TOLERANCE_M:
            continue  # they cross: the crossing rule's
        ends_a, ends_b = {la.start, la.end}, {lb.start, lb.end}
        if any(short_after[n] & ends_b for n in ends_a):
            continue  # one after the other, a short lane between
        gap = d
        near = _junctions_of(la, junction_at, connectors) & _junctions_of(
            lb, junction_at, connectors
        )
        if near:
            if la.conflict_group in near or lb.conflict_group in near:
                continue  # a connector of a junction the other lane leads into or out of
            ga = _away_from(la, near, junction_at, fp.length_m)
            gb = _away_from(lb, near, junction_at, fp.length_m)
            if ga is None or gb is None:
                continue
            gap = float(ga.distance(gb))
            if gap + SLACK_M >= limit:
                continue
        out.append(
            Problem(
                f"runs {gap:.2f} m from lane {lb.id!r}: too close for two trucks side by side "
                f"(at least {fp.width_m:g} + {fp.clearance_m:g} = {limit:g} m between "
                "centre lines)",
                la.id,
                "geometry",
            )
        )
    return out


def _junctions_of(
    lane: Lane, junction_at: Mapping[str, str], junctions: Mapping[str, object]
) -> set[str]:
    """The junctions a lane leads into, out of, or crosses (as a connector)."""
    out = {junction_at[n] for n in (lane.start, lane.end) if n in junction_at}
    if lane.conflict_group is not None and lane.conflict_group in junctions:
        out.add(lane.conflict_group)
    return out


def _away_from(
    lane: Lane, junctions: set[str], junction_at: Mapping[str, str], cut_m: float
) -> LineString | None:
    """The lane without its `cut_m` next to these junctions (None: nothing is left)."""
    length = lane.geometry.length
    a = cut_m if junction_at.get(lane.start) in junctions else 0.0
    b = length - cut_m if junction_at.get(lane.end) in junctions else length
    if b - a < MIN_LENGTH_M:
        return None
    part = shapely.ops.substring(lane.geometry, a, b)
    return part if isinstance(part, LineString) else None


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

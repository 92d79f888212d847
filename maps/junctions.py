"""Lanes where they really are: a centre-line lane graph made into lanes, stop lines and junctions.

A drawn yard (or the generator's first sketch) has lanes on road centre lines meeting at
points. A truck sees something else: the two lanes of a two-way road lie each beside the
centre line (traffic keeps right), and where roads meet, a junction is an area. This
module makes the one into the other:

- every lane of a two-way road moves half a lane width to its right;
- every node where trucks have a choice (roads crossing, merging, diverging, a siding's
  mouth) becomes a junction: each lane entering it now ends at a **stop line** on the
  junction's edge, each lane leaving it starts at its edge, and **connectors** (one per
  movement, smooth curves) cross it. The connectors of a junction share its conflict
  group, so a junction holds one truck at a time; its area is what they sweep;
- the stop lines are set back from the junction's centre until a truck standing at any
  stop line is `clearance_m` clear of every body crossing from another lane, and a truck
  that has just left (its rear the gap past the edge) is clear of every body crossing
  to another lane. Set-backs are per lane: only the stop line of the lane whose standing
  truck is in the way moves back (in STEP_M steps, to the first that clears it), only the
  edge of the lane whose leaving truck is. Junctions whose set-backs would meet become one
  junction. Each movement's swept bodies are computed once per pair of its stop line and
  edge, so a set-back that moves recomputes only the movements through it.

Lane ids are kept (a lane is shortened, not renamed); connectors are named
`<junction>:<lane in>><lane out>`, stop-line and edge nodes `<junction>:<lane>`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString, Polygon
from shapely.ops import unary_union

from maps.bodies import TRACTOR_40FT, FloatArray, Footprint, Path, bodies_along
from maps.model import Area, AreaKind, Lane, LaneKind, Node, Yard

LANE_WIDTH_M = 3.5
"""A lane of a two-way road (DESIGN.md)."""
FIRST_SETBACK_M = 4.0
STEP_M = 1.0
MAX_SETBACK_M = 30.0
MIN_KEPT_M = 2.0
"""A lane between two junctions keeps at least this much; shorter, the junctions are one."""
SAMPLE_M = 1.0
"""Swept bodies are sampled this far apart while the set-backs grow."""
FINE_SAMPLE_M = 0.5
"""... and this far apart when every junction is checked once more at the end (as the body
check samples; at 1 m alone a body between two samples came up to 5 mm too close)."""
FINE_MARGIN_M = 0.02
"""In the final check the bodies keep this more than the clearance: the body check samples
at other points than the compiler, and two samplings differ by a few millimetres."""
CONFLICT_MARGIN_M = 0.1
"""Movements are in conflict when their sampled sweeps come within the clearance plus this
(a body between two samples, 1 m apart, may come a little closer)."""
CORNER_DEG = 20.0
"""A two-way road bending more than this at a node becomes a junction: a body on the outer
lane cuts the corner into the inner one, so the two may not pass there at once."""
Bodies = npt.NDArray[np.object_]


@dataclass(frozen=True, slots=True)
class _Movement:
    """A way through a junction: in by one lane, out by another, over internal lanes."""

    lane_in: str
    lane_out: str
    via: tuple[str, ...]


def _offset(line: LineString, right_m: float) -> FloatArray:
    if right_m == 0:
        return np.asarray(line.coords, dtype=float)[:, :2]
    moved = line.offset_curve(-right_m, join_style="mitre")
    return np.asarray(moved.coords, dtype=float)[:, :2]


def _unit(v: FloatArray) -> FloatArray:
    n = float(np.hypot(v[0], v[1]))
    return v / n if n > 1e-12 else v


def _meet(a0: FloatArray, da: FloatArray, b0: FloatArray, db: FloatArray) -> FloatArray | None:
    """Where the line through a0 along da meets the line through b0 along db (None: parallel)."""
    cross = da[0] * db[1] - da[1] * db[0]
    if abs(cross) < 1e-6:
        return None
    t = float(((b0[0] - a0[0]) * db[1] - (b0[1] - a0[1]) * db[0]) / cross)
    out: FloatArray = a0 + t * da
    return out


def _join(a: FloatArray, b: FloatArray) -> FloatArray:
    """Polyline a then b; where they turn, they meet at the corner of their lines."""
    if np.hypot(*(a[-1] - b[0])) < 1e-6:
        return np.concatenate([a, b[1:]])
    corner = _meet(a[-1], _unit(a[-1] - a[-2]), b[0], _unit(b[1] - b[0]))
    if corner is None or np.dot(corner - a[-1], a[-1] - a[-2]) < -1e-6:
        return np.concatenate([a, b])
    return np.concatenate([a[:-1], [corner], b[1:]])


def _smooth(xy: FloatArray, rounds: int = 4) -> FloatArray:
    """Chaikin corner cutting: a drivable curve through a polyline's corners, ends kept."""
    for _ in range(rounds):
        if len(xy) < 3:
            return xy
        q = 0.75 * xy[:-1] + 0.25 * xy[1:]
        r = 0.25 * xy[:-1] + 0.75 * xy[1:]
        mid = np.empty((2 * (len(xy) - 1), 2))
        mid[0::2], mid[1::2] = q, r
        xy = np.concatenate([xy[:1], mid[1:-1], xy[-1:]])
    return xy


def _cut(xy: FloatArray, a: float, b: float) -> FloatArray:
    """The part of a polyline from distance a to distance b along it (clamped to its ends)."""
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    a = min(max(a, 0.0), float(s[-1]))
    b = min(max(b, a), float(s[-1]))
    inside = (s > a) & (s < b)
    ends = np.stack([np.interp([a, b], s, xy[:, 0]), np.interp([a, b], s, xy[:, 1])], axis=-1)
    out: FloatArray = np.concatenate([ends[:1], xy[inside], ends[1:]])
    return out


@dataclass(slots=True)
class _Setbacks:
    """Per lane: how far back from its junction a lane's stop line lies (`stop`, lanes into a
    junction) and how far from it a lane's edge lies (`edge`, lanes out of one), in metres."""

    stop: dict[str, float]
    edge: dict[str, float]


class _Groups:
    """Union-find over junction nodes."""

    def __init__(self, nodes: Iterable[str]) -> None:
        self.parent = {n: n for n in nodes}

    def find(self, n: str) -> str:
        while self.parent[n] != n:
            self.parent[n] = self.parent[self.parent[n]]
            n = self.parent[n]
        return n

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def members(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for n in self.parent:
            out[self.find(n)].append(n)
        return {k: sorted(v) for k, v in out.items()}


class _Compiler:
    def __init__(self, yard: Yard, footprint: Footprint, lane_width_m: float) -> None:
        self.yard = yard
        self.fp = footprint
        self.lanes_in: dict[str, list[str]] = defaultdict(list)
        self.lanes_out: dict[str, list[str]] = defaultdict(list)
        for lane in yard.lanes.values():
            self.lanes_in[lane.end].append(lane.id)
            self.lanes_out[lane.start].append(lane.id)
        pair = {(ln.start, ln.end): ln.id for ln in yard.lanes.values()}
        self.reverse: dict[str, str | None] = {}
        for lane in yard.lanes.values():
            back = pair.get((lane.end, lane.start))
            two_way = back is not None and lane.conflict_group is None
            self.reverse[lane.id] = back if two_way else None
        self.xy: dict[str, FloatArray] = {
            ln.id: _offset(ln.geometry, lane_width_m / 2 if self.reverse[ln.id] else 0.0)
            for ln in yard.lanes.values()
        }
        self.path = {k: Path(v) for k, v in self.xy.items()}
        self.length = {k: p.length for k, p in self.path.items()}
        stops = {sp.node for sp in yard.service_points.values()}
        self.junction_nodes = [n for n in yard.nodes if n not in stops and self._pairs(n) is None]
        self.junctions = set(self.junction_nodes)
        self._moves: dict[tuple[str, ...], list[_Movement]] = {}
        self._swept: dict[tuple[_Movement, float, float, float], Bodies] = {}
        self.sample = SAMPLE_M
        self.lane_width_m = lane_width_m
        self.problems: list[str] = []
        self.stuck: set[str] = set()

    # -- what kind of node ---------------------------------------------------------------

    def _pairs(self, n: str) -> list[tuple[str, str]] | None:
        """The lanes through a node with no choice (in → its one way on); None: a junction."""
        ins, outs = self.lanes_in[n], self.lanes_out[n]
        if not ins or not outs or len(ins) != len(outs):
            return None if ins and outs else []
        pairs: list[tuple[str, str]] = []
        taken: set[str] = set()
        for lane_in in ins:
            on = [o for o in outs if o != self.reverse[lane_in]]
            if len(ins) == 1 and len(outs) == 1 and self.reverse[lane_in] is None:
                on = list(outs)  # a single-track dead end: the way back
            if len(on) != 1 or on[0] in taken:
                return None
            taken.add(on[0])
            pairs.append((lane_in, on[0]))
        if len(pairs) > 1 and any(self._turn(a, b) > CORNER_DEG for a, b in pairs):
            return None  # a two-way road's bend: bodies cut its corner into the other lane
        return pairs

    def _turn(self, lane_in: str, lane_out: str) -> float:
        """How far the way turns from one lane into the next (degrees)."""
        a, b = self.yard.lanes[lane_in].geometry.coords, self.yard.lanes[lane_out].geometry.coords
        (x0, y0), (x1, y1) = a[-2][:2], a[-1][:2]
        (x2, y2), (x3, y3) = b[0][:2], b[1][:2]
        h_in, h_out = math.atan2(y1 - y0, x1 - x0), math.atan2(y3 - y2, x3 - x2)
        return abs(math.degrees((h_out - h_in + math.pi) % (2 * math.pi) - math.pi))

    # -- junctions -----------------------------------------------------------------------

    def movements(self, group: list[str]) -> list[_Movement]:
        key = tuple(group)
        cached = self._moves.get(key)
        if cached is not None:
            return cached
        members = set(group)
        lanes = self.yard.lanes
        internal = [ln for ln in lanes.values() if ln.start in members and ln.end in members]
        entries = [i for n in group for i in self.lanes_in[n] if lanes[i].start not in members]
        exits = [o for n in group for o in self.lanes_out[n] if lanes[o].end not in members]
        out_of: dict[str, list[str]] = defaultdict(list)
        for ln in internal:
            out_of[ln.start].append(ln.id)
        moves: list[_Movement] = []
        for e in entries:
            found = self._ways_on(e, exits, out_of)
            moves.extend(_Movement(e, x, via) for x, (_, via) in sorted(found.items()))
        self._moves[key] = moves
        return moves

    def _ways_on(
        self, e: str, exits: list[str], out_of: dict[str, list[str]]
    ) -> dict[str, tuple[float, tuple[str, ...]]]:
        """From entry lane `e`: each exit it reaches across the junction, with the shortest
        way there (its length and the internal lanes it takes)."""
        lanes = self.yard.lanes
        found: dict[str, tuple[float, tuple[str, ...]]] = {}
        todo: list[tuple[str, str, tuple[str, ...], float]] = [(lanes[e].end, e, (), 0.0)]
        while todo:
            node, came, via, dist = todo.pop()
            for x in exits:
                better = x not in found or dist < found[x][0]
                if lanes[x].start == node and x != self.reverse[came] and better:
                    found[x] = (dist, via)
            for ln_id in out_of[node]:
                if ln_id in via or ln_id == self.reverse[came] or len(via) > 6:
                    continue
                todo.append((lanes[ln_id].end, ln_id, (*via, ln_id), dist + lanes[ln_id].length_m))
        if not found:  # a dead end: the way back is the only way on
            for x in exits:
                if lanes[x].start == lanes[e].end:
                    found[x] = (0.0, ())
        return found

    def _stop_s(self, lane_in: str, d: _Setbacks) -> float:
        return self.length[lane_in] - d.stop.get(lane_in, 0.0)

    def _edge_s(self, lane_out: str, d: _Setbacks) -> float:
        return d.edge.get(lane_out, 0.0)

    def connector(self, m: _Movement, d: _Setbacks) -> FloatArray:
        a = self.xy[m.lane_in]
        xy = _cut(a, self._stop_s(m.lane_in, d), self.length[m.lane_in])
        for v in m.via:
            xy = _join(xy, self.xy[v])
        b = self.xy[m.lane_out]
        xy = _join(xy, _cut(b, 0.0, self._edge_s(m.lane_out, d)))
        return _smooth(xy)

    def swept(self, m: _Movement, d: _Setbacks) -> Bodies:
        """The bodies of a truck making movement `m`, from its stop line until it is a body
        and a gap past the junction's edge (cached: they change only with those two ends)."""
        stop, edge = self._stop_s(m.lane_in, d), self._edge_s(m.lane_out, d)
        key = (m, stop, edge, self.sample)
        cached = self._swept.get(key)
        if cached is not None:
            return cached
        fp = self.fp
        conn = self.connector(m, d)
        approach = _cut(self.xy[m.lane_in], 0.0, stop)
        b = self.xy[m.lane_out]
        leave = _cut(b, edge, self.length[m.lane_out])
        path = Path(np.concatenate([approach, conn[1:], leave[1:]]))
        s0 = stop
        s1 = s0 + float(np.hypot(*np.diff(conn, axis=0).T).sum()) + fp.length_m + fp.gap_m
        fronts = np.arange(s0, s1 + self.sample, self.sample)
        bodies = bodies_along(path, fronts, fp)
        self._swept[key] = bodies
        return bodies

    def unsafe(self, group: list[str], d: _Setbacks) -> list[tuple[str, str, float | None, str]]:
        """Why these set-backs are not enough, as (side, lane, set-back, why): side `in` is
        the stop line of that lane, `out` its edge; the set-back is the least (in STEP_M
        steps, up to MAX_SETBACK_M) that clears its truck of the other movements as they
        are now, None if none does. [] when every stop line and edge is clear."""
        fp = self.fp
        moves = self.movements(group)
        if not moves:
            return []
        swept = [self.swept(m, d) for m in moves]
        polys = np.concatenate(swept)
        who = np.repeat(np.arange(len(moves)), [len(s) for s in swept])
        tree = shapely.STRtree(polys)
        found: list[tuple[str, str, float | None, str]] = []
        for side in ("in", "out"):
            table = d.stop if side == "in" else d.edge
            for lane in sorted({m.lane_in if side == "in" else m.lane_out for m in moves}):
                now = table.get(lane, 0.0)
                ends = [m.lane_in if side == "in" else m.lane_out for m in moves]
                mine = np.array([e == lane for e in ends])

                def bodies(steps: FloatArray, lane: str = lane, side: str = side) -> Bodies:
                    if side == "in":
                        return bodies_along(self.path[lane], self.length[lane] - steps, fp)
                    return bodies_along(self.path[lane], steps + fp.gap_m + fp.length_m, fp)

                # Where it stands now; only if that is in the way, every set-back further on.
                far = fp.clearance_m + (FINE_MARGIN_M if self.sample <= FINE_SAMPLE_M else 0.0)
                _, hit = tree.query(bodies(np.array([now])), "dwithin", distance=far)
                if mine[who[hit]].all():
                    continue
                count = int((MAX_SETBACK_M - now) / STEP_M + 1e-9) + 1
                steps: FloatArray = now + STEP_M * np.arange(count, dtype=np.float64)
                near, hit = tree.query(bodies(steps), "dwithin", distance=far)
                keep = ~mine[who[hit]]
                near, hit = near[keep], hit[keep]
                blocked = np.zeros(len(steps), dtype=bool)
                blocked[near] = True
                clear = np.flatnonzero(~blocked)
                m = moves[int(who[hit[np.argmin(near)]])]
                where = "at the stop line of" if side == "in" else "just out on"
                why = f"a truck {where} {lane!r} is in the way of {m.lane_in!r} > {m.lane_out!r}"
                found.append((side, lane, float(steps[clear[0]]) if len(clear) else None, why))
        return found

    def conflicts(self, moves: list[_Movement], d: _Setbacks) -> list[set[int]]:
        """Per movement, the others whose swept bodies come within the clearance of its own
        (from the stop line until a body and a gap past the edge): those may not be driven
        at once; the rest may."""
        out: list[set[int]] = [set() for _ in moves]
        if len(moves) < 2:
            return out
        swept = [self.swept(m, d) for m in moves]
        bounds = [shapely.bounds(b) for b in swept]
        boxes = [
            shapely.box(b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
            for b in bounds
        ]
        coarse = [shapely.STRtree(b[::4]) for b in swept]
        trees = [shapely.STRtree(b) for b in swept]
        far = self.fp.clearance_m + CONFLICT_MARGIN_M
        for a in range(len(moves)):
            for b in range(a + 1, len(moves)):
                if not shapely.dwithin(boxes[a], boxes[b], far):
                    continue
                # Most pairs meet early: a quarter of the bodies first, all only if needed.
                near, _ = coarse[b].query(swept[a][::4], "dwithin", distance=far)
                if not len(near):
                    near, _ = trees[b].query(swept[a], "dwithin", distance=far)
                if len(near):
                    out[a].add(b)
                    out[b].add(a)
        return out

    def _left(self, lane: str, d: _Setbacks) -> float:
        """What a lane keeps between its edge and its stop line."""
        return self.length[lane] - d.edge.get(lane, 0.0) - d.stop.get(lane, 0.0)

    def too_short(self, groups: _Groups, d: _Setbacks) -> list[tuple[str, str]]:
        """Lanes between two junctions with less than MIN_KEPT_M left: their ends merge."""
        out = []
        for ln in self.yard.lanes.values():
            a, b = ln.start in self.junctions, ln.end in self.junctions
            if not (a or b) or self._left(ln.id, d) >= MIN_KEPT_M:
                continue
            if a and b:
                if groups.find(ln.start) == groups.find(ln.end):
                    continue
                if ln.start in self.stuck or ln.end in self.stuck:
                    continue
                out.append((ln.start, ln.end))
            else:
                self.problems.append(
                    f"lane {ln.id!r} is too short for the set-back of its junction"
                )
                self.stuck.add(ln.start if a else ln.end)
        return out

    def setbacks(self) -> tuple[_Groups, _Setbacks]:
        groups = _Groups(self.junction_nodes)
        lanes = self.yard.lanes.values()
        d = _Setbacks(
            {ln.id: FIRST_SETBACK_M for ln in lanes if ln.end in self.junctions},
            {ln.id: FIRST_SETBACK_M for ln in lanes if ln.start in self.junctions},
        )
        for a, b in self.too_short(groups, d):
            groups.union(a, b)
        done: set[tuple[str, ...]] = set()
        while True:
            for members in groups.members().values():
                key = tuple(members)
                if key in done or self.stuck.intersection(members):
                    continue
                if self._settle(members, d):
                    done.add(key)
            merge = self.too_short(groups, d)
            for a, b in merge:
                groups.union(a, b)
            pending = [
                m
                for m in groups.members().values()
                if tuple(m) not in done and not self.stuck.intersection(m)
            ]
            if not pending and self.sample > FINE_SAMPLE_M:
                self.sample = FINE_SAMPLE_M  # every junction once more, finer
                done.clear()
                continue
            if not pending:
                self.problems = sorted(set(self.problems))
                return groups, d

    def _settle(self, members: list[str], d: _Setbacks) -> bool:
        """Grow the set-backs of the junction of `members` until it is safe (True), or until
        a lane is used up or no set-back helps (False: merge or give up, in `setbacks`)."""
        while True:
            found = self.unsafe(members, d)
            if not found:
                return True
            short = False
            for side, lane, needed, why in found:
                grow = d.stop if side == "in" else d.edge
                if needed is None:
                    # No set-back helps (lanes that meet at a point, say): the drawing
                    # must change; the junction stays as it is.
                    self.problems.append(f"junction at {', '.join(members)}: {why}")
                    self.stuck.update(members)
                    continue
                grow[lane] = needed
                short = short or self._left(lane, d) < MIN_KEPT_M
            if short or self.stuck.intersection(members):
                return False  # the lane is used up

    # -- the new yard --------------------------------------------------------------------

    def build(self) -> Yard:
        yard = self.yard
        groups, d = self.setbacks()
        ends = _Ends()
        xy = {k: v.copy() for k, v in self.xy.items()}
        self.way_nodes(xy, ends)
        # Junctions: lanes cut at their stop lines and edges, connectors across.
        members_of = groups.members()
        junction_of = {n: _junction_id(min(members_of[groups.find(n)])) for n in self.junctions}
        lanes = self.cut_lanes(groups, d, xy, ends, junction_of)
        areas: list[Area] = []
        for root, members in sorted(members_of.items()):
            area = self.junction(junction_of[root], members, d, ends, lanes)
            if area is not None:
                areas.append(area)
        return Yard.build(
            id=yard.id,
            version=yard.version,
            origin=yard.origin,
            nodes=ends.nodes.values(),
            lanes=lanes,
            areas=[*yard.areas.values(), *areas],
            service_points=yard.service_points.values(),
            cranes=yard.cranes.values(),
            lane_width_m=self.lane_width_m,
        )

    def way_nodes(self, xy: dict[str, FloatArray], ends: _Ends) -> None:
        """Nodes without a choice: one per way through (two on a two-way road), where the
        lanes beside their centre lines meet; the lanes' ends in `xy` moved onto them."""
        yard = self.yard
        nodes, start_of, end_of = ends.nodes, ends.start_of, ends.end_of
        for n in yard.nodes:
            if n in self.junctions:
                continue
            pairs = self._pairs(n) or []
            if not pairs:
                nodes[n] = yard.nodes[n]
                for lane_in in self.lanes_in[n]:
                    end_of[lane_in] = n
                for lane_out in self.lanes_out[n]:
                    start_of[lane_out] = n
                continue
            for k, (lane_in, lane_out) in enumerate(pairs):
                a, b = xy[lane_in], xy[lane_out]
                p = _meet(a[-1], _unit(a[-1] - a[-2]), b[0], _unit(b[1] - b[0]))
                if p is None:
                    p = (a[-1] + b[0]) / 2
                node_id = n if k == 0 else f"{n}~{k}"
                nodes[node_id] = Node(node_id, round(float(p[0]), 3), round(float(p[1]), 3))
                end_of[lane_in], start_of[lane_out] = node_id, node_id
        for lane_in, node_id in end_of.items():
            xy[lane_in][-1] = (nodes[node_id].x, nodes[node_id].y)
        for lane_out, node_id in start_of.items():
            xy[lane_out][0] = (nodes[node_id].x, nodes[node_id].y)

    def cut_lanes(
        self,
        groups: _Groups,
        d: _Setbacks,
        xy: dict[str, FloatArray],
        ends: _Ends,
        junction_of: dict[str, str],
    ) -> list[Lane]:
        """The lanes outside junction areas, cut at their stop lines and edges, each from and
        to a node of its own there (`<junction>:<lane>`)."""
        yard = self.yard
        nodes, start_of, end_of = ends.nodes, ends.start_of, ends.end_of
        internal = {
            ln.id
            for ln in yard.lanes.values()
            if ln.start in self.junctions
            and ln.end in self.junctions
            and groups.find(ln.start) == groups.find(ln.end)
        }
        cut: dict[str, FloatArray] = {}
        for ln in yard.lanes.values():
            if ln.id in internal:
                continue
            s_from = d.edge.get(ln.id, 0.0)
            s_to = Path(xy[ln.id]).length - d.stop.get(ln.id, 0.0)
            cut[ln.id] = _cut(xy[ln.id], s_from, s_to)
            for at, end, which in ((ln.start, 0, start_of), (ln.end, -1, end_of)):
                if at in self.junctions:
                    node_id = f"{junction_of[at]}:{ln.id}"
                    p = cut[ln.id][end]
                    nodes[node_id] = Node(node_id, round(float(p[0]), 3), round(float(p[1]), 3))
                    which[ln.id] = node_id
        lanes: list[Lane] = []
        for ln in yard.lanes.values():
            if ln.id in internal:
                continue
            pts = cut[ln.id].copy()
            s, e = nodes[start_of[ln.id]], nodes[end_of[ln.id]]
            pts[0], pts[-1] = (s.x, s.y), (e.x, e.y)
            geom = LineString(pts)
            lanes.append(
                replace(ln, start=s.id, end=e.id, geometry=geom, length_m=round(geom.length, 3))
            )
        return lanes

    def junction(
        self, jid: str, members: list[str], d: _Setbacks, ends: _Ends, lanes: list[Lane]
    ) -> Area | None:
        """The connectors across junction `jid` (appended to `lanes`) and its area, the convex
        hull of their swept paths (None when it has none)."""
        yard = self.yard
        nodes = ends.nodes
        half = self.fp.width_m / 2
        shapes = []
        moves = self.movements(members)
        names = [f"{jid}:{m.lane_in}>{m.lane_out}" for m in moves]
        self.sample = SAMPLE_M  # conflicts keep CONFLICT_MARGIN_M for the coarser samples
        crossing = self.conflicts(moves, d)
        for k, m in enumerate(moves):
            pts = self.connector(m, d)
            s, e = nodes[ends.end_of[m.lane_in]], nodes[ends.start_of[m.lane_out]]
            pts[0], pts[-1] = (s.x, s.y), (e.x, e.y)
            geom = LineString(pts)
            speed = min(
                yard.lanes[m.lane_in].speed_limit_mps,
                yard.lanes[m.lane_out].speed_limit_mps,
                *(yard.lanes[v].speed_limit_mps for v in m.via),
            )
            lanes.append(
                Lane(
                    names[k],
                    s.id,
                    e.id,
                    geom,
                    round(geom.length, 3),
                    speed,
                    _connector_kind(yard.lanes[m.lane_in], yard.lanes[m.lane_out]),
                    jid,
                    frozenset(names[j] for j in crossing[k]),
                )
            )
            shapes.append(geom.buffer(half, cap_style="flat"))
        if shapes:
            hull = unary_union(shapes).convex_hull
            if isinstance(hull, Polygon):
                return Area(jid, AreaKind.JUNCTION, hull, f"Junction {jid}")
        return None


class _Ends:
    """The nodes of the compiled yard, and the node each lane starts and ends at."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.start_of: dict[str, str] = {}
        self.end_of: dict[str, str] = {}


def _connector_kind(lane_in: Lane, lane_out: Lane) -> LaneKind:
    """A connector is of the kind of the lane it leads to, unless it leads out of a siding
    (a service or gate lane): then it is still the siding's, so through lanes stay through."""
    return lane_out.kind if lane_in.is_through else lane_in.kind


def _junction_id(node: str) -> str:
    """`n0070` → `X0070`; any other node id → `X-<id>`."""
    return f"X{node[1:]}" if node[:1] == "n" and node[1:].isdigit() else f"X-{node}"


def compile_junctions(
    yard: Yard, footprint: Footprint = TRACTOR_40FT, lane_width_m: float = LANE_WIDTH_M
) -> tuple[Yard, list[str]]:
    """The yard with lanes beside their centre lines, stop lines and junction areas; and the
    problems found (a junction that no set-back makes safe, a lane too short for one)."""
    compiler = _Compiler(yard, footprint, lane_width_m)
    out = compiler.build()
    return out, compiler.problems

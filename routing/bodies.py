"""Body against body, in metres: the safety check that counts, over what the trucks drove.

Every truck is a rectangle (tractor and chassis, 16 m x 2.5 m by default) whose front
is where its plan puts the front and whose rear is a truck length back along the path it
drove; the check measures every pair of bodies over time. It shares nothing with the
planner's resources (cells, nodes held, conflict groups) — only the plans and the lanes'
geometry — so it sees what that abstraction cannot: a truck standing with its front in a
junction centre while another crosses, merging lanes that share a point, the two
directions of a road drawn on one centre line, a queue spot too close to a through lane.
On a bend the body is the chord from rear to front: it cuts the corner, as a trailer does.

The sampling: each pair is compared at least every `every_s` seconds and every `every_m`
metres either truck drives; a pair whose bodies are far apart (centres further than two
half-diagonals plus a margin, with the travel since the last look) is not measured, and
a pair where neither truck moved keeps its last distance. Contacts are episodes: one per
pair and contiguous time span, with where and when it was worst.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from maps import Yard
from routing.plan import Plan, ResourceKind, Step

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bool = NDArray[np.bool_]

TOUCH_M = 1e-9
"""Bodies this close (or overlapping) touch."""

FAR_S = 1e18
"""Stands in for an infinite time (a truck standing at its goal for ever)."""

BEHIND_SLACK_M = 1.0
"""The driven path is extended this much further back than a truck length."""

_BLOCK = 64
"""Sample intervals per block of the coarse pass (bounding boxes of body centres)."""

_MARGIN_M = 2.0
"""Pairs are measured exactly when they may come within this (or `contact_below_m`);
`min_clearance_m` is exact below it, and the margin widens until the closest pair is seen."""


@dataclass(frozen=True, slots=True)
class Contact:
    """Two trucks' bodies closer than the threshold (touching, by default) for a time span.

    `x`, `y` and `lanes` (the lane each front was on) are taken where the episode was
    worst: the deepest overlap, or the smallest clearance. `overlap_m` is how far the
    bodies overlap there (the shortest push that would separate them; 0 if they do not).
    """

    trucks: tuple[str, str]
    t_start: float
    t_end: float
    x: float
    y: float
    min_clearance_m: float
    lanes: tuple[str, str]
    overlap_m: float = 0.0

    def __str__(self) -> str:
        a, b = self.trucks
        verb = "touch" if self.min_clearance_m <= TOUCH_M else "come close"
        return (
            f"{a} and {b} {verb} at ({self.x:.1f}, {self.y:.1f}) "
            f"t={self.t_start:.1f}..{self.t_end:.1f} s "
            f"(min clearance {self.min_clearance_m:.2f} m; fronts on {self.lanes[0]}, "
            f"{self.lanes[1]})"
        )


@dataclass(frozen=True, slots=True)
class Closest:
    """Where and when two bodies came closest (the deepest overlap if any overlapped)."""

    trucks: tuple[str, str]
    t: float
    x: float
    y: float
    clearance_m: float
    lanes: tuple[str, str]
    overlap_m: float = 0.0

    def __str__(self) -> str:
        a, b = self.trucks
        return (
            f"{a} and {b} closest at ({self.x:.1f}, {self.y:.1f}) t={self.t:.1f} s: "
            f"clearance {self.clearance_m:.2f} m, overlap {self.overlap_m:.2f} m "
            f"(fronts on {self.lanes[0]}, {self.lanes[1]})"
        )


@dataclass(frozen=True)
class BodyReport:
    """What `check_bodies` found.

    `min_clearance_m`: the smallest distance between two bodies over the run (0 when some
    touch or overlap; None when two trucks were never on the yard together).
    `contacts`: one per pair and episode, in time order. `closest`: where the minimum
    was. `comparisons`: how many body-to-body distances were measured.
    """

    min_clearance_m: float | None
    contacts: tuple[Contact, ...]
    closest: Closest | None
    trucks: int
    comparisons: int


# -- the driven paths -----------------------------------------------------------------------


class _Lanes:
    """The yard's lane geometry as flat arrays: lane k's vertices sit at `base[k] + m`."""

    def __init__(self, yard: Yard) -> None:
        self.yard = yard
        self.ids = list(yard.lanes)
        self.index = {lid: k for k, lid in enumerate(self.ids)}
        self.length = np.array([yard.lanes[i].length_m for i in self.ids], dtype=np.float64)
        pos: list[F64] = []
        xs: list[F64] = []
        ys: list[F64] = []
        base = np.zeros(len(self.ids), dtype=np.float64)
        at = 0.0
        for k, lid in enumerate(self.ids):
            lane = yard.lanes[lid]
            xy = np.asarray(lane.geometry.coords, dtype=np.float64)[:, :2]
            run = np.concatenate(([0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))))
            scale = lane.length_m / run[-1] if run[-1] > 0 else 0.0
            base[k] = at
            pos.append(at + run * scale)
            xs.append(xy[:, 0])
            ys.append(xy[:, 1])
            at += max(lane.length_m, 0.0) + 1.0  # a gap: no lane interpolates into the next
        self.base = base
        self.pos = np.concatenate(pos) if pos else np.zeros(0)
        self.x = np.concatenate(xs) if xs else np.zeros(0)
        self.y = np.concatenate(ys) if ys else np.zeros(0)
        self.ending_at: dict[str, list[str]] = {}
        self.starting_at: dict[str, list[str]] = {}
        for lid in self.ids:
            lane = yard.lanes[lid]
            self.ending_at.setdefault(lane.end, []).append(lid)
            self.starting_at.setdefault(lane.start, []).append(lid)

    def stretch(self, lane_id: str, f: float, e: float) -> tuple[F64, F64, F64]:
        """Vertices of a lane from `f` to `e` metres along it: (m from f, x, y)."""
        k = self.index[lane_id]
        g = self.pos
        lo = int(np.searchsorted(g, self.base[k] + f, side="right"))
        hi = int(np.searchsorted(g, self.base[k] + e, side="left"))
        m = np.concatenate(([self.base[k] + f], g[lo:hi], [self.base[k] + e]))
        return m - m[0], np.interp(m, g, self.x), np.interp(m, g, self.y)

    def heading(self, lane_id: str, m: float) -> tuple[float, float]:
        """The lane's unit direction at `m` metres along it."""
        k = self.index[lane_id]
        length = float(self.length[k])
        lo = min(max(m, 0.0), max(length - 0.5, 0.0))
        at = self.base[k] + np.array([lo, min(lo + 0.5, length)])
        dx = float(np.diff(np.interp(at, self.pos, self.x))[0])
        dy = float(np.diff(np.interp(at, self.pos, self.y))[0])
        if math.hypot(dx, dy) <= 1e-12:  # a lane of no length: from its start to its end
            lane = self.yard.lanes[lane_id]
            a, b = self.yard.nodes.get(lane.start), self.yard.nodes.get(lane.end)
            dx, dy = (b.x - a.x, b.y - a.y) if a is not None and b is not None else (1.0, 0.0)
        norm = math.hypot(dx, dy)
        return (1.0, 0.0) if norm <= 1e-12 else (dx / norm, dy / norm)


@dataclass(frozen=True, slots=True)
class _Path:
    """One truck: its front's driven distance in time, and the driven path as a polyline.

    Distances along the path start at 0 where the front starts; the path runs back to
    at least minus a truck length (the way the truck came in, or straight back).
    """

    truck: str
    t: F64
    s: F64
    ps: F64
    px: F64
    py: F64
    piece_end: F64
    piece_lane: I64
    lane_ids: Sequence[str]
    t_first: float
    t_last: float
    v_max: float

    def front_s(self, t: F64) -> F64:
        return np.interp(t, self.t, self.s)

    def xy(self, s: F64) -> tuple[F64, F64]:
        return np.interp(s, self.ps, self.px), np.interp(s, self.ps, self.py)

    def lane_at(self, s: float) -> str:
        """The lane the front is on at path distance `s` (at a node: the lane it came by)."""
        if len(self.piece_lane) == 0:
            return ""
        k = int(np.searchsorted(self.piece_end, s - 1e-9, side="left"))
        lane = int(self.piece_lane[min(k, len(self.piece_lane) - 1)])
        return self.lane_ids[lane] if lane >= 0 else ""  # -1: straight back from the start


def _first_steps(plan: Plan) -> tuple[Step | None, Step | None]:
    """The plan's first node-or-lane step and its first lane step."""
    first = lane = None
    for s in plan.steps:
        if s.kind is ResourceKind.CONFLICT_GROUP:
            continue
        if first is None:
            first = s
        if s.kind is ResourceKind.LANE:
            lane = s
            break
    return first, lane


def _behind(
    plan: Plan, lanes: _Lanes, need: float
) -> tuple[list[F64], list[F64], list[F64], list[float], list[int]]:
    """The path behind the truck's start: the lane it came in by, or straight back.

    Returns vertex chunks (s <= 0, x, y), in path order, and the stretches' ends and lanes.
    """
    yard = lanes.yard
    first, first_lane = _first_steps(plan)
    assert first is not None
    back: list[tuple[str, float, float]] = []  # (lane, from, to), walking backwards
    left = need
    if first.kind is ResourceKind.LANE:
        if first.from_m > 0:
            take = min(left, first.from_m)
            back.append((first.resource, first.from_m - take, first.from_m))
            left -= take
        node = yard.lanes[first.resource].start
    else:
        node = first.resource
        if node not in yard.nodes:
            raise ValueError(f"{plan.truck}: node {node!r} is not in yard {yard.id!r}")
    hops = 0
    while left > 1e-9 and hops < 10_000:
        into = lanes.ending_at.get(node)
        if not into:
            break
        lid = next((i for i in into if i.endswith("-in")), into[0])
        length = float(lanes.length[lanes.index[lid]])
        take = min(left, length)
        back.append((lid, length - take, length))
        left -= take
        node = yard.lanes[lid].start
        hops += 1
    xs: list[F64] = []
    ys: list[F64] = []
    ss: list[F64] = []
    ends: list[float] = []
    ids: list[int] = []
    s = -(need - max(left, 0.0))
    if left > 1e-9:  # straight back, opposite to where the path sets off
        if back:
            lid, f, _ = back[-1]
            hx, hy = lanes.heading(lid, f)
        elif first_lane is not None:
            hx, hy = lanes.heading(first_lane.resource, first_lane.from_m)
        elif lanes.starting_at.get(node):
            hx, hy = lanes.heading(lanes.starting_at[node][0], 0.0)
        else:
            hx, hy = 1.0, 0.0
        if back:
            lid, f, _ = back[-1]
            _, sx, sy = lanes.stretch(lid, f, f)
            x0, y0 = float(sx[0]), float(sy[0])
        else:
            x0, y0 = yard.nodes[node].x, yard.nodes[node].y
        xs.append(np.array([x0 - hx * left, x0]))
        ys.append(np.array([y0 - hy * left, y0]))
        ss.append(np.array([-need, s]))
        ends.append(s)
        ids.append(-1)
    for lid, f, e in reversed(back):
        m, x, y = lanes.stretch(lid, f, e)
        xs.append(x)
        ys.append(y)
        ss.append(s + m)
        s += e - f
        ends.append(s)
        ids.append(lanes.index[lid])
    return ss, xs, ys, ends, ids


def _top_speed(t: F64, s: F64) -> float:
    """The fastest the front goes between two knots (inf if it jumps)."""
    dt, ds = np.diff(t), np.diff(s)
    if np.any((ds > 1e-9) & (dt <= 0)):
        return math.inf
    moving = dt > 0
    return float(np.max(ds[moving] / dt[moving], initial=0.0))


def _driven_paths(plans: Sequence[Plan], yard: Yard, length_m: float) -> list[_Path]:
    """Every truck's trajectory and driven path (trucks without steps are left out)."""
    lanes = _Lanes(yard)
    index, lane_len = lanes.index, lanes.length.tolist()
    flat: list[float] = []  # seven numbers a step, flat: numpy reads it fastest
    row = flat.extend
    kept: list[Plan] = []
    lane_kind, node_kind = ResourceKind.LANE, ResourceKind.NODE
    for plan in plans:
        i = float(len(kept))
        before = len(flat)
        for st in plan.steps:
            kind = st.kind
            if kind is lane_kind:
                k = index.get(st.resource)
                if k is None:
                    raise ValueError(
                        f"{plan.truck}: lane {st.resource!r} is not in yard {yard.id!r}"
                    )
                to_m = lane_len[k] if st.to_m is None else st.to_m
                row((i, k, st.t_enter, st.t_exit, st.speed_mps or 0.0, st.from_m, to_m))
            elif kind is node_kind:
                row((i, -1.0, st.t_enter, st.t_exit, 0.0, 0.0, 0.0))
        if len(flat) > before:
            kept.append(plan)
    if not flat:
        return []
    a = np.array(flat, dtype=np.float64).reshape(-1, 7)
    truck = a[:, 0].astype(np.int64)
    lane = a[:, 1].astype(np.int64)
    t_in = np.minimum(a[:, 2], FAR_S)
    t_out = np.minimum(a[:, 3], FAR_S)
    speed, f = a[:, 4], a[:, 5]
    is_lane = lane >= 0
    e = np.where(is_lane, np.maximum(a[:, 6], f), f)
    stretch = e - f
    cum = np.cumsum(stretch)
    first = np.searchsorted(truck, np.arange(len(kept)), side="left")
    last = np.searchsorted(truck, np.arange(len(kept)), side="right")
    offset = np.concatenate(([0.0], cum))[first]
    s_end = cum - offset[truck]
    s_start = s_end - stretch
    moving = is_lane & (speed > 0)
    arrive = np.where(moving, t_in + stretch / np.where(moving, speed, 1.0), t_out)
    arrive = np.clip(arrive, t_in, t_out)
    knot_t = np.stack((t_in, arrive, t_out), axis=1).ravel()
    knot_s = np.stack((s_start, s_end, s_end), axis=1).ravel()

    # the lane stretches' vertices, all trucks at once: start, inner vertices, end
    li = np.flatnonzero(is_lane)
    lk = lane[li]
    g_f = lanes.base[lk] + f[li]
    g_e = lanes.base[lk] + e[li]
    lo = np.searchsorted(lanes.pos, g_f, side="right")
    inner = np.maximum(np.searchsorted(lanes.pos, g_e, side="left") - lo, 0)
    count = inner + 2
    at = np.cumsum(count) - count
    n_v = int(count.sum())
    vs = np.empty(n_v)
    vx = np.empty(n_v)
    vy = np.empty(n_v)
    vs[at] = s_start[li]
    vx[at] = np.interp(g_f, lanes.pos, lanes.x)
    vy[at] = np.interp(g_f, lanes.pos, lanes.y)
    vs[at + count - 1] = s_end[li]
    vx[at + count - 1] = np.interp(g_e, lanes.pos, lanes.x)
    vy[at + count - 1] = np.interp(g_e, lanes.pos, lanes.y)
    if inner.any():
        piece = np.repeat(np.arange(len(li)), inner)
        r = np.arange(len(piece)) - np.repeat(np.cumsum(inner) - inner, inner)
        gi = lo[piece] + r
        out = at[piece] + 1 + r
        vs[out] = s_start[li][piece] + lanes.pos[gi] - g_f[piece]
        vx[out] = lanes.x[gi]
        vy[out] = lanes.y[gi]
    v_truck = np.repeat(truck[li], count)
    p_truck = truck[li]

    need = length_m + BEHIND_SLACK_M
    paths: list[_Path] = []
    for i, plan in enumerate(kept):
        a0, a1 = int(first[i]), int(last[i])
        kt = np.maximum.accumulate(knot_t[3 * a0 : 3 * a1])
        ks = knot_s[3 * a0 : 3 * a1]
        v0, v1 = np.searchsorted(v_truck, [i, i + 1])
        p0, p1 = np.searchsorted(p_truck, [i, i + 1])
        ss, xs, ys, ends, ids = _behind(plan, lanes, need)
        ps = np.concatenate([*ss, vs[v0:v1]])
        px = np.concatenate([*xs, vx[v0:v1]])
        py = np.concatenate([*ys, vy[v0:v1]])
        piece_end = np.concatenate((np.array(ends), s_end[li][p0:p1]))
        piece_lane = np.concatenate((np.array(ids, dtype=np.int64), lk[p0:p1]))
        paths.append(
            _Path(
                plan.truck,
                kt,
                ks,
                ps,
                px,
                py,
                piece_end,
                piece_lane,
                lanes.ids,
                float(kt[0]),
                float(kt[-1]),
                _top_speed(kt, ks),
            )
        )
    return paths


# -- rectangles ----------------------------------------------------------------------------


def _axes(fx: F64, fy: F64, rx: F64, ry: F64) -> tuple[F64, F64, F64, F64, F64]:
    """Centre, unit axis (rear to front) and half length of bodies given front and rear."""
    ux, uy = fx - rx, fy - ry
    length = np.hypot(ux, uy)
    ok = length > 1e-9
    safe = np.where(ok, length, 1.0)
    return (
        (fx + rx) / 2,
        (fy + ry) / 2,
        np.where(ok, ux / safe, 1.0),
        np.where(ok, uy / safe, 0.0),
        length / 2,
    )


_CHUNK = 16_384
"""Rectangle pairs measured at once (their temporaries stay in the cache)."""

_P = np.array([1.0, 1.0, -1.0, -1.0])
_Q = np.array([1.0, -1.0, 1.0, -1.0])


def _clearance(
    fax: F64,
    fay: F64,
    rax: F64,
    ray: F64,
    fbx: F64,
    fby: F64,
    rbx: F64,
    rby: F64,
    hw: float,
    exact_below: float = math.inf,
) -> F64:
    """Signed distance of rectangle pairs: >= 0 apart, < 0 the overlap (separating axes).

    Pairs further apart than `exact_below` get the separating-axis gap, a lower bound.
    """
    out = np.empty(len(fax))
    for lo in range(0, len(fax), _CHUNK):
        at = slice(lo, lo + _CHUNK)
        out[at] = _clearance_chunk(
            fax[at], fay[at], rax[at], ray[at], fbx[at], fby[at], rbx[at], rby[at], hw, exact_below
        )
    return out


def _clearance_chunk(
    fax: F64,
    fay: F64,
    rax: F64,
    ray: F64,
    fbx: F64,
    fby: F64,
    rbx: F64,
    rby: F64,
    hw: float,
    exact_below: float,
) -> F64:
    cax, cay, uax, uay, hla = _axes(fax, fay, rax, ray)
    cbx, cby, ubx, uby, hlb = _axes(fbx, fby, rbx, rby)
    dx, dy = cbx - cax, cby - cay
    cos = uax * ubx + uay * uby  # ua.ub == na.nb
    sin = uax * uby - uay * ubx  # na.ub == -(ua.nb)
    ac, as_ = np.abs(cos), np.abs(sin)
    d_ua = dx * uax + dy * uay
    d_na = -dx * uay + dy * uax
    d_ub = dx * ubx + dy * uby
    d_nb = -dx * uby + dy * ubx
    on_ua = np.abs(d_ua) - hla - hlb * ac - hw * as_
    on_na = np.abs(d_na) - hw - hlb * as_ - hw * ac
    on_ub = np.abs(d_ub) - hla * ac - hw * as_ - hlb
    on_nb = np.abs(d_nb) - hla * as_ - hw * ac - hw
    sep = np.maximum(np.maximum(on_ua, on_na), np.maximum(on_ub, on_nb))
    apart = np.flatnonzero((sep > 0) & (sep <= exact_below))
    if len(apart) == 0:
        return sep
    # apart: the nearest corner of either body to the other body (convex and disjoint)
    cos, sin, hla, hlb = cos[apart, None], sin[apart, None], hla[apart, None], hlb[apart, None]
    s = -d_ub[apart, None] + _P * (hla * cos) + _Q * (hw * sin)  # a's corners, b's frame
    t = -d_nb[apart, None] - _P * (hla * sin) + _Q * (hw * cos)
    ex, ey = np.maximum(np.abs(s) - hlb, 0.0), np.maximum(np.abs(t) - hw, 0.0)
    best = (ex * ex + ey * ey).min(axis=1)
    s = d_ua[apart, None] + _P * (hlb * cos) - _Q * (hw * sin)  # b's corners, a's frame
    t = d_na[apart, None] + _P * (hlb * sin) + _Q * (hw * cos)
    ex, ey = np.maximum(np.abs(s) - hla, 0.0), np.maximum(np.abs(t) - hw, 0.0)
    best = np.minimum(best, (ex * ex + ey * ey).min(axis=1))
    sep[apart] = np.maximum(np.sqrt(best), sep[apart])
    return sep


def rectangle_clearance_m(
    front_a: F64, rear_a: F64, front_b: F64, rear_b: F64, width_m: float = 2.5
) -> F64:
    """Signed distance between bodies a and b, pair by pair: apart (>= 0) or overlap (< 0).

    Each body is the rectangle from its rear point to its front point ((n, 2) arrays),
    `width_m` wide; a negative value is the overlap (the shortest push that separates).
    """
    fa, ra = np.asarray(front_a, dtype=np.float64), np.asarray(rear_a, dtype=np.float64)
    fb, rb = np.asarray(front_b, dtype=np.float64), np.asarray(rear_b, dtype=np.float64)
    return _clearance(
        fa[:, 0], fa[:, 1], ra[:, 0], ra[:, 1], fb[:, 0], fb[:, 1], rb[:, 0], rb[:, 1], width_m / 2
    )


def body_corners(front: F64, rear: F64, width_m: float = 2.5) -> F64:
    """The corners ((n, 4, 2), counter-clockwise from front left) of bodies rear..front."""
    f, r = np.asarray(front, dtype=np.float64), np.asarray(rear, dtype=np.float64)
    _, _, ux, uy, _ = _axes(f[:, 0], f[:, 1], r[:, 0], r[:, 1])
    n = np.stack((-uy, ux), axis=1) * (width_m / 2)
    return np.stack((f + n, r + n, r - n, f - n), axis=1)


def bodies_at(
    plans: Sequence[Plan], yard: Yard, times: F64, *, length_m: float = 16.0
) -> tuple[F64, F64, Bool]:
    """Fronts and rears ((trucks, times, 2)) of every plan's body, and whether it is there.

    A truck is on the yard from its plan's first step to its last step's exit; plans
    without node or lane steps are left out (so rows follow the other plans' order).
    """
    t = np.asarray(times, dtype=np.float64)
    paths = _driven_paths(plans, yard, length_m)
    front = np.zeros((len(paths), len(t), 2))
    rear = np.zeros((len(paths), len(t), 2))
    there = np.zeros((len(paths), len(t)), dtype=np.bool_)
    for i, p in enumerate(paths):
        s = p.front_s(t)
        front[i, :, 0], front[i, :, 1] = p.xy(s)
        rear[i, :, 0], rear[i, :, 1] = p.xy(s - length_m)
        there[i] = (t >= p.t_first) & (t <= p.t_last)
    return front, rear, there


# -- the check ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Samples:
    """Exact comparisons: pair, time, both bodies and the signed distance, by pair and time."""

    a: I64
    b: I64
    t: F64
    run: I64
    sa: F64
    sb: F64
    body: tuple[F64, F64, F64, F64, F64, F64, F64, F64]
    d: F64


def _place(
    paths: Sequence[_Path], length_m: float, who: I64, t: F64
) -> tuple[F64, F64, F64, F64, F64]:
    """Front distance, front and rear of trucks `who` at times `t` (grouped by truck)."""
    s = np.empty(len(t))
    fx, fy, rx, ry = (np.empty(len(t)) for _ in range(4))
    order = np.argsort(who, kind="stable")
    bounds = np.searchsorted(who[order], np.arange(len(paths) + 1))
    for i, p in enumerate(paths):
        sel = order[bounds[i] : bounds[i + 1]]
        if len(sel) == 0:
            continue
        si = p.front_s(t[sel])
        s[sel] = si
        fx[sel], fy[sel] = p.xy(si)
        rx[sel], ry[sel] = p.xy(si - length_m)
    return s, fx, fy, rx, ry


class _Grid:
    """All trucks on a common time grid: front distance, body centre (NaN: not there).

    The grid has a whole number of blocks of `_BLOCK` intervals (padded at the end with
    intervals of no length, where no truck is).
    """

    def __init__(
        self, paths: Sequence[_Path], length_m: float, until: float | None, every_s: float
    ) -> None:
        t0 = min(p.t_first for p in paths)
        t1 = until
        if t1 is None:
            t1 = max(float(p.t[p.t < FAR_S].max(initial=t0)) for p in paths)
        extra = [x for p in paths for x in (p.t_first, p.t_last) if t0 <= x <= t1]
        t = np.unique(np.concatenate((np.arange(t0, t1, every_s), [t1], extra)))
        t = t[(t >= t0) & (t <= t1)]
        if len(t) == 0:  # the check ends before any truck is there
            t = np.array([t0])
        real = len(t)
        self.blocks = max(-(-(real - 1) // _BLOCK), 1)
        g = self.blocks * _BLOCK + 1
        self.t = np.concatenate((t, np.full(g - real, t[-1])))
        self.block_dt = np.diff(self.t).reshape(self.blocks, _BLOCK).max(axis=1)
        n = len(paths)
        self.s = np.empty((n, g))
        self.cx = np.empty((n, g), dtype=np.float32)
        self.cy = np.empty((n, g), dtype=np.float32)
        self.there = np.zeros((n, g), dtype=np.bool_)
        self.v_max = np.array([p.v_max for p in paths])
        for i, p in enumerate(paths):
            s = p.front_s(self.t)
            fx, fy = p.xy(s)
            rx, ry = p.xy(s - length_m)
            there = (self.t >= p.t_first) & (self.t <= min(p.t_last, t1))
            there[real:] = False
            self.s[i] = s
            self.cx[i] = np.where(there, (fx + rx) / 2, np.nan)
            self.cy[i] = np.where(there, (fy + ry) / 2, np.nan)
            self.there[i] = there


def _measure(
    paths: Sequence[_Path],
    grid: _Grid,
    length_m: float,
    width_m: float,
    every_m: float,
    margin_m: float,
) -> tuple[_Samples, bool]:
    """Distances of every pair wherever its bodies may be within `margin_m` (exact there;
    further apart, a lower bound above the margin).

    Also says whether any two trucks were ever on the yard together.
    """
    reach_m = math.hypot(length_m, width_m) + margin_m  # the half-diagonals and the margin
    exact_below = margin_m
    n, nb = len(paths), grid.blocks
    # coarse: per truck and block, the box of its body centres and how far it can drive
    # between two grid times (the block's travel, or its top speed over the longest step)
    s_at = grid.s[:, ::_BLOCK]
    travel = np.minimum(s_at[:, 1:] - s_at[:, :-1], grid.v_max[:, None] * grid.block_dt)
    cx = grid.cx[:, :-1].reshape(n, nb, _BLOCK)
    cy = grid.cy[:, :-1].reshape(n, nb, _BLOCK)
    x0, x1 = np.fmin.reduce(cx, axis=2), np.fmax.reduce(cx, axis=2)
    y0, y1 = np.fmin.reduce(cy, axis=2), np.fmax.reduce(cy, axis=2)
    ia, ib = np.triu_indices(n, 1)
    together = ~np.isnan(x0[ia]) & ~np.isnan(x0[ib])
    with np.errstate(invalid="ignore"):
        gx = np.maximum(np.maximum(x0[ib] - x1[ia], x0[ia] - x1[ib]), 0.0)
        gy = np.maximum(np.maximum(y0[ib] - y1[ia], y0[ia] - y1[ib]), 0.0)
        near = together & (np.hypot(gx, gy) <= reach_m + 1e-3 + travel[ia] + travel[ib])
    # fine: per pair and grid interval, the centres at its start and the travel in it
    pair, block = np.nonzero(near)
    j = (block[:, None] * _BLOCK + np.arange(_BLOCK)).ravel()
    a, b = np.repeat(ia[pair], _BLOCK), np.repeat(ib[pair], _BLOCK)
    s, there = grid.s, grid.there
    ta, tb = s[a, j + 1] - s[a, j], s[b, j + 1] - s[b, j]
    dist = np.hypot(grid.cx[a, j] - grid.cx[b, j], grid.cy[a, j] - grid.cy[b, j])
    with np.errstate(invalid="ignore"):
        keep = there[a, j + 1] & there[b, j + 1] & (dist <= reach_m + 1e-3 + ta + tb)
    a, b, j, ta, tb = a[keep], b[keep], j[keep], ta[keep], tb[keep]

    # samples: a moving interval every `every_m` of the faster truck's travel, a still one
    # only where its run of looks starts or ends (nothing moved: the distance holds)
    m = len(j)
    same_prev = np.zeros(m, dtype=np.bool_)
    if m > 1:
        same_prev[1:] = (a[1:] == a[:-1]) & (b[1:] == b[:-1]) & (j[1:] == j[:-1] + 1)
    same_next = np.zeros(m, dtype=np.bool_)
    same_next[:-1] = same_prev[1:]
    moving = (ta + tb) > 0
    still_next = np.zeros(m, dtype=np.bool_)
    still_next[:-1] = ~moving[1:]
    steps = np.where(moving, np.maximum(np.ceil(np.maximum(ta, tb) / every_m), 1), 0).astype(
        np.int64
    )
    end = ~same_next | (same_next & still_next)
    count = np.where(moving, steps + end, (~same_prev).astype(np.int64) + ~same_next)
    run = np.cumsum(~same_prev) - 1
    k = np.repeat(np.arange(m), count)
    r = np.arange(len(k)) - np.repeat(np.cumsum(count) - count, count)
    frac = np.where(
        moving[k], r / np.maximum(steps[k], 1), np.minimum(r + same_prev[k], 1).astype(float)
    )
    jk = j[k]
    t = grid.t[jk] + frac * (grid.t[jk + 1] - grid.t[jk])
    sa, fax, fay, rax, ray = _place(paths, length_m, a[k], t)
    sb, fbx, fby, rbx, rby = _place(paths, length_m, b[k], t)
    d = _clearance(fax, fay, rax, ray, fbx, fby, rbx, rby, width_m / 2, exact_below)
    samples = _Samples(a[k], b[k], t, run[k], sa, sb, (fax, fay, rax, ray, fbx, fby, rbx, rby), d)
    return samples, bool(together.any())


def _where(body: tuple[F64, ...], idx: I64, width_m: float) -> tuple[F64, F64]:
    """A point of the contact: the middle of the overlap, or of the gap between the bodies."""
    fax, fay, rax, ray, fbx, fby, rbx, rby = (v[idx] for v in body)
    pa = shapely.polygons(body_corners(np.stack((fax, fay), 1), np.stack((rax, ray), 1), width_m))
    pb = shapely.polygons(body_corners(np.stack((fbx, fby), 1), np.stack((rbx, rby), 1), width_m))
    both = shapely.intersection(pa, pb)
    empty = shapely.is_empty(both)
    gap = shapely.shortest_line(pa, pb)
    centre = np.where(empty, np.asarray(shapely.centroid(gap)), np.asarray(shapely.centroid(both)))
    xy = shapely.get_coordinates(centre)
    return xy[:, 0], xy[:, 1]


def check_bodies(
    plans: Sequence[Plan],
    yard: Yard,
    *,
    length_m: float = 16.0,
    width_m: float = 2.5,
    until: float | None = None,
    every_s: float = 0.25,
    every_m: float = 0.5,
    contact_below_m: float = 0.0,
) -> BodyReport:
    """Measure every pair of trucks' bodies over what they drove; report contacts.

    `plans`: one per truck, steps in time order (conflict-group steps are ignored).
    A truck is on the yard from its first step to its last step's exit; `until` (default:
    the last finite time in the plans) ends the check. A contact is two bodies closer
    than `contact_below_m`, or touching (within `TOUCH_M`) when that is 0.
    """
    if every_s <= 0 or every_m <= 0:
        raise ValueError(f"check_bodies: every_s ({every_s}) and every_m ({every_m}) must be > 0")
    if length_m <= 0 or width_m <= 0:
        raise ValueError(f"check_bodies: a body of {length_m} m x {width_m} m")
    paths = _driven_paths(plans, yard, length_m)
    if len(paths) < 2:
        return BodyReport(None, (), None, len(paths), 0)
    grid = _Grid(paths, length_m, until, every_s)
    if not grid.there.any():
        return BodyReport(None, (), None, len(paths), 0)
    span = math.hypot(  # the yard the trucks were on: no margin beyond needs looking at
        float(np.nanmax(grid.cx) - np.nanmin(grid.cx)) + length_m,
        float(np.nanmax(grid.cy) - np.nanmin(grid.cy)) + length_m,
    )
    margin = max(contact_below_m, _MARGIN_M)
    comparisons = 0
    while True:
        found, together = _measure(paths, grid, length_m, width_m, every_m, margin)
        comparisons += len(found.d)
        if not together or (len(found.d) and found.d.min() <= margin) or margin > span:
            break
        margin *= 4
    if len(found.d) == 0:
        return BodyReport(None, (), None, len(paths), comparisons)

    # contacts: runs of consecutive samples of one pair, all closer than the threshold
    d = found.d
    hit = (d <= TOUCH_M) | (d < contact_below_m)
    idx = np.flatnonzero(hit)
    contacts: list[Contact] = []
    if len(idx):
        cont = np.zeros(len(idx), dtype=np.bool_)
        cont[1:] = (idx[1:] == idx[:-1] + 1) & (found.run[idx[1:]] == found.run[idx[:-1]])
        episode = np.cumsum(~cont) - 1
        starts = np.flatnonzero(~cont)
        stops = np.append(starts[1:], len(idx)) - 1
        order = np.lexsort((d[idx], episode))
        worst = idx[order[starts]]  # lexsort: the first of each episode is its deepest
        wx, wy = _where(found.body, worst, width_m)
        for e in range(len(starts)):
            w = int(worst[e])
            ia, ib = int(found.a[w]), int(found.b[w])
            contacts.append(
                Contact(
                    (paths[ia].truck, paths[ib].truck),
                    float(found.t[idx[starts[e]]]),
                    float(found.t[idx[stops[e]]]),
                    float(wx[e]),
                    float(wy[e]),
                    max(float(d[w]), 0.0),
                    (paths[ia].lane_at(float(found.sa[w])), paths[ib].lane_at(float(found.sb[w]))),
                    max(-float(d[w]), 0.0),
                )
            )
        contacts.sort(key=lambda c: (c.t_start, c.trucks))
    w = int(np.argmin(d))
    ia, ib = int(found.a[w]), int(found.b[w])
    cx, cy = _where(found.body, np.array([w]), width_m)
    closest = Closest(
        (paths[ia].truck, paths[ib].truck),
        float(found.t[w]),
        float(cx[0]),
        float(cy[0]),
        max(float(d[w]), 0.0),
        (paths[ia].lane_at(float(found.sa[w])), paths[ib].lane_at(float(found.sb[w]))),
        max(-float(d[w]), 0.0),
    )
    return BodyReport(max(float(d[w]), 0.0), tuple(contacts), closest, len(paths), comparisons)

"""Map-matching: many truck positions at once to a lane, an offset along it and a distance.

Every lane is exploded into straight segments held in numpy arrays; a shapely STRtree
over the segments finds the candidates within `max_distance_m` of all positions in one
call, and the projections, distances and heading scores of all (position, segment)
pairs are computed with numpy, so a batch costs a few array passes, not a Python loop.

Headings use the compass convention of GNSS receivers and NMEA (degrees, 0 = north =
+y, 90 = east = +x, clockwise). A candidate's score is its distance plus
`w × (1 − cos Δ) / 2`, Δ being the angle between the heading and the lane's direction
there: a lane driven the other way costs `w` metres more, a perpendicular one half of
that.

`w` follows the fix's horizontal accuracy (metres, optional, one per position): it is
`heading_weight_per_accuracy × accuracy` (2 × by default), at most `heading_weight_m`
(20 m), which is also the weight when the accuracy is unknown (none given, or NaN). On a
compiled yard the two lanes of a two-way road lie a lane width (3.5 m) apart, so a fix
good to a metre or so is placed by its position: a wrong heading (a slow or reversing
truck's) costs it at most 2 m; a fix good to 6 m is placed by its heading (12 m), as
its position cannot tell 3.5 m apart. On a centre-line yard, where the two lanes of a
road coincide, the heading alone picks between them.

Without a heading (none given, or NaN for one position) the two directions of a two-way
road tie exactly (their distances are computed on one canonical orientation of the
shared segment, so they are bit-for-bit equal); the tie goes to the lane listed first
in the yard (lowest lane index), and `heading_agrees` is False because nothing agreed.

The score picks the lane; the matched point is then the lane's point nearest to the
position (on a curve, the heading may prefer a segment that is not the nearest one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import shapely

from maps.model import Yard

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_MAX_DISTANCE_M = 20.0
"""Positions farther than this from every lane are unmatched."""
DEFAULT_HEADING_WEIGHT_M = 20.0
"""The score penalty, in metres, of a lane driven opposite to the heading."""
DEFAULT_HEADING_WEIGHT_PER_ACCURACY = 2.0
"""Metres of heading weight per metre of a fix's horizontal accuracy (capped at the weight)."""
MIN_ACCURACY_M = 0.1
"""Accuracies below this count as this: a heading still breaks a tie of distances."""
DEFAULT_AGREE_DEG = 60.0
"""A heading within this many degrees of the lane's direction agrees with it."""
SEEN_MAX = 100_000
"""Single positions remembered with their match (`MapMatcher.match_one`)."""
GRID_M = 10.0
"""Cell size of the segment grid that `match_one` looks candidates up in."""
EDGE_M = 1e-6
"""A candidate this close to `max_distance_m` is left to GEOS (`match_xy`) to decide."""


def _frozen(a: npt.NDArray[np.generic]) -> None:
    """Make an array read-only, so that a frozen result stays frozen."""
    a.setflags(write=False)


@dataclass(frozen=True, slots=True)
class Match:
    """One position's match: its lane, where along it, how far off, and if it matched at all."""

    lane_index: int
    lane_id: str | None
    offset_m: float
    lateral_m: float
    distance_m: float
    heading_agrees: bool
    matched: bool
    snap_x: float
    snap_y: float


@dataclass(frozen=True, eq=False)
class Matches:
    """The matches of a batch of positions, one read-only numpy array per field.

    `snap_x`, `snap_y` are the matched point on the lane (local metres); `heading_agrees` is
    False where no heading was given. Unmatched positions have `lane_index` -1, NaN offset,
    lateral and snapped point, and `distance_m` to the nearest lane (NaN for a position
    with non-finite coordinates).
    """

    lane_index: IntArray
    offset_m: FloatArray
    lateral_m: FloatArray
    distance_m: FloatArray
    heading_agrees: BoolArray
    matched: BoolArray
    snap_x: FloatArray
    snap_y: FloatArray
    lane_ids: tuple[str, ...] = field(repr=False)

    def __post_init__(self) -> None:
        for a in (
            self.lane_index,
            self.offset_m,
            self.lateral_m,
            self.distance_m,
            self.heading_agrees,
            self.matched,
            self.snap_x,
            self.snap_y,
        ):
            _frozen(a)

    def __len__(self) -> int:
        return len(self.lane_index)

    @property
    def lane_id(self) -> npt.NDArray[np.object_]:
        """The matched lane ids (None where unmatched), as an object array."""
        table = np.array([*self.lane_ids, None], dtype=object)
        return table[self.lane_index]  # -1 picks the trailing None

    def row(self, i: int) -> Match:
        """The match of position `i`."""
        k = int(self.lane_index[i])
        return Match(
            lane_index=k,
            lane_id=self.lane_ids[k] if k >= 0 else None,
            offset_m=float(self.offset_m[i]),
            lateral_m=float(self.lateral_m[i]),
            distance_m=float(self.distance_m[i]),
            heading_agrees=bool(self.heading_agrees[i]),
            matched=bool(self.matched[i]),
            snap_x=float(self.snap_x[i]),
            snap_y=float(self.snap_y[i]),
        )


class MapMatcher:
    """Matches positions to a yard's lanes; build once per yard, then match batches."""

    def __init__(
        self,
        yard: Yard,
        max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
        heading_weight_m: float = DEFAULT_HEADING_WEIGHT_M,
        agree_deg: float = DEFAULT_AGREE_DEG,
        heading_weight_per_accuracy: float = DEFAULT_HEADING_WEIGHT_PER_ACCURACY,
    ) -> None:
        if not (np.isfinite(max_distance_m) and max_distance_m > 0):
            raise ValueError(f"max_distance_m must be a positive number (got {max_distance_m})")
        if not (np.isfinite(heading_weight_m) and heading_weight_m >= 0):
            raise ValueError(
                f"heading_weight_m must be a non-negative number (got {heading_weight_m})"
            )
        if not (np.isfinite(heading_weight_per_accuracy) and heading_weight_per_accuracy >= 0):
            raise ValueError(
                "heading_weight_per_accuracy must be a non-negative number "
                f"(got {heading_weight_per_accuracy})"
            )
        if not (0.0 <= agree_deg <= 180.0):
            raise ValueError(f"agree_deg must be within 0..180 (got {agree_deg})")
        self.yard = yard
        self._seen: dict[tuple[float, float, float | None, float | None], Match] = {}
        self.max_distance_m = float(max_distance_m)
        self.heading_weight_m = float(heading_weight_m)
        self.heading_weight_per_accuracy = float(heading_weight_per_accuracy)
        # A hair of slack so that exactly agree_deg still agrees despite rounding.
        self._cos_agree = float(np.cos(np.radians(agree_deg))) - 1e-12
        self.lane_ids: tuple[str, ...] = tuple(yard.lanes)
        self._explode(yard)
        coords = np.stack([self._cx0, self._cy0, self._cx1, self._cy1], axis=1).reshape(-1, 2, 2)
        segments: npt.NDArray[np.object_] = np.asarray(shapely.linestrings(coords))
        self._tree = shapely.STRtree(segments)
        self._grid: dict[tuple[int, int], IntArray] | None = None

    def _explode(self, yard: Yard) -> None:
        """Every lane's non-degenerate straight segments, in canonical and lane orientation."""
        starts: list[FloatArray] = []
        ends: list[FloatArray] = []
        lane_of: list[IntArray] = []
        cum_of: list[FloatArray] = []
        for k, lane in enumerate(yard.lanes.values()):
            xy = np.asarray(lane.geometry.coords, dtype=np.float64)[:, :2]
            length = np.hypot(*(xy[1:] - xy[:-1]).T)
            cum = np.concatenate([[0.0], np.cumsum(length)])[:-1]
            keep = length > 0.0
            starts.append(xy[:-1][keep])
            ends.append(xy[1:][keep])
            cum_of.append(cum[keep])
            lane_of.append(np.full(int(keep.sum()), k, dtype=np.intp))
        a = np.concatenate(starts) if starts else np.empty((0, 2))
        b = np.concatenate(ends) if ends else np.empty((0, 2))
        if len(a) == 0:
            raise ValueError(f"yard {yard.id!r} has no lane of positive length to match to")
        self._lane = np.concatenate(lane_of)
        self._cum = np.concatenate(cum_of)
        # Canonical orientation: the lexicographically smaller end first, so that the two
        # lanes of a two-way road share one segment description and tie bit for bit.
        flip = (b[:, 0] < a[:, 0]) | ((b[:, 0] == a[:, 0]) & (b[:, 1] < a[:, 1]))
        c0 = np.where(flip[:, None], b, a)
        c1 = np.where(flip[:, None], a, b)
        self._flip = flip
        self._cx0, self._cy0 = c0[:, 0].copy(), c0[:, 1].copy()
        self._cx1, self._cy1 = c1[:, 0].copy(), c1[:, 1].copy()
        d = c1 - c0
        self._clen = np.hypot(d[:, 0], d[:, 1])
        self._cux = d[:, 0] / self._clen
        self._cuy = d[:, 1] / self._clen
        sign = np.where(flip, -1.0, 1.0)
        self._ux = self._cux * sign  # the lane's own direction
        self._uy = self._cuy * sign

    def match_xy(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        heading_deg: npt.ArrayLike | None = None,
        accuracy_m: npt.ArrayLike | None = None,
    ) -> Matches:
        """Match local positions (metres), optionally with compass headings (degrees) and
        horizontal accuracies (metres; NaN or None: unknown), one each or one for all."""
        xa, ya, ha = _inputs(x, y, heading_deg)
        acc = _accuracies(accuracy_m, len(xa))
        n = len(xa)
        lane_index = np.full(n, -1, dtype=np.intp)
        offset = np.full(n, np.nan)
        lateral = np.full(n, np.nan)
        distance = np.full(n, np.nan)
        agrees = np.zeros(n, dtype=np.bool_)
        snap_x = np.full(n, np.nan)
        snap_y = np.full(n, np.nan)

        ok = np.flatnonzero(np.isfinite(xa) & np.isfinite(ya))
        pts = shapely.points(xa[ok], ya[ok])
        pairs = self._tree.query(pts, predicate="dwithin", distance=self.max_distance_m)
        if pairs.shape[1]:
            p = ok[pairs[0]]
            s = pairs[1].astype(np.intp)
            px, py = xa[p], ya[p]
            dist, _, _, _ = self._project(px, py, s)
            if ha is None:
                score = dist
            else:
                # Trigonometry once per position, not once per candidate; no heading costs 0.
                has = np.isfinite(ha)
                rad = np.radians(np.where(has, ha, 0.0))
                hx, hy = np.sin(rad), np.cos(rad)  # compass: east = sin, north = cos
                half_w = np.where(has, 0.5 * self._heading_weights(acc, len(xa)), 0.0)
                cos = hx[p] * self._ux[s] + hy[p] * self._uy[s]
                score = dist + half_w[p] * (1.0 - cos)
            best_p, best_s = _best_per_position(p, s, score)
            scored_s = np.full(n, -1, dtype=np.intp)
            scored_s[best_p] = best_s
            if ha is not None:
                # The heading picks the lane; the position picks the point on it: on a curved
                # lane the nearest segment, not the one whose direction agrees best.
                chosen = np.full(n, -1, dtype=np.intp)
                chosen[best_p] = self._lane[best_s]
                on_chosen = np.where(self._lane[s] == chosen[p], dist, np.inf)
                best_p, best_s = _best_per_position(p, s, on_chosen)
            d, t, qx, qy = self._project(xa[best_p], ya[best_p], best_s)
            lane_index[best_p] = self._lane[best_s]
            offset[best_p] = self._cum[best_s] + np.where(
                self._flip[best_s], self._clen[best_s] - t, t
            )
            lateral[best_p] = d
            distance[best_p] = d
            snap_x[best_p] = qx
            snap_y[best_p] = qy
            if ha is not None:
                # Agreement with the lane where the score found it (a tight curve's nearest
                # segment may point elsewhere).
                k = scored_s[best_p]
                cos = hx[best_p] * self._ux[k] + hy[best_p] * self._uy[k]
                agrees[best_p] = has[best_p] & (cos >= self._cos_agree)

        self._distance_to_nearest(xa, ya, ok[lane_index[ok] < 0], distance)
        return Matches(
            lane_index=lane_index,
            offset_m=offset,
            lateral_m=lateral,
            distance_m=distance,
            heading_agrees=agrees,
            matched=lane_index >= 0,
            snap_x=snap_x,
            snap_y=snap_y,
            lane_ids=self.lane_ids,
        )

    def _distance_to_nearest(
        self, xa: FloatArray, ya: FloatArray, far: npt.NDArray[np.intp], distance: FloatArray
    ) -> None:
        """Set `distance` of the positions `far` (matched to no lane) to the nearest lane."""
        if len(far):
            idx, dist_far = self._tree.query_nearest(
                shapely.points(xa[far], ya[far]), return_distance=True, all_matches=False
            )
            distance[far[idx[0]]] = dist_far

    def match_lonlat(
        self,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        heading_deg: npt.ArrayLike | None = None,
        accuracy_m: npt.ArrayLike | None = None,
    ) -> Matches:
        """Match WGS84 positions (degrees), converted to the yard's local frame first."""
        lon_a, lat_a, _ = _inputs(lon, lat, None)
        x, y = self.yard.frame.to_local(lon_a, lat_a)
        return self.match_xy(x, y, heading_deg, accuracy_m)

    def match_one(
        self,
        x: float,
        y: float,
        heading_deg: float | None = None,
        accuracy_m: float | None = None,
    ) -> Match:
        """Match a single local position; the slow path, one call per position.

        Positions seen before (to the millimetre and tenth of a degree) are answered from
        a cache: trucks standing, or passing the same nodes, ask the same again."""
        key = (
            round(x, 3),
            round(y, 3),
            None if heading_deg is None else round(heading_deg, 1),
            accuracy_m,
        )
        hit = self._seen.get(key)
        if hit is not None:
            return hit
        match = self._match_single(x, y, heading_deg) if accuracy_m is None else None
        if match is None:
            h = None if heading_deg is None else [heading_deg]
            a = None if accuracy_m is None else [accuracy_m]
            match = self.match_xy([x], [y], h, a).row(0)
        if len(self._seen) >= SEEN_MAX:
            self._seen.clear()
        self._seen[key] = match
        return match

    def _candidates(self, x: float, y: float) -> IntArray:
        """The segments that may lie within `max_distance_m` of (x, y), ascending (a
        superset: the grid cell's, each segment listed in every cell its box, grown by
        the distance, touches)."""
        if self._grid is None:
            self._grid = self._build_grid()
        empty: IntArray = np.empty(0, dtype=np.intp)
        return self._grid.get((math.floor(x / GRID_M), math.floor(y / GRID_M)), empty)

    def _build_grid(self) -> dict[tuple[int, int], IntArray]:
        reach = self.max_distance_m + 1.0
        x0 = np.minimum(self._cx0, self._cx1) - reach
        x1 = np.maximum(self._cx0, self._cx1) + reach
        y0 = np.minimum(self._cy0, self._cy1) - reach
        y1 = np.maximum(self._cy0, self._cy1) + reach
        i0, i1 = np.floor(x0 / GRID_M).astype(np.int64), np.floor(x1 / GRID_M).astype(np.int64)
        j0, j1 = np.floor(y0 / GRID_M).astype(np.int64), np.floor(y1 / GRID_M).astype(np.int64)
        ni, nj = i1 - i0 + 1, j1 - j0 + 1
        count = ni * nj
        seg = np.repeat(np.arange(len(count), dtype=np.intp), count)
        k = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
        ci = np.repeat(i0, count) + k // np.repeat(nj, count)
        cj = np.repeat(j0, count) + k % np.repeat(nj, count)
        order = np.lexsort((seg, cj, ci))  # by cell, segments ascending within
        ci, cj, seg = ci[order], cj[order], seg[order]
        new = np.flatnonzero(np.r_[True, (ci[1:] != ci[:-1]) | (cj[1:] != cj[:-1])])
        return {
            (int(ci[a]), int(cj[a])): part
            for a, part in zip(new, np.split(seg, new[1:]), strict=True)
        }

    def _match_single(self, x: float, y: float, heading_deg: float | None) -> Match | None:
        """`match_xy` of one finite position without accuracy, the same to the bit, from
        the segment grid; None where `match_xy` must answer (no lane within reach, a
        candidate at the edge of it, a non-finite input).

        The same elementwise arithmetic as `_project` and `match_xy` on the cell's
        segments, which are in ascending order: the first lowest score (argmin) is the
        lowest segment index among the tied, as `_best_per_position` picks."""
        near = self._near(x, y, heading_deg)
        if near is None:
            return None
        s, dist, t, qx, qy, inside = near
        agrees = False
        if heading_deg is None:
            best = int(np.where(inside, dist, np.inf).argmin())
        else:
            rad = np.radians(np.asarray([heading_deg], dtype=np.float64))
            hx, hy = float(np.sin(rad)[0]), float(np.cos(rad)[0])
            half_w = float(0.5 * self._heading_weights(None, 1)[0])
            cos = hx * self._ux[s] + hy * self._uy[s]
            scored = int(np.where(inside, dist + half_w * (1.0 - cos), np.inf).argmin())
            lane = self._lane[s]
            best = int(np.where(inside & (lane == lane[scored]), dist, np.inf).argmin())
            agrees = bool(cos[scored] >= self._cos_agree)
        return self._single_row(int(s[best]), dist[best], t[best], qx[best], qy[best], agrees)

    def _near(
        self, x: float, y: float, heading_deg: float | None
    ) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, BoolArray] | None:
        """The grid's candidates for (x, y): segments, `_project`'s distances, positions
        along and closest points, and which lie within reach; None (see `_match_single`)."""
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        if heading_deg is not None and not math.isfinite(heading_deg):
            return None
        s = self._candidates(x, y)
        ux, uy, x0, y0 = self._cux[s], self._cuy[s], self._cx0[s], self._cy0[s]
        t = np.clip((x - x0) * ux + (y - y0) * uy, 0.0, self._clen[s])
        qx = x0 + t * ux
        qy = y0 + t * uy
        dist = np.hypot(x - qx, y - qy)
        if not len(s) or np.abs(dist - self.max_distance_m).min() <= EDGE_M:
            return None
        inside = dist <= self.max_distance_m
        if not inside.any():
            return None
        return s, dist, t, qx, qy, inside

    def _single_row(
        self,
        k: int,
        dist: np.float64,
        t: np.float64,
        qx: np.float64,
        qy: np.float64,
        agrees: bool,
    ) -> Match:
        """The match on segment k, `t` along it (canonical), `dist` off it at (qx, qy)."""
        along = self._clen[k] - t if self._flip[k] else t
        lane = int(self._lane[k])
        return Match(
            lane_index=lane,
            lane_id=self.lane_ids[lane],
            offset_m=float(self._cum[k] + along),
            lateral_m=float(dist),
            distance_m=float(dist),
            heading_agrees=agrees,
            matched=True,
            snap_x=float(qx),
            snap_y=float(qy),
        )

    def _heading_weights(self, acc: FloatArray | None, n: int) -> FloatArray:
        """Each position's heading weight in metres: by its accuracy, or the full weight."""
        full = np.full(n, self.heading_weight_m)
        if acc is None:
            return full
        scaled = self.heading_weight_per_accuracy * np.maximum(acc, MIN_ACCURACY_M)
        return np.where(np.isfinite(acc), np.minimum(scaled, full), full)

    def _project(
        self, px: FloatArray, py: FloatArray, s: IntArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Distance to segments `s`, position along them (canonical) and the closest points."""
        ux, uy = self._cux[s], self._cuy[s]
        x0, y0 = self._cx0[s], self._cy0[s]
        t = np.clip((px - x0) * ux + (py - y0) * uy, 0.0, self._clen[s])
        qx = x0 + t * ux
        qy = y0 + t * uy
        return np.hypot(px - qx, py - qy), t, qx, qy


def _inputs(
    x: npt.ArrayLike, y: npt.ArrayLike, heading_deg: npt.ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """Positions and headings as 1-D float arrays of one length, or a ValueError saying why."""
    xa = np.atleast_1d(np.asarray(x, dtype=np.float64))
    ya = np.atleast_1d(np.asarray(y, dtype=np.float64))
    if xa.ndim != 1 or ya.ndim != 1:
        raise ValueError(f"positions must be 1-D arrays (got shapes {xa.shape} and {ya.shape})")
    if len(xa) != len(ya):
        raise ValueError(f"x has {len(xa)} positions but y has {len(ya)}")
    if heading_deg is None:
        return xa, ya, None
    ha = np.asarray(heading_deg, dtype=np.float64)
    if ha.ndim == 0:
        ha = np.full(len(xa), float(ha))
    if ha.ndim != 1 or len(ha) != len(xa):
        raise ValueError(f"heading_deg has shape {ha.shape} but there are {len(xa)} positions")
    return xa, ya, ha


def _accuracies(accuracy_m: npt.ArrayLike | None, n: int) -> FloatArray | None:
    """Horizontal accuracies as a float array of n (NaN: unknown), or a ValueError saying why."""
    if accuracy_m is None:
        return None
    acc = np.asarray(accuracy_m, dtype=np.float64)
    if acc.ndim == 0:
        acc = np.full(n, float(acc))
    if acc.ndim != 1 or len(acc) != n:
        raise ValueError(f"accuracy_m has shape {acc.shape} but there are {n} positions")
    if np.any(acc < 0):  # NaN compares False: unknown, not wrong
        raise ValueError("accuracy_m must not be negative (NaN for unknown)")
    return acc


def _best_per_position(p: IntArray, s: IntArray, score: FloatArray) -> tuple[IntArray, IntArray]:
    """The lowest-score segment per position; ties go to the lowest segment (lane) index."""
    if np.any(p[1:] < p[:-1]):  # STRtree answers in query order; be safe if it ever does not
        order = np.argsort(p, kind="stable")
        p, s, score = p[order], s[order], score[order]
    first = np.empty(len(p), dtype=np.bool_)
    first[0] = True
    np.not_equal(p[1:], p[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    low = np.minimum.reduceat(score, starts)
    candidate = np.where(score == low[group], s, np.iinfo(np.intp).max)
    return p[starts], np.minimum.reduceat(candidate, starts)


def match_positions(
    yard: Yard,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    heading_deg: npt.ArrayLike | None = None,
    accuracy_m: npt.ArrayLike | None = None,
) -> Matches:
    """Match local positions on a yard in one call (builds a matcher; keep one to reuse it)."""
    return MapMatcher(yard).match_xy(x, y, heading_deg, accuracy_m)

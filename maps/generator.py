"""A parametric container terminal: quay and apron loop, RTG blocks, landside park, fuel, gate.

`sketch_terminal(spec)` draws it as a centre-line lane graph; `generate_terminal(spec)`
compiles that with `maps.junctions.compile_junctions` (two-way lanes beside their centre
line, stop lines, junction areas and connectors) and caches the result per spec. The layout,
in the local frame (x along the quay, y inland, metres):

- the quay from y = 0 with one area per berth; quay cranes evenly spread over the berths,
  each moved (at most half the crane spacing) so that its bays keep clear of the roads onto
  the apron; the crane stands over its service point;
- the apron loop: a one-way lane under the cranes (westbound, y = 20) and a back lane
  (eastbound, y = 64, far enough from it that the vertical roads hold a waiting truck
  between the two), joined at both ends; each crane's service point `QCxx.SP` is a
  pull-in bay on the seaward side and its queue `QCxx.Q` one upstream (east) of it, the
  two sharing a junction where there is room (else across a road onto the apron; a crane
  gets no queue only where no arrangement leaves room); two cranes' bays share no junction;
- every service point is such a **pull-in bay**: a smooth ramp (9 m along the lane) off a
  straight through lane to a lane 6 m beside it, the service point 24 m from where the bay
  leaves (a standing truck's 16 m body lies wholly in the bay, past the junction edge,
  3.5 m clear of the through lane's bodies), and a ramp back 39 m from where it left. The
  through lane beside a bay keeps 21 m between the two junctions' set-backs, so a truck
  can wait there; bays on one lane either share a junction (one's merge is the next one's
  diverge) or keep 30 m of through lane between them, and keep 31 m from road junctions,
  for the same reason;
- the yard: blocks in columns x rows parallel to the quay, two-way vertical roads between
  the columns, a one-way driving lane 4 m south of every block row (alternating east- and
  westbound; its junction with a vertical road and the block lane's are one junction, and
  rows lie at least 56 m apart, so that the road between two rows' junctions is at least
  a truck and its gap long: trucks may wait there, not only drive through) and a one-way
  block lane in each RTG span, with the transfer points `<block>.TPk` as bays under the RTG, at bay
  centres spread over the block (sharing junctions or 30 m apart, 31 m clear of the roads);
- landside, north of a two-way road: the truck park, the fuel station and the OCR gate,
  each a one-way loop (up, east along its aisles, down again) with its service points
  (`PARK.Sxx`, `FUEL.Px`, `GATE.Lx`) as drive-through bays on both sides of the aisles
  (pair after pair sharing junctions, 30 m from the aisles' ends), the loops' ends 30 m
  clear of the vertical roads.

Every service point is a bay off the through lanes, and the through network is strongly
connected, so every service point reaches every other without passing a third: the
"well-formed" condition that routing's completeness rests on. `TerminalSpec.problems()`
names the parameters that cannot be drawn so (too many cranes for the quay, too many
transfer points for a block).
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from itertools import pairwise

from shapely.geometry import LineString, Polygon, box

from maps.junctions import compile_junctions
from maps.model import (
    Area,
    AreaKind,
    Crane,
    CraneKind,
    Lane,
    LaneKind,
    Node,
    Origin,
    ServicePoint,
    ServicePointKind,
    Yard,
)
from maps.yard_cache import cached_yard

BAY_M = 6.5
"""Length of one 20-foot bay slot with its gap."""
ROW_M = 2.9
"""Width of one container row with its gap."""
TRUCK_LANE_M = 5.0
"""The truck lane inside an RTG span."""
CORRIDOR_M = 18.0
"""Between two block rows: the one-way driving lane and its margins."""
MIN_ROW_PITCH_M = 56.0
"""Block rows keep at least this pitch (narrow blocks get a wider corridor): the vertical
road between one row's junction and the next holds both set-backs and a waiting truck."""
ROAD_M = 24.0
"""A two-way vertical road between block columns."""
DRIVE_TO_BLOCK_M = 4.0
"""A driving lane runs this far south of the block row it serves (and CORRIDOR_M minus this
north of the row before): its junction with a vertical road and the block lane's are one,
and the road keeps room between that one and the next."""
Y_UNDER_CRANE = 20.0
Y_BACK_LANE = 64.0
Y_QUAY_EDGE = 74.0
YARD_Y0 = 104.0
LANDSIDE_GAP_M = 30.0
BAY_OFFSET_M = 6.0
"""A pull-in bay's lane lies this far beside its through lane (bodies 3.5 m apart)."""
BAY_RAMP_M = 9.0
"""Each ramp of a bay, along its through lane (a smooth S-curve)."""
BAY_STOP_M = 24.0
"""From where a bay leaves its through lane to its service point: a standing truck's body
lies wholly in the bay, clear of the junction where the bay leaves."""
BAY_LEN_M = 39.0
"""From where a bay leaves its through lane to where it rejoins it (six 20-foot bays): the
through lane beside it keeps a footprint and a gap (21 m) between the two junctions' set-backs."""
BAY_GAP_M = 30.0
"""Bays on one lane either share a junction (one's merge is the next one's diverge) or keep
this much through lane between them: again room for a waiting truck between the set-backs."""
RAMP_POINTS = 6
JUNCTION_CLEAR_M = 31.0
"""A bay keeps this far from a road junction on its through lane (room for a waiting truck)."""
CORNER_CLEAR_M = 26.0
Q_REACH_M = 110.0
"""A quay crane's queue bay lies upstream of its service bay, at most this much further on."""
LAND_FIRST_M = 30.0
LAND_GAP_M = 30.0
LOOP_FIRST_M = 30.0
"""A landside loop's first aisle lies this far north of the landside road."""
LOOP_END_M = 30.0
"""An aisle's first bays leave it this far from the loop's west lane (and its last ones
rejoin it as far from its east lane): room for a waiting truck at either end."""
AISLE_PITCH_M = 24.0
PARK_PAIRS_PER_AISLE = 4


@dataclass(frozen=True, slots=True)
class TerminalSpec:
    """The parameters of a generated terminal; the same parameters give the same yard."""

    id: str = "generated"
    version: str = "1"
    origin_lon: float = 106.931
    origin_lat: float = 20.838
    quay_length_m: float = 750.0
    berths: int = 2
    quay_cranes: int = 6
    block_columns: int = 2
    block_rows: int = 10
    bays: int = 40
    rows: int = 6
    tiers: int = 5
    rtgs: int = 24
    transfer_points_per_block: int = 4
    gate_lanes: int = 4
    fuel_pumps: int = 2
    parking_spots: int = 32
    main_speed_kmh: float = 25.0
    slow_speed_kmh: float = 10.0

    def problems(self) -> list[str]:
        """Every parameter that makes no terminal, each naming the parameter."""
        out: list[str] = []
        positive = (
            "berths",
            "quay_cranes",
            "block_columns",
            "block_rows",
            "bays",
            "rows",
            "tiers",
            "transfer_points_per_block",
            "gate_lanes",
            "fuel_pumps",
        )
        for name in positive:
            if getattr(self, name) < 1:
                out.append(f"{name} must be at least 1 (got {getattr(self, name)})")
        for name in ("rtgs", "parking_spots"):
            if getattr(self, name) < 0:
                out.append(f"{name} must not be negative (got {getattr(self, name)})")
        for name in ("quay_length_m", "main_speed_kmh", "slow_speed_kmh"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                out.append(f"{name} must be a positive number (got {value})")
        if not out:
            out += self._layout_problems()
        if not (-180 <= self.origin_lon <= 180 and -80 <= self.origin_lat <= 84):
            out.append(f"origin {self.origin_lon}, {self.origin_lat} is outside lon/lat range")
        return out

    def _layout_problems(self) -> list[str]:
        """What cannot be drawn safely with these (individually valid) parameters."""
        out: list[str] = []
        if self.block_rows > 26 * 27:
            out.append(f"block_rows {self.block_rows} exceeds {26 * 27}")
            return out
        if self.quay_cranes < self.berths:
            out.append(f"quay_cranes ({self.quay_cranes}) fewer than berths ({self.berths})")
            return out
        spacing = self.quay_length_m / self.quay_cranes
        f = _frame(self)
        if _apron_bays(self, tuple(f.xv)) is None:
            out.append(
                f"quay_length_m {self.quay_length_m} leaves {spacing:.1f} m per quay crane; "
                f"no room for every crane's {BAY_LEN_M:.0f} m bay within {spacing / 2:.0f} m "
                f"of its place and {JUNCTION_CLEAR_M:.0f} m clear of the roads onto the apron"
            )
        if not _tp_fits(self, f.xv):
            tp_spacing = self.bays * BAY_M / self.transfer_points_per_block
            fit = max(
                (
                    n
                    for n in range(self.transfer_points_per_block)
                    if _tp_fits(replace(self, transfer_points_per_block=n), f.xv)
                ),
                default=0,
            )
            out.append(
                f"transfer_points_per_block {self.transfer_points_per_block} leaves "
                f"{tp_spacing:.1f} m each in a {self.bays}-bay block; at most {fit} fit "
                f"(each bay takes {BAY_LEN_M:.0f} m, and {JUNCTION_CLEAR_M:.0f} m from each road)"
            )
        return out

    @classmethod
    def field_names(cls) -> list[str]:
        """The parameter names, in declaration order."""
        return [f.name for f in fields(cls)]


def row_label(r: int) -> str:
    """Block row letters: A..Z, then AA, AB, ..."""
    letters = string.ascii_uppercase
    return letters[r] if r < 26 else letters[r // 26 - 1] + letters[r % 26]


class _Builder:
    """Collects features; nodes at the same point (to the millimetre) are one node."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._by_point: dict[tuple[int, int], str] = {}
        self.lanes: list[Lane] = []
        self.service_points: list[ServicePoint] = []

    def node(self, x: float, y: float) -> str:
        key = (round(x * 1000), round(y * 1000))
        if key not in self._by_point:
            node_id = f"n{len(self.nodes) + 1:04d}"
            self.nodes[node_id] = Node(node_id, round(x, 3), round(y, 3))
            self._by_point[key] = node_id
        return self._by_point[key]

    def lane(
        self,
        lane_id: str,
        a: str,
        b: str,
        kind: LaneKind,
        speed_mps: float,
        conflict_group: str | None = None,
        via: list[tuple[float, float]] | None = None,
    ) -> None:
        """A lane from node a to node b, straight or through the points `via`."""
        na, nb = self.nodes[a], self.nodes[b]
        pts = [(na.x, na.y), *((round(x, 3), round(y, 3)) for x, y in via or []), (nb.x, nb.y)]
        geometry = LineString(pts)
        self.lanes.append(
            Lane(
                lane_id,
                a,
                b,
                geometry,
                round(geometry.length, 3),
                speed_mps,
                kind,
                conflict_group,
            )
        )

    def road(
        self,
        name: str,
        points: list[tuple[float, float]],
        kind: LaneKind,
        speed_mps: float,
        reverse_name: str | None = None,
    ) -> None:
        """Lanes between consecutive stations; with `reverse_name`, the other direction too."""
        ids = list(dict.fromkeys(self.node(x, y) for x, y in points))
        for i, (a, b) in enumerate(pairwise(ids), 1):
            self.lane(f"{name}-{i:02d}", a, b, kind, speed_mps)
        if reverse_name:
            for i, (a, b) in enumerate(pairwise(reversed(ids)), 1):
                self.lane(f"{reverse_name}-{i:02d}", a, b, kind, speed_mps)

    def bay(
        self,
        sp: ServicePoint,
        p0: tuple[float, float],
        u: tuple[float, float],
        side: tuple[float, float],
        kind: LaneKind,
        speed_mps: float,
    ) -> tuple[float, float]:
        """A pull-in bay beside a straight through lane: from the lane at `p0` (heading `u`)
        a smooth ramp to a lane BAY_OFFSET_M to the `side`, the service point BAY_STOP_M on,
        and a ramp back onto the lane BAY_LEN_M from `p0`. Returns where it rejoins."""

        def at(s: float, lat: float) -> tuple[float, float]:
            return (p0[0] + s * u[0] + lat * side[0], p0[1] + s * u[1] + lat * side[1])

        w, r = BAY_OFFSET_M, BAY_RAMP_M
        steps = [k / RAMP_POINTS for k in range(1, RAMP_POINTS)]
        up = [at(t * r, w * (1 - math.cos(math.pi * t)) / 2) for t in steps] + [at(r, w)]
        down = [at(BAY_LEN_M - r, w)] + [
            at(BAY_LEN_M - r + t * r, w * (1 + math.cos(math.pi * t)) / 2) for t in steps
        ]
        a, s, b = self.node(*p0), self.node(*at(BAY_STOP_M, w)), self.node(*at(BAY_LEN_M, 0.0))
        self.lane(f"{sp.id}-in", a, s, kind, speed_mps, via=up)
        self.lane(f"{sp.id}-out", s, b, kind, speed_mps, via=down)
        self.service_points.append(ServicePoint(sp.id, sp.kind, s, sp.area, sp.crane, sp.bay))
        return at(BAY_LEN_M, 0.0)


def _spread(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _free(lo: float, hi: float, taken: list[tuple[float, float]]) -> bool:
    return all(hi <= a or lo >= b for a, b in taken)


def _grid_ceil(v: float, origin: float, step: float) -> float:
    return origin + math.ceil((v - origin) / step - 1e-6) * step


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where one bay may start along a line (its start `s`, the bay [s, s + BAY_LEN_M]): in
    [lo, hi] (offsets from the end of the bay before when `after`), on the grid origin + k *
    step, as near `want` as may be (None: as early as may be)."""

    lo: float
    hi: float
    want: float | None = None
    after: bool = False
    origin: float = 0.0
    step: float = 0.5
    chain: bool = True
    """Whether it may share a junction with the bay before."""


def _pack(slots: list[_Slot], blocked: list[tuple[float, float]]) -> list[float] | None:
    """Starts for bays along a line, in order: every bay clear of the blocked intervals, and
    each either sharing a junction with the one before (it starts where that one ends) or
    BAY_GAP_M on; each as near its `want` as leaves room for the rest. None: no room."""
    return _Packer(slots, blocked).pack()


class _Packer:
    """The search behind `_pack`: bay after bay, the option nearest its `want` that leaves
    room for the rest (each placed as early as may be)."""

    def __init__(self, slots: list[_Slot], blocked: list[tuple[float, float]]) -> None:
        self.slots = slots
        self.blocked = blocked

    def free(self, s: float) -> bool:
        return all(s + BAY_LEN_M <= a + 1e-6 or s >= b - 1e-6 for a, b in self.blocked)

    @staticmethod
    def bounds(slot: _Slot, prev: float | None) -> tuple[float, float]:
        base = prev + BAY_LEN_M if slot.after and prev is not None else 0.0
        return base + slot.lo, base + slot.hi

    @staticmethod
    def on_grid(v: float, slot: _Slot) -> bool:
        k = (v - slot.origin) / slot.step
        return abs(k - round(k)) < 1e-6

    def fits(self, s: float, slot: _Slot, prev: float | None) -> bool:
        lo, hi = self.bounds(slot, prev)
        if not (lo - 1e-6 <= s <= hi + 1e-6 and self.free(s)):
            return False
        if prev is None:
            return True
        end = prev + BAY_LEN_M
        return (slot.chain and abs(s - end) < 1e-6) or s >= end + BAY_GAP_M - 1e-6

    def first_fit(self, slot: _Slot, prev: float | None) -> float | None:
        lo, hi = self.bounds(slot, prev)
        if prev is not None:
            end = prev + BAY_LEN_M
            if slot.chain and self.on_grid(end, slot) and self.fits(end, slot, prev):
                return end
            lo = max(lo, end + BAY_GAP_M)
        s = _grid_ceil(lo, slot.origin, slot.step)
        while s <= hi + 1e-6:
            hit = [b for a, b in self.blocked if s + BAY_LEN_M > a + 1e-6 and s < b - 1e-6]
            if not hit:
                return s
            s = _grid_ceil(max(hit), slot.origin, slot.step)
        return None

    def rest_fits(self, k: int, prev: float) -> bool:
        for slot in self.slots[k:]:
            nxt = self.first_fit(slot, prev)
            if nxt is None:
                return False
            prev = nxt
        return True

    def options(self, slot: _Slot, prev: float | None) -> list[float]:
        """Where a bay may start, best first."""
        lo, hi = self.bounds(slot, prev)
        first = _grid_ceil(lo, slot.origin, slot.step)
        count = int((hi - first) / slot.step + 1e-6) + 1
        options = [first + i * slot.step for i in range(max(count, 0))]
        if slot.chain and prev is not None and self.on_grid(prev + BAY_LEN_M, slot):
            options.append(prev + BAY_LEN_M)
        if slot.want is not None:
            want = slot.want
            options.sort(key=lambda v: (abs(v - want), v))
        else:
            options.sort()
        return options

    def pack(self) -> list[float] | None:
        out: list[float] = []
        prev: float | None = None
        for k, slot in enumerate(self.slots):
            hit = next(
                (
                    v
                    for v in self.options(slot, prev)
                    if self.fits(v, slot, prev) and self.rest_fits(k + 1, v)
                ),
                None,
            )
            if hit is None:
                return None
            out.append(hit)
            prev = hit
        return out


SP_WEST_M = BAY_LEN_M - BAY_STOP_M
"""A crane's service bay starts (rejoins its westbound lane) this far west of the crane."""


@lru_cache(maxsize=64)
def _apron_bays(
    spec: TerminalSpec, xv: tuple[float, ...]
) -> list[tuple[float, float | None]] | None:
    """For each quay crane (west to east): where its service bay starts (its west end, where it
    rejoins the westbound apron lane) and where its queue bay does (upstream, east of it; None
    when there is no room for one); None when a crane finds no room within half the crane
    spacing of where it should be. Every bay keeps JUNCTION_CLEAR_M from the roads onto the
    apron, and bays share a junction or keep BAY_GAP_M between them."""
    wanted = [x for *_, x in _quay_cranes(spec)]
    reach = spec.quay_length_m / spec.quay_cranes / 2
    blocked = [(x - JUNCTION_CLEAR_M, x + JUNCTION_CLEAR_M) for x in xv]
    every = set(range(len(wanted)))
    full = _apron_bays_with(wanted, reach, blocked, every)
    if full is not None:
        return full
    queued: set[int] = set()
    best = _apron_bays_with(wanted, reach, blocked, queued)
    if best is None:
        return None
    for k in range(len(wanted)):
        got = _apron_bays_with(wanted, reach, blocked, queued | {k})
        if got is not None:
            queued.add(k)
            best = got
    return best


def _apron_bays_with(
    wanted: list[float], reach: float, blocked: list[tuple[float, float]], queued: set[int]
) -> list[tuple[float, float | None]] | None:
    """`_apron_bays` with a queue bay for the cranes in `queued` (by index), or None."""
    slots: list[_Slot] = []
    for k, x in enumerate(wanted):
        # A crane's bays share no junction with the next crane's.
        slots.append(
            _Slot(x - reach - SP_WEST_M, x + reach - SP_WEST_M, x - SP_WEST_M, chain=False)
        )
        if k in queued:
            slots.append(_Slot(0.0, Q_REACH_M, None, after=True))
    got = _pack(slots, blocked)
    if got is None:
        return None
    out: list[tuple[float, float | None]] = []
    it = iter(got)
    for k in range(len(wanted)):
        sp = next(it)
        out.append((sp, next(it) if k in queued else None))
    return out


def _quay_cranes(spec: TerminalSpec) -> list[tuple[str, str, float]]:
    """(crane id, berth id, where it should stand) evenly over the berths."""
    berth_len = spec.quay_length_m / spec.berths
    out: list[tuple[str, str, float]] = []
    for berth, count in enumerate(_spread(spec.quay_cranes, spec.berths)):
        for i in range(count):
            x = berth * berth_len + (i + 0.5) * berth_len / count
            out.append((f"QC{len(out) + 1:02d}", f"BERTH{berth + 1}", x))
    return out


@dataclass(frozen=True, slots=True)
class _Frame:
    """The main coordinates of a terminal, from its spec."""

    xv: list[float]
    yd: list[float]
    yb: list[float]
    y_land: float
    x_min: float
    x_max: float
    block_len: float
    block_w: float


def _frame(spec: TerminalSpec) -> _Frame:
    block_len = spec.bays * BAY_M
    block_w = spec.rows * ROW_M + TRUCK_LANE_M
    columns = spec.block_columns
    yard_w = columns * block_len + (columns + 1) * ROAD_M
    x0 = (spec.quay_length_m - yard_w) / 2
    xv = [x0 + ROAD_M / 2 + k * (block_len + ROAD_M) for k in range(columns + 1)]
    pitch = max(CORRIDOR_M + block_w, MIN_ROW_PITCH_M)
    yd = [YARD_Y0 + r * pitch for r in range(spec.block_rows + 1)]
    yb = [yd[r] + DRIVE_TO_BLOCK_M + TRUCK_LANE_M / 2 for r in range(spec.block_rows)]
    # The apron loop reaches past the first crane's service bay and the last crane's bays.
    bays = _apron_bays(spec, tuple(xv)) if spec.quay_cranes >= 1 else None
    ends = [e for sp, q in bays or [] for e in (sp, sp + BAY_LEN_M, q if q is not None else sp)]
    ends += [q + BAY_LEN_M for _, q in bays or [] if q is not None]
    x_min = min(0.0, xv[0] - ROAD_M, *(e - CORNER_CLEAR_M for e in ends))
    x_max = max(spec.quay_length_m, xv[-1] + ROAD_M, *(e + CORNER_CLEAR_M for e in ends))
    y_land = yd[-1] + LANDSIDE_GAP_M
    return _Frame(xv, yd, yb, y_land, x_min, x_max, block_len, block_w)


def _tp_stops(spec: TerminalSpec, x_in: float, x_out: float) -> list[float] | None:
    """Stops of the transfer-point bays on a block lane from x_in to x_out (either way), in
    driving order: at bay centres, spread over the block, JUNCTION_CLEAR_M clear of the roads
    at both ends, sharing a junction or BAY_GAP_M apart; None when they do not fit."""
    sign = 1.0 if x_out > x_in else -1.0
    length = abs(x_out - x_in)
    n = spec.transfer_points_per_block
    # Along the lane from x_in: a bay leaving at t stops at t + BAY_STOP_M; bay centres lie
    # ROAD_M / 2 + (k + 0.5) * BAY_M from either end.
    origin = ROAD_M / 2 + BAY_M / 2 - BAY_STOP_M
    lo, hi = JUNCTION_CLEAR_M, length - JUNCTION_CLEAR_M - BAY_LEN_M
    slots = [
        _Slot(
            lo,
            hi,
            ROAD_M / 2 + (k + 0.5) * spec.bays * BAY_M / n - BAY_STOP_M,
            origin=origin,
            step=BAY_M,
        )
        for k in range(n)
    ]
    starts = _pack(slots, [])
    if starts is None:
        return None
    return [x_in + sign * (t + BAY_STOP_M) for t in starts]


def _tp_fits(spec: TerminalSpec, xv: list[float]) -> bool:
    if spec.transfer_points_per_block < 1:
        return False
    return _tp_stops(spec, xv[0], xv[1]) is not None and _tp_stops(spec, xv[1], xv[0]) is not None


def _loop_width(pairs: int) -> float:
    return 2 * LOOP_END_M + pairs * BAY_LEN_M


def sketch_terminal(spec: TerminalSpec) -> Yard:
    """The terminal `spec` describes as a centre-line lane graph (two-way roads as two lanes
    on one line, junctions as points); `generate_terminal` compiles it into lanes in metres.
    Raises ValueError naming bad parameters."""
    problems = spec.problems()
    if problems:
        raise ValueError("cannot generate terminal: " + "; ".join(problems))
    sk = _Sketch(spec)
    sk.quay()
    sk.roads()
    sk.blocks()
    sk.landside()
    return Yard.build(
        id=spec.id,
        version=spec.version,
        origin=Origin(spec.origin_lon, spec.origin_lat),
        nodes=sk.b.nodes.values(),
        lanes=sk.b.lanes,
        areas=sk.areas,
        service_points=sk.b.service_points,
        cranes=sk.cranes,
    )


class _Sketch:
    """A terminal being drawn as a centre-line lane graph, part after part: the quay and the
    apron loop, the roads, the blocks, the landside."""

    def __init__(self, spec: TerminalSpec) -> None:
        self.spec = spec
        self.b = _Builder()
        self.fast, self.slow = spec.main_speed_kmh / 3.6, spec.slow_speed_kmh / 3.6
        self.f = _frame(spec)
        self.areas: list[Area] = []
        self.cranes: list[Crane] = []

    def quay(self) -> None:
        """Quay, berths and quay cranes, each over its bay beside the apron lane; the apron
        loop."""
        spec, f = self.spec, self.f
        berth_len = spec.quay_length_m / spec.berths
        for berth in range(spec.berths):
            bx0 = berth * berth_len
            self.areas.append(
                Area(
                    f"BERTH{berth + 1}",
                    AreaKind.QUAY,
                    box(bx0, 0, bx0 + berth_len, Y_QUAY_EDGE),
                    f"Berth {berth + 1}",
                )
            )
        qcs = _quay_cranes(spec)
        placed = _apron_bays(spec, tuple(f.xv))
        if placed is None:  # spec.problems() has ruled this out
            raise ValueError("cannot generate terminal: no room for the quay cranes' bays")
        under = [f.x_max, f.x_min, *f.xv]
        for (qc_id, berth_id, _), (sp_start, q_start) in zip(qcs, placed, strict=True):
            x = sp_start + SP_WEST_M
            self.cranes.append(Crane(qc_id, CraneKind.QC, round(x, 3), 15.0, berth_id))
            under += self.crane_bays(qc_id, berth_id, sp_start, q_start)
        self.apron(under)

    def crane_bays(
        self, qc_id: str, berth_id: str, sp_start: float, q_start: float | None
    ) -> list[float]:
        """A quay crane's service bay and its queue's (if it has one) off the westbound apron
        lane; returns where they leave and rejoin it."""
        bays = [(f"{qc_id}.SP", ServicePointKind.QUAY_CRANE, sp_start)]
        if q_start is not None:
            # The next truck waits upstream (the apron lane runs west), off the through lane.
            bays.append((f"{qc_id}.Q", ServicePointKind.QUEUE, q_start))
        west = (-1.0, 0.0)
        seaward = (0.0, -1.0)
        stations: list[float] = []
        for sp_id, kind, start in bays:
            end = self.b.bay(
                ServicePoint(sp_id, kind, "", berth_id, qc_id),
                (start + BAY_LEN_M, Y_UNDER_CRANE),
                west,
                seaward,
                LaneKind.SERVICE,
                self.slow,
            )
            stations += [start + BAY_LEN_M, end[0]]
        return stations

    def apron(self, under: list[float]) -> None:
        """The apron loop: westbound under the cranes through `under`, the back lane east."""
        b, f, fast = self.b, self.f, self.fast
        b.road(
            "apron-u",
            [(x, Y_UNDER_CRANE) for x in sorted(set(under), reverse=True)],
            LaneKind.APRON,
            self.slow,
        )
        b.road(
            "apron-b",
            [(x, Y_BACK_LANE) for x in sorted({f.x_min, f.x_max, *f.xv})],
            LaneKind.APRON,
            fast,
        )
        b.road("apron-w", [(f.x_min, Y_UNDER_CRANE), (f.x_min, Y_BACK_LANE)], LaneKind.APRON, fast)
        b.road("apron-e", [(f.x_max, Y_BACK_LANE), (f.x_max, Y_UNDER_CRANE)], LaneKind.APRON, fast)

    def roads(self) -> None:
        """Vertical two-way roads from the apron to the landside road; driving lanes between
        block rows, alternating east- and westbound."""
        b, f = self.b, self.f
        y_stations = [Y_UNDER_CRANE, Y_BACK_LANE, *f.yd, *f.yb, f.y_land]
        for k, x in enumerate(f.xv):
            b.road(
                f"v{k + 1}n",
                [(x, y) for y in sorted(y_stations)],
                LaneKind.MAIN,
                self.fast,
                reverse_name=f"v{k + 1}s",
            )
        for r, y in enumerate(f.yd):
            xs = sorted(f.xv, reverse=r % 2 == 1)
            b.road(f"drive{r + 1:02d}", [(x, y) for x in xs], LaneKind.MAIN, self.fast)

    def blocks(self) -> None:
        """Blocks: block lane inside the RTG span, transfer points as bays beside it under the
        RTG; RTGs numbered block after block."""
        spec = self.spec
        columns = spec.block_columns
        rtg_counts = _spread(spec.rtgs, columns * spec.block_rows)
        n_rtg_done = 0
        for r in range(spec.block_rows):
            for c in range(columns):
                n_rtg = rtg_counts[r * columns + c]
                self.block(r, c, n_rtg, n_rtg_done)
                n_rtg_done += n_rtg

    def block(self, r: int, c: int, n_rtg: int, rtgs_before: int) -> None:
        """The block in row r, column c: its area, its `n_rtg` RTGs (numbered after
        `rtgs_before`), its block lane and transfer-point bays."""
        spec, f = self.spec, self.f
        xv = f.xv
        block_id = f"{row_label(r)}{c + 1}"
        bx0, bx1 = xv[c] + ROAD_M / 2, xv[c + 1] - ROAD_M / 2
        by0 = f.yd[r] + DRIVE_TO_BLOCK_M
        self.areas.append(
            Area(
                block_id,
                AreaKind.BLOCK,
                box(bx0, by0, bx1, by0 + f.block_w),
                f"Block {block_id}",
                spec.bays,
                spec.rows,
                spec.tiers,
            )
        )
        for j in range(n_rtg):
            rtg_x = bx0 + (j + 0.5) * f.block_len / n_rtg
            rtg_id = f"RTG{rtgs_before + j + 1:02d}"
            self.cranes.append(Crane(rtg_id, CraneKind.RTG, rtg_x, by0 + f.block_w / 2, block_id))
        eastbound = r % 2 == 0
        x_in, x_out = (xv[c], xv[c + 1]) if eastbound else (xv[c + 1], xv[c])
        stops = _tp_stops(spec, x_in, x_out)
        if stops is None:  # spec.problems() has ruled this out
            raise ValueError(f"cannot generate terminal: no room for {block_id}'s TPs")
        sign = 1.0 if eastbound else -1.0
        stations = [xv[c], xv[c + 1]]
        for k, x in enumerate(stops, 1):
            bay = round((x - bx0) / BAY_M + 0.5)
            end = self.b.bay(
                ServicePoint(
                    f"{block_id}.TP{k}",
                    ServicePointKind.TRANSFER_POINT,
                    "",
                    block_id,
                    None,
                    bay,
                ),
                (x - sign * BAY_STOP_M, f.yb[r]),
                (sign, 0.0),
                (0.0, 1.0),
                LaneKind.SERVICE,
                self.slow,
            )
            stations += [x - sign * BAY_STOP_M, end[0]]
        self.b.road(
            f"block-{block_id}",
            [(x, f.yb[r]) for x in sorted(stations, reverse=not eastbound)],
            LaneKind.BLOCK,
            self.slow,
        )

    def landside(self) -> None:
        """Landside, north of a two-way road: the truck park, the fuel station and the gate,
        each a one-way loop (up, east along its aisles with bays on both sides, down again)."""
        spec, b, slow = self.spec, self.b, self.slow
        xv, y_land = self.f.xv, self.f.y_land
        land = [*xv]
        x_next = xv[0] + LAND_FIRST_M
        per_aisle = max(1, min(PARK_PAIRS_PER_AISLE, math.ceil(spec.parking_spots / 2)))
        if spec.parking_spots:
            n_aisles = math.ceil(spec.parking_spots / (2 * per_aisle))
            spots = [
                (f"PARK.S{i + 1:02d}", ServicePointKind.PARKING) for i in range(spec.parking_spots)
            ]
            x_next = _loop(
                b, "park", "PARK", x_next, y_land, n_aisles, per_aisle, spots, slow, land, xv
            )
            self.areas.append(
                _loop_area("PARK", AreaKind.PARK, "Truck park", land[-2:], y_land, n_aisles)
            )
            x_next += LAND_GAP_M
        pumps = [(f"FUEL.P{i + 1}", ServicePointKind.FUEL_PUMP) for i in range(spec.fuel_pumps)]
        pairs = math.ceil(spec.fuel_pumps / 2)
        x_next = _loop(b, "fuel", "FUEL", x_next, y_land, 1, pairs, pumps, slow, land, xv)
        self.areas.append(
            _loop_area("FUEL", AreaKind.FUEL_STATION, "Fuel station", land[-2:], y_land, 1)
        )
        x_next += LAND_GAP_M
        gates = [(f"GATE.L{i + 1}", ServicePointKind.GATE_LANE) for i in range(spec.gate_lanes)]
        pairs = math.ceil(spec.gate_lanes / 2)
        x_next = _loop(
            b, "gate", "GATE", x_next, y_land, 1, pairs, gates, slow, land, xv, LaneKind.GATE
        )
        self.areas.append(_loop_area("GATE", AreaKind.GATE, "OCR gate", land[-2:], y_land, 1))
        x_end = x_next + LAND_FIRST_M  # the landside road's east end: at a road, or clear of it
        land.append(xv[-1] if x_end <= xv[-1] else max(x_end, xv[-1] + LAND_FIRST_M))
        b.road(
            "land-e",
            [(x, y_land) for x in sorted(set(land))],
            LaneKind.MAIN,
            self.fast,
            reverse_name="land-w",
        )


def _loop(
    b: _Builder,
    name: str,
    area: str,
    x0: float,
    y_land: float,
    aisles: int,
    pairs: int,
    points: list[tuple[str, ServicePointKind]],
    speed_mps: float,
    land: list[float],
    roads: list[float],
    kind: LaneKind = LaneKind.SERVICE,
) -> float:
    """A one-way loop off the landside road at x0: `<name>-w` up, aisles `<name>-a<j>` east
    with `pairs` pairs of bays each (one each side), `<name>-e` down; returns its east end."""
    # Its two ends keep clear of the vertical roads' junctions with the landside road.
    while any(abs(x - v) < LAND_FIRST_M for x in (x0, x0 + _loop_width(pairs)) for v in roads):
        x0 += 1.0
    x1 = x0 + _loop_width(pairs)
    ys = [y_land + LOOP_FIRST_M + j * AISLE_PITCH_M for j in range(aisles)]
    b.road(f"{name}-w", [(x0, y) for y in [y_land, *ys]], LaneKind.MAIN, speed_mps)
    b.road(f"{name}-e", [(x1, y) for y in [*reversed(ys), y_land]], LaneKind.MAIN, speed_mps)
    todo = list(points)
    for j, y in enumerate(ys):
        stations = [x0, x1]
        for k in range(pairs):
            xd = x0 + LOOP_END_M + k * BAY_LEN_M  # pairs share their junctions
            for side in (1.0, -1.0):
                if not todo:
                    break
                sp_id, sp_kind = todo.pop(0)
                b.bay(
                    ServicePoint(sp_id, sp_kind, "", area),
                    (xd, y),
                    (1.0, 0.0),
                    (0.0, side),
                    kind,
                    speed_mps,
                )
                stations += [xd, xd + BAY_LEN_M]
        aisle = [(x, y) for x in sorted(set(stations))]
        b.road(f"{name}-a{j + 1}", aisle, LaneKind.MAIN, speed_mps)
    land += [x0, x1]
    return x1


def _loop_area(
    area: str, kind: AreaKind, title: str, xs: list[float], y_land: float, aisles: int
) -> Area:
    y0 = y_land + LOOP_FIRST_M - AISLE_PITCH_M / 2
    y1 = y_land + LOOP_FIRST_M + (aisles - 1) * AISLE_PITCH_M + AISLE_PITCH_M / 2
    return Area(area, kind, box(xs[0] - 5, y0, xs[1] + 5, y1), title)


def generate_terminal(spec: TerminalSpec) -> Yard:
    """The terminal `spec` describes, compiled: lanes beside their centre lines, stop lines
    and junction areas (`maps.junctions`). Cached per spec. Raises ValueError naming bad
    parameters, or what no set-back makes safe (which the layout should never leave)."""
    return _generate(spec)


@lru_cache(maxsize=32)
def _generate(spec: TerminalSpec) -> Yard:
    problems = spec.problems()
    if problems:
        raise ValueError("cannot generate terminal: " + "; ".join(problems))
    return cached_yard(repr(spec), lambda: _compile(spec))


def _compile(spec: TerminalSpec) -> Yard:
    yard, problems = compile_junctions(sketch_terminal(spec))
    if problems:
        raise ValueError(
            f"cannot generate terminal {spec.id!r}: {len(problems)} junction problem(s): "
            + "; ".join(problems[:5])
        )
    return yard


def polygon_of(yard: Yard) -> Polygon:
    """The yard's bounding box in local metres, with a 20 m margin."""
    xs = [n.x for n in yard.nodes.values()]
    ys = [n.y for n in yard.nodes.values()]
    return box(min(xs) - 20, min(ys) - 20, max(xs) + 20, max(ys) + 20)

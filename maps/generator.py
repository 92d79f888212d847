"""A parametric container terminal: quay and apron loop, RTG blocks, landside gate, fuel, park.

The layout, in the local frame (x along the quay, y inland, metres):

- the quay from y = 0 with one area per berth; quay cranes evenly spread over the berths;
- the apron loop: a one-way lane under the cranes (westbound, y = 20) and a back lane
  (eastbound, y = 50), joined at both ends; each crane's service point is a siding on
  the seaward side of the lane under it;
- the yard: blocks in columns × rows parallel to the quay, two-way vertical roads
  between the columns, a one-way driving lane south of every block row (alternating
  east- and westbound) and a one-way block lane inside each RTG span, with the
  block's transfer points as sidings under the RTG;
- landside: a two-way road with the truck park (one-way aisles with spots on both
  sides), the fuel station (a single-track access road, so a conflict group, and
  dead-end pump bays) and the OCR gate lanes.

Every service point is a siding off the through lanes, and the through network is
strongly connected, so every service point reaches every other without passing a
third: the "well-formed" condition that routing's completeness rests on.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, fields
from itertools import pairwise

from shapely.geometry import LineString, Polygon, box

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

BAY_M = 6.5
"""Length of one 20-foot bay slot with its gap."""
ROW_M = 2.9
"""Width of one container row with its gap."""
TRUCK_LANE_M = 5.0
"""The truck lane inside an RTG span."""
CORRIDOR_M = 18.0
"""Between two block rows: the one-way driving lane and its margins."""
ROAD_M = 24.0
"""A two-way vertical road between block columns."""
Y_QC_STOP = 8.0
Y_UNDER_CRANE = 20.0
Y_BACK_LANE = 50.0
Y_QUAY_EDGE = 60.0
YARD_Y0 = 90.0
LANDSIDE_GAP_M = 30.0
QC_SIDING_HALF_M = 18.0
QC_QUEUE_FROM_M = 24.0
"""The queue siding under each quay crane leaves the apron lane this far upstream of it."""
QC_QUEUE_LEN_M = 36.0
TP_SIDING_OFFSET_M = 12.0
TP_SIDING_HALF_M = 18.0
SIDING_MIN_M = 21.0
"""Every siding's entry lane holds a tractor with a 40-foot chassis (16 m) plus its 4 m gap,
so a truck parked at a service point leaves the junction behind it clear."""
SPOT_PITCH_M = 24.0
SPOT_OFFSET_M = 18.0
AISLE_PITCH_M = 50.0
PUMP_PITCH_M = 12.0
GATE_PITCH_M = 26.0


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
            spacing = self.quay_length_m / self.quay_cranes
            if spacing < 2 * QC_SIDING_HALF_M + 10:
                out.append(
                    f"quay_length_m {self.quay_length_m} leaves {spacing:.1f} m per quay "
                    f"crane; at least {2 * QC_SIDING_HALF_M + 10:.0f} m are needed"
                )
            if self.quay_cranes < self.berths:
                out.append(f"quay_cranes ({self.quay_cranes}) fewer than berths ({self.berths})")
            tp_spacing = self.bays * BAY_M / self.transfer_points_per_block
            if tp_spacing < 2 * TP_SIDING_HALF_M + 4:
                out.append(
                    f"transfer_points_per_block {self.transfer_points_per_block} leaves "
                    f"{tp_spacing:.1f} m each in a {self.bays}-bay block; at least "
                    f"{2 * TP_SIDING_HALF_M + 4:.0f} m needed"
                )
            if self.block_rows > 26 * 27:
                out.append(f"block_rows {self.block_rows} exceeds {26 * 27}")
        if not (-180 <= self.origin_lon <= 180 and -80 <= self.origin_lat <= 84):
            out.append(f"origin {self.origin_lon}, {self.origin_lat} is outside lon/lat range")
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
    ) -> None:
        na, nb = self.nodes[a], self.nodes[b]
        geometry = LineString([(na.x, na.y), (nb.x, nb.y)])
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

    def siding(
        self,
        sp: ServicePoint,
        entry: tuple[float, float],
        stop: tuple[float, float],
        exit_: tuple[float, float],
        kind: LaneKind,
        speed_mps: float,
    ) -> None:
        """A service point off the through lanes: entry → stop → exit (a dead end if equal)."""
        a, s, b = self.node(*entry), self.node(*stop), self.node(*exit_)
        group = sp.id if a == b else None
        self.lane(f"{sp.id}-in", a, s, kind, speed_mps, group)
        self.lane(f"{sp.id}-out", s, b, kind, speed_mps, group)
        self.service_points.append(ServicePoint(sp.id, sp.kind, s, sp.area, sp.crane, sp.bay))


def _spread(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def generate_terminal(spec: TerminalSpec) -> Yard:
    """Build the terminal that `spec` describes; raises ValueError naming bad parameters."""
    problems = spec.problems()
    if problems:
        raise ValueError("cannot generate terminal: " + "; ".join(problems))
    b = _Builder()
    fast, slow = spec.main_speed_kmh / 3.6, spec.slow_speed_kmh / 3.6
    columns, n_rows = spec.block_columns, spec.block_rows
    block_len = spec.bays * BAY_M
    block_w = spec.rows * ROW_M + TRUCK_LANE_M
    yard_w = columns * block_len + (columns + 1) * ROAD_M
    x0 = (spec.quay_length_m - yard_w) / 2
    xv = [x0 + ROAD_M / 2 + k * (block_len + ROAD_M) for k in range(columns + 1)]
    pitch = CORRIDOR_M + block_w
    yd = [YARD_Y0 + r * pitch for r in range(n_rows + 1)]
    yb = [yd[r] + CORRIDOR_M / 2 + TRUCK_LANE_M / 2 for r in range(n_rows)]
    y_land = yd[n_rows] + LANDSIDE_GAP_M
    x_min = min(0.0, xv[0] - ROAD_M)
    x_max = max(spec.quay_length_m, xv[-1] + ROAD_M)
    areas: list[Area] = []
    cranes: list[Crane] = []

    # Quay, berths and quay cranes with their sidings under the apron lane.
    berth_len = spec.quay_length_m / spec.berths
    qc_x: list[tuple[str, str, float]] = []
    for berth, count in enumerate(_spread(spec.quay_cranes, spec.berths)):
        berth_id = f"BERTH{berth + 1}"
        bx0 = berth * berth_len
        areas.append(
            Area(
                berth_id,
                AreaKind.QUAY,
                box(bx0, 0, bx0 + berth_len, Y_QUAY_EDGE),
                f"Berth {berth + 1}",
            )
        )
        for i in range(count):
            qc_x.append((f"QC{len(qc_x) + 1:02d}", berth_id, bx0 + (i + 0.5) * berth_len / count))
    # A queue siding upstream (east) of a crane where the next crane leaves room for it.
    xs = sorted(x for *_, x in qc_x)
    queued = {
        qc_id
        for qc_id, _, x in qc_x
        if all(
            other <= x or other - QC_SIDING_HALF_M >= x + QC_QUEUE_FROM_M + QC_QUEUE_LEN_M + 2.0
            for other in xs
        )
    }
    # The apron loop reaches past the last crane's queue siding.
    x_max = max(x_max, max(x for *_, x in qc_x) + QC_QUEUE_FROM_M + QC_QUEUE_LEN_M + 12.0)
    under = [x_max, x_min, *xv]
    for qc_id, berth_id, x in qc_x:
        cranes.append(Crane(qc_id, CraneKind.QC, x, 15.0, berth_id))
        under += [x + QC_SIDING_HALF_M, x - QC_SIDING_HALF_M]
        if qc_id in queued:
            under += [x + QC_QUEUE_FROM_M, x + QC_QUEUE_FROM_M + QC_QUEUE_LEN_M]
    b.road(
        "apron-u",
        [(x, Y_UNDER_CRANE) for x in sorted(set(under), reverse=True)],
        LaneKind.APRON,
        slow,
    )
    b.road("apron-b", [(x, Y_BACK_LANE) for x in sorted({x_min, x_max, *xv})], LaneKind.APRON, fast)
    b.road("apron-w", [(x_min, Y_UNDER_CRANE), (x_min, Y_BACK_LANE)], LaneKind.APRON, fast)
    b.road("apron-e", [(x_max, Y_BACK_LANE), (x_max, Y_UNDER_CRANE)], LaneKind.APRON, fast)
    for qc_id, berth_id, x in qc_x:
        b.siding(
            ServicePoint(f"{qc_id}.SP", ServicePointKind.QUAY_CRANE, "", berth_id, qc_id),
            (x + QC_SIDING_HALF_M, Y_UNDER_CRANE),
            (x, Y_QC_STOP),
            (x - QC_SIDING_HALF_M, Y_UNDER_CRANE),
            LaneKind.SERVICE,
            slow,
        )
        # The next truck waits upstream (the apron lane runs west), off the through lane.
        if qc_id not in queued:
            continue
        b.siding(
            ServicePoint(f"{qc_id}.Q", ServicePointKind.QUEUE, "", berth_id, qc_id),
            (x + QC_QUEUE_FROM_M + QC_QUEUE_LEN_M, Y_UNDER_CRANE),
            (x + QC_QUEUE_FROM_M + QC_QUEUE_LEN_M / 2, Y_QC_STOP),
            (x + QC_QUEUE_FROM_M, Y_UNDER_CRANE),
            LaneKind.SERVICE,
            slow,
        )

    # Vertical two-way roads from the apron to the landside road.
    y_stations = [Y_UNDER_CRANE, Y_BACK_LANE, *yd, *yb, y_land]
    for k, x in enumerate(xv):
        b.road(
            f"v{k + 1}n",
            [(x, y) for y in sorted(y_stations)],
            LaneKind.MAIN,
            fast,
            reverse_name=f"v{k + 1}s",
        )

    # Driving lanes between block rows, alternating east- and westbound.
    for r, y in enumerate(yd):
        xs = sorted(xv, reverse=r % 2 == 1)
        b.road(f"drive{r + 1:02d}", [(x, y) for x in xs], LaneKind.MAIN, fast)

    # Blocks: block lane inside the RTG span, transfer points as sidings under the RTG.
    rtg_counts = _spread(spec.rtgs, columns * n_rows)
    tp_half = min(TP_SIDING_HALF_M, block_len / spec.transfer_points_per_block / 2 - 2)
    for r in range(n_rows):
        eastbound = r % 2 == 0
        for c in range(columns):
            block_id = f"{row_label(r)}{c + 1}"
            bx0, bx1 = xv[c] + ROAD_M / 2, xv[c + 1] - ROAD_M / 2
            by0 = yd[r] + CORRIDOR_M / 2
            areas.append(
                Area(
                    block_id,
                    AreaKind.BLOCK,
                    box(bx0, by0, bx1, by0 + block_w),
                    f"Block {block_id}",
                    spec.bays,
                    spec.rows,
                    spec.tiers,
                )
            )
            n_rtg = rtg_counts[r * columns + c]
            for j in range(n_rtg):
                rtg_x = bx0 + (j + 0.5) * block_len / n_rtg
                rtg_id = f"RTG{len([c for c in cranes if c.kind is CraneKind.RTG]) + 1:02d}"
                cranes.append(Crane(rtg_id, CraneKind.RTG, rtg_x, by0 + block_w / 2, block_id))
            stations = [xv[c], xv[c + 1]]
            tps: list[tuple[int, float]] = []
            for k in range(spec.transfer_points_per_block):
                bay = int((k + 0.5) * spec.bays / spec.transfer_points_per_block) + 1
                x = bx0 + (bay - 0.5) * BAY_M
                tps.append((bay, x))
                stations += [x - tp_half, x + tp_half]
            b.road(
                f"block-{block_id}",
                [(x, yb[r]) for x in sorted(stations, reverse=not eastbound)],
                LaneKind.BLOCK,
                slow,
            )
            sign = 1 if eastbound else -1
            for k, (bay, x) in enumerate(tps, 1):
                b.siding(
                    ServicePoint(
                        f"{block_id}.TP{k}",
                        ServicePointKind.TRANSFER_POINT,
                        "",
                        block_id,
                        None,
                        bay,
                    ),
                    (x - sign * tp_half, yb[r]),
                    (x, yb[r] + TP_SIDING_OFFSET_M),
                    (x + sign * tp_half, yb[r]),
                    LaneKind.SERVICE,
                    slow,
                )

    # Landside: park, fuel station, gate, along a two-way road.
    land = [*xv]
    segments = math.ceil(spec.parking_spots / 2)
    per_aisle_max = max(1, int((xv[-1] - xv[0]) * 0.45 // SPOT_PITCH_M))
    aisles = math.ceil(segments / per_aisle_max) if segments else 0
    per_aisle = math.ceil(segments / aisles) if aisles else 0
    xp0 = xv[0] + 30.0
    xp1 = xp0 + per_aisle * SPOT_PITCH_M + 20.0
    x_next = xp1 + 30.0
    if aisles:
        y_aisles = [y_land + 35.0 + j * AISLE_PITCH_M for j in range(aisles)]
        land += [xp0, xp1]
        b.road("park-w", [(xp0, y) for y in [y_land, *y_aisles]], LaneKind.MAIN, slow)
        b.road("park-e", [(xp1, y) for y in [*reversed(y_aisles), y_land]], LaneKind.MAIN, slow)
        spot = 0
        for j, ya in enumerate(y_aisles):
            starts = [xp0 + 10.0 + s * SPOT_PITCH_M for s in range(per_aisle)]
            b.road(
                f"park-a{j + 1}",
                [(xp0, ya), *((x, ya) for x in starts), (starts[-1] + SPOT_PITCH_M, ya), (xp1, ya)],
                LaneKind.MAIN,
                slow,
            )
            for x_spot in starts:
                for side in (1, -1):
                    if spot == spec.parking_spots:
                        break
                    spot += 1
                    b.siding(
                        ServicePoint(f"PARK.S{spot:02d}", ServicePointKind.PARKING, "", "PARK"),
                        (x_spot, ya),
                        (x_spot + SPOT_PITCH_M / 2, ya + side * SPOT_OFFSET_M),
                        (x_spot + SPOT_PITCH_M, ya),
                        LaneKind.SERVICE,
                        slow,
                    )
        areas.append(
            Area(
                "PARK",
                AreaKind.PARK,
                box(xp0 - 5, y_land + 12, xp1 + 5, y_aisles[-1] + 24),
                "Truck park",
            )
        )

    fan_half = (spec.fuel_pumps - 1) * PUMP_PITCH_M / 2
    xf = x_next + fan_half + 10.0
    land.append(xf)
    f0, f1 = b.node(xf, y_land), b.node(xf, y_land + 25.0)
    b.lane("fuel-access-in", f0, f1, LaneKind.MAIN, slow, "FUEL.ACCESS")
    b.lane("fuel-access-out", f1, f0, LaneKind.MAIN, slow, "FUEL.ACCESS")
    for i in range(spec.fuel_pumps):
        pump = (xf + (i - (spec.fuel_pumps - 1) / 2) * PUMP_PITCH_M, y_land + 47.0)
        b.siding(
            ServicePoint(f"FUEL.P{i + 1}", ServicePointKind.FUEL_PUMP, "", "FUEL"),
            (xf, y_land + 25.0),
            pump,
            (xf, y_land + 25.0),
            LaneKind.SERVICE,
            slow,
        )
    areas.append(
        Area(
            "FUEL",
            AreaKind.FUEL_STATION,
            box(xf - fan_half - 10, y_land + 12, xf + fan_half + 10, y_land + 55),
            "Fuel station",
        )
    )

    xg0 = xf + fan_half + 40.0
    for i in range(spec.gate_lanes):
        xg = xg0 + i * GATE_PITCH_M
        land += [xg, xg + 24.0]
        b.siding(
            ServicePoint(f"GATE.L{i + 1}", ServicePointKind.GATE_LANE, "", "GATE"),
            (xg, y_land),
            (xg + 12.0, y_land + 18.0),
            (xg + 24.0, y_land),
            LaneKind.GATE,
            slow,
        )
    x_gate_end = xg0 + (spec.gate_lanes - 1) * GATE_PITCH_M + 24.0
    areas.append(
        Area(
            "GATE", AreaKind.GATE, box(xg0 - 5, y_land + 5, x_gate_end + 5, y_land + 30), "OCR gate"
        )
    )
    land.append(max(xv[-1], x_gate_end + 20.0))
    b.road(
        "land-e",
        [(x, y_land) for x in sorted(set(land))],
        LaneKind.MAIN,
        fast,
        reverse_name="land-w",
    )

    return Yard.build(
        id=spec.id,
        version=spec.version,
        origin=Origin(spec.origin_lon, spec.origin_lat),
        nodes=b.nodes.values(),
        lanes=b.lanes,
        areas=areas,
        service_points=b.service_points,
        cranes=cranes,
    )


def polygon_of(yard: Yard) -> Polygon:
    """The yard's bounding box in local metres, with a 20 m margin."""
    xs = [n.x for n in yard.nodes.values()]
    ys = [n.y for n in yard.nodes.values()]
    return box(min(xs) - 20, min(ys) - 20, max(xs) + 20, max(ys) + 20)

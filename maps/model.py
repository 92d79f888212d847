"""The yard model: nodes, directed lanes, areas, service points and cranes in local metres."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import TypeVar

import networkx as nx
from shapely.geometry import LineString, Point, Polygon

from maps.errors import UnknownFeatureError, YardError
from maps.georef import LocalFrame


class LaneKind(StrEnum):
    """What a lane is for; the through kinds carry traffic, the others lead to a stop."""

    MAIN = "main"
    BLOCK = "block"
    APRON = "apron"
    GATE = "gate"
    SERVICE = "service"


THROUGH_LANE_KINDS = frozenset({LaneKind.MAIN, LaneKind.BLOCK, LaneKind.APRON})
"""Lanes that trucks drive through; a service point must never sit on one."""


class AreaKind(StrEnum):
    """The kinds of area polygons of a yard."""

    BLOCK = "block"
    QUAY = "quay"
    GATE = "gate"
    FUEL_STATION = "fuel_station"
    PARK = "park"
    JUNCTION = "junction"
    """Where lanes meet: what trucks sweep crossing or turning there; they never wait inside."""


class ServicePointKind(StrEnum):
    """Where a truck stops to work: under a quay crane, at a block, gate, pump or parking spot."""

    QUAY_CRANE = "quay_crane"
    TRANSFER_POINT = "transfer_point"
    GATE_LANE = "gate_lane"
    FUEL_PUMP = "fuel_pump"
    PARKING = "parking"
    QUEUE = "queue"
    """A waiting spot next to a quay crane's: the next truck stands there while one is served."""


class CraneKind(StrEnum):
    """Quay cranes (STS) and rubber-tyred gantries (RTG)."""

    QC = "qc"
    RTG = "rtg"


@dataclass(frozen=True, slots=True)
class Origin:
    """The yard's WGS84 origin, where the local frame has x = y = 0."""

    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Node:
    """A point of the lane graph: a junction, a lane end or a service point's stop."""

    id: str
    x: float
    y: float

    @property
    def point(self) -> Point:
        """The node as a shapely point in local metres."""
        return Point(self.x, self.y)


@dataclass(frozen=True, slots=True)
class Lane:
    """A directed lane from node `start` to node `end`; a two-way road is two lanes.

    Lanes sharing road space (the two directions of a single-track road, lanes that
    cross without a shared node) carry the same `conflict_group`, so that traffic
    control keeps them exclusive. A junction's connectors carry its id as their group and,
    in `conflicts`, the connectors whose swept bodies come within the clearance of theirs:
    those exclude each other; connectors of one junction whose sweeps stay apart (two
    right turns, say) may be driven at once. With `conflicts` empty, the whole group is
    exclusive.
    """

    id: str
    start: str
    end: str
    geometry: LineString
    length_m: float
    speed_limit_mps: float
    kind: LaneKind
    conflict_group: str | None = None
    conflicts: frozenset[str] = frozenset()

    @property
    def is_through(self) -> bool:
        """True for lanes that carry through traffic (main, block, apron)."""
        return self.kind in THROUGH_LANE_KINDS


@dataclass(frozen=True, slots=True)
class Area:
    """A polygon of the yard; blocks also carry their bays × rows × tiers."""

    id: str
    kind: AreaKind
    polygon: Polygon
    name: str
    bays: int | None = None
    rows: int | None = None
    tiers: int | None = None

    @property
    def slots_teu(self) -> int:
        """Ground slots × tiers of a block in TEU (0 for other areas)."""
        if self.kind is not AreaKind.BLOCK or not (self.bays and self.rows and self.tiers):
            return 0
        return self.bays * self.rows * self.tiers


@dataclass(frozen=True, slots=True)
class ServicePoint:
    """A stop off the through lanes where a truck is served; it blocks no one standing there."""

    id: str
    kind: ServicePointKind
    node: str
    area: str | None = None
    crane: str | None = None
    bay: int | None = None


@dataclass(frozen=True, slots=True)
class Crane:
    """A quay crane on a berth or an RTG in its home block."""

    id: str
    kind: CraneKind
    x: float
    y: float
    area: str


F = TypeVar("F", Node, Lane, Area, ServicePoint, Crane)


@dataclass(frozen=True)
class Yard:
    """A terminal's yard: features by id, the lane graph and the geo-reference.

    Immutable: live changes (closures, speed zones) belong to routing, not to the map.
    """

    id: str
    version: str
    origin: Origin
    nodes: Mapping[str, Node]
    lanes: Mapping[str, Lane]
    areas: Mapping[str, Area] = field(default_factory=dict)
    service_points: Mapping[str, ServicePoint] = field(default_factory=dict)
    cranes: Mapping[str, Crane] = field(default_factory=dict)
    lane_width_m: float = 3.5
    """The width of one lane (DESIGN.md: 3.5 m); two-way roads' lanes lie half of it off
    their centre line."""

    def __post_init__(self) -> None:
        for name in ("nodes", "lanes", "areas", "service_points", "cranes"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @classmethod
    def build(
        cls,
        id: str,
        version: str,
        origin: Origin,
        nodes: Iterable[Node],
        lanes: Iterable[Lane],
        areas: Iterable[Area] = (),
        service_points: Iterable[ServicePoint] = (),
        cranes: Iterable[Crane] = (),
        lane_width_m: float = 3.5,
    ) -> Yard:
        """A yard from feature lists, keyed by id in the order given; ids must be unique."""
        by_id: dict[str, str] = {}

        def keyed(items: Iterable[F]) -> dict[str, F]:
            out: dict[str, F] = {}
            for item in items:
                if item.id in by_id:
                    raise YardError(f"yard {id!r}: two features have the id {item.id!r} "
                                    f"(a {by_id[item.id]} and a {type(item).__name__})")
                by_id[item.id] = type(item).__name__
                out[item.id] = item
            return out

        return cls(
            id=id,
            version=version,
            origin=origin,
            nodes=keyed(nodes),
            lanes=keyed(lanes),
            areas=keyed(areas),
            service_points=keyed(service_points),
            cranes=keyed(cranes),
            lane_width_m=lane_width_m,
        )

    @cached_property
    def junction_ids(self) -> frozenset[str]:
        """The ids of the junction areas (their connectors carry them as conflict group)."""
        return frozenset(a.id for a in self.areas.values() if a.kind is AreaKind.JUNCTION)

    @cached_property
    def frame(self) -> LocalFrame:
        """The local east-north frame centred on the origin."""
        return LocalFrame(self.origin.lon, self.origin.lat)

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The lane graph: nodes with x, y; one edge per lane with its id and attributes."""
        g = nx.DiGraph(yard=self.id)
        for n in self.nodes.values():
            g.add_node(n.id, x=n.x, y=n.y)
        for lane in self.lanes.values():
            g.add_edge(
                lane.start,
                lane.end,
                lane=lane.id,
                length_m=lane.length_m,
                speed_limit_mps=lane.speed_limit_mps,
                kind=lane.kind.value,
                conflict_group=lane.conflict_group,
            )
        return g

    @cached_property
    def service_point_by_node(self) -> Mapping[str, ServicePoint]:
        """The service point standing at each service node."""
        return MappingProxyType({s.node: s for s in self.service_points.values()})

    def lane(self, lane_id: str) -> Lane:
        """The lane with this id, or an error naming it."""
        try:
            return self.lanes[lane_id]
        except KeyError:
            raise UnknownFeatureError(f"yard {self.id!r} has no lane {lane_id!r}") from None

    def node(self, node_id: str) -> Node:
        """The node with this id, or an error naming it."""
        try:
            return self.nodes[node_id]
        except KeyError:
            raise UnknownFeatureError(f"yard {self.id!r} has no node {node_id!r}") from None

    def service_point(self, sp_id: str) -> ServicePoint:
        """The service point with this id, or an error naming it."""
        try:
            return self.service_points[sp_id]
        except KeyError:
            raise UnknownFeatureError(f"yard {self.id!r} has no service point {sp_id!r}") from None

    def node_of(self, place: str) -> str:
        """The node of a place: a service point id or a node id."""
        sp = self.service_points.get(place)
        if sp is not None:
            return sp.node
        if place in self.nodes:
            return place
        raise UnknownFeatureError(f"yard {self.id!r} has no service point or node {place!r}")

    def lane_between(self, start: str, end: str) -> Lane:
        """The lane from node `start` to node `end`."""
        data = self.graph.get_edge_data(start, end)
        if data is None:
            raise UnknownFeatureError(f"yard {self.id!r} has no lane from {start!r} to {end!r}")
        return self.lanes[data["lane"]]

    def areas_of(self, kind: AreaKind) -> list[Area]:
        """The areas of one kind, in id order."""
        return sorted((a for a in self.areas.values() if a.kind is kind), key=lambda a: a.id)

    def cranes_of(self, kind: CraneKind) -> list[Crane]:
        """The cranes of one kind, in id order."""
        return sorted((c for c in self.cranes.values() if c.kind is kind), key=lambda c: c.id)

    def service_points_of(self, kind: ServicePointKind) -> list[ServicePoint]:
        """The service points of one kind, in id order."""
        return sorted(
            (s for s in self.service_points.values() if s.kind is kind), key=lambda s: s.id
        )

    def summary(self) -> dict[str, float]:
        """Feature counts, as a person checks a yard at a glance."""
        return {
            "nodes": len(self.nodes),
            "lanes": len(self.lanes),
            "blocks": len(self.areas_of(AreaKind.BLOCK)),
            "quay_cranes": len(self.cranes_of(CraneKind.QC)),
            "rtgs": len(self.cranes_of(CraneKind.RTG)),
            "service_points": len(self.service_points),
            "lane_km": round(sum(lane.length_m for lane in self.lanes.values()) / 1000.0, 3),
        }


def yard_differences(a: Yard, b: Yard, tolerance_m: float = 0.001) -> list[str]:
    """What differs between two yards: ids exactly, numbers exactly, geometry within tolerance."""
    diffs: list[str] = []
    for name in ("id", "version"):
        if getattr(a, name) != getattr(b, name):
            diffs.append(f"{name}: {getattr(a, name)!r} != {getattr(b, name)!r}")
    if a.lane_width_m != b.lane_width_m:
        diffs.append(f"lane_width_m: {a.lane_width_m} != {b.lane_width_m}")
    if abs(a.origin.lon - b.origin.lon) > 1e-9 or abs(a.origin.lat - b.origin.lat) > 1e-9:
        diffs.append(f"origin: {a.origin} != {b.origin}")
    for name in ("nodes", "lanes", "areas", "service_points", "cranes"):
        ma: Mapping[str, object] = getattr(a, name)
        mb: Mapping[str, object] = getattr(b, name)
        if list(ma) != list(mb):
            only_a = sorted(set(ma) - set(mb))[:5]
            only_b = sorted(set(mb) - set(ma))[:5]
            diffs.append(f"{name}: ids differ (only in first {only_a}, only in second {only_b})")
            continue
        for key, fa in ma.items():
            diffs.extend(
                f"{name} {key!r}: {d}" for d in _feature_differences(fa, mb[key], tolerance_m)
            )
    return diffs


def _feature_differences(fa: object, fb: object, tol: float) -> list[str]:
    out: list[str] = []
    for slot in getattr(type(fa), "__slots__", ()):
        va, vb = getattr(fa, slot), getattr(fb, slot)
        if isinstance(va, LineString | Polygon):
            if not isinstance(vb, type(va)):
                out.append(f"{slot}: geometry types differ")
            elif va.hausdorff_distance(vb) > tol:
                out.append(f"{slot}: geometry differs by {va.hausdorff_distance(vb):.4f} m")
        elif isinstance(va, float) and isinstance(vb, float):
            if abs(va - vb) > (tol if slot in ("x", "y") else 1e-6 * max(1.0, abs(va))):
                out.append(f"{slot}: {va!r} != {vb!r}")
        elif va != vb:
            out.append(f"{slot}: {va!r} != {vb!r}")
    return out

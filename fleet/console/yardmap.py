"""The yard as the console draws it: plain JSON in the yard's local metres (x east, y north).

Lanes keep their direction (points from start to end) and kind; areas are outer rings
(junctions, blocks with their names, quay, gate, fuel station, park); quay cranes and
service points are points. Geometry is simplified to a decimetre: enough for a screen.
"""

from __future__ import annotations

from typing import Any

from shapely.geometry import LineString, Polygon

from maps import AreaKind, CraneKind, Yard

__all__ = ["yard_json"]

SIMPLIFY_M = 0.1


def _line(geom: LineString) -> list[list[float]]:
    simple = geom.simplify(SIMPLIFY_M, preserve_topology=False)
    return [[round(x, 1), round(y, 1)] for x, y in simple.coords]


def _ring(poly: Polygon) -> list[list[float]]:
    simple = poly.simplify(SIMPLIFY_M, preserve_topology=True)
    ring = simple.exterior if isinstance(simple, Polygon) else poly.exterior
    return [[round(x, 1), round(y, 1)] for x, y in ring.coords]


def yard_json(yard: Yard) -> dict[str, Any]:
    """Everything the map shows of a yard, JSON-able."""
    xs = [n.x for n in yard.nodes.values()]
    ys = [n.y for n in yard.nodes.values()]
    for area in yard.areas.values():
        minx, miny, maxx, maxy = area.polygon.bounds
        xs += [minx, maxx]
        ys += [miny, maxy]
    return {
        "id": yard.id,
        "version": yard.version,
        "units": "m",
        "bounds": [min(xs), min(ys), max(xs), max(ys)] if xs else [0, 0, 1, 1],
        "lane_width_m": yard.lane_width_m,
        "lanes": [
            {
                "id": lane.id,
                "kind": lane.kind.value,
                "start": lane.start,
                "end": lane.end,
                "length_m": round(lane.length_m, 1),
                "speed_limit_kmh": round(lane.speed_limit_mps * 3.6, 1),
                "points": _line(lane.geometry),
            }
            for lane in yard.lanes.values()
        ],
        "areas": [
            {"id": a.id, "kind": a.kind.value, "name": a.name, "ring": _ring(a.polygon)}
            for a in yard.areas.values()
            if a.kind is not AreaKind.JUNCTION
        ],
        "junctions": [
            {"id": a.id, "ring": _ring(a.polygon)} for a in yard.areas_of(AreaKind.JUNCTION)
        ],
        "quay_cranes": [
            {"id": c.id, "x": round(c.x, 1), "y": round(c.y, 1), "area": c.area}
            for c in yard.cranes_of(CraneKind.QC)
        ],
        "service_points": [
            {
                "id": sp.id,
                "kind": sp.kind.value,
                "x": round(yard.node(sp.node).x, 1),
                "y": round(yard.node(sp.node).y, 1),
                "crane": sp.crane,
            }
            for sp in yard.service_points.values()
        ],
    }

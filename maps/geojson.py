"""GeoJSON in and out: a yard as a FeatureCollection in lon/lat, with a top-level `yard` object.

Reading never raises on bad content: every problem is collected with the feature's
index, id and field, the features that are sound are kept, and the caller decides.

The format is `yardfleet-yard/2`: lanes where trucks drive (the two lanes of a two-way
road half a lane width either side of its centre line, junction areas with stop lines
and connectors, as `maps.junctions` compiles them), and the yard's `lane_width_m` in the
`yard` header. A file of the previous format, `yardfleet-yard/1`, whose lanes lie on the
road centre lines, is refused with a message saying how to regenerate it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from shapely.geometry import LineString, Polygon

from maps.errors import Problem, YardFileError
from maps.georef import LocalFrame
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
from maps.validate import check_yard

FORMAT = "yardfleet-yard/2"
PREVIOUS_FORMATS = ("yardfleet-yard/1",)
"""Formats read no more: their lanes lie on road centre lines (see `_previous_format`)."""
DECIMALS = 10
"""Digits after the point for lon/lat: 1e-10 degrees is about 0.01 mm."""
FEATURE_CLASSES = ("node", "lane", "area", "service_point", "crane")

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


def _lonlat(frame: LocalFrame, xy: list[tuple[float, float]]) -> list[list[float]]:
    arr = np.asarray(xy, dtype=float)
    lon, lat = frame.to_wgs84(arr[:, 0], arr[:, 1])
    return [
        [round(float(a), DECIMALS), round(float(b), DECIMALS)]
        for a, b in zip(lon, lat, strict=True)
    ]


def _feature(fid: str, geometry: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": props}


def yard_to_geojson(yard: Yard) -> dict[str, Any]:
    """The yard as a GeoJSON FeatureCollection dict (lon/lat, 10 decimals)."""
    f = yard.frame
    features: list[dict[str, Any]] = []
    for n in yard.nodes.values():
        features.append(
            _feature(
                n.id,
                {"type": "Point", "coordinates": _lonlat(f, [(n.x, n.y)])[0]},
                {"feature": "node", "id": n.id},
            )
        )
    for lane in yard.lanes.values():
        coords = _lonlat(f, [(float(x), float(y)) for x, y in lane.geometry.coords])
        features.append(
            _feature(
                lane.id,
                {"type": "LineString", "coordinates": coords},
                {
                    "feature": "lane",
                    "id": lane.id,
                    "from": lane.start,
                    "to": lane.end,
                    "length_m": lane.length_m,
                    "speed_limit_mps": lane.speed_limit_mps,
                    "kind": lane.kind.value,
                    "conflict_group": lane.conflict_group,
                    "conflicts": sorted(lane.conflicts),
                },
            )
        )
    for a in yard.areas.values():
        rings = [_lonlat(f, [(float(x), float(y)) for x, y in a.polygon.exterior.coords])]
        rings += [
            _lonlat(f, [(float(x), float(y)) for x, y in r.coords]) for r in a.polygon.interiors
        ]
        props: dict[str, Any] = {
            "feature": "area",
            "id": a.id,
            "kind": a.kind.value,
            "name": a.name,
        }
        if a.kind is AreaKind.BLOCK:
            props |= {"bays": a.bays, "rows": a.rows, "tiers": a.tiers}
        features.append(_feature(a.id, {"type": "Polygon", "coordinates": rings}, props))
    for s in yard.service_points.values():
        n = yard.nodes[s.node]
        features.append(
            _feature(
                s.id,
                {"type": "Point", "coordinates": _lonlat(f, [(n.x, n.y)])[0]},
                {
                    "feature": "service_point",
                    "id": s.id,
                    "kind": s.kind.value,
                    "node": s.node,
                    "area": s.area,
                    "crane": s.crane,
                    "bay": s.bay,
                },
            )
        )
    for c in yard.cranes.values():
        features.append(
            _feature(
                c.id,
                {"type": "Point", "coordinates": _lonlat(f, [(c.x, c.y)])[0]},
                {
                    "feature": "crane",
                    "id": c.id,
                    "kind": c.kind.value,
                    "area": c.area,
                },
            )
        )
    return {
        "type": "FeatureCollection",
        "yard": {
            "id": yard.id,
            "version": yard.version,
            "format": FORMAT,
            "origin": {"lon": yard.origin.lon, "lat": yard.origin.lat},
            "lane_width_m": yard.lane_width_m,
        },
        "features": features,
    }


def save_yard(yard: Yard, path: str | Path) -> Path:
    """Write the yard as GeoJSON, one feature a line (readable diffs); returns the path."""
    path = Path(path)
    doc = yard_to_geojson(yard)
    features = doc.pop("features")
    head = json.dumps(doc, indent=1, ensure_ascii=False)[:-2]
    lines = ",\n  ".join(json.dumps(f, ensure_ascii=False) for f in features)
    path.write_text(f'{head},\n "features": [\n  {lines}\n ]\n}}\n', encoding="utf-8")
    return path


class _Reader:
    """Turns a GeoJSON document into yard features, collecting problems as it goes."""

    def __init__(self, source: str | None) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.index: int | None = None
        self.fid: str | None = None

    def problem(self, message: str, field: str | None = None) -> None:
        self.problems.append(Problem(message, self.fid, field, self.source, self.index))

    def text(self, props: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
        value = props.get(key)
        if value is None:
            if required:
                self.problem("missing", key)
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(f"must be a non-empty string, got {value!r}", key)
            return None
        return value

    def number(self, props: Mapping[str, Any], key: str, *, positive: bool = True) -> float | None:
        value = props.get(key)
        if value is None:
            self.problem("missing", key)
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            self.problem(f"must be a number, got {value!r}", key)
            return None
        if positive and value <= 0:
            self.problem(f"must be greater than 0, got {value!r}", key)
            return None
        return float(value)

    def integer(self, props: Mapping[str, Any], key: str, *, required: bool = True) -> int | None:
        value = props.get(key)
        if value is None:
            if required:
                self.problem("missing", key)
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.problem(f"must be a whole number of at least 1, got {value!r}", key)
            return None
        return value

    def enum(self, props: Mapping[str, Any], key: str, kind: type[E]) -> E | None:
        value = props.get(key)
        if isinstance(value, str) and value in kind._value2member_map_:
            return kind(value)
        allowed = ", ".join(k.value for k in kind)
        self.problem(f"must be one of {allowed}, got {value!r}", key)
        return None

    def positions(self, coords: Any, minimum: int) -> list[tuple[float, float]] | None:
        if not isinstance(coords, list) or len(coords) < minimum:
            self.problem(f"needs a list of at least {minimum} positions", "geometry")
            return None
        out: list[tuple[float, float]] = []
        for k, pos in enumerate(coords):
            if not (
                isinstance(pos, list)
                and len(pos) in (2, 3)
                and all(
                    isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    for v in pos
                )
            ):
                self.problem(f"position {k} must be [lon, lat] numbers, got {pos!r}", "geometry")
                return None
            lon, lat = float(pos[0]), float(pos[1])
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                self.problem(f"position {k} is outside lon/lat range: {pos!r}", "geometry")
                return None
            out.append((lon, lat))
        return out


def _to_local(frame: LocalFrame, lonlat: list[tuple[float, float]]) -> list[tuple[float, float]]:
    arr = np.asarray(lonlat, dtype=float)
    x, y = frame.to_local(arr[:, 0], arr[:, 1])
    return [(float(a), float(b)) for a, b in zip(x, y, strict=True)]


def parse_yard(doc: Any, source: str | None = None) -> tuple[Yard | None, list[Problem]]:
    """The yard in a GeoJSON document, built from its sound features, and every problem found.

    Returns no yard only when the document has no usable `yard` header.
    """
    r = _Reader(source)
    head = _read_header(r, doc, source)
    if head is None:
        return None, r.problems
    features = doc.get("features")
    if not isinstance(features, list):
        r.problem('missing the "features" list', "features")
        features = []
    raw = _sort_features(r, features)
    b = _FeatureBuilder(r, LocalFrame(head.lon, head.lat))
    b.nodes = {n.id: n for n in b.each(raw["node"], b.node)}
    lanes = b.each(raw["lane"], b.lane)
    b.areas = {a.id: a for a in b.each(raw["area"], b.area)}
    b.cranes = {c.id: c for c in b.each(raw["crane"], b.crane)}
    service_points = b.each(raw["service_point"], b.service_point)
    r.index = r.fid = None
    yard = Yard.build(
        head.yard_id,
        head.version,
        Origin(head.lon, head.lat),
        b.nodes.values(),
        lanes,
        b.areas.values(),
        service_points,
        b.cranes.values(),
        lane_width_m=head.lane_width,
    )
    return yard, r.problems


@dataclass(frozen=True, slots=True)
class _Header:
    """The sound fields of a document's `yard` header."""

    yard_id: str
    version: str
    lon: float
    lat: float
    lane_width: float


def _read_header(r: _Reader, doc: Any, source: str | None) -> _Header | None:
    """The document's `yard` header, or None (with its problems in `r`) when it is unusable."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        r.problem('the file is not a GeoJSON FeatureCollection ("type": "FeatureCollection")')
        return None
    header = doc.get("yard")
    if not isinstance(header, dict):
        r.problem('missing the top-level "yard" object (id, version, origin)', "yard")
        return None
    r.fid = "yard"
    fmt = header.get("format")
    if not _read_format(r, fmt, source):
        return None
    yard_id = r.text(header, "id")
    version = _read_version(r, header)
    lon, lat = _read_origin(r, header)
    # Required in the format; a header without a format (a problem already) may lack it too.
    lane_width = r.number(header, "lane_width_m") if fmt is not None else 3.5
    r.fid = None
    if yard_id is None or version is None or lon is None or lat is None or lane_width is None:
        return None
    return _Header(yard_id, version, lon, lat, lane_width)


def _read_format(r: _Reader, fmt: Any, source: str | None) -> bool:
    """Whether the header's format is one this reader reads (a missing one is a problem, but
    the rest of the header is still read)."""
    if fmt in PREVIOUS_FORMATS:
        r.problem(_previous_format(str(fmt), source), "format")
        return False
    if fmt is None:
        r.problem(f'missing (this reader reads "{FORMAT}")', "format")
    elif fmt != FORMAT:
        r.problem(f'must be "{FORMAT}", got {fmt!r}', "format")
        return False
    return True


def _read_version(r: _Reader, header: dict[str, Any]) -> str | None:
    """The header's version as a string (a whole number is taken as one)."""
    version = header.get("version")
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str) or not version:
        r.problem(f"must be a string, got {version!r}", "version")
        return None
    return version


def _read_origin(r: _Reader, header: dict[str, Any]) -> tuple[float | None, float | None]:
    """The header's origin as lon, lat (None, None when it is missing or out of range)."""
    origin = header.get("origin")
    if not isinstance(origin, dict):
        r.problem("must be an object with lon and lat", "origin")
        return None, None
    lon, lat = r.number(origin, "lon", positive=False), r.number(origin, "lat", positive=False)
    if lon is not None and lat is not None and not (-180 <= lon <= 180 and -85 < lat < 85):
        r.problem(f"lon/lat out of range: {lon}, {lat}", "origin")
        return None, None
    return lon, lat


_RawFeature = tuple[int, str, dict[str, Any], Any]
"""A feature sorted by class: its index in the document, id, properties and geometry."""


def _sort_features(r: _Reader, features: list[Any]) -> dict[str, list[_RawFeature]]:
    """The document's features by class, each with a unique id and a geometry object; the
    others are problems."""
    seen: set[str] = set()
    raw: dict[str, list[_RawFeature]] = {c: [] for c in FEATURE_CLASSES}
    for i, feat in enumerate(features):
        r.index, r.fid = i, None
        if not isinstance(feat, dict) or not isinstance(feat.get("properties"), dict):
            r.problem("not a GeoJSON Feature with properties")
            continue
        props = feat["properties"]
        fid = props.get("id", feat.get("id"))
        if not isinstance(fid, str) or not fid.strip():
            r.problem(f"must be a non-empty string, got {fid!r}", "id")
            continue
        r.fid = fid
        if fid in seen:
            r.problem("duplicate id (an earlier feature has it)", "id")
            continue
        seen.add(fid)
        cls = props.get("feature")
        if cls not in FEATURE_CLASSES:
            r.problem(f"must be one of {', '.join(FEATURE_CLASSES)}, got {cls!r}", "feature")
            continue
        geometry = feat.get("geometry")
        if not isinstance(geometry, dict):
            r.problem("missing geometry", "geometry")
            continue
        raw[cls].append((i, fid, props, geometry))
    return raw


class _FeatureBuilder:
    """Builds yard features from sorted raw features, class by class (nodes, lanes, areas,
    cranes, service points: each class may refer to those built before it)."""

    def __init__(self, r: _Reader, frame: LocalFrame) -> None:
        self.r = r
        self.frame = frame
        self.nodes: dict[str, Node] = {}
        self.areas: dict[str, Area] = {}
        self.cranes: dict[str, Crane] = {}

    def each(
        self, raw: list[_RawFeature], build: Callable[[str, dict[str, Any], Any], T | None]
    ) -> list[T]:
        """The features `build` makes of `raw`, skipping those it refuses."""
        out = []
        for i, fid, props, geometry in raw:
            self.r.index, self.r.fid = i, fid
            item = build(fid, props, geometry)
            if item is not None:
                out.append(item)
        return out

    def geometry_of(self, geometry: Any, gtype: str) -> Any:
        if geometry.get("type") != gtype:
            self.r.problem(f"must be a {gtype}, got {geometry.get('type')!r}", "geometry")
            return None
        return geometry.get("coordinates")

    def point(self, geometry: Any) -> tuple[float, float] | None:
        coords = self.geometry_of(geometry, "Point")
        if coords is None:
            return None
        pts = self.r.positions([coords], 1)
        return _to_local(self.frame, pts)[0] if pts else None

    def node(self, fid: str, props: dict[str, Any], geometry: Any) -> Node | None:
        xy = self.point(geometry)
        return Node(fid, xy[0], xy[1]) if xy else None

    def lane(self, fid: str, props: dict[str, Any], geometry: Any) -> Lane | None:
        r = self.r
        coords = self.geometry_of(geometry, "LineString")
        pts = r.positions(coords, 2) if coords is not None else None
        start, end = r.text(props, "from"), r.text(props, "to")
        length = r.number(props, "length_m")
        speed = r.number(props, "speed_limit_mps")
        kind = r.enum(props, "kind", LaneKind)
        group = r.text(props, "conflict_group", required=False)
        conflicts = props.get("conflicts", [])
        ok = True
        if not isinstance(conflicts, list) or not all(isinstance(c, str) for c in conflicts):
            r.problem("must be a list of lane ids", "conflicts")
            ok = False
            conflicts = []
        for key, ref in (("from", start), ("to", end)):
            if ref is not None and ref not in self.nodes:
                r.problem(f"refers to node {ref!r}, which the yard does not have", key)
                ok = False
        if not (ok and pts and start and end and length and speed and kind):
            return None
        return Lane(
            fid,
            start,
            end,
            LineString(_to_local(self.frame, pts)),
            length,
            speed,
            kind,
            group,
            frozenset(conflicts),
        )

    def area(self, fid: str, props: dict[str, Any], geometry: Any) -> Area | None:
        r = self.r
        rings = self.geometry_of(geometry, "Polygon")
        kind = r.enum(props, "kind", AreaKind)
        name = r.text(props, "name", required=False) or fid
        if not isinstance(rings, list) or not rings:
            if rings is not None:
                r.problem("a Polygon needs a list of rings", "geometry")
            return None
        local = self.rings(rings)
        if local is None:
            return None
        bays = rows = tiers = None
        if kind is AreaKind.BLOCK:
            bays, rows, tiers = (r.integer(props, k) for k in ("bays", "rows", "tiers"))
            if None in (bays, rows, tiers):
                return None
        if kind is None:
            return None
        return Area(fid, kind, Polygon(local[0], local[1:]), name, bays, rows, tiers)

    def rings(self, rings: list[Any]) -> list[list[tuple[float, float]]] | None:
        """A polygon's rings in local metres, or None at the first ring that is not closed
        positions."""
        local = []
        for ring in rings:
            pts = self.r.positions(ring, 4)
            if pts is None:
                return None
            if pts[0] != pts[-1]:
                self.r.problem(
                    "polygon ring is not closed (first and last positions differ)", "geometry"
                )
                return None
            local.append(_to_local(self.frame, pts))
        return local

    def crane(self, fid: str, props: dict[str, Any], geometry: Any) -> Crane | None:
        r = self.r
        xy = self.point(geometry)
        kind = r.enum(props, "kind", CraneKind)
        home = r.text(props, "area")
        if home is not None and home not in self.areas:
            r.problem(f"refers to area {home!r}, which the yard does not have", "area")
            return None
        if xy is None or kind is None or home is None:
            return None
        return Crane(fid, kind, xy[0], xy[1], home)

    def service_point(self, fid: str, props: dict[str, Any], geometry: Any) -> ServicePoint | None:
        r = self.r
        xy = self.point(geometry)
        kind = r.enum(props, "kind", ServicePointKind)
        at = r.text(props, "node")
        home = r.text(props, "area", required=False)
        crane_id = r.text(props, "crane", required=False)
        bay = r.integer(props, "bay", required=False)
        ok = True
        known: tuple[tuple[str, str | None, Mapping[str, Any]], ...] = (
            ("node", at, self.nodes),
            ("area", home, self.areas),
            ("crane", crane_id, self.cranes),
        )
        for key, ref, have in known:
            if ref is not None and ref not in have:
                r.problem(f"refers to {key} {ref!r}, which the yard does not have", key)
                ok = False
        if ok and at is not None and xy is not None:
            gap = math.dist(xy, (self.nodes[at].x, self.nodes[at].y))
            if gap > 0.01:
                r.problem(f"stands {gap:.2f} m from its node {at!r}", "geometry")
        if not (ok and xy and kind and at):
            return None
        return ServicePoint(fid, kind, at, home, crane_id, bay)


def _previous_format(fmt: str, source: str | None) -> str:
    """Why a file of a previous format is refused, and how to make a new one, on one line."""
    out = source or "FILE"
    return (
        f"{fmt} is the previous format, whose lanes lie on the road centre lines; "
        f"regenerate the file in {FORMAT}: yardfleet map export --terminal haiphong --out {out} "
        "(add the generator options it was made with, e.g. --quay-cranes 8 --block-rows 12; "
        "see yardfleet map export --help)"
    )


class YardFormatError(YardFileError):
    """A yard file of a format this reader does not read (a previous one: the message, one line,
    says how to regenerate it)."""

    def __init__(self, problem: Problem, source: str | None = None) -> None:
        super().__init__([problem], source)
        self.args = (str(problem),)


def read_document(path: str | Path) -> tuple[Any, list[Problem]]:
    """The JSON document in a file, or a problem naming the line and column where it breaks."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(f"cannot read the file: {exc}", source=str(path))]
    try:
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        return None, [
            Problem(
                f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                source=str(path),
            )
        ]


def validate_file(path: str | Path, *, bodies: bool = True) -> list[Problem]:
    """Every problem of a yard file: unreadable JSON, bad features, then the yard's rules
    (`bodies=False`: all but the rules on truck bodies, for a centre-line sketch)."""
    doc, problems = read_document(path)
    if problems:
        return problems
    yard, problems = parse_yard(doc, str(path))
    if yard is not None:
        whole = not problems
        problems += [
            Problem(p.message, p.feature_id, p.field, str(path), p.index)
            for p in check_yard(yard, reachability=whole, bodies=bodies)
        ]
    return problems


def load_yard(path: str | Path, *, check: bool = True, bodies: bool = True) -> Yard:
    """Read a yard from GeoJSON; raises YardFileError listing every problem found.

    With `check`, the yard must also pass every validation rule (maps.validate); with
    `bodies=False`, every rule but those on truck bodies (for a centre-line sketch).
    """
    doc, problems = read_document(path)
    yard = None
    if not problems:
        yard, problems = parse_yard(doc, str(path))
    if yard is not None and check and not problems:
        problems = [
            Problem(p.message, p.feature_id, p.field, str(path), p.index)
            for p in check_yard(yard, bodies=bodies)
        ]
    if yard is None and len(problems) == 1 and problems[0].field == "format":
        raise YardFormatError(problems[0], str(path))
    if problems or yard is None:
        raise YardFileError(problems, str(path))
    return yard

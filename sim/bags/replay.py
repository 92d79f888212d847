"""Replay the GNSS fixes of a bag as live truck positions, map-matched onto a yard.

Every NavSatFix topic of the bag (ours, or any ROS 1 or ROS 2 bag) is a truck, named by
a `TopicMap`. Fixes come out in log-time order, paced by a `PacedClock` (`speed` × real
time, 0 = as fast as possible), each one matched to a lane of the yard and handed to
`on_fix`, the hook through which the dispatcher is fed as by a live yard.

A fix is *matched* when it lies inside the yard's outline and within `max_distance_m`
of a lane; *off the map* when it is a valid fix anywhere else (it is never forced onto
a lane); *no fix* when the receiver had none (status −1, or no finite position).
Headings for the matcher come from each truck's own motion between fixes, which is
what picks the right direction of a two-way road.

Ctrl-C ends `replay` early: it returns the report of the fixes replayed so far, marked
`interrupted`.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from maps.matching import MapMatcher
from maps.model import Yard
from maps.terminals import terminal
from sim.bags.reader import Fix, fix_topics, read_fixes
from sim.bags.topicmap import TopicMap

DEFAULT_MAX_DISTANCE_M = 15.0
"""A fix farther than this from every lane is off the map."""
MIN_MOVE_M = 1.0
"""A truck must move this far between fixes for its motion to give a heading."""
BATCH = 256
"""Fixes read and matched at once (matching is batched; pacing is per fix)."""
STATUS_NO_FIX = -1

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class ReplayedFix:
    """A fix as fed to the dispatcher: truck, bag time, position and its match.

    `x`, `y` are local yard metres (NaN for no fix); `lane_id` is None off the map.
    """

    truck: str
    topic: str
    t_s: float
    lat: float
    lon: float
    alt: float
    status: int
    x: float
    y: float
    lane_id: str | None
    offset_m: float
    distance_m: float
    valid: bool

    @property
    def matched(self) -> bool:
        """True when the fix lies on a lane of the yard."""
        return self.lane_id is not None


class PacedClock:
    """Waits until bag time `t` is due: `speed` × real time from the first fix; 0 = no wait."""

    def __init__(
        self,
        speed: float = 1.0,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (math.isfinite(speed) and speed >= 0.0):
            raise ValueError(f"speed must be a finite number ≥ 0, 0 meaning max (got {speed})")
        self.speed = float(speed)
        self._now = now
        self._sleep = sleep
        self._anchor: tuple[float, float] | None = None  # (bag time, wall time)

    def wait_until(self, t_s: float) -> None:
        """Sleep until bag time `t_s` is due (at once for the first call and at speed 0)."""
        if self.speed == 0.0:
            return
        if self._anchor is None:
            self._anchor = (t_s, self._now())
            return
        t0, wall0 = self._anchor
        delay = wall0 + (t_s - t0) / self.speed - self._now()
        if delay > 0:
            self._sleep(delay)


@dataclass
class TruckTally:
    """One truck's counts: fixes, matched, off the map, no fix, and its lanes."""

    fixes: int = 0
    matched: int = 0
    off_map: int = 0
    no_fix: int = 0
    lanes: Counter[str] = field(default_factory=Counter)


@dataclass
class Track:
    """One truck's replayed positions in local metres, for the picture."""

    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    matched: list[bool] = field(default_factory=list)


@dataclass
class ReplayReport:
    """What a replay did: counts overall and per truck, lanes used, and the tracks."""

    bag: str
    yard: str
    speed: float
    max_distance_m: float
    topics: dict[str, str] = field(default_factory=dict)
    fixes: int = 0
    matched: int = 0
    off_map: int = 0
    no_fix: int = 0
    trucks: dict[str, TruckTally] = field(default_factory=dict)
    lanes: Counter[str] = field(default_factory=Counter)
    first_t_s: float | None = None
    last_t_s: float | None = None
    interrupted: bool = False
    tracks: dict[str, Track] = field(default_factory=dict, repr=False)

    def add(self, fix: ReplayedFix) -> None:
        """Count one replayed fix."""
        tally = self.trucks.setdefault(fix.truck, TruckTally())
        self.fixes += 1
        tally.fixes += 1
        if self.first_t_s is None:
            self.first_t_s = fix.t_s
        self.last_t_s = fix.t_s
        if not fix.valid:
            self.no_fix += 1
            tally.no_fix += 1
            return
        if fix.lane_id is not None:
            self.matched += 1
            tally.matched += 1
            self.lanes[fix.lane_id] += 1
            tally.lanes[fix.lane_id] += 1
        else:
            self.off_map += 1
            tally.off_map += 1
        if math.isfinite(fix.x) and math.isfinite(fix.y):
            track = self.tracks.setdefault(fix.truck, Track())
            track.x.append(fix.x)
            track.y.append(fix.y)
            track.matched.append(fix.matched)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data (without the tracks)."""
        return {
            "bag": self.bag,
            "yard": self.yard,
            "speed": self.speed,
            "max_distance_m": self.max_distance_m,
            "interrupted": self.interrupted,
            "fixes": self.fixes,
            "matched": self.matched,
            "off_map": self.off_map,
            "no_fix": self.no_fix,
            "first_t_s": self.first_t_s,
            "last_t_s": self.last_t_s,
            "topics": dict(sorted(self.topics.items())),
            "trucks": {
                truck: {
                    "fixes": t.fixes,
                    "matched": t.matched,
                    "off_map": t.off_map,
                    "no_fix": t.no_fix,
                    "lanes": dict(t.lanes.most_common()),
                }
                for truck, t in sorted(self.trucks.items())
            },
            "lanes": dict(self.lanes.most_common()),
        }


class YardMatch:
    """Matches lon/lat fixes onto a yard: inside its outline and near a lane, or off the map."""

    def __init__(self, yard: Yard, max_distance_m: float = DEFAULT_MAX_DISTANCE_M) -> None:
        self.yard = yard
        self.matcher = MapMatcher(yard, max_distance_m=max_distance_m)
        parts: list[shapely.Geometry] = [a.polygon for a in yard.areas.values()]
        parts += [lane.geometry for lane in yard.lanes.values()]
        self.outline = shapely.convex_hull(shapely.union_all(parts))
        shapely.prepare(self.outline)

    def match_xy(
        self, x: FloatArray, y: FloatArray, heading: list[float]
    ) -> tuple[IntArray, FloatArray, FloatArray]:
        """Lane index (−1 off the map), offset along it and distance of local positions."""
        m = self.matcher.match_xy(x, y, heading)
        finite = np.isfinite(x) & np.isfinite(y)
        inside = np.zeros(len(x), dtype=np.bool_)
        inside[finite] = shapely.contains_xy(self.outline, x[finite], y[finite])
        lane = np.where(m.matched & inside, m.lane_index, -1)
        return lane, m.offset_m, m.distance_m


def _valid(fix: Fix) -> bool:
    return (
        fix.status != STATUS_NO_FIX
        and math.isfinite(fix.lat)
        and math.isfinite(fix.lon)
        and abs(fix.lat) <= 90.0
        and abs(fix.lon) <= 180.0
    )


def _batches(fixes: Iterable[Fix], size: int) -> Iterator[list[Fix]]:
    it = iter(fixes)
    while batch := list(islice(it, size)):
        yield batch


def replay(
    bag: str | Path,
    *,
    yard: Yard | None = None,
    topic_map: TopicMap | None = None,
    speed: float = 1.0,
    max_distance_m: float = DEFAULT_MAX_DISTANCE_M,
    on_fix: Callable[[ReplayedFix], None] | None = None,
    clock: PacedClock | None = None,
) -> ReplayReport:
    """Replay the NavSatFix topics of `bag` onto `yard` (default: the embedded terminal).

    Each fix is matched, paced (`speed` × real time; 0 = as fast as possible), counted
    and handed to `on_fix`. Returns the report; on Ctrl-C the report so far, marked
    `interrupted`.
    """
    yard = yard or terminal()
    topic_map = topic_map or TopicMap()
    clock = clock or PacedClock(speed)
    where = YardMatch(yard, max_distance_m)
    report = ReplayReport(
        bag=str(bag), yard=yard.id, speed=clock.speed, max_distance_m=max_distance_m
    )
    trucks = {t.topic: topic_map.truck(t.topic) for t in fix_topics(bag)}
    report.topics = dict(trucks)
    last_xy: dict[str, tuple[float, float]] = {}
    last_heading: dict[str, float] = {}
    try:
        for batch in _batches(read_fixes(bag), BATCH):
            ok = [_valid(f) for f in batch]
            lon = [f.lon if v else math.nan for f, v in zip(batch, ok, strict=True)]
            lat = [f.lat if v else math.nan for f, v in zip(batch, ok, strict=True)]
            x, y = yard.frame.to_local(lon, lat)
            heading: list[float] = []
            for f, xi, yi in zip(batch, x.tolist(), y.tolist(), strict=True):
                truck = trucks.get(f.topic) or topic_map.truck(f.topic)
                prev = last_xy.get(truck)
                if prev is not None and math.isfinite(xi) and math.isfinite(yi):
                    dx, dy = xi - prev[0], yi - prev[1]
                    if math.hypot(dx, dy) >= MIN_MOVE_M:
                        last_heading[truck] = math.degrees(math.atan2(dx, dy)) % 360.0
                if math.isfinite(xi) and math.isfinite(yi):
                    last_xy[truck] = (xi, yi)
                heading.append(last_heading.get(truck, math.nan))
            lane, offset, distance = where.match_xy(x, y, heading)
            ids = where.matcher.lane_ids
            for i, f in enumerate(batch):
                k = int(lane[i])
                fix = ReplayedFix(
                    truck=trucks.get(f.topic) or topic_map.truck(f.topic),
                    topic=f.topic,
                    t_s=f.t_ns / 1e9,
                    lat=f.lat,
                    lon=f.lon,
                    alt=f.alt,
                    status=f.status,
                    x=float(x[i]),
                    y=float(y[i]),
                    lane_id=ids[k] if k >= 0 else None,
                    offset_m=float(offset[i]) if k >= 0 else math.nan,
                    distance_m=float(distance[i]),
                    valid=ok[i],
                )
                clock.wait_until(fix.t_s)
                if on_fix is not None:
                    on_fix(fix)
                report.add(fix)
    except KeyboardInterrupt:
        report.interrupted = True
    return report

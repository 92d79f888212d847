"""The lane network as routing sees it now: the yard plus live closures and speed zones.

Every change bumps `version` and tells the listeners which lanes changed and whether
they got faster or slower, so caches (paths, the travel-time table) invalidate exactly
what the change touched.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix

from maps import UnknownFeatureError, Yard
from routing.vehicle import TERMINAL_TRACTOR, VehicleClass

Listener = Callable[["LaneChange"], None]


@dataclass(frozen=True, slots=True)
class LaneChange:
    """Lanes whose travel time changed: `slower` ones (closed, lower limit), `faster` ones."""

    slower: frozenset[str]
    faster: frozenset[str]
    version: int


@dataclass(frozen=True, slots=True)
class SpeedZone:
    """A lower speed limit on a set of lanes (roadworks, rain, a crane moving over the lane)."""

    id: str
    lanes: frozenset[str]
    limit_mps: float


class LaneNetwork:
    """Live lane state over an immutable yard: which lanes are closed, which are slowed."""

    def __init__(self, yard: Yard, vehicle: VehicleClass = TERMINAL_TRACTOR) -> None:
        self.yard = yard
        self.vehicle = vehicle
        self.node_ids: list[str] = list(yard.nodes)
        self.node_index: dict[str, int] = {n: i for i, n in enumerate(self.node_ids)}
        self.lane_ids: list[str] = list(yard.lanes)
        self.lane_index: dict[str, int] = {lane: i for i, lane in enumerate(self.lane_ids)}
        lanes = [yard.lanes[lane] for lane in self.lane_ids]
        self.lane_src = np.array([self.node_index[lane.start] for lane in lanes], dtype=np.int32)
        self.lane_dst = np.array([self.node_index[lane.end] for lane in lanes], dtype=np.int32)
        self.lane_length = np.array([lane.length_m for lane in lanes], dtype=float)
        self.lane_limit = np.array([lane.speed_limit_mps for lane in lanes], dtype=float)
        self.lane_usable = np.array([vehicle.may_use(lane) for lane in lanes], dtype=bool)
        self.closed: set[str] = set()
        self.zones: dict[str, SpeedZone] = {}
        self.version = 0
        self._listeners: list[Listener] = []
        self._matrix_cache: dict[tuple[int, bool], csr_matrix] = {}
        self._time_cache: dict[tuple[int, bool], npt.NDArray[np.float64]] = {}
        self._edge_lane: dict[tuple[int, int], int] = {
            (int(s), int(d)): i
            for i, (s, d) in enumerate(zip(self.lane_src, self.lane_dst, strict=True))
        }

    # -- live changes ------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with every change from now on."""
        self._listeners.append(listener)

    def _known(self, lane_ids: Iterable[str]) -> frozenset[str]:
        ids = frozenset(lane_ids)
        unknown = sorted(ids - self.lane_index.keys())
        if unknown:
            raise UnknownFeatureError(f"yard {self.yard.id!r} has no lane(s) {', '.join(unknown)}")
        return ids

    def _changed(self, slower: Iterable[str] = (), faster: Iterable[str] = ()) -> LaneChange:
        self.version += 1
        self._matrix_cache.clear()
        self._time_cache.clear()
        change = LaneChange(frozenset(slower), frozenset(faster), self.version)
        for listener in self._listeners:
            listener(change)
        return change

    def close(self, *lane_ids: str) -> LaneChange:
        """Close lanes: the next query routes around them."""
        ids = self._known(lane_ids) - self.closed
        self.closed |= ids
        return self._changed(slower=ids)

    def reopen(self, *lane_ids: str) -> LaneChange:
        """Reopen closed lanes (reopening an open lane changes nothing)."""
        ids = self._known(lane_ids) & self.closed
        self.closed -= ids
        return self._changed(faster=ids)

    def set_speed_zone(self, zone_id: str, lane_ids: Iterable[str], limit_mps: float) -> LaneChange:
        """Put (or replace) a speed zone: a lower limit on these lanes."""
        if not (limit_mps > 0 and math.isfinite(limit_mps)):
            raise ValueError(f"speed zone {zone_id!r}: limit must be positive, got {limit_mps}")
        ids = self._known(lane_ids)
        old = self.zones.get(zone_id)
        self.zones[zone_id] = SpeedZone(zone_id, ids, limit_mps)
        touched = ids | (old.lanes if old else frozenset())
        return self._changed(slower=touched, faster=touched)

    def clear_speed_zone(self, zone_id: str) -> LaneChange:
        """Lift a speed zone."""
        old = self.zones.pop(zone_id, None)
        return self._changed(faster=old.lanes if old else ())

    # -- what it costs now -------------------------------------------------------------

    def speeds(self, laden: bool) -> npt.NDArray[np.float64]:
        """Speed on every lane (m/s, lane order): lane limit, vehicle limit, speed zones."""
        speed: npt.NDArray[np.float64] = np.minimum(self.lane_limit, self.vehicle.top_speed(laden))
        for zone in self.zones.values():
            idx = [self.lane_index[lane] for lane in zone.lanes]
            speed[idx] = np.minimum(speed[idx], zone.limit_mps)
        return speed

    def lane_times(self, laden: bool) -> npt.NDArray[np.float64]:
        """Travel time on every lane (s, lane order); inf where closed or not allowed."""
        key = (self.version, laden)
        times = self._time_cache.get(key)
        if times is None:
            times = self.lane_length / self.speeds(laden)
            times[~self.lane_usable] = np.inf
            if self.closed:
                times[[self.lane_index[lane] for lane in self.closed]] = np.inf
            self._time_cache[key] = times
        return times

    def speed_on(self, lane_id: str, laden: bool) -> float:
        """The speed a truck drives on one lane now (m/s)."""
        return float(self.speeds(laden)[self.lane_index[lane_id]])

    def is_open(self, lane_id: str) -> bool:
        """Whether a lane is open now."""
        return lane_id not in self.closed

    def matrix(self, laden: bool) -> csr_matrix:
        """Travel times as a sparse node × node matrix (open, allowed lanes only)."""
        key = (self.version, laden)
        m = self._matrix_cache.get(key)
        if m is None:
            times = self.lane_times(laden)
            ok = np.isfinite(times)
            n = len(self.node_ids)
            m = csr_matrix((times[ok], (self.lane_src[ok], self.lane_dst[ok])), shape=(n, n))
            self._matrix_cache[key] = m
        return m

    def lane_of_edge(self, src: int, dst: int) -> int:
        """The lane index from node index `src` to node index `dst`."""
        return self._edge_lane[(src, dst)]

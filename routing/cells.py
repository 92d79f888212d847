"""The planner's resources: every node, and every lane cut into cells a truck's footprint long.

A cell is held by one truck at a time, from its front entering until its rear, plus the
safety gap, has left; since a cell is at least length + gap long, exclusive cells give
the following distance and forbid overtaking without further rules. A truck may stand
only at the end of a cell at least a footprint long that is not shared road space, or
at a service point — so after leaving any resource its front always drives at least a
footprint before it stops, and the time to clear a resource is bounded by the speeds
ahead (`clear_after`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from maps import Lane, Yard
from routing.network import LaneNetwork

NODE, CELL = 0, 1


@dataclass(frozen=True, slots=True)
class Run:
    """A non-stop move from a standing place through no-standing resources to the next one.

    Departing at t, the truck enters `inner[i]` at t + a and must hold it until t + b; it
    arrives at `last` at t + `arrive`. The place it leaves is held until t + `clear_first`.
    """

    inner: tuple[tuple[int, float, float], ...]
    last: int
    arrive: float
    clear_first: float


@dataclass(frozen=True, slots=True)
class Speeds:
    """Per-resource speeds and clearing times for one load state and network version."""

    speed: list[float]
    """Speed on each cell (m/s; 0 for nodes, inf-time where closed)."""
    traverse: list[float]
    """Time for the front to cross each resource at its speed (s; 0 for nodes)."""
    clear_after: list[float]
    """Upper bound on the time the front needs to drive one footprint from each resource's start."""
    open: list[bool]
    """Whether each resource may be entered now (closed lanes' cells may not)."""
    runs: list[list[Run]]
    """From each resource: every non-stop run to the next place a truck may stand."""


def group_key(lane: Lane, yard: Yard) -> str | None:
    """What a truck in this lane holds: a junction's connector holds itself (those it
    conflicts with are in `lane.conflicts`); a lane of any other conflict group (a
    single-track road) holds the whole group."""
    if lane.conflict_group in yard.junction_ids or lane.conflicts:
        return lane.id
    return lane.conflict_group


def group_checks(lane: Lane, yard: Yard) -> tuple[str, ...]:
    """Every key that must be free for a truck to enter this lane."""
    own = group_key(lane, yard)
    if own is None:
        return ()
    return (own, *sorted(lane.conflicts))


class CellGraph:
    """Nodes and lane cells of a yard, with successors, for one vehicle footprint."""

    def __init__(self, network: LaneNetwork) -> None:
        self.network = network
        yard = network.yard
        self.footprint = network.vehicle.footprint_m
        self.kind: list[int] = []
        self.name: list[str] = []
        self.lane_idx: list[int] = []
        self.from_m: list[float] = []
        self.to_m: list[float] = []
        self.group: list[str | None] = []
        """The key a truck holds while in each resource: a junction connector's own id,
        else its lane's conflict group (a single-track road: all of it), else None."""
        self.checks: dict[int, tuple[str, ...]] = {}
        """Per resource in a group: every key that must be free to enter it (its own and
        those of the connectors whose swept bodies reach its own)."""
        self.waitable: list[bool] = []
        self.node_res: dict[str, int] = {}
        self.lane_cells: dict[str, list[int]] = {}
        for node_id in yard.nodes:
            self.node_res[node_id] = self._add(NODE, node_id, -1, 0.0, 0.0, None, False)
        stops = {sp.node for sp in yard.service_points.values()}
        self.is_stop: list[bool] = [False] * len(self.kind)
        for node_id in stops:
            self.is_stop[self.node_res[node_id]] = True
        for k, lane_id in enumerate(network.lane_ids):
            lane = yard.lanes[lane_id]
            n = 1 if lane.conflict_group else max(1, int(lane.length_m // self.footprint))
            size = lane.length_m / n
            can_wait = lane.conflict_group is None and size >= self.footprint
            cells = [
                self._add(
                    CELL,
                    lane_id,
                    k,
                    i * size,
                    (i + 1) * size if i < n - 1 else lane.length_m,
                    group_key(lane, yard),
                    can_wait,
                )
                for i in range(n)
            ]
            for cell in cells:
                self.checks[cell] = group_checks(lane, yard)
            self.lane_cells[lane_id] = cells
        self.is_stop += [False] * (len(self.kind) - len(self.is_stop))
        self.succ: list[list[int]] = [[] for _ in self.kind]
        for lane_id, cells in self.lane_cells.items():
            lane = yard.lanes[lane_id]
            self.succ[self.node_res[lane.start]].append(cells[0])
            for a, b in itertools.pairwise(cells):
                self.succ[a].append(b)
            self.succ[cells[-1]].append(self.node_res[lane.end])
        self.length = [b - a for a, b in zip(self.from_m, self.to_m, strict=True)]
        pair = {
            (yard.lanes[lane].start, yard.lanes[lane].end): k
            for k, lane in enumerate(network.lane_ids)
        }
        self.reverse_lane: list[int] = [
            pair.get((yard.lanes[lane].end, yard.lanes[lane].start), -1)
            for lane in network.lane_ids
        ]
        self._entry: dict[str, int] = {}
        for lane_id, cells in self.lane_cells.items():
            self._entry.setdefault(yard.lanes[lane_id].end, cells[-1])
        self._speeds: dict[tuple[int, bool], Speeds] = {}
        self._rest_cache: dict[
            tuple[int, bool], tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]
        ] = {}

    def _add(
        self,
        kind: int,
        name: str,
        lane_idx: int,
        a: float,
        b: float,
        group: str | None,
        can_wait: bool,
    ) -> int:
        self.kind.append(kind)
        self.name.append(name)
        self.lane_idx.append(lane_idx)
        self.from_m.append(a)
        self.to_m.append(b)
        self.group.append(group)
        self.waitable.append(can_wait)
        return len(self.kind) - 1

    def __len__(self) -> int:
        return len(self.kind)

    def entry_cell(self, node_id: str) -> int | None:
        """The last cell of the (first) lane into a node: where a parked truck's body stands."""
        return self._entry.get(node_id)

    def speeds(self, laden: bool) -> Speeds:
        """Speeds, crossing and clearing times on the network as it is now."""
        key = (self.network.version, laden)
        hit = self._speeds.get(key)
        if hit is not None:
            return hit
        net = self.network
        lane_speed = net.speeds(laden)
        lane_open = np.isfinite(net.lane_times(laden))
        speed = [0.0] * len(self.kind)
        traverse = [0.0] * len(self.kind)
        is_open = [True] * len(self.kind)
        for r, k in enumerate(self.lane_idx):
            if k >= 0:
                speed[r] = float(lane_speed[k])
                traverse[r] = self.length[r] / speed[r]
                is_open[r] = bool(lane_open[k])
        clear = self._clear_times(speed)
        runs = [self._runs(r, traverse, clear, is_open) for r in range(len(self.kind))]
        if any(k[0] != net.version for k in self._speeds):
            self._speeds.clear()
        self._speeds[key] = Speeds(speed, traverse, clear, is_open, runs)
        return self._speeds[key]

    def _runs(
        self, r: int, traverse: list[float], clear: list[float], is_open: list[bool]
    ) -> list[Run]:
        """Every way on from r through resources a truck may not stand in, to one it may.

        No U-turn onto the other direction of a road, except at a dead end or a service
        point; no resource twice in one run.
        """
        out: list[Run] = []

        def walk(
            x: int,
            a: float,
            inner: tuple[tuple[int, float, float], ...],
            first: int,
            came: int,
            seen: frozenset[int],
        ) -> None:
            if self.waitable[x] or self.is_stop[x]:
                out.append(Run(inner, x, a, clear[first]))
                return
            if len(inner) > 80:
                return
            for y in self.next_from(x, came):
                if is_open[y] and y not in seen:
                    walk(
                        y,
                        a + traverse[x],
                        (*inner, (x, a, a + traverse[x] + clear[y])),
                        first,
                        self.lane_idx[x] if self.lane_idx[x] >= 0 else came,
                        seen | {y},
                    )

        came0 = self.lane_idx[r]
        for r1 in self.next_from(r, came0):
            if is_open[r1]:
                walk(r1, 0.0, (), r1, came0, frozenset({r, r1}))
        return out

    def next_from(self, x: int, came_lane: int) -> list[int]:
        """Successors of x for a truck that came along lane `came_lane` (-1: from standing)."""
        nxt = self.succ[x]
        if self.kind[x] != NODE or came_lane < 0 or self.is_stop[x] or len(nxt) < 2:
            return nxt
        back = self.reverse_lane[came_lane]
        return [y for y in nxt if self.lane_idx[y] != back] if back >= 0 else nxt

    def _clear_times(self, speed: list[float]) -> list[float]:
        """For each resource: the longest time to drive one footprint from its start, any way on."""
        out = [0.0] * len(self.kind)
        memo: dict[tuple[int, int], float] = {}

        def worst(r: int, need_mm: int) -> float:
            """Longest time to drive `need_mm` millimetres from the start of r."""
            if need_mm <= 0:
                return 0.0
            key = (r, need_mm)
            if key in memo:
                return memo[key]
            if self.kind[r] == NODE:
                nxt = self.succ[r]
                result = max((worst(s, need_mm) for s in nxt), default=0.0)
            else:
                here = min(need_mm / 1000.0, self.length[r])
                rest = need_mm - round(self.length[r] * 1000)
                result = here / speed[r] + max((worst(s, rest) for s in self.succ[r]), default=0.0)
            memo[key] = result
            return result

        need = math.ceil(self.footprint * 1000)
        for r in range(len(self.kind)):
            out[r] = worst(r, need)
        return out

    def heuristic(self, node_time: npt.NDArray[np.float64], laden: bool) -> list[float]:
        """Lower bound on the time from each resource's start to a goal, from node times to it."""
        rest, tail = self._rest(laden)
        return (rest + node_time[tail]).tolist()  # type: ignore[no-any-return]

    def _rest(self, laden: bool) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]:
        """Per resource: time to its lane's end, and the node index there (itself for a node)."""
        key = (self.network.version, laden)
        hit = self._rest_cache.get(key)
        if hit is None:
            sp = self.speeds(laden)
            net, yard = self.network, self.network.yard
            rest = np.zeros(len(self.kind))
            tail = np.zeros(len(self.kind), dtype=np.intp)
            for r, k in enumerate(self.lane_idx):
                if k < 0:
                    tail[r] = net.node_index[self.name[r]]
                else:
                    lane = yard.lanes[self.name[r]]
                    rest[r] = (lane.length_m - self.from_m[r]) / sp.speed[r]
                    tail[r] = net.node_index[lane.end]
            hit = (rest, tail)
            if any(k[0] != key[0] for k in self._rest_cache):
                self._rest_cache.clear()
            self._rest_cache[key] = hit
        return hit

"""Resolving deadlocks found at run time: who yields, and where to.

A circular wait (see `Execution.deadlocks`) is broken by one truck: the lowest-priority
one that takes orders (an autonomous truck; if the circle is all manual trucks, the
lowest-priority driver is told). It yields in one of two ways:

- `back-off`: it is inside a single-track road (a conflict group) facing a truck that
  cannot pass: it reverses to the node where it entered the road, and waits there;
- `detour`: it stands before a junction: it drives to the nearest free service point
  that no truck in the circle is heading for (its siding blocks no one), and from
  there, once the others have passed, on to its own goal.

Either way it gives up its place in the plan order and comes after everyone (it is
re-planned with the lowest priority), so it cannot close the same circle again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import networkx as nx

from routing.cells import CellGraph, group_checks, group_key
from routing.execution import Execution, Passage, TruckRun
from routing.rollout import Rollout


@dataclass(frozen=True, slots=True)
class Resolution:
    """What to do about one circular wait."""

    cycle: tuple[str, ...]
    truck: str
    action: str
    """`back-off`, `detour`, or `none` when nobody can yield."""
    to: str | None
    reason: str


def parked_body(cells: CellGraph, laden: bool = False) -> Callable[[str], Passage | None]:
    """For Execution: the lane cell a truck parked at a service point stands on with its body."""

    def body(node: str) -> Passage | None:
        if not cells.network.yard.service_point_by_node.get(node):
            return None
        r = cells.entry_cell(node)
        if r is None:
            return None
        lane = cells.name[r]
        return Passage(
            f"lane:{lane}@{cells.from_m[r]:.3f}",
            -cells.length[r],
            0.0,
            cells.speeds(laden).speed[r],
            -1.0,
            cells.group[r],
            cells.checks.get(r, ()),
        )

    return body


def passages_along(
    cells: CellGraph, laden: bool, nodes: list[str], s0: float = 0.0, ordered: bool = False
) -> list[Passage]:
    """Passages (nodes and lane cells) along a node path, as a truck without a plan drives it."""
    yard = cells.network.yard
    speeds = cells.speeds(laden)
    out: list[Passage] = []
    s = s0
    for k, node in enumerate(nodes):
        out.append(Passage(f"node:{node}", s, s, 0.0, 0.0 if ordered else float("inf")))
        if k + 1 == len(nodes):
            break
        lane = yard.lane_between(node, nodes[k + 1])
        for r in cells.lane_cells[lane.id]:
            length = cells.length[r]
            out.append(
                Passage(
                    f"lane:{lane.id}@{cells.from_m[r]:.3f}",
                    s,
                    s + length,
                    speeds.speed[r],
                    0.0 if ordered else float("inf"),
                    group_key(lane, yard),
                    group_checks(lane, yard),
                )
            )
            s += length
    return out


class DeadlockResolver:
    """Chooses and applies resolutions on an Execution over a yard's cell graph."""

    def __init__(self, cells: CellGraph) -> None:
        self.cells = cells
        self.yard = cells.network.yard
        self.log: list[Resolution] = []

    def choose(self, ex: Execution, cycle: list[str]) -> Resolution:
        """Who yields in this circle, and how: the first that can, autonomous trucks first."""
        ordered = sorted(cycle, key=lambda t: (ex.runs[t].manual, -ex.runs[t].priority))
        goals = {ex.runs[t].passages[-1].resource for t in cycle}
        for truck in ordered:
            run = ex.runs[truck]
            here = run.passages[run.at]
            if here.group and ex.facing(truck):
                back = self._back_off_to(ex, truck, cycle)
                if back is not None:
                    return Resolution(
                        tuple(cycle),
                        truck,
                        "back-off",
                        back,
                        f"facing {', '.join(ex.facing(truck))} on a single-track road",
                    )
            spot = None if ex.facing(truck) else self._free_spot(ex, truck, goals)
            if spot is not None:
                return Resolution(
                    tuple(cycle), truck, "detour", spot, "stands where the circle needs to pass"
                )
        return Resolution(tuple(cycle), ordered[0], "none", None, "nobody can yield")

    def _back_off_to(self, ex: Execution, truck: str, cycle: list[str]) -> str | None:
        """The nearest place behind the truck to reverse to: a free lane cell long enough to
        stand in, outside every single-track road, off the others' remaining way."""
        run = ex.runs[truck]
        needed = {
            p.resource for t in cycle if t != truck for p in ex.runs[t].passages[ex.runs[t].at :]
        }
        for k in range(run.at - 1, -1, -1):
            p = run.passages[k]
            if ex.holders(p.resource) - {truck}:
                return None  # somebody is behind it: it cannot reverse past
            if (
                p.resource.startswith("lane:")
                and p.group is None
                and p.s_out - p.s_in >= ex.footprint_m
                and p.resource not in needed
            ):
                return p.resource
        return None

    def _stand_node(self, run: TruckRun) -> str:
        """The node the truck is at, or the one at the end of the lane it is on."""
        here = run.passages[run.at]
        if here.resource.startswith("node:"):
            return here.resource[5:]
        nxt = run.next
        if nxt is not None and nxt.resource.startswith("node:"):
            return nxt.resource[5:]
        lane = run.passages[run.at].resource[5:].partition("@")[0]
        return self.yard.lanes[lane].end

    def _free_spot(self, ex: Execution, truck: str, avoid: set[str]) -> str | None:
        """The nearest service point nobody occupies or heads for, over road free right now."""
        run = ex.runs[truck]
        start = self._stand_node(run)
        heading = {r.passages[-1].resource for r in ex.runs.values() if r.truck != truck}
        g = nx.DiGraph()
        for lane in self.yard.lanes.values():
            cells = [
                f"lane:{lane.id}@{self.cells.from_m[r]:.3f}" for r in self.cells.lane_cells[lane.id]
            ]
            taken = any(ex.holders(c) - {truck} for c in cells) or any(
                ex.holders(f"group:{k}") - {truck} for k in group_checks(lane, self.yard)
            )
            if not taken and not ex.holders(f"node:{lane.end}") - {truck}:
                g.add_edge(lane.start, lane.end, length_m=lane.length_m)
        if start not in g:
            return None
        dist = nx.single_source_dijkstra_path_length(g, start, weight="length_m")
        best: tuple[float, str] | None = None
        for sp in self.yard.service_points.values():
            res = f"node:{sp.node}"
            if (
                sp.node in dist
                and sp.node != start
                and res not in heading | avoid
                and (best is None or dist[sp.node] < best[0])
            ):
                best = (dist[sp.node], sp.node)
        return best[1] if best else None

    def apply(self, ex: Execution, resolution: Resolution, laden: bool = False) -> None:
        """Change the yielding truck's way in the execution; it now comes after everyone."""
        self.log.append(resolution)
        run = ex.runs[resolution.truck]
        goal = run.passages[-1].resource[5:]
        if resolution.action == "back-off" and resolution.to:
            k = max(i for i in range(run.at) if run.passages[i].resource == resolution.to)
            ex.rewind(resolution.truck, k)
            run.sees_groups = True  # a driver told to back off now waits for the road
            run.yielding_to = {t for t in resolution.cycle if t != resolution.truck}
            ex.yield_to(resolution.truck, [t for t in resolution.cycle if t != resolution.truck])
        elif resolution.action == "detour" and resolution.to:
            g = self.yard.graph
            # Finish the lane it is on, then to the free spot, then on to its goal.
            k = run.at
            while not run.passages[run.at].resource.startswith("node:") and (
                k + 1 < len(run.passages) and not run.passages[k + 1].resource.startswith("node:")
            ):
                k += 1
            rest_of_lane = (
                []
                if run.passages[run.at].resource.startswith("node:")
                else [
                    Passage(
                        p.resource, p.s_in, p.s_out, p.speed_mps, float("inf"), p.group, p.checks
                    )
                    for p in run.passages[run.at + 1 : k + 2]
                ]
            )
            start = rest_of_lane[-1].resource[5:] if rest_of_lane else self._stand_node(run)
            s_at = rest_of_lane[-1].s_out if rest_of_lane else run.passages[run.at].s_out
            to_spot = passages_along(
                self.cells,
                laden,
                nx.shortest_path(g, start, resolution.to, weight="length_m"),
                s_at,
            )
            on = passages_along(
                self.cells,
                laden,
                nx.shortest_path(g, resolution.to, goal, weight="length_m"),
                to_spot[-1].s_out,
            )
            ex.reroute(resolution.truck, [*rest_of_lane, *to_spot[1:], *on[1:]])


def resolve_in(
    resolver: DeadlockResolver, laden: bool = False
) -> Callable[[Rollout, list[list[str]]], None]:
    """A Rollout deadlock handler: resolve every circle found, once, as it is found."""

    def handle(rollout: Rollout, cycles: list[list[str]]) -> None:
        for cycle in cycles:
            resolution = resolver.choose(rollout.execution, cycle)
            if resolution.action == "none":
                continue
            resolver.apply(rollout.execution, resolution, laden)
            rollout.rerouted(resolution.truck)
            break  # one change at a time; the next step shows what is left

    return handle

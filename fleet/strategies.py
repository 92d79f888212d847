"""Dispatch strategies: which truck takes which job, swappable per terminal behind one interface.

A strategy sees a `DispatchView` — trucks (where they are or will be free, and when; fuel),
open jobs (pickup and drop service points, crane and sequence, when the box is ready),
the travel-time tables, the cranes' and RTGs' workload — and returns `Decision`s. Ids:

- `dedicated`: trucks fixed to a crane (a gang), first come first served: the baseline
  terminals move away from;
- `pooled-nearest`: any idle truck takes the job nearest to it by travel time;
- `pooled-optimal`: a min-cost assignment (scipy `linear_sum_assignment`) of idle and
  soon-idle trucks to the next jobs of every crane (a look-ahead in crane sequence), costed
  by when each truck can be at the pickup, with LOAD boxes kept in the crane's sequence and
  every working crane kept fed;
- `dual`: `pooled-optimal` plus dual cycling: a truck that brings an export box to a crane
  takes an import box of the same crane back.

Every pooled strategy also chooses the yard block of a DSCH box among its alternatives,
balancing the RTGs' work, and sends a truck below its fuel threshold to a pump when no
crane is waiting for it — or at once when its fuel is critical, so that no truck runs dry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import permutations
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from fleet.jobs import JobType

LATE_WEIGHT = 3.0
"""A second of a crane waiting costs this many seconds of truck driving."""
RTG_WEIGHT_S = 60.0
"""Each move already queued at a block makes it this many seconds less attractive."""
NO_PAIR = 1e9


@dataclass(frozen=True, slots=True)
class TruckView:
    """A truck as dispatch sees it: where it is (or will be free), when, and its fuel."""

    id: str
    at: str
    free_in_s: float = 0.0
    fuel_l: float = 400.0
    tank_l: float = 400.0
    gang: str | None = None


@dataclass(frozen=True, slots=True)
class JobView:
    """An open job: pickup and drop service points, crane and sequence, when it is ready."""

    job_id: str
    kind: JobType
    pickup: str
    drop: str
    crane: str | None = None
    seq: int | None = None
    ready_in_s: float = 0.0
    priority: int = 0
    alt_drops: tuple[str, ...] = ()


class Travel(Protocol):
    """Travel times between service points (routing's TravelTimeTable fits)."""

    @property
    def index(self) -> Mapping[str, int]: ...

    @property
    def times(self) -> npt.NDArray[np.float64]: ...


@dataclass(frozen=True)
class DispatchView:
    """What a strategy decides on."""

    trucks: Sequence[TruckView]
    jobs: Sequence[JobView]
    empty: Travel
    laden: Travel
    block_load: Mapping[str, float] = field(default_factory=dict)
    """Moves queued per transfer point's block, for balancing the RTGs."""
    pumps: Sequence[str] = ()
    fuel_threshold: float = 0.25
    """Refuel below this share of the tank when it costs the cranes nothing."""
    fuel_critical: float = 0.10
    """Refuel at once below this share of the tank."""
    horizon_s: float = 300.0
    """Trucks free within this many seconds take part in the assignment (soon-idle)."""
    lookahead: int = 4
    """Jobs per crane, in sequence, that the assignment considers."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A truck's next job (with the chosen drop), or a trip to a pump; `then` for dual cycles."""

    truck: str
    job: str | None = None
    drop: str | None = None
    refuel_at: str | None = None
    then: str | None = None
    eta_pickup_s: float = 0.0
    not_before_s: float = 0.0
    """For a LOAD box: do not reach the crane before this (keeps the crane's sequence)."""


class Strategy(Protocol):
    """The narrow interface every dispatch strategy implements."""

    id: str

    def decide(self, view: DispatchView) -> list[Decision]:
        """The decisions for this view."""
        ...


def _cost_matrix(
    view: DispatchView, trucks: Sequence[TruckView], jobs: Sequence[JobView]
) -> npt.NDArray[np.float64]:
    """Seconds until each truck can be at each job's pickup, plus a crane's waiting, weighted."""
    times = view.empty.times
    idx = view.empty.index
    rows = np.array([idx[t.at] for t in trucks], dtype=np.intp)
    cols = np.array([idx[j.pickup] for j in jobs], dtype=np.intp)
    free = np.array([t.free_in_s for t in trucks])
    ready = np.array([j.ready_in_s for j in jobs])
    arrive = times[rows[:, None], cols[None, :]] + free[:, None]
    late = np.maximum(arrive - ready[None, :], 0.0)
    early = np.maximum(ready[None, :] - arrive, 0.0)  # a truck idling under the crane
    prio = np.array([j.priority for j in jobs], dtype=float)
    cost: npt.NDArray[np.float64] = arrive + LATE_WEIGHT * late + 0.5 * early - 30.0 * prio
    return cost


def choose_drop(view: DispatchView, job: JobView, load: dict[str, float]) -> str:
    """The drop among a DSCH box's alternatives that costs least: driving laden plus RTG work."""
    options = (job.drop, *job.alt_drops)
    if len(options) == 1:
        return job.drop
    idx, times = view.laden.index, view.laden.times
    p = idx[job.pickup]

    def cost(sp: str) -> float:
        block = sp.split(".", maxsplit=1)[0]
        return float(times[p, idx[sp]]) + RTG_WEIGHT_S * load.get(block, 0.0)

    best = min(options, key=cost)
    load[best.split(".")[0]] = load.get(best.split(".")[0], 0.0) + 1.0
    return best


def _refuel(
    view: DispatchView, trucks: Sequence[TruckView], waiting_cranes: int
) -> tuple[list[Decision], set[str]]:
    """Send low trucks to the nearest pump: critical ones at once, others if cranes have slack."""
    out: list[Decision] = []
    sent: set[str] = set()
    if not view.pumps:
        return out, sent
    idle = [t for t in trucks if t.free_in_s <= 0.0]
    spare = max(0, len(idle) - waiting_cranes)
    idx, times = view.empty.index, view.empty.times
    for t in sorted(idle, key=lambda t: t.fuel_l / t.tank_l):
        share = t.fuel_l / t.tank_l
        if share < view.fuel_critical or (share < view.fuel_threshold and spare > 0):
            pump = min(view.pumps, key=lambda p: float(times[idx[t.at], idx[p]]))
            out.append(
                Decision(t.id, refuel_at=pump, eta_pickup_s=float(times[idx[t.at], idx[pump]]))
            )
            sent.add(t.id)
            if share >= view.fuel_critical:
                spare -= 1
    return out, sent


def _next_jobs(view: DispatchView, trucks: int | None = None) -> list[JobView]:
    """Per crane the next `lookahead` jobs in sequence; yard and gate jobs ready within the
    horizon, at most twice as many as there are trucks to give them, most urgent first."""
    by_crane: dict[str, list[JobView]] = {}
    rest: list[JobView] = []
    for j in view.jobs:
        if j.crane is None:
            rest.append(j)
        else:
            by_crane.setdefault(j.crane, []).append(j)
    rest = [j for j in rest if j.ready_in_s <= view.horizon_s]
    if trucks is not None and len(rest) > 2 * trucks:
        rest = sorted(rest, key=lambda j: j.ready_in_s - 60.0 * j.priority)[: 2 * trucks]
    out = list(rest)
    for jobs in by_crane.values():
        out += sorted(jobs, key=lambda j: j.seq if j.seq is not None else 0)[: view.lookahead]
    return out


class Dedicated:
    """Gangs: each truck serves its own crane, in sequence, first come first served."""

    id = "dedicated"

    def decide(self, view: DispatchView) -> list[Decision]:
        """Each idle truck takes its crane's next job (trucks without a gang: the rest)."""
        taken: set[str] = set()
        out: list[Decision] = []
        queues: dict[str | None, list[JobView]] = {}
        for j in sorted(view.jobs, key=lambda j: (j.seq if j.seq is not None else 0, j.job_id)):
            queues.setdefault(j.crane, []).append(j)
        idx, times = view.empty.index, view.empty.times
        for t in sorted(view.trucks, key=lambda t: (t.free_in_s, t.id)):
            if t.free_in_s > 0:
                continue
            queue = [j for j in queues.get(t.gang, []) if j.job_id not in taken]
            if queue:
                j = queue[0]
                taken.add(j.job_id)
                out.append(
                    Decision(
                        t.id, j.job_id, j.drop, eta_pickup_s=float(times[idx[t.at], idx[j.pickup]])
                    )
                )
        return out


class PooledNearest:
    """Any idle truck takes the open job nearest to it."""

    id = "pooled-nearest"

    def decide(self, view: DispatchView) -> list[Decision]:
        """Idle trucks in turn, each the nearest job by empty travel time."""
        out, busy = _refuel(view, view.trucks, waiting_cranes=len({j.crane for j in view.jobs}))
        jobs = _next_jobs(view)
        taken = np.zeros(len(jobs), dtype=bool)
        load = dict(view.block_load)
        idle = [t for t in view.trucks if t.free_in_s <= 0 and t.id not in busy]
        if not jobs or not idle:
            return out
        cost = _cost_matrix(view, idle, jobs)
        for i, t in enumerate(idle):
            row = np.where(taken, np.inf, cost[i])
            k = int(np.argmin(row))
            if not np.isfinite(row[k]):
                break
            taken[k] = True
            j = jobs[k]
            out.append(
                Decision(t.id, j.job_id, choose_drop(view, j, load), eta_pickup_s=float(cost[i, k]))
            )
        return out


class PooledOptimal:
    """Min-cost assignment of idle and soon-idle trucks to the cranes' next jobs."""

    id = "pooled-optimal"

    def decide(self, view: DispatchView) -> list[Decision]:
        """Assign, keep LOAD boxes in crane sequence, choose drops; only idle trucks move now."""
        cranes = {j.crane for j in view.jobs if j.crane}
        out, busy = _refuel(view, view.trucks, waiting_cranes=len(cranes))
        trucks = [t for t in view.trucks if t.free_in_s <= view.horizon_s and t.id not in busy]
        jobs = _next_jobs(view, len(trucks))
        if not trucks or not jobs:
            return out
        cost = _cost_matrix(view, trucks, jobs)
        # A job no truck can reach now (a closed lane) is no pair, not an infeasible matrix.
        cost = np.where(np.isfinite(cost), cost, NO_PAIR)
        rows, cols = linear_sum_assignment(cost)
        feasible = [(i, k) for i, k in zip(rows, cols, strict=True) if cost[i, k] < NO_PAIR]
        pairs = self._in_sequence(view, trucks, jobs, cost, feasible)
        load = dict(view.block_load)
        for i, k, hold in pairs:
            t, j = trucks[i], jobs[k]
            if t.free_in_s > 0:
                continue  # soon-idle: reserved for it, decided when it is free
            eta = float(view.empty.times[view.empty.index[t.at], view.empty.index[j.pickup]])
            not_before = 0.0
            if hold > 0:
                not_before = (
                    t.free_in_s
                    + eta
                    + float(view.laden.times[view.laden.index[j.pickup], view.laden.index[j.drop]])
                    + hold
                )
            out.append(
                Decision(
                    t.id,
                    j.job_id,
                    choose_drop(view, j, load),
                    eta_pickup_s=eta + t.free_in_s,
                    not_before_s=not_before,
                )
            )
        return out

    @staticmethod
    def _in_sequence(
        view: DispatchView,
        trucks: Sequence[TruckView],
        jobs: Sequence[JobView],
        cost: npt.NDArray[np.float64],
        pairs: list[tuple[int, int]],
    ) -> list[tuple[int, int, float]]:
        """Re-deal a crane's LOAD jobs among their trucks so boxes arrive in sequence: the deal
        needing the least holding back, then the fastest; with the hold each truck needs."""
        e_idx, e_times = view.empty.index, view.empty.times
        l_idx, l_times = view.laden.index, view.laden.times

        def at_crane(i: int, k: int) -> float:
            t, j = trucks[i], jobs[k]
            return (
                t.free_in_s
                + float(e_times[e_idx[t.at], e_idx[j.pickup]])
                + float(l_times[l_idx[j.pickup], l_idx[j.drop]])
            )

        by_crane: dict[str, list[tuple[int, int]]] = {}
        out: list[tuple[int, int, float]] = []
        for i, k in pairs:
            j = jobs[k]
            if j.kind is JobType.LOAD and j.crane:
                by_crane.setdefault(j.crane, []).append((i, k))
            else:
                out.append((i, k, 0.0))
        for group in by_crane.values():
            ks = sorted((k for _, k in group), key=lambda k: jobs[k].seq or 0)
            ids = [i for i, _ in group]
            deals = permutations(ids) if len(ids) <= 6 else [tuple(ids)]
            best: tuple[float, float, tuple[int, ...]] | None = None
            for deal in deals:
                arrive, held, total = -np.inf, 0.0, 0.0
                for i, k in zip(deal, ks, strict=True):
                    eta = at_crane(i, k)
                    held += max(0.0, arrive - eta)
                    arrive = max(arrive, eta)
                    total += eta
                if best is None or (held, total) < best[:2]:
                    best = (held, total, deal)
            assert best is not None
            arrive = -np.inf
            for i, k in zip(best[2], ks, strict=True):
                eta = at_crane(i, k)
                out.append((i, k, max(0.0, arrive - eta)))
                arrive = max(arrive, eta)
        return out


class Dual(PooledOptimal):
    """Pooled-optimal with dual cycling: back from a crane's LOAD with its next DSCH box."""

    id = "dual"

    def decide(self, view: DispatchView) -> list[Decision]:
        """The pooled-optimal decisions, each LOAD paired with a DSCH job of the same crane."""
        decisions = super().decide(view)
        taken = {d.job for d in decisions if d.job}
        dsch: dict[str, list[JobView]] = {}
        for j in sorted(view.jobs, key=lambda j: j.seq or 0):
            if j.kind is JobType.DSCH and j.crane and j.job_id not in taken:
                dsch.setdefault(j.crane, []).append(j)
        kinds = {j.job_id: j for j in view.jobs}
        out = []
        for d in decisions:
            job = kinds.get(d.job or "")
            if job is not None and job.kind is JobType.LOAD and job.crane and dsch.get(job.crane):
                back = dsch[job.crane].pop(0)
                out.append(replace(d, then=back.job_id))
            else:
                out.append(d)
        return out


STRATEGIES: dict[str, type[Dedicated | PooledNearest | PooledOptimal | Dual]] = {
    s.id: s for s in (Dedicated, PooledNearest, PooledOptimal, Dual)
}


def strategy(name: str) -> Strategy:
    """A strategy by its id; ValueError naming the known ids."""
    try:
        return STRATEGIES[name]()
    except KeyError:
        raise ValueError(f"no strategy {name!r} (known: {', '.join(STRATEGIES)})") from None

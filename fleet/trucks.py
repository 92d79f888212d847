"""The truck life cycle: each truck's record, where it is in its work, all on the record.

A truck's work is a run of phases (`Phase`): to a pickup (or a crane's queue siding),
there, laden to the drop, there; idle, to park, to a pump, refuelling; waiting for a spot.
The dispatcher takes a truck from phase to phase with `Lifecycle.to`, and every change of
its life — the phase, the spot it stands on, the spot it is booked for, its job, whether
a box is on it — is a `truck.phase` event. So a restarted dispatcher knows where each
truck was (`Lifecycle.resume`) and takes the truck up from there when it reports again
(`Lifecycle.take_up`). What a truck is doing for the KPIs (`Activity`: driving laden,
queued, in service, held, …) follows from its phase and whether it drives; each change
is a `truck.status` event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fleet.events import Activity, truck_joined, truck_phase, truck_status
from fleet.jobs import Job, JobState, JobType
from fleet.protocol import Action, State
from fleet.spots import Spots
from fleet.state import FleetState, Recorder
from fleet.strategies import TruckView
from maps import Yard

__all__ = ["SERVICE_ESTIMATE_S", "STANDING", "Lifecycle", "Phase", "Truck", "activity"]

SERVICE_ESTIMATE_S = 90.0
"""How long a truck is expected to stand under a crane, for soon-idle look-ahead."""


class Phase(StrEnum):
    """Where a truck is in its work."""

    IDLE = "IDLE"
    TO_PICKUP = "TO_PICKUP"
    AT_PICKUP = "AT_PICKUP"
    TO_DROP = "TO_DROP"
    AT_DROP = "AT_DROP"
    TO_QUEUE = "TO_QUEUE"
    QUEUED = "QUEUED"
    WAITING = "WAITING"
    TO_PARK = "TO_PARK"
    TO_PUMP = "TO_PUMP"
    REFUELLING = "REFUELLING"


STANDING = {
    Phase.REFUELLING: Activity.REFUELLING,
    Phase.AT_PICKUP: Activity.SERVICE,
    Phase.AT_DROP: Activity.SERVICE,
    Phase.QUEUED: Activity.QUEUED,
    Phase.WAITING: Activity.QUEUED,
}
"""What a truck standing in a phase is doing."""


@dataclass
class Truck:
    """A truck as the dispatcher keeps it."""

    id: str
    driver: str
    twin: bool
    tank_l: float
    litres: float
    spot: str | None
    gang: str | None = None
    phase: Phase = Phase.IDLE
    goal: str | None = None
    job: str | None = None
    then: str | None = None
    drop: str | None = None
    laden: bool = False
    broken_at: float | None = None
    hold_until: float = 0.0
    eta: float = 0.0
    x: float = 0.0
    y: float = 0.0
    odometer_m: float = 0.0
    legs: int = 0
    updates: int = 0
    """orderUpdateId of the current order (repairs send updates)."""
    lag: float = 0.0
    """How far behind its plan it is [s] (negative: a moving truck's stopping point is
    ahead of where its plan is now), from the position it reported last."""
    activity: Activity | None = None
    actions: list[Action] = field(default_factory=list)
    """The work at the end of the current leg (kept when the leg's plan is repaired)."""
    unplannable: set[str] = field(default_factory=set)
    """Spots the planner found no way to for it (tried again only when nothing else is)."""
    paused: bool = False
    """It was sent `startPause` and not yet `stopPause`."""
    heard: float = 0.0
    """When it last sent a state."""
    lost_at: float | None = None
    """Since when it is lost (silent past `lost_after_s`)."""
    last_node: str = ""
    since_m: float = 0.0
    """The last node it reported passing, and the metres it has driven since."""

    @property
    def out_of_service(self) -> bool:
        """Broken down or lost: it takes no work and is planned around."""
        return self.broken_at is not None or self.lost_at is not None


def activity(t: Truck, driving: bool) -> Activity:
    """What the truck is doing: lost, broken, driving (laden or not), or its phase's
    standing activity; held when it has left its spot and stands short of its goal."""
    if t.lost_at is not None:
        return Activity.LOST
    if t.broken_at is not None:
        return Activity.BROKEN
    if driving:
        return Activity.LADEN if t.laden else Activity.EMPTY
    standing = STANDING.get(t.phase)
    if standing is not None:
        return standing
    if t.goal is not None and t.spot is None:
        return Activity.HELD  # left its spot, not there yet, standing
    return Activity.IDLE


class Lifecycle:
    """Every truck's record, its phases and activities, journalled as they change."""

    def __init__(self, yard: Yard, recorder: Recorder) -> None:
        self.yard = yard
        self.recorder = recorder
        self.trucks: dict[str, Truck] = {}
        self._noted: dict[str, tuple[Phase, str | None, str | None, str | None, bool]] = {}
        self._before: dict[str, dict[str, Any]] = {}
        """Per truck, its life as journalled before a restart (taken up when it joins)."""

    def join(
        self,
        truck: str,
        spot: str | None,
        now: float,
        *,
        driver: str,
        twin: bool,
        tank_l: float,
        litres: float,
        gang: str | None,
    ) -> Truck:
        """A new record: the truck at its spot (None: somewhere, only seen), idle."""
        x = y = 0.0
        if spot is not None:
            node = self.yard.node(self.yard.node_of(spot))
            x, y = node.x, node.y
        t = Truck(truck, driver, twin, tank_l, litres, spot, gang, x=x, y=y, heard=now)
        self.trucks[truck] = t
        return t

    def joined(self, t: Truck, now: float) -> None:
        """On the record: the truck joined, what it is doing, where it is in its work."""
        rec = self.recorder
        rec.record(
            truck_joined(
                t.id, rec.iso(now), driver=t.driver, twin=t.twin, tank_l=t.tank_l, gang=t.gang
            )
        )
        self.status(t, now, False, force=True)
        self.note(t, now)

    def to(self, t: Truck, phase: Phase, now: float) -> None:
        """The truck enters a phase (with its spot, goal, job and box as they are now)."""
        t.phase = phase
        self.note(t, now)

    def note(self, t: Truck, now: float) -> None:
        """A `truck.phase` event if its life changed since the last one."""
        life = (t.phase, t.spot, t.goal, t.job, t.laden)
        if self._noted.get(t.id) == life:
            return
        self._noted[t.id] = life
        rec = self.recorder
        rec.record(
            truck_phase(
                rec.eid("truck.phase"),
                t.id,
                rec.iso(now),
                phase=t.phase.value,
                spot=t.spot,
                goal=t.goal,
                job=t.job,
                laden=t.laden,
            )
        )

    def status(self, t: Truck, now: float, driving: bool, force: bool = False) -> None:
        """A `truck.status` event if what it is doing changed (or `force`)."""
        now_doing = activity(t, driving)
        if now_doing is t.activity and not force:
            return
        t.activity = now_doing
        rec = self.recorder
        rec.record(
            truck_status(
                rec.eid("truck.status"),
                t.id,
                rec.iso(now),
                activity=now_doing,
                x=t.x,
                y=t.y,
                litres=t.litres,
                odometer_m=t.odometer_m,
                node=self.yard.node_of(t.spot) if t.spot else None,
                job=t.job,
            )
        )

    def heard(self, t: Truck, state: State, now: float) -> None:
        """What a state says of the truck itself: when, where, its fuel and odometer, the
        node it passed last; driving, it has left its spot."""
        t.heard = max(t.heard, now)
        if state.agv_position is not None:
            t.x, t.y = state.agv_position.x, state.agv_position.y
        ext = state.yardfleet
        if ext is not None and ext.fuel is not None:
            t.litres = ext.fuel.litres
            t.tank_l = ext.fuel.tank_litres or t.tank_l  # the truck's word on its tank
        if ext is not None and ext.travel is not None:
            t.odometer_m = ext.travel.odometer  # metres on the wire
        if state.driving and t.spot is not None and t.goal != t.spot:
            t.spot = None  # it has left its spot
        if state.last_node_id:
            t.last_node = state.last_node_id
            t.since_m = state.distance_since_last_node or 0.0

    # -- a restart -------------------------------------------------------------------

    def resume(self, state: FleetState) -> None:
        """After a restart: each truck's last journalled life, to take up when it joins."""
        self._before = {
            truck: dict(rec["phase"]) for truck, rec in state.trucks.items() if "phase" in rec
        }

    def take_up(self, t: Truck, job: Job | None) -> JobState | None:
        """A truck that joins after a restart goes on where its journalled life left it;
        the step its job takes for that, if any.

        `job` is the job still with it (its box on the truck, or the truck under the crane
        for it; a job not yet under way went back to the open jobs). Standing where it
        stood for it, the truck is there again (at pickup, at drop); standing at the drop
        it was driving to, it has arrived (the job steps to at drop); elsewhere it waits,
        laden if the box is on it, and goes on to the drop it was heading for. Without a
        job it is idle (still refuelling, if it stands at its pump). A journal without the
        truck's life (older than `truck.phase`) takes the truck's spot at its word.
        """
        life = self._before.pop(t.id, None) or {}
        phase = life.get("phase")
        stood = t.spot is not None and (not life or life.get("spot") == t.spot)
        if job is None:
            if phase == Phase.REFUELLING and stood:
                t.phase, t.goal = Phase.REFUELLING, t.spot
            return None
        t.job = job.job_id
        t.laden = job.state in (JobState.LOADED, JobState.TO_DROP, JobState.AT_DROP)
        arrived = t.spot is not None and phase == Phase.TO_DROP and life.get("goal") == t.spot
        if job.state is JobState.AT_PICKUP and stood:
            t.phase, t.goal = Phase.AT_PICKUP, t.spot
        elif job.state is JobState.AT_DROP and stood:
            t.phase, t.goal = Phase.AT_DROP, t.spot
        elif job.state is JobState.TO_DROP and arrived:
            t.phase, t.goal = Phase.AT_DROP, t.spot
            return JobState.AT_DROP
        else:
            t.phase = Phase.WAITING
            if t.laden and phase == Phase.TO_DROP:
                t.drop = life.get("goal")
        return None

    # -- what the strategy sees ------------------------------------------------------

    def views(self, now: float) -> list[TruckView]:
        """Idle trucks where they stand, and soon-idle ones (driving to park, or laden to
        their last drop) where they will be and when."""
        out = []
        for t in self.trucks.values():
            if t.out_of_service:
                continue
            if t.phase is Phase.IDLE and t.spot:
                out.append(TruckView(t.id, t.spot, 0.0, t.litres, t.tank_l, t.gang))
            elif t.phase is Phase.TO_PARK and t.goal:
                free_in = max(0.0, t.eta - now)
                out.append(TruckView(t.id, t.goal, free_in, t.litres, t.tank_l, t.gang))
            elif t.phase in (Phase.TO_DROP, Phase.AT_DROP) and t.then is None and t.goal:
                free_in = max(0.0, t.eta - now) + SERVICE_ESTIMATE_S
                out.append(TruckView(t.id, t.goal, free_in, t.litres, t.tank_l, t.gang))
        return out

    def waits_for(self, jobs: Mapping[str, Job], spots: Spots) -> list[tuple[str, str]]:
        """Who waits for whom: a truck waiting for a spot → each truck holding such a spot."""
        edges = []
        for t in self.trucks.values():
            if t.phase not in (Phase.WAITING, Phase.QUEUED) or t.job is None:
                continue
            job = jobs[t.job]
            for spot in spots.serving(job.drop if t.laden else job.pickup, t.spot):
                holder = spots.holder(spot)
                if holder and holder != t.id:
                    edges.append((t.id, holder))
        return edges

    def ahead(self, jobs: Mapping[str, Job]) -> dict[str, int]:
        """Per quay crane, the trucks on their way to it or under it for its jobs (a dual
        cycle's second job counted; a truck that has brought a box is served)."""
        out: dict[str, int] = {}
        for t in self.trucks.values():
            if t.job is None:
                continue
            job = jobs[t.job]
            served = (
                t.phase in (Phase.TO_DROP, Phase.AT_DROP)
                and t.laden
                and job.job_type is not JobType.LOAD
            )
            if job.crane and not served:
                out[job.crane] = out.get(job.crane, 0) + 1 + (t.then is not None)
        return out

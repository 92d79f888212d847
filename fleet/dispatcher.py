"""The dispatcher: typed messages in; jobs, conflict-free plans and orders out; all journaled.

Inputs are what a live yard sends — trucks' VDA 5050 `State`, cranes' `CraneEvent`s,
operator commands (close or open a lane), work queues — and every change they cause is an
event in the journal (see `fleet.events`), folded into `FleetState`. Each input returns the
`Dispatch`es it caused: a truck, its new plan (`routing.Plan`) and the order that drives it.

A truck's work goes in legs: to the pickup (or, if a crane is busy, to its queue siding),
then laden to the drop, then the next job; a truck with nothing to do leaves the crane or
block for a parking spot; one low on fuel goes to a pump when the strategy says so. Every
leg is planned by routing's `FleetPlanner` around every other truck's plan, so plans never
conflict; a breakdown or a closed lane repairs only the plans it touches.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import networkx as nx
import numpy as np

from fleet.events import (
    Activity,
    crane_event,
    lane_closed,
    lane_opened,
    message_sent,
    truck_joined,
    truck_status,
)
from fleet.jobs import FINAL, Job, JobState, JobType, PlaceKind
from fleet.journal import Event, Journal
from fleet.openjobs import OpenJobs
from fleet.orders import work_action
from fleet.protocol import (
    REFUEL,
    Action,
    ActionStatus,
    CraneEvent,
    InstantActions,
    Order,
    State,
    make_action,
)
from fleet.release import Release
from fleet.spots import Spots
from fleet.state import FleetState, job_added, job_stepped, load
from fleet.strategies import DispatchView, JobView, Strategy, TruckView
from maps import Yard
from routing.errors import PlanningError, RoutingError
from routing.network import LaneNetwork
from routing.plan import Plan, ResourceKind
from routing.planner import FleetPlanner, Task
from routing.table import TravelTimeTable
from routing.vehicle import VehicleClass

log = logging.getLogger(__name__)

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


@dataclass(frozen=True, slots=True)
class Dispatch:
    """A truck's new plan and the order that drives it; `purpose` says what the leg is for."""

    truck: str
    plan: Plan
    order: Order | InstantActions
    """The order that drives the plan; a pause (instant action) when it must stand."""
    purpose: str
    new_plan: bool = True
    """False for messages that leave the plan as it is: a base extension, a pause, a cancel."""


@dataclass
class DispatcherConfig:
    """Knobs of one terminal's dispatcher."""

    manufacturer: str = "YardFleet"
    fuel_threshold: float = 0.25
    fuel_critical: float = 0.10
    horizon_s: float = 600.0
    lookahead: int = 6
    crane_cycle_s: float = 120.0
    """A quay crane's cycle until its moves tell better (a moving mean of their spacing)."""
    vehicle: VehicleClass = field(default_factory=VehicleClass)
    lost_after_s: float | None = 15.0
    """A truck silent this long is lost: its job goes to another truck (not a box it
    carries), its place stays blocked until it speaks again. None: never (a simulator whose
    trucks speak only when something happens)."""
    keep_bases: bool = True
    """Re-plans keep what a truck was released (it drives its base whatever happens) and
    go on from its end. The simulator's wheels drive plans, not bases (yet): off there."""
    release_ahead_s: float = 1.5
    """A truck's state interval plus the round trip [s]: bases reach this much driving
    (plus the stopping distance) ahead of a truck on a free road."""


class Dispatcher:
    """One yard's dispatcher; feed it messages, carry out what it returns."""

    def __init__(
        self,
        yard: Yard,
        journal: Journal,
        strategy: Strategy,
        origin: datetime,
        config: DispatcherConfig | None = None,
    ) -> None:
        self.yard = yard
        self.journal = journal
        self.strategy = strategy
        self.origin = origin
        self.config = config or DispatcherConfig()
        self.network = LaneNetwork(yard, self.config.vehicle)
        self.planner = FleetPlanner(self.network)
        self.release = Release(
            yard,
            self.planner.cells,
            self.config.vehicle,
            self.config.manufacturer,
            self.at,
            ahead_s=self.config.release_ahead_s,
        )
        self.spots = Spots(yard)
        points = sorted(yard.service_points)
        self.empty = TravelTimeTable(self.network, False, points)
        self.laden = TravelTimeTable(self.network, True, points)
        self.state = FleetState()
        self.trucks: dict[str, Truck] = {}
        self.open_jobs = OpenJobs()
        self.block_load: dict[str, float] = {}
        self.problems: list[str] = []
        self._events = 0
        self._freed = False
        self._boot = uuid.uuid4().hex[:12]
        self._carried: dict[str, str] = {}
        self._pruned_at = -math.inf
        self._early_moves: dict[str, CraneEvent] = {}
        """Per truck, a crane's MOVEDONE that came before the truck said it arrived."""
        self.circles_opened = 0
        """Times trucks waiting on each other in a circle were set free (see `tick`)."""
        self._last_problem: dict[str, str] = {}
        self.stranded: set[str] = set()
        """Trucks whose repaired plan failed: they stand (a standing plan) and are retried."""
        self.crane_cycle: dict[str, float] = {}
        self.last_move: dict[str, float] = {}

    # -- journal ---------------------------------------------------------------------

    def at(self, now: float) -> datetime:
        """Shift seconds as a UTC time."""
        return self.origin + timedelta(seconds=now)

    def _iso(self, now: float) -> str:
        return self.at(now).isoformat()

    def _record(self, event: Event) -> None:
        seq = self.journal.append(event)
        if seq is not None:
            self.state.apply(seq, event)

    def _eid(self, kind: str) -> str:
        """A new event id, unique across restarts (this run's boot id, then a counter)."""
        self._events += 1
        return f"{kind}:{self._boot}:{self._events}"

    def _step(
        self, job_id: str, state: JobState, now: float, cause: str, truck: str | None = None
    ) -> None:
        self._record(
            job_stepped(self._eid("job.step"), job_id, state, self._iso(now), cause, truck=truck)
        )

    def _status(self, t: Truck, now: float, driving: bool, force: bool = False) -> None:
        activity = self._activity(t, driving)
        if activity is t.activity and not force:
            return
        t.activity = activity
        self._record(
            truck_status(
                self._eid("truck.status"),
                t.id,
                self._iso(now),
                activity=activity,
                x=t.x,
                y=t.y,
                litres=t.litres,
                odometer_m=t.odometer_m,
                node=self.yard.node_of(t.spot) if t.spot else None,
                job=t.job,
            )
        )

    @staticmethod
    def _activity(t: Truck, driving: bool) -> Activity:
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

    # -- inputs ----------------------------------------------------------------------

    def add_truck(
        self,
        truck: str,
        spot: str | None,
        now: float,
        *,
        driver: str = "HUMAN",
        twin: bool = False,
        tank_l: float = 400.0,
        litres: float = 400.0,
        gang: str | None = None,
    ) -> None:
        """A truck joins the fleet, standing at a service point (None: somewhere, only seen).

        A truck without a spot is tracked (its states are journaled) but gets no work
        until it stands at a service point; a replayed bag's trucks join like this.
        """
        if truck in self.trucks:
            raise ValueError(f"truck {truck} already in the fleet")
        x = y = 0.0
        if spot is not None:
            self.yard.service_point(spot)
            self.spots.book(spot, truck)
            node = self.yard.node(self.yard.node_of(spot))
            x, y = node.x, node.y
        t = Truck(truck, driver, twin, tank_l, litres, spot, gang, x=x, y=y, heard=now)
        self.trucks[truck] = t
        self._take_up(t)
        if spot is not None:
            self.planner.plan_one(Task(truck, spot, spot, release_s=now))
            self.release.place(truck, self.yard.node_of(spot), now)
        self._record(
            truck_joined(truck, self._iso(now), driver=driver, twin=twin, tank_l=tank_l, gang=gang)
        )
        self._status(t, now, False, force=True)

    def resume(self, now: float = 0.0) -> int:
        """Take up the journal's story after a restart: its jobs, and who carries which.

        Jobs not yet under way (planned, released, assigned, to pickup) are open again
        (an assignment from before is released: the truck may be elsewhere by now); a job
        whose box is at or on a truck stays with that truck, taken up when it reports.
        Returns how many events were read.
        """
        self.state = load(self.journal)
        again = (JobState.PLANNED, JobState.ASSIGNED, JobState.TO_PICKUP)
        for job_id in list(self.state.jobs):
            if self.state.jobs[job_id].state in again:
                self._step(job_id, JobState.RELEASED, now, "dispatcher restarted")
            job = self.state.jobs[job_id]
            if job.state is JobState.RELEASED:
                self.open_jobs[job_id] = job
            elif job.state not in FINAL and job_id in self.state.truck_of:
                self._carried[self.state.truck_of[job_id]] = job_id
        for lane in self.state.closed_lanes:
            if lane in self.yard.lanes:
                self.network.close(lane)
        return self.state.seq

    def _take_up(self, t: Truck) -> None:
        """A truck that joins after a restart gets back the job whose box it carries."""
        job_id = self._carried.pop(t.id, None)
        if job_id is None:
            return
        job = self.state.jobs[job_id]
        t.job = job_id
        if job.state is JobState.AT_PICKUP and t.spot:
            t.phase, t.goal = Phase.AT_PICKUP, t.spot
        elif job.state is JobState.AT_DROP and t.spot:
            t.phase, t.goal = Phase.AT_DROP, t.spot
            t.laden = True
        else:
            t.laden = job.state in (JobState.LOADED, JobState.TO_DROP, JobState.AT_DROP)
            t.phase = Phase.WAITING

    def add_jobs(self, jobs: Sequence[Job], now: float, cause: str = "work queue") -> list[str]:
        """Jobs from a work queue: recorded, released, open for dispatch; problems returned."""
        problems = []
        for job in jobs:
            try:
                for place in (job.pickup, job.drop):
                    self.spots.nominal(place)
            except (KeyError, ValueError) as exc:
                problems.append(f"job {job.job_id}: {exc}")
                continue
            if job.job_id in self.state.jobs:
                problems.append(f"job {job.job_id}: already known")
                continue
            self._record(job_added(job, self._iso(now)))
            self._step(job.job_id, JobState.RELEASED, now, cause)
            self.open_jobs[job.job_id] = job
        return problems

    def tick(self, now: float) -> list[Dispatch]:
        """Look again: trucks waiting for a spot, idle trucks and open jobs."""
        if now - self._pruned_at >= 300.0:  # holds that ended: every five minutes
            self.planner.forget_before(now - 60.0)
            self._pruned_at = now
        out = self._lose_silent(now)
        out += self._retry_waiting(now)
        stranded = {
            t: 0.0
            for t in self.stranded
            if self.trucks[t].broken_at is None and self.trucks[t].lost_at is None
        }
        if stranded:
            out += self._repair(now, late=stranded)
        out += self._break_circles(now)
        out += self._decide(now)
        out += self._released(self.release.pending(), now)  # planned times come, holds go
        return self._settle(out, now)

    def _lose_silent(self, now: float) -> list[Dispatch]:
        """Trucks silent past `lost_after_s` are lost: a job whose box is not on the truck
        goes back to the open jobs (and to another truck), and the truck stands where it
        was last heard, in everyone's plans, until it speaks again."""
        limit = self.config.lost_after_s
        if limit is None:
            return []
        lost = [t for t in self.trucks.values() if t.lost_at is None and now - t.heard > limit]
        out: list[Dispatch] = []
        for t in lost:
            t.lost_at = now
            self._problem(t, f"{t.id} silent for {now - t.heard:.0f} s: lost", now)
            if not t.laden and t.phase not in (Phase.AT_PICKUP, Phase.AT_DROP):
                for job_id in (t.job, t.then):
                    if job_id is None or job_id not in self.state.jobs:
                        continue
                    self._step(job_id, JobState.RELEASED, now, f"truck {t.id} lost")
                    self.open_jobs[job_id] = self.state.jobs[job_id]
                    job = self.state.jobs[job_id]
                    if job.drop.kind is PlaceKind.YARD and job_id == t.job:
                        load = self.block_load.get(job.drop.id, 0.0)
                        self.block_load[job.drop.id] = max(0.0, load - 1)
                if t.job is not None:
                    t.job = t.then = t.drop = None
                    if t.goal and t.goal != t.spot and self.spots.give_back(t.goal, t.id):
                        self._freed = True
                    t.goal = t.spot
                    t.phase = Phase.IDLE if t.spot else Phase.WAITING
            self._status(t, now, False)
            if t.spot is None:
                out += self._repair(now, broken=[t.id])
        return out

    def _found(self, t: Truck, now: float) -> list[Dispatch]:
        """A lost truck speaks again: it is re-planned from where it reports itself."""
        assert t.lost_at is not None
        late = now - t.lost_at
        t.lost_at = None
        self._problem(t, f"{t.id} back after {late:.0f} s", now)
        if t.spot is not None or t.broken_at is not None:
            return []
        if t.goal is None or (t.job is None and t.phase is not Phase.TO_PARK):
            # Its work went to another truck: it goes to park from where it is.
            spot = self._nearest(t, self.spots.parking)
            if spot is None:
                return []
            self.spots.book(spot, t.id)
            t.goal, t.phase = spot, Phase.TO_PARK
            task = self.planner.tasks[t.id]
            self.planner.tasks[t.id] = Task(t.id, task.start, spot, laden=t.laden, release_s=now)
        return self._repair(now, late={t.id: 0.0})

    def _break_circles(self, now: float) -> list[Dispatch]:
        """Trucks waiting on each other for spots in a circle: one of them makes room.

        A truck waiting on a transfer point for a crane, and the crane's truck waiting
        for that transfer point with its box, wait for ever; the waiting truck without a
        box (else any) moves to a parking spot, and the circle opens.
        """
        edges = self.waits_for()
        if not edges:
            return []
        out: list[Dispatch] = []
        for cycle in nx.simple_cycles(nx.DiGraph(edges)):
            trucks = [self.trucks[c] for c in cycle]
            if any(t.phase not in (Phase.WAITING, Phase.QUEUED) for t in trucks):
                continue  # already broken by an earlier one
            mover = min(trucks, key=lambda t: (t.laden, t.id))
            room = self._nearest(mover, self.spots.parking) or self._nearest(
                mover, [s for tps in self.spots.block_tps.values() for _, s in tps]
            )
            if room is None:
                continue
            self.circles_opened += 1
            circle = ", ".join(cycle)
            self._problem(mover, f"{mover.id} makes room: {circle} waited in a circle", now)
            out += self._leg(mover, now, room, Phase.TO_QUEUE, "make room")
        return out

    def _settle(self, out: list[Dispatch], now: float) -> list[Dispatch]:
        """After an input: spots given back go to the trucks waiting for them, queue first."""
        rounds = 0
        while self._freed and rounds < 8:
            self._freed = False
            rounds += 1
            out += self._retry_waiting(now)
        for x in out:  # every message to a truck on the record, as sent
            self._record(message_sent(x.truck, x.order, x.purpose))
        return out

    def on_state(self, state: State, now: float) -> list[Dispatch]:
        """A truck's state: position, fuel, arrival, breakdown, a finished refuel."""
        return self._settle(self._on_state(state, now), now)

    def on_crane_event(
        self, event: CraneEvent, now: float, *, journaled: bool = False
    ) -> list[Dispatch]:
        """A crane's event: MOVEDONE moves the job of the truck under it on.

        `journaled`: the event is in the journal already (the live server stores what
        arrives before handing it over), so it is not recorded twice.
        """
        return self._settle(self._on_crane_event(event, now, journaled), now)

    def close_lane(self, lane: str, now: float, reason: str) -> list[Dispatch]:
        """Close a lane to traffic: plans through it are repaired at once."""
        return self._settle(self._close_lane(lane, now, reason), now)

    def open_lane(self, lane: str, now: float, reason: str) -> list[Dispatch]:
        """Open a closed lane again (plans made meanwhile stay; new ones may use it)."""
        return self._settle(self._open_lane(lane, now, reason), now)

    def _on_state(self, state: State, now: float) -> list[Dispatch]:
        t = self.trucks.get(state.serial_number or "")
        if t is None:
            msg = f"state from unknown truck {state.serial_number!r} ignored"
            self.problems.append(msg)
            log.warning(msg)
            return []
        t.heard = max(t.heard, now)
        if state.agv_position is not None:
            t.x, t.y = state.agv_position.x, state.agv_position.y
        ext = state.yardfleet
        out: list[Dispatch] = []
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
            out += self._progress(t, state, now)
        if state.last_node_id and t.spot is None:
            ahead = state.distance_since_last_node or 0.0
            speed = state.velocity.vx if state.velocity and state.velocity.vx else 0.0
            if state.driving and speed > 0:
                ahead += self.config.vehicle.stopping_m(speed)
            t.lag = self._lag(t.id, state.last_node_id, now, ahead)
        if t.lost_at is not None:
            out += self._found(t, now)
        broken = any(e.error_type == "breakdown" for e in state.errors)
        if broken and t.broken_at is None:
            t.broken_at = now
            self._status(t, now, False)
            if state.driving or t.spot is None:
                out += self._repair(now, broken=[t.id])
            return out
        if not broken and t.broken_at is not None:
            late = now - t.broken_at
            t.broken_at = None
            if t.spot is None:
                out += self._repair(now, late={t.id: late})
        if state.driving:
            self._status(t, now, True)
            return out
        arrived = (
            t.goal is not None
            and t.spot is None
            and state.last_node_id == self.yard.node_of(t.goal)
        )
        if arrived:
            out += self._arrive(t, now)
        elif t.phase is Phase.REFUELLING and any(
            a.action_type == REFUEL and a.action_status is ActionStatus.FINISHED
            for a in state.action_states
        ):
            t.phase = Phase.IDLE
            out += self._free(t, now)
        self._status(t, now, False)
        return out

    def _on_crane_event(self, event: CraneEvent, now: float, journaled: bool) -> list[Dispatch]:
        if not journaled:
            self._record(
                crane_event(
                    self._eid("crane.event"),
                    event.crane_id,
                    self._iso(now),
                    crane_kind=event.crane_kind.value,
                    event=event.event.value,
                    job=event.job_id,
                    truck=event.truck_id,
                    seq=event.sequence,
                )
            )
        if event.event.value != "MOVEDONE" or not event.truck_id:
            return []
        if event.crane_kind.value == "QC":
            last = self.last_move.get(event.crane_id)
            if last is not None and now > last:
                old = self.crane_cycle.get(event.crane_id, self.config.crane_cycle_s)
                self.crane_cycle[event.crane_id] = 0.8 * old + 0.2 * min(now - last, 3 * old)
            self.last_move[event.crane_id] = now
        t = self.trucks.get(event.truck_id)
        if t is None or t.job is None or (event.job_id and event.job_id != t.job):
            msg = f"{event.crane_id}: MOVEDONE for truck {event.truck_id} job {event.job_id}"
            self.problems.append(msg + " that is not there; ignored")
            return []
        if t.phase in (Phase.AT_PICKUP, Phase.AT_DROP) and not self._crane_of_leg(t, event):
            self._problem(t, f"{event.crane_id}: MOVEDONE for {t.id}, not its crane; ignored", now)
            return []
        return self._move_done(t, event, now)

    def _move_done(self, t: Truck, event: CraneEvent, now: float) -> list[Dispatch]:
        """A crane put the truck's box on or took it off: the job and the truck move on."""
        assert t.job is not None
        job = self.state.jobs[t.job]
        out: list[Dispatch] = []
        if t.phase is Phase.AT_PICKUP:
            self._step(job.job_id, JobState.LOADED, now, f"crane {event.crane_id} MOVEDONE")
            t.laden = True
            out += self._go(t, now, drop=True)
        elif t.phase is Phase.AT_DROP:
            self._step(job.job_id, JobState.DONE, now, f"crane {event.crane_id} MOVEDONE")
            if job.drop.kind is PlaceKind.YARD:
                self.block_load[job.drop.id] = max(0.0, self.block_load.get(job.drop.id, 0) - 1)
            t.laden = False
            t.job, t.drop = None, None
            t.phase = Phase.IDLE
            out += self._free(t, now)
        elif t.phase in (Phase.TO_PICKUP, Phase.TO_DROP) and self._crane_of_leg(t, event):
            # The crane's word overtook the truck's (two senders: the link orders neither):
            # it takes effect when the truck reports it is there.
            self._early_moves[t.id] = event
            self._problem(t, f"{event.crane_id}: MOVEDONE for {t.id} before it arrived; held", now)
            return out
        self._status(t, now, False)
        return out

    def _crane_of_leg(self, t: Truck, event: CraneEvent) -> bool:
        """Whether the crane is the one at the end of the truck's current leg (a quay crane
        by its id; a yard or gate place by its kind)."""
        if t.job is None:
            return False
        job = self.state.jobs[t.job]
        place = job.pickup if t.phase in (Phase.TO_PICKUP, Phase.AT_PICKUP) else job.drop
        if place.kind is PlaceKind.QUAY_CRANE:
            return place.id == event.crane_id
        return event.crane_kind.value != "QC"

    def _close_lane(self, lane: str, now: float, reason: str) -> list[Dispatch]:
        self.yard.lane(lane)
        self.network.close(lane)
        self._record(lane_closed(self._eid("lane.closed"), lane, self._iso(now), reason))
        return self._repair(now, closed=[lane])

    def _open_lane(self, lane: str, now: float, reason: str) -> list[Dispatch]:
        self.yard.lane(lane)
        self.network.reopen(lane)
        self._record(lane_opened(self._eid("lane.opened"), lane, self._iso(now), reason))
        return self._retry_waiting(now)

    def _lag(self, truck: str, node: str, now: float, metres: float | None = None) -> float:
        """How late the truck is: now against when its plan was where the truck reports.

        Where is the last node it passed plus `metres` along its plan since (VDA 5050's
        `distanceSinceLastNode`; for a moving truck, plus the distance it needs to stop,
        since it cannot turn off before that). A truck standing at a stretch's end is
        still in that stretch: the moment is taken just before the next one.
        """
        plan = self.planner.plans.get(truck)
        if plan is None:
            return 0.0
        steps = [s for s in plan.steps if s.kind is not ResourceKind.CONFLICT_GROUP]
        at = [i for i, s in enumerate(steps) if s.resource == node and s.t_enter <= now]
        if at:
            k, covered = at[-1], 0.0
        else:  # a plan made on the move starts part-way along the lane from that node
            k = next(
                (
                    i
                    for i, s in enumerate(steps)
                    if s.kind is ResourceKind.LANE and self.yard.lanes[s.resource].start == node
                ),
                -1,
            )
            if k < 0:
                return 0.0
            covered = steps[k].from_m
        if not metres or metres <= covered:
            return max(0.0, now - steps[k].t_enter)
        for s in steps[k:]:
            if s.kind is not ResourceKind.LANE:
                continue
            end = s.to_m if s.to_m is not None else self.yard.lanes[s.resource].length_m
            length = end - s.from_m
            if covered + length >= metres - 1e-6:
                drive = (metres - covered) / (s.speed_mps or 1.0)
                return now - (s.t_enter + min(drive, s.t_exit - s.t_enter) - 1e-6)
            covered += length
        return max(0.0, now - steps[-1].t_enter)

    def waits_for(self) -> list[tuple[str, str]]:
        """Who waits for whom: a truck waiting for a spot → each truck holding such a spot."""
        edges = []
        for t in self.trucks.values():
            if t.phase not in (Phase.WAITING, Phase.QUEUED) or t.job is None:
                continue
            job = self.state.jobs[t.job]
            place = job.drop if t.laden else job.pickup
            if place.kind is PlaceKind.QUAY_CRANE:
                spots = [self.spots.qc_spot[place.id]]
                queue = self.spots.qc_queue.get(place.id)
                if queue and t.spot != queue:
                    spots.append(queue)
            elif place.kind is PlaceKind.YARD:
                spots = self.spots.tps_by_bay(place.id, place.bay)
            else:
                spots = [place.id]
            for spot in spots:
                holder = self.spots.holder(spot)
                if holder and holder != t.id:
                    edges.append((t.id, holder))
        return edges

    # -- decisions -------------------------------------------------------------------

    def _view(self, now: float) -> DispatchView:
        trucks = []
        for t in self.trucks.values():
            if t.broken_at is not None or t.lost_at is not None:
                continue
            if t.phase is Phase.IDLE and t.spot:
                trucks.append(TruckView(t.id, t.spot, 0.0, t.litres, t.tank_l, t.gang))
            elif t.phase is Phase.TO_PARK and t.goal:
                free_in = max(0.0, t.eta - now)
                trucks.append(TruckView(t.id, t.goal, free_in, t.litres, t.tank_l, t.gang))
            elif t.phase in (Phase.TO_DROP, Phase.AT_DROP) and t.then is None and t.goal:
                free_in = max(0.0, t.eta - now) + SERVICE_ESTIMATE_S
                trucks.append(TruckView(t.id, t.goal, free_in, t.litres, t.tank_l, t.gang))
        ahead: dict[str, int] = {}
        for t in self.trucks.values():
            if t.job is None:
                continue
            crane = self.state.jobs[t.job].crane
            served = (
                t.phase in (Phase.TO_DROP, Phase.AT_DROP)
                and t.laden
                and self.state.jobs[t.job].job_type is not JobType.LOAD
            )
            if crane and not served:
                ahead[crane] = ahead.get(crane, 0) + 1 + (t.then is not None)
        jobs = []
        wanted: list[tuple[Job, float]] = [(job, 0.0) for job in self.open_jobs.others()]
        for crane in self.open_jobs.cranes():
            cycle = self.crane_cycle.get(crane, self.config.crane_cycle_s)
            since = now - self.last_move.get(crane, now)
            for k, job in enumerate(self.open_jobs.next_of(crane)):
                ready = max(0.0, (ahead.get(crane, 0) + k) * cycle - since)
                if ready > self.config.horizon_s or k >= self.config.lookahead:
                    break
                wanted.append((job, ready))
        for job, ready in wanted:
            pickup = self.spots.nominal(job.pickup)
            drop = self.spots.nominal(job.drop)
            alts = tuple(
                self.spots.tps_by_bay(b, job.drop.bay)[0]
                for b in job.alt_blocks
                if b in self.spots.block_tps
            )
            jobs.append(
                JobView(
                    job.job_id,
                    job.job_type,
                    pickup,
                    drop,
                    job.crane,
                    job.qc_seq,
                    ready,
                    job.priority,
                    alts,
                )
            )
        return DispatchView(
            trucks,
            jobs,
            self.empty,
            self.laden,
            self.block_load,
            self.spots.pumps,
            self.config.fuel_threshold,
            self.config.fuel_critical,
            self.config.horizon_s,
            self.config.lookahead,
        )

    def _decide(self, now: float) -> list[Dispatch]:
        if not any(t.phase in (Phase.IDLE, Phase.TO_PARK) for t in self.trucks.values()):
            return []
        out: list[Dispatch] = []
        for d in self.strategy.decide(self._view(now)):
            t = self.trucks[d.truck]
            if t.phase not in (Phase.IDLE, Phase.TO_PARK) or t.broken_at is not None:
                continue
            if t.lost_at is not None:
                continue
            if t.phase is Phase.TO_PARK and t.goal != t.spot:
                continue  # still driving there: it takes work when it stands
            if d.refuel_at:
                out += self._leg(t, now, d.refuel_at, Phase.TO_PUMP, "refuel")
                continue
            if d.job is None or d.job not in self.open_jobs:
                continue
            job = self.open_jobs[d.job]
            self.open_jobs.pop(d.job)
            t.job, t.drop = job.job_id, d.drop
            t.hold_until = now + d.not_before_s
            self._step(job.job_id, JobState.ASSIGNED, now, f"strategy {self.strategy.id}", t.id)
            if job.drop.kind is PlaceKind.YARD:
                self.block_load[job.drop.id] = self.block_load.get(job.drop.id, 0.0) + 1
            if d.then and d.then in self.open_jobs:
                self.open_jobs.pop(d.then)
                t.then = d.then
                self._step(d.then, JobState.ASSIGNED, now, "dual cycle", t.id)
            out += self._go(t, now, drop=False)
        return out

    def _free(self, t: Truck, now: float) -> list[Dispatch]:
        """The truck has finished what it did: its next job, a new decision, or a parking spot."""
        if t.then is not None:
            t.job, t.then, t.drop = t.then, None, None
            return self._go(t, now, drop=False)
        out = self._decide(now)
        if t.phase is Phase.IDLE and t.spot not in self.spots.parking:
            spot = self._nearest(t, self.spots.parking)
            if spot is not None:
                out += self._leg(t, now, spot, Phase.TO_PARK, "park")
        out += self._retry_waiting(now)
        return out

    def _nearest(self, t: Truck, spots: Sequence[str]) -> str | None:
        free = [s for s in spots if self.spots.free(s, t.id)]
        if not free or t.spot is None:
            return free[0] if free else None
        row = self.empty.index[t.spot]
        return min(free, key=lambda s: float(self.empty.times[row, self.empty.index[s]]))

    # -- legs ------------------------------------------------------------------------

    def _target(self, t: Truck, drop: bool) -> tuple[str, str, str, str] | None:
        """(spot, action, station type, station) of the job's next end, a free spot chosen."""
        assert t.job is not None
        job = self.state.jobs[t.job]
        place = job.drop if drop else job.pickup
        action = "drop" if drop else "pick"
        if place.kind is PlaceKind.QUAY_CRANE:
            return self.spots.qc_spot[place.id], action, "QC", place.id
        if place.kind is PlaceKind.GATE:
            return place.id, action, "GATE", place.id
        chosen = t.drop if drop and t.drop else self.spots.nominal(place)
        options = list(self.spots.candidates(chosen))
        if drop and job.job_type is JobType.DSCH:  # a full block: one of the box's others
            for alt in job.alt_blocks:
                if alt in self.spots.block_tps:
                    options += self.spots.tps_by_bay(alt, place.bay)
        usable = [o for o in options if self._reachable(t, o)]
        spot = self.spots.first_free([o for o in usable if o not in t.unplannable], t.id)
        spot = spot or self.spots.first_free(usable, t.id)
        if spot is None and drop and job.job_type is JobType.DSCH:
            # Its blocks are full or cut off (a closed lane): the nearest block that is not;
            # the TOS re-plans the slot, as it does when a block is blocked.
            anywhere = [sp for tps in self.spots.block_tps.values() for _, sp in tps]
            spot = self._nearest(
                t, [o for o in anywhere if self._reachable(t, o) and o not in t.unplannable]
            )
        if spot is None:
            return None
        return spot, action, "RTG", self.yard.service_point(spot).area or place.id

    def _reachable(self, t: Truck, spot: str) -> bool:
        """Whether the truck can get to the spot at all now (closed lanes considered)."""
        if t.spot is None or t.spot == spot:
            return True
        table = self.laden if t.laden else self.empty
        return bool(np.isfinite(table.times[table.index[t.spot], table.index[spot]]))

    def _go(self, t: Truck, now: float, *, drop: bool) -> list[Dispatch]:
        """Send the truck to its job's pickup or drop (or the crane's queue, or let it wait)."""
        assert t.job is not None
        job = self.state.jobs[t.job]
        target = self._target(t, drop)
        to_phase = Phase.TO_DROP if drop else Phase.TO_PICKUP
        if target is not None and (target[0] == t.spot or self.spots.free(target[0], t.id)):
            spot, action, station_type, station = target
            actions = [work_action(action, job.container_no, station_type, station, job.job_id)]
            if spot == t.spot:
                return self._arrive_at_work(t, now, to_phase, actions)
            release = max(now, t.hold_until) if drop else now
            if drop and self.state.jobs[job.job_id].state is not JobState.TO_DROP:
                self._step(job.job_id, JobState.TO_DROP, now, "laden, driving")
            out = self._leg(t, now, spot, to_phase, action, actions, release)
            if not drop and t.phase is Phase.TO_PICKUP:
                self._step(job.job_id, JobState.TO_PICKUP, now, "order sent")
            return out
        crane = job.drop.id if drop else job.pickup.id
        queue = self.spots.qc_queue.get(crane)
        if queue and t.spot != queue and self.spots.free(queue, t.id):
            if drop and self.state.jobs[job.job_id].state is not JobState.TO_DROP:
                self._step(job.job_id, JobState.TO_DROP, now, "laden, to the crane's queue")
            return self._leg(t, now, queue, Phase.TO_QUEUE, "queue")
        t.laden = drop
        if t.spot == queue:
            t.phase = Phase.QUEUED
            return []
        if t.spot in self.spots.crane_of_spot or t.spot in self.spots.queue_spots:
            room = self._nearest(t, self.spots.parking)  # never wait where a crane needs room
            if room is not None:
                return self._leg(t, now, room, Phase.TO_QUEUE, "make room")
        t.phase = Phase.WAITING
        return []

    def _arrive_at_work(
        self, t: Truck, now: float, to_phase: Phase, actions: list[Action]
    ) -> list[Dispatch]:
        """The job's next end is where the truck stands: an order to work right there."""
        assert t.job is not None and t.spot is not None
        if to_phase is Phase.TO_PICKUP:
            self._step(t.job, JobState.TO_PICKUP, now, "already there")
            self._step(t.job, JobState.AT_PICKUP, now, "already there")
            t.phase = Phase.AT_PICKUP
        else:
            self._step(t.job, JobState.TO_DROP, now, "already there")
            self._step(t.job, JobState.AT_DROP, now, "already there")
            t.phase = Phase.AT_DROP
        t.goal = t.spot
        plan = self.planner.plan_one(Task(t.id, t.spot, t.spot, laden=t.laden, release_s=now))
        return self._dispatch(t, plan, now, actions, "work here")

    def _dispatch(
        self,
        t: Truck,
        plan: Plan,
        now: float,
        actions: list[Action] | None,
        purpose: str,
        update: int = 0,
    ) -> list[Dispatch]:
        """The messages that put a plan on the wire: a new order, an update of the truck's
        order after a repair (or, where the repair changes its base, `cancelOrder` and a
        new order), or — when it must stand — `startPause`. A paused truck gets
        `stopPause` after the order that takes it on."""
        release = self.release
        if purpose == "stand":
            if t.paused:
                return [Dispatch(t.id, plan, self._no_order(t, now), purpose)]
            t.paused = True
            release.paused.add(t.id)
            pause = release.pause(t.id, now, f"{t.id}:pause:{t.legs}:{t.updates}", stand=True)
            return [Dispatch(t.id, plan, pause, purpose)]
        if not release.knows(t.id):
            node = plan.nodes[0] if plan.nodes else None
            if node is None:
                return []
            release.place(t.id, node, now)
        out: list[Dispatch] = []
        offset = release.follow(t.id, plan)
        order = release.replan(t.id, plan, offset, now, actions) if update else None
        if order is None:
            if update and t.id in release.ledgers:
                cancel = release.cancel(t.id, now, f"{t.id}:cancel:{t.legs}")
                out.append(Dispatch(t.id, plan, cancel, "cancel", new_plan=False))
            t.legs += 1
            behind = (t.last_node, t.since_m) if update and t.last_node else None
            order = release.new_order(
                t.id, plan, offset, f"{t.id}-{t.legs}", now, actions, from_node=behind
            )
        if order is None:
            return [*out, Dispatch(t.id, plan, self._no_order(t, now), purpose)]
        out.append(Dispatch(t.id, plan, order, purpose))
        if t.paused:
            t.paused = False
            release.paused.discard(t.id)
            go = release.pause(t.id, now, f"{t.id}:go:{t.legs}:{t.updates}", stand=False)
            out.append(Dispatch(t.id, plan, go, "go on", new_plan=False))
        return out

    def _no_order(self, t: Truck, now: float) -> InstantActions:
        """A plan without a way (standing in a lane cell): the truck stands."""
        return self.release.pause(t.id, now, f"{t.id}:pause:{t.legs}:{t.updates}", stand=True)

    def _progress(self, t: Truck, state: State, now: float) -> list[Dispatch]:
        """The truck's report frees what its rear has cleared: its own base and those of
        the trucks waiting on it may reach further."""
        seq = state.last_node_sequence_id if t.id in self.release.ledgers else None
        freed = self.release.reported(
            t.id, state.last_node_id, seq, state.distance_since_last_node or 0.0, now
        )
        trucks = [t.id, *self.release.waiting_on(t.id)] if freed else [t.id]
        return self._released(trucks, now)

    def _released(self, trucks: Sequence[str], now: float) -> list[Dispatch]:
        """Base extensions for trucks whose grant moved on."""
        out: list[Dispatch] = []
        for truck in trucks:
            ledger = self.release.ledgers.get(truck)
            plan = self.planner.plans.get(truck)
            if ledger is None or plan is None:
                continue
            before = ledger.released
            if self.release.grant(truck, now):
                order = self.release.extension(truck, before - 1, now)
                out.append(Dispatch(truck, plan, order, "release", new_plan=False))
        return out

    def _problem(self, t: Truck, text: str, now: float) -> None:
        """Note a problem once per truck until it changes (times aside)."""
        key = re.sub(r" after t=[0-9.]+s", "", text)
        if self._last_problem.get(t.id) != key:
            self._last_problem[t.id] = key
            self.problems.append(f"t={now:.0f}s {text}")

    def _leg(
        self,
        t: Truck,
        now: float,
        spot: str,
        phase: Phase,
        purpose: str,
        actions: list[Action] | None = None,
        release: float | None = None,
    ) -> list[Dispatch]:
        """Plan the truck from where it stands to `spot`; book it, give back the old one."""
        if t.spot is None:
            return []
        try:
            plan = self.planner.plan_one(
                Task(t.id, t.spot, spot, laden=t.laden, release_s=release or now)
            )
        except (PlanningError, RoutingError) as exc:
            if purpose != "refuel":  # a busy fuel station is no problem: it goes later
                self._problem(t, str(exc), now)
            t.unplannable.add(spot)
            self.planner.plan_one(Task(t.id, t.spot, t.spot, release_s=now))
            t.phase = Phase.WAITING
            return []
        if spot in self.spots.pumps:
            actions = [make_action(REFUEL, action_id=f"{t.id}:refuel:{t.legs}")]
        self.spots.book(spot, t.id)
        if t.spot != spot and self.spots.give_back(t.spot, t.id):
            self._freed = True
        t.goal, t.phase, t.eta = spot, phase, plan.t_end
        t.updates = 0
        t.lag = 0.0
        t.actions = list(actions or [])
        t.unplannable.clear()
        return self._dispatch(t, plan, now, actions, purpose)

    def _arrive(self, t: Truck, now: float) -> list[Dispatch]:
        assert t.goal is not None
        t.spot = t.goal
        if t.phase in (Phase.TO_PICKUP, Phase.TO_DROP) and t.job:
            at = Phase.AT_PICKUP if t.phase is Phase.TO_PICKUP else Phase.AT_DROP
            t.phase = at
            step = JobState.AT_PICKUP if at is Phase.AT_PICKUP else JobState.AT_DROP
            self._step(t.job, step, now, "truck state: arrived")
            early = self._early_moves.pop(t.id, None)
            if early is not None:  # the crane's move that came first
                return self._move_done(t, early, now)
        elif t.phase is Phase.TO_QUEUE:
            t.phase = Phase.QUEUED
            return self._go(t, now, drop=t.laden)
        elif t.phase is Phase.TO_PUMP:
            t.phase = Phase.REFUELLING
        elif t.phase is Phase.TO_PARK:
            t.phase = Phase.IDLE
            return self._decide(now)
        return []

    def _retry_waiting(self, now: float) -> list[Dispatch]:
        out: list[Dispatch] = []
        order = sorted(self.trucks.values(), key=lambda t: t.phase is not Phase.QUEUED)
        for t in order:
            lost = t.broken_at is not None or t.lost_at is not None
            if t.phase in (Phase.WAITING, Phase.QUEUED) and not lost and t.spot:
                if t.job is None:
                    t.phase = Phase.IDLE
                    continue
                out += self._go(t, now, drop=t.laden)
        return out

    def _committed(self, broken: Sequence[str]) -> dict[str, str]:
        """Per truck, the node up to which it drives its released base whatever a repair
        finds (none while a truck is broken down: a base may lead past it)."""
        if not self.config.keep_bases or broken:
            return {}
        closed = self.network.closed
        out = {}
        for truck in self.release.ledgers:
            node = self.release.decision_point(truck, closed)
            if node is not None and self.trucks[truck].broken_at is None:
                out[truck] = node
        return out

    def _repair(
        self,
        now: float,
        *,
        closed: Sequence[str] = (),
        late: dict[str, float] | None = None,
        broken: Sequence[str] = (),
    ) -> list[Dispatch]:
        """Repair the plans a change touches; a truck whose repair fails stops where it is,
        and whoever would pass it is re-planned around it in turn (a few rounds)."""
        late = dict(late or {})
        lag = {t.id: t.lag for t in self.trucks.values() if t.lag and t.id not in late}
        keep = self._committed(broken)
        report = self.planner.repair(
            now, closed=closed, late=late, broken=broken, lag=lag, committed=keep
        )
        for truck in report.plans:
            self.trucks[truck].lag = 0.0
        plans: dict[str, tuple[Plan, str]] = {t: (p, "repair") for t, p in report.plans.items()}
        failed = dict(report.failed)
        stood: set[str] = set()
        for _ in range(4):
            newly = [truck for truck in failed if truck not in stood]
            if not newly:
                break
            for truck in newly:
                t = self.trucks[truck]
                why = failed[truck]
                self._problem(t, f"repair failed for {truck}: {why}; it stands and retries", now)
                self.stranded.add(truck)
                behind_by = late.get(truck, lag.get(truck, 0.0))
                plans[truck] = (self.planner.stand(truck, now - behind_by), "stand")
            stood.update(newly)
            # The others go around them, from where each is (those just planned: on plan).
            lag = {t.id: t.lag for t in self.trucks.values() if t.lag and t.id not in late}
            again = self.planner.repair(
                now, broken=newly, lag=lag, committed=self._committed(newly)
            )
            for truck, plan in again.plans.items():
                plans[truck] = (plan, "repair")
                self.trucks[truck].lag = 0.0
            failed = dict(again.failed)
        out = []
        for truck, (plan, purpose) in plans.items():
            t = self.trucks[truck]
            if purpose == "stand":
                out += self._dispatch(t, plan, now, None, "stand")
                continue
            self.stranded.discard(truck)
            t.eta = plan.t_end
            t.updates += 1
            out += self._dispatch(t, plan, now, t.actions, "repair", update=t.updates)
        return out

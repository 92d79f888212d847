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

The `Dispatcher` takes the inputs and decides (the strategy's word, what a lost or found
truck, a breakdown, a crane's move means); each of its rooms has one job, as openTCS keeps
its order pool, vehicles, router and scheduler apart:

- `fleet.jobbook`: the jobs — open ones, their steps, the blocks' load, the cranes' cycles.
- `fleet.trucks`: the truck life cycle — records, phases, activities, a restart's take-up.
- `fleet.spots`: which spot serves a job's end, and who has it booked.
- `fleet.legs`: a truck sent on a leg of its job (spot, plan, phase, order), or waiting.
- `fleet.router`: routing's planner — legs, standing plans, repairs, lag, travel times.
- `fleet.scheduler` over `fleet.release`: which message goes out — order, update, pause.
- `fleet.problems`: what went wrong, typed, said once per truck until it changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from fleet.events import (
    crane_held,
    crane_unheld,
    lane_closed,
    lane_opened,
    message_sent,
    problem_noted,
)
from fleet.jobbook import JobBook
from fleet.jobs import Job, JobState
from fleet.journal import Journal
from fleet.legs import Legs
from fleet.problems import Problem, ProblemKind, Problems
from fleet.protocol import REFUEL, ActionStatus, CraneEvent, ErrorLevel, State
from fleet.release import Release
from fleet.router import Router
from fleet.scheduler import Dispatch, Scheduler
from fleet.spots import Spots
from fleet.state import FleetState, Recorder
from fleet.strategies import DispatchView, Strategy
from fleet.trucks import STANDING, Lifecycle, Phase, Truck
from maps import Yard
from routing.network import LaneNetwork
from routing.planner import FleetPlanner
from routing.vehicle import VehicleClass

__all__ = ["STANDING", "Dispatch", "Dispatcher", "DispatcherConfig", "Phase", "Truck"]

log = logging.getLogger(__name__)

WAITS = (Phase.WAITING, Phase.QUEUED)
"""Phases of a truck standing until a spot of its job is free."""


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
        self.config = config = config or DispatcherConfig()
        self.recorder = Recorder(journal, origin)
        self.planner = FleetPlanner(LaneNetwork(yard, config.vehicle))
        self.release = Release(
            yard,
            self.planner.cells,
            config.vehicle,
            config.manufacturer,
            self.at,
            ahead_s=config.release_ahead_s,
        )
        self.spots = Spots(yard)
        self.life = Lifecycle(yard, self.recorder)
        self.trucks: dict[str, Truck] = self.life.trucks
        self.book = JobBook(self.recorder, self.spots, config.crane_cycle_s)
        self.open_jobs = self.book.open
        self.block_load = self.book.block_load
        self.crane_cycle = self.book.crane_cycle
        self.last_move = self.book.last_move
        self.router = Router(
            yard, self.planner, self.release, self.spots, self.trucks, keep_bases=config.keep_bases
        )
        self.stranded = self.router.stranded
        """Trucks whose repaired plan failed: they stand (a standing plan) and are retried."""
        self.scheduler = Scheduler(self.release, self.planner)
        self.problems = Problems(self._journal_problem)
        self.legs = Legs(
            yard, self.book, self.spots, self.router, self.scheduler, self.life, self.problems
        )
        self._early_moves: dict[str, CraneEvent] = {}
        """Per truck, a crane's MOVEDONE that came before the truck said it arrived."""

    @property
    def circles_opened(self) -> int:
        """Times trucks waiting on each other in a circle were set free (see `tick`)."""
        return self.legs.circles_opened

    @property
    def state(self) -> FleetState:
        """The fleet state as the journal tells it."""
        return self.recorder.state

    def at(self, now: float) -> datetime:
        """Shift seconds as a UTC time."""
        return self.recorder.at(now)

    def _journal_problem(self, p: Problem) -> None:
        rec = self.recorder
        event_id, at = rec.eid("problem"), rec.iso(p.at)
        rec.record(problem_noted(event_id, at, text=p.text(), fields=p.fields()))

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
        until it stands at a service point; a replayed bag's trucks join like this. After
        a restart it goes on where the journal left it (`fleet.trucks.Lifecycle.take_up`).
        """
        if truck in self.trucks:
            raise ValueError(f"truck {truck} already in the fleet")
        if spot is not None:
            self.yard.service_point(spot)
            self.spots.book(spot, truck)
        t = self.life.join(
            truck, spot, now, driver=driver, twin=twin, tank_l=tank_l, litres=litres, gang=gang
        )
        carried = self.book.carried.pop(truck, None)
        step = self.life.take_up(t, self.state.jobs[carried] if carried else None)
        if carried and step:
            self.book.step(carried, step, now, "truck state: arrived (while restarting)")
        if spot is not None:
            self.router.here(truck, spot, now)
            self.release.place(truck, self.yard.node_of(spot), now)
        self.life.joined(t, now)

    def locate(self, truck: str, spot: str, now: float) -> list[Dispatch]:
        """A truck tracked without a place (it joined before its receiver had a fix) now
        stands at a free service point: it is placed there and may take work."""
        t = self.trucks[truck]
        if t.spot is not None or t.goal is not None or t.job is not None:
            return []
        if self.release.knows(truck) or not self.spots.free(spot, truck):
            return []
        self.spots.book(spot, truck)
        t.spot = spot
        node = self.yard.node(self.yard.node_of(spot))
        t.x, t.y = node.x, node.y
        self.router.here(truck, spot, now)
        self.release.place(truck, node.id, now)
        return self.tick(now)

    def resume(self, now: float = 0.0) -> int:
        """Take up the journal's story after a restart: its jobs, its trucks, its lanes.

        Jobs not yet under way (planned, released, assigned, to pickup) are open again
        (an assignment from before is released: the truck may be elsewhere by now); a job
        whose box is at or on a truck stays with that truck. Each truck's journalled life
        (phase, spot, goal, job, box) is taken up when it reports again; closed lanes
        stay closed. Returns how many events were read.
        """
        state = self.recorder.resume()
        self.book.resume(now, keep=self._take_up_held(state.held))
        self.life.resume(state)
        for lane in state.closed_lanes:
            if lane in self.yard.lanes:
                self.router.close(lane)
        return state.seq

    def add_jobs(self, jobs: Sequence[Job], now: float, cause: str = "work queue") -> list[Problem]:
        """Jobs from a work queue: recorded, released, open for dispatch; problems returned."""
        return self.book.add(jobs, now, cause)

    def tick(self, now: float) -> list[Dispatch]:
        """Look again: trucks waiting for a spot, idle trucks and open jobs."""
        self.router.tidy(now)
        out = self._lose_silent(now)
        out += self._retry_waiting(now)
        stranded = {t: 0.0 for t in self.stranded if not self.trucks[t].out_of_service}
        if stranded:
            out += self._repair(now, late=stranded)
        out += self.legs.open_circles(self.waits_for(), now)
        out += self._decide(now)
        out += self.scheduler.pending(now)  # planned times come, holds go
        return self._settle(out, now)

    def release_pending(self, now: float) -> list[Dispatch]:
        """Only extend the bases whose planned times have come (`Release.next_due`)."""
        return self._settle(self.scheduler.pending(now), now)

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
        self.router.close(lane)
        rec = self.recorder
        rec.record(lane_closed(rec.eid("lane.closed"), lane, rec.iso(now), reason))
        return self._settle(self._repair(now, closed=[lane]), now)

    def open_lane(self, lane: str, now: float, reason: str) -> list[Dispatch]:
        """Open a closed lane again (plans made meanwhile stay; new ones may use it)."""
        self.router.reopen(lane)
        rec = self.recorder
        rec.record(lane_opened(rec.eid("lane.opened"), lane, rec.iso(now), reason))
        return self._settle(self._retry_waiting(now), now)

    def waits_for(self) -> list[tuple[str, str]]:
        """Who waits for whom: a truck waiting for a spot → each truck holding such a spot."""
        return self.life.waits_for(self.state.jobs, self.spots)

    def _settle(self, out: list[Dispatch], now: float) -> list[Dispatch]:
        """After an input: spots given back go to the trucks waiting for them, queue first."""
        rounds = 0
        while self.legs.freed and rounds < 8:
            self.legs.freed = False
            rounds += 1
            out += self._retry_waiting(now)
        for x in out:  # every message to a truck on the record, as sent
            self.recorder.record(message_sent(x.truck, x.order, x.purpose))
        return out

    # -- trucks' states --------------------------------------------------------------

    def _on_state(self, state: State, now: float) -> list[Dispatch]:
        t = self.trucks.get(state.serial_number or "")
        if t is None:
            problem = Problem(ProblemKind.UNKNOWN_TRUCK, state.serial_number, now)
            self.problems.note(problem)
            log.warning("%s", problem)
            return []
        self.life.heard(t, state, now)
        out: list[Dispatch] = []
        if state.last_node_id:
            out += self.scheduler.progress(t, state, now)
        if state.last_node_id and t.spot is None:
            t.lag = self.router.behind(t, state, now)
        if t.lost_at is not None:
            out += self._found(t, now)
        # A FATAL error (a breakdown, an autonomous truck without a GNSS fix): it cannot
        # drive; it stands in everyone's plans until the error is gone.
        broken = any(e.error_level is ErrorLevel.FATAL for e in state.errors)
        if broken and t.broken_at is None:
            t.broken_at = now
            self.life.status(t, now, False)
            if state.driving or t.spot is None:
                out += self._repair(now, broken=[t.id])
            return out
        if not broken and t.broken_at is not None:
            late = now - t.broken_at
            t.broken_at = None
            if t.spot is None:
                out += self._repair(now, late={t.id: late})
        if state.driving:
            self.life.status(t, now, True)
            return out
        there = t.goal is not None and state.last_node_id == self.yard.node_of(t.goal)
        if there and t.spot is None:
            out += self._arrive(t, now)
        elif t.phase is Phase.REFUELLING and any(
            a.action_type == REFUEL and a.action_status is ActionStatus.FINISHED
            for a in state.action_states
        ):
            self.life.to(t, Phase.IDLE, now)
            out += self._free(t, now)
        self.life.status(t, now, False)
        return out

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
            self.problems.note(Problem(ProblemKind.TRUCK_LOST, t.id, now, seconds=now - t.heard))
            if not t.laden and t.phase not in (Phase.AT_PICKUP, Phase.AT_DROP):
                for job_id in (t.job, t.then):
                    if job_id is not None and job_id in self.state.jobs:
                        cause = f"truck {t.id} lost"
                        self.book.give_back(job_id, now, cause, counted=job_id == t.job)
                if t.job is not None:
                    t.job = t.then = t.drop = None
                    if t.goal and t.goal != t.spot and self.spots.give_back(t.goal, t.id):
                        self.legs.freed = True
                    t.goal = t.spot
                    self.life.to(t, Phase.IDLE if t.spot else Phase.WAITING, now)
            self.life.status(t, now, False)
            if t.spot is None:
                out += self._repair(now, broken=[t.id])
        return out

    def _found(self, t: Truck, now: float) -> list[Dispatch]:
        """A lost truck speaks again: it is re-planned from where it reports itself."""
        assert t.lost_at is not None
        late = now - t.lost_at
        t.lost_at = None
        self.problems.note(Problem(ProblemKind.TRUCK_BACK, t.id, now, seconds=late))
        if t.spot is not None or t.broken_at is not None:
            return []
        if t.goal is None or (t.job is None and t.phase is not Phase.TO_PARK):
            # Its work went to another truck: it goes to park from where it is.
            spot = self.router.nearest(t, self.spots.parking)
            if spot is None:
                return []
            self.spots.book(spot, t.id)
            t.goal = spot
            self.life.to(t, Phase.TO_PARK, now)
            self.router.redirect(t, spot, now)
        return self._repair(now, late={t.id: 0.0})

    def _repair(
        self,
        now: float,
        *,
        closed: Sequence[str] = (),
        late: dict[str, float] | None = None,
        broken: Sequence[str] = (),
    ) -> list[Dispatch]:
        """The plans a change touches, repaired (`Router.repair`) and sent."""
        repaired = self.router.repair(now, closed=closed, late=late, broken=broken)
        for problem in repaired.problems:
            self.problems.note(problem)
        return self.scheduler.repaired(self.trucks, repaired.plans, now)

    # -- cranes ----------------------------------------------------------------------

    def _on_crane_event(self, event: CraneEvent, now: float, journaled: bool) -> list[Dispatch]:
        self.book.crane(event, now, journaled=journaled)
        if event.event.value != "MOVEDONE" or not event.truck_id:
            return []
        t = self.trucks.get(event.truck_id)
        if t is None or t.job is None or (event.job_id and event.job_id != t.job):
            kind, crane = ProblemKind.MOVE_NOT_THERE, event.crane_id
            self.problems.note(Problem(kind, event.truck_id, now, crane=crane, job=event.job_id))
            return []
        if t.phase in (Phase.AT_PICKUP, Phase.AT_DROP) and not self._crane_of_leg(t, event):
            self.problems.note(Problem(ProblemKind.WRONG_CRANE, t.id, now, crane=event.crane_id))
            return []
        return self._move_done(t, event, now)

    def _crane_of_leg(self, t: Truck, event: CraneEvent) -> bool:
        """Whether the crane is the one at the end of the truck's current leg."""
        if t.job is None:
            return False
        pickup = t.phase in (Phase.TO_PICKUP, Phase.AT_PICKUP)
        return self.book.crane_at(t.job, event.crane_id, event.crane_kind.value, pickup=pickup)

    def _move_done(self, t: Truck, event: CraneEvent, now: float) -> list[Dispatch]:
        """A crane put the truck's box on or took it off: the job and the truck move on."""
        assert t.job is not None
        out: list[Dispatch] = []
        cause = f"crane {event.crane_id} MOVEDONE"
        if t.phase is Phase.AT_PICKUP:
            self.book.step(t.job, JobState.LOADED, now, cause)
            t.laden = True
            out += self.legs.go(t, now, drop=True)
        elif t.phase is Phase.AT_DROP:
            self.book.done(t.job, now, cause)
            t.laden = False
            t.job, t.drop = None, None
            self.life.to(t, Phase.IDLE, now)
            out += self._free(t, now)
        elif t.phase in (Phase.TO_PICKUP, Phase.TO_DROP) and self._crane_of_leg(t, event):
            # The crane's word overtook the truck's (two senders: the link orders neither):
            # it takes effect when the truck reports it is there.
            self._hold(t.id, event, now)
            self.problems.note(Problem(ProblemKind.EARLY_MOVE, t.id, now, crane=event.crane_id))
            return out
        self.life.status(t, now, False)
        return out

    def _hold(self, truck: str, event: CraneEvent, now: float) -> None:
        """Hold a crane's early move for the truck, on the record (a restart holds it too)."""
        self._early_moves[truck] = event
        rec = self.recorder
        move = msgspec.to_builtins(event)
        rec.record(crane_held(rec.eid("crane.held"), truck, rec.iso(now), move))

    def _unhold(self, truck: str, now: float, reason: str) -> None:
        rec = self.recorder
        rec.record(crane_unheld(rec.eid("crane.unheld"), truck, rec.iso(now), reason))

    def _take_up_held(self, held: dict[str, dict[str, Any]]) -> set[str]:
        """After a restart: the crane moves held for trucks, held again; their jobs."""
        jobs: set[str] = set()
        for truck, move in held.items():
            try:
                event = msgspec.convert(move, CraneEvent)
            except msgspec.ValidationError as exc:  # a journal from another version
                log.error("held crane move for %s not taken up: %s", truck, exc)
                continue
            self._early_moves[truck] = event
            if event.job_id:
                jobs.add(event.job_id)
        return jobs

    # -- decisions -------------------------------------------------------------------

    def _decide(self, now: float) -> list[Dispatch]:
        """The strategy's word on idle and soon-idle trucks: a job (two, dual cycling) or a
        pump for each."""
        if not any(t.phase in (Phase.IDLE, Phase.TO_PARK) for t in self.trucks.values()):
            return []
        c = self.config
        ahead = self.life.ahead(self.state.jobs)
        view = DispatchView(
            self.life.views(now),
            self.book.views(now, ahead, c.horizon_s, c.lookahead),
            self.router.empty,
            self.router.laden,
            self.book.block_load,
            self.spots.pumps,
            c.fuel_threshold,
            c.fuel_critical,
            c.horizon_s,
            c.lookahead,
        )
        out: list[Dispatch] = []
        for d in self.strategy.decide(view):
            t = self.trucks[d.truck]
            if t.phase not in (Phase.IDLE, Phase.TO_PARK) or t.out_of_service:
                continue
            if t.phase is Phase.TO_PARK and t.goal != t.spot:
                continue  # still driving there: it takes work when it stands
            if d.refuel_at:
                out += self.legs.leg(t, now, d.refuel_at, Phase.TO_PUMP, "refuel")
                continue
            if d.job is None or d.job not in self.open_jobs:
                continue
            job = self.book.assign(d.job, t.id, now, f"strategy {self.strategy.id}")
            t.job, t.drop, t.hold_until = job.job_id, d.drop, now + d.not_before_s
            if d.then and d.then in self.open_jobs:
                t.then = self.book.assign(d.then, t.id, now, "dual cycle", counted=False).job_id
            out += self.legs.go(t, now, drop=False)
        return out

    def _free(self, t: Truck, now: float) -> list[Dispatch]:
        """The truck has finished what it did: its next job, a new decision, or a parking spot."""
        if t.then is not None:
            t.job, t.then, t.drop = t.then, None, None
            return self.legs.go(t, now, drop=False)
        out = self._decide(now)
        if t.phase is Phase.IDLE and t.spot not in self.spots.parking:
            spot = self.router.nearest(t, self.spots.parking)
            if spot is not None:
                out += self.legs.leg(t, now, spot, Phase.TO_PARK, "park")
        out += self._retry_waiting(now)
        return out

    def _retry_waiting(self, now: float) -> list[Dispatch]:
        """Trucks waiting for a spot try again, those at a queue siding first."""
        out: list[Dispatch] = []
        for t in sorted(self.trucks.values(), key=lambda t: t.phase is not Phase.QUEUED):
            if t.phase in WAITS and not t.out_of_service and t.spot:
                if t.job is None:
                    self.life.to(t, Phase.IDLE, now)
                    continue
                out += self.legs.go(t, now, drop=t.laden)
        return out

    # -- legs ------------------------------------------------------------------------

    def _arrive(self, t: Truck, now: float) -> list[Dispatch]:
        """The truck reports it stands at its goal: the next step of its work there."""
        assert t.goal is not None
        t.spot = t.goal
        if t.phase in (Phase.TO_PICKUP, Phase.TO_DROP) and t.job:
            pickup = t.phase is Phase.TO_PICKUP
            self.life.to(t, Phase.AT_PICKUP if pickup else Phase.AT_DROP, now)
            step = JobState.AT_PICKUP if pickup else JobState.AT_DROP
            self.book.step(t.job, step, now, "truck state: arrived")
            early = self._early_moves.pop(t.id, None)
            if early is not None:  # the crane's move that came first
                self._unhold(t.id, now, "the truck arrived")
                return self._move_done(t, early, now)
        elif t.phase is Phase.TO_QUEUE:
            self.life.to(t, Phase.QUEUED, now)
            return self.legs.go(t, now, drop=t.laden)
        elif t.phase is Phase.TO_PUMP:
            self.life.to(t, Phase.REFUELLING, now)
        elif t.phase is Phase.TO_PARK:
            self.life.to(t, Phase.IDLE, now)
            return self._decide(now)
        else:
            self.life.note(t, now)  # it stands where it was going
        return []

"""Legs: a truck sent to its job's next end, or told why it waits.

A leg goes to the spot that serves the job's pickup or drop for this truck: a quay
crane's spot or a gate lane, or a transfer point of the block (the one the strategy
chose, else the free one nearest the bay it can reach; for a discharged box, one of its
other blocks, else the nearest block that is not full or cut off). When the crane's spot
is taken the truck goes to the crane's queue siding; when nothing is free it waits, but
never on a spot a crane works at (it makes room at a parking spot). A leg books its spot
and gives back the one the truck leaves, is planned by the router from where the truck
stands, takes the truck into its phase (on the record) and goes out as an order; a leg
that finds no way leaves the truck waiting, the spot tried last next time.
"""

from __future__ import annotations

import networkx as nx

from fleet.jobbook import JobBook
from fleet.jobs import JobState, JobType, PlaceKind
from fleet.orders import work_action
from fleet.problems import Problem, ProblemKind, Problems
from fleet.protocol import REFUEL, Action, make_action
from fleet.router import Router
from fleet.scheduler import Dispatch, Scheduler
from fleet.spots import Spots
from fleet.trucks import Lifecycle, Phase, Truck
from maps import Yard
from routing.errors import PlanningError, RoutingError

__all__ = ["Legs"]


class Legs:
    """Sends trucks on the legs of their jobs (and to park, to a pump, out of the way)."""

    def __init__(
        self,
        yard: Yard,
        book: JobBook,
        spots: Spots,
        router: Router,
        scheduler: Scheduler,
        life: Lifecycle,
        problems: Problems,
    ) -> None:
        self.yard = yard
        self.book = book
        self.spots = spots
        self.router = router
        self.scheduler = scheduler
        self.life = life
        self.problems = problems
        self.freed = False
        """A leg gave a spot back: trucks waiting for one may try again."""
        self.circles_opened = 0
        """Times trucks waiting on each other in a circle were set free."""

    def go(self, t: Truck, now: float, *, drop: bool) -> list[Dispatch]:
        """Send the truck to its job's pickup or drop (or the crane's queue, or let it wait)."""
        assert t.job is not None
        job = self.book.jobs[t.job]
        target = self.target(t, drop)
        to_phase = Phase.TO_DROP if drop else Phase.TO_PICKUP
        if target is not None and (target[0] == t.spot or self.spots.free(target[0], t.id)):
            spot, action, station_type, station = target
            actions = [work_action(action, job.container_no, station_type, station, job.job_id)]
            if spot == t.spot:
                return self._at_work(t, now, to_phase, actions)
            release = max(now, t.hold_until) if drop else now
            if drop and self.book.jobs[job.job_id].state is not JobState.TO_DROP:
                self.book.step(job.job_id, JobState.TO_DROP, now, "laden, driving")
            out = self.leg(t, now, spot, to_phase, action, actions, release)
            going = self.book.jobs[job.job_id].state is JobState.TO_PICKUP  # (a restart)
            if not drop and t.phase is Phase.TO_PICKUP and not going:
                self.book.step(job.job_id, JobState.TO_PICKUP, now, "order sent")
            return out
        crane = job.drop.id if drop else job.pickup.id
        queue = self.spots.qc_queue.get(crane)
        if queue and t.spot != queue and self.spots.free(queue, t.id):
            if drop and self.book.jobs[job.job_id].state is not JobState.TO_DROP:
                self.book.step(job.job_id, JobState.TO_DROP, now, "laden, to the crane's queue")
            return self.leg(t, now, queue, Phase.TO_QUEUE, "queue")
        t.laden = drop
        if t.spot == queue:
            self.life.to(t, Phase.QUEUED, now)
            return []
        if t.spot in self.spots.crane_of_spot or t.spot in self.spots.queue_spots:
            room = self.router.nearest(t, self.spots.parking)  # never wait where a crane works
            if room is not None:
                return self.leg(t, now, room, Phase.TO_QUEUE, "make room")
        self.life.to(t, Phase.WAITING, now)
        return []

    def open_circles(self, waits_for: list[tuple[str, str]], now: float) -> list[Dispatch]:
        """Trucks waiting on each other for spots in a circle (`waits_for`: who waits for
        whom): one of them makes room.

        A truck waiting on a transfer point for a crane, and the crane's truck waiting
        for that transfer point with its box, wait for ever; the waiting truck without a
        box (else any) moves to a parking spot (else a transfer point), and the circle opens.
        """
        if not waits_for:
            return []
        out: list[Dispatch] = []
        for cycle in nx.simple_cycles(nx.DiGraph(waits_for)):
            trucks = [self.life.trucks[c] for c in cycle]
            if any(t.phase not in (Phase.WAITING, Phase.QUEUED) for t in trucks):
                continue  # already broken by an earlier one
            mover = min(trucks, key=lambda t: (t.laden, t.id))
            room = self.router.nearest(mover, self.spots.parking) or self.router.nearest(
                mover, [s for tps in self.spots.block_tps.values() for _, s in tps]
            )
            if room is None:
                continue
            self.circles_opened += 1
            circle = tuple(cycle)
            self.problems.note(Problem(ProblemKind.CIRCLE_OPENED, mover.id, now, trucks=circle))
            out += self.leg(mover, now, room, Phase.TO_QUEUE, "make room")
        return out

    def target(self, t: Truck, drop: bool) -> tuple[str, str, str, str] | None:
        """(spot, action, station type, station) of the job's next end, a free spot chosen."""
        assert t.job is not None
        job = self.book.jobs[t.job]
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
        usable = [o for o in options if self.router.reachable(t, o)]
        spot = self.spots.first_free([o for o in usable if o not in t.unplannable], t.id)
        spot = spot or self.spots.first_free(usable, t.id)
        if spot is None and drop and job.job_type is JobType.DSCH:
            # Its blocks are full or cut off (a closed lane): the nearest block that is not;
            # the TOS re-plans the slot, as it does when a block is blocked.
            anywhere = [sp for tps in self.spots.block_tps.values() for _, sp in tps]
            spot = self.router.nearest(
                t, [o for o in anywhere if self.router.reachable(t, o) and o not in t.unplannable]
            )
        if spot is None:
            return None
        return spot, action, "RTG", self.yard.service_point(spot).area or place.id

    def leg(
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
            plan = self.router.leg(t, spot, release or now)
        except (PlanningError, RoutingError) as exc:
            if purpose != "refuel":  # a busy fuel station is no problem: it goes later
                problem = Problem(ProblemKind.NO_WAY, t.id, now, spot=spot, detail=str(exc))
                self.problems.note(problem)
            t.unplannable.add(spot)
            self.router.here(t.id, t.spot, now)
            self.life.to(t, Phase.WAITING, now)
            return []
        if spot in self.spots.pumps:
            actions = [make_action(REFUEL, action_id=f"{t.id}:refuel:{t.legs}")]
        self.spots.book(spot, t.id)
        if t.spot != spot and self.spots.give_back(t.spot, t.id):
            self.freed = True
        t.goal, t.eta, t.updates, t.lag = spot, plan.t_end, 0, 0.0
        t.actions = list(actions or [])
        t.unplannable.clear()
        self.life.to(t, phase, now)
        return self.scheduler.dispatch(t, plan, now, actions, purpose)

    def _at_work(
        self, t: Truck, now: float, to_phase: Phase, actions: list[Action]
    ) -> list[Dispatch]:
        """The job's next end is where the truck stands: an order to work right there."""
        assert t.job is not None and t.spot is not None
        pickup = to_phase is Phase.TO_PICKUP
        there = (JobState.TO_PICKUP, JobState.AT_PICKUP) if pickup else AT_THE_DROP
        for step in there:
            self.book.step(t.job, step, now, "already there")
        t.goal = t.spot
        self.life.to(t, Phase.AT_PICKUP if pickup else Phase.AT_DROP, now)
        plan = self.router.here(t.id, t.spot, now, laden=t.laden)
        return self.scheduler.dispatch(t, plan, now, actions, "work here")


AT_THE_DROP = (JobState.TO_DROP, JobState.AT_DROP)

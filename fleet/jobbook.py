"""The job book: the work a dispatcher has, each job's steps on the record, the cranes' load.

Jobs come from work queues (`add`), are open until the strategy gives one to a truck
(`assign`), take their steps as the truck and the cranes move them on (`step`, `done`),
and go back to the open jobs when their truck is lost before the box is on it
(`give_back`). Each step is a `job.step` event. Alongside: how many boxes are on their
way to each yard block (its RTGs' load, which the strategy balances) and each quay
crane's cycle, a moving mean of its moves' spacing, from which `views` says when a crane
will want its next jobs. After a restart (`resume`) a job not yet under way is open
again; one whose box is at or on a truck stays with that truck (`carried`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fleet.events import crane_event
from fleet.jobs import FINAL, Job, JobState, PlaceKind
from fleet.openjobs import OpenJobs
from fleet.problems import Problem, ProblemKind
from fleet.protocol import CraneEvent
from fleet.spots import Spots
from fleet.state import Recorder, job_added, job_stepped
from fleet.strategies import JobView

__all__ = ["JobBook"]

BAD_JOB = ProblemKind.BAD_JOB

NOT_UNDER_WAY = (JobState.PLANNED, JobState.ASSIGNED, JobState.TO_PICKUP)
"""Steps of a job whose truck has not got its box yet, nor stands at the crane for it."""


class JobBook:
    """Open jobs, job steps, the blocks' load and the cranes' cycles."""

    def __init__(self, recorder: Recorder, spots: Spots, crane_cycle_s: float) -> None:
        self.recorder = recorder
        self.spots = spots
        self.crane_cycle_s = crane_cycle_s
        """A quay crane's cycle until its moves tell better."""
        self.open = OpenJobs()
        self.block_load: dict[str, float] = {}
        """Per yard block, the boxes on their way to it."""
        self.crane_cycle: dict[str, float] = {}
        self.last_move: dict[str, float] = {}
        self.carried: dict[str, str] = {}
        """After a restart: truck → the job whose box is at or on it (taken up on joining)."""

    @property
    def jobs(self) -> Mapping[str, Job]:
        """Every job by id, as the journal tells it."""
        return self.recorder.state.jobs

    def add(self, jobs: Sequence[Job], now: float, cause: str) -> list[Problem]:
        """Jobs from a work queue: recorded, released, open; those refused, as problems."""
        problems = []
        for job in jobs:
            try:
                for place in (job.pickup, job.drop):
                    self.spots.nominal(place)
            except (KeyError, ValueError) as exc:
                problems.append(Problem(BAD_JOB, None, now, job=job.job_id, detail=str(exc)))
                continue
            if job.job_id in self.jobs:
                problems.append(Problem(BAD_JOB, None, now, job=job.job_id, detail="already known"))
                continue
            self.recorder.record(job_added(job, self.recorder.iso(now)))
            self.step(job.job_id, JobState.RELEASED, now, cause)
            self.open[job.job_id] = job
        return problems

    def step(
        self, job_id: str, state: JobState, now: float, cause: str, truck: str | None = None
    ) -> None:
        """The job takes a step of its life (on the record)."""
        rec = self.recorder
        event_id, at = rec.eid("job.step"), rec.iso(now)
        rec.record(job_stepped(event_id, job_id, state, at, cause, truck=truck))

    def assign(
        self, job_id: str, truck: str, now: float, cause: str, *, counted: bool = True
    ) -> Job:
        """An open job goes to a truck; `counted`: its box adds to its block's load (not so
        the second job of a dual cycle)."""
        job = self.open[job_id]
        self.open.pop(job_id)
        self.step(job_id, JobState.ASSIGNED, now, cause, truck)
        if counted and job.drop.kind is PlaceKind.YARD:
            self.block_load[job.drop.id] = self.block_load.get(job.drop.id, 0.0) + 1
        return job

    def give_back(self, job_id: str, now: float, cause: str, *, counted: bool) -> None:
        """The job is open again (its truck was lost before its box was on it);
        `counted`: its box no longer adds to its block's load."""
        self.step(job_id, JobState.RELEASED, now, cause)
        job = self.jobs[job_id]
        self.open[job_id] = job
        if counted and job.drop.kind is PlaceKind.YARD:
            self.block_load[job.drop.id] = max(0.0, self.block_load.get(job.drop.id, 0.0) - 1)

    def done(self, job_id: str, now: float, cause: str) -> None:
        """The box is off the truck where it was to go."""
        self.step(job_id, JobState.DONE, now, cause)
        job = self.jobs[job_id]
        if job.drop.kind is PlaceKind.YARD:
            self.block_load[job.drop.id] = max(0.0, self.block_load.get(job.drop.id, 0) - 1)

    def resume(self, now: float, keep: set[str] | frozenset[str] = frozenset()) -> None:
        """After a restart: jobs not yet under way are open again (an assignment from
        before is released: the truck may be elsewhere by now); a job whose box is at or
        on a truck stays with that truck, taken up when it reports, and so does a job in
        `keep` (a crane's move for it is held: the box went on the truck already)."""
        state = self.recorder.state
        for job_id in list(state.jobs):
            if state.jobs[job_id].state in NOT_UNDER_WAY and job_id not in keep:
                self.step(job_id, JobState.RELEASED, now, "dispatcher restarted")
            job = state.jobs[job_id]
            if job.state is JobState.RELEASED:
                self.open[job_id] = job
            elif job.state not in FINAL and job_id in state.truck_of:
                self.carried[state.truck_of[job_id]] = job_id

    def crane(self, event: CraneEvent, now: float, *, journaled: bool = False) -> None:
        """A crane's event, on the record (unless `journaled` already); a quay crane's
        MOVEDONE tells its cycle: the moving mean of its moves' spacing."""
        if not journaled:
            rec = self.recorder
            rec.record(
                crane_event(
                    rec.eid("crane.event"),
                    event.crane_id,
                    rec.iso(now),
                    crane_kind=event.crane_kind.value,
                    event=event.event.value,
                    job=event.job_id,
                    truck=event.truck_id,
                    seq=event.sequence,
                )
            )
        moved = event.event.value == "MOVEDONE" and event.truck_id
        if moved and event.crane_kind.value == "QC":
            self._cycle(event.crane_id, now)

    def crane_at(self, job_id: str, crane: str, kind: str, *, pickup: bool) -> bool:
        """Whether the crane (its id and kind, QC or RTG) works at the job's pickup (or
        drop): a quay crane by its id, a yard or gate place by its kind."""
        job = self.jobs[job_id]
        place = job.pickup if pickup else job.drop
        if place.kind is PlaceKind.QUAY_CRANE:
            return place.id == crane
        return kind != "QC"

    def _cycle(self, crane: str, now: float) -> None:
        last = self.last_move.get(crane)
        if last is not None and now > last:
            old = self.crane_cycle.get(crane, self.crane_cycle_s)
            self.crane_cycle[crane] = 0.8 * old + 0.2 * min(now - last, 3 * old)
        self.last_move[crane] = now

    def views(
        self, now: float, ahead: Mapping[str, int], horizon_s: float, lookahead: int
    ) -> list[JobView]:
        """The jobs the strategy may give out now: every open job of no quay crane, and
        each crane's next few in its sequence with when the crane will want them (its
        cycle times the trucks `ahead` of them), within the horizon."""
        wanted: list[tuple[Job, float]] = [(job, 0.0) for job in self.open.others()]
        for crane in self.open.cranes():
            cycle = self.crane_cycle.get(crane, self.crane_cycle_s)
            since = now - self.last_move.get(crane, now)
            for k, job in enumerate(self.open.next_of(crane)):
                ready = max(0.0, (ahead.get(crane, 0) + k) * cycle - since)
                if ready > horizon_s or k >= lookahead:
                    break
                wanted.append((job, ready))
        out = []
        for job, ready in wanted:
            alts = tuple(
                self.spots.tps_by_bay(b, job.drop.bay)[0]
                for b in job.alt_blocks
                if b in self.spots.block_tps
            )
            out.append(
                JobView(
                    job.job_id,
                    job.job_type,
                    self.spots.nominal(job.pickup),
                    self.spots.nominal(job.drop),
                    job.crane,
                    job.qc_seq,
                    ready,
                    job.priority,
                    alts,
                )
            )
        return out

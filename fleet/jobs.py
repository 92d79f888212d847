"""Container jobs: one box moved from a pickup place to a drop place, and its life.

A job goes planned → released → assigned → to pickup → at pickup → loaded → to drop →
at drop → done, or ends failed or cancelled with a reason. Every step records when it
happened and what caused it (a truck's state, a crane's or RTG's move-done event, an
operator); a step the life does not allow is refused with an error naming the job and
both states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class JobType(StrEnum):
    """What kind of move: discharge, load, receive, deliver, shift."""

    DSCH = "DSCH"
    """vessel → yard"""
    LOAD = "LOAD"
    """yard → vessel, in the crane's sequence"""
    RECV = "RECV"
    """gate → yard"""
    DLVR = "DLVR"
    """yard → gate"""
    SHFT = "SHFT"
    """yard → yard"""


class JobState(StrEnum):
    """Where a job is in its life."""

    PLANNED = "planned"
    RELEASED = "released"
    ASSIGNED = "assigned"
    TO_PICKUP = "to_pickup"
    AT_PICKUP = "at_pickup"
    LOADED = "loaded"
    TO_DROP = "to_drop"
    AT_DROP = "at_drop"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})
_FORWARD = [
    JobState.PLANNED,
    JobState.RELEASED,
    JobState.ASSIGNED,
    JobState.TO_PICKUP,
    JobState.AT_PICKUP,
    JobState.LOADED,
    JobState.TO_DROP,
    JobState.AT_DROP,
    JobState.DONE,
]
ALLOWED: dict[JobState, frozenset[JobState]] = {
    state: frozenset(
        {_FORWARD[i + 1]} | ({JobState.FAILED, JobState.CANCELLED} if state not in FINAL else set())
    )
    for i, state in enumerate(_FORWARD[:-1])
}
ALLOWED[JobState.ASSIGNED] |= {JobState.RELEASED}  # unassigned (reassigned, truck lost)
ALLOWED[JobState.TO_PICKUP] |= {JobState.RELEASED}
for _final in FINAL:
    ALLOWED[_final] = frozenset()


class PlaceKind(StrEnum):
    """Where a box is picked up or dropped."""

    QUAY_CRANE = "quay_crane"
    YARD = "yard"
    GATE = "gate"


@dataclass(frozen=True, slots=True)
class Place:
    """A quay crane, a yard slot (block, bay, row, tier; any may be open) or a gate lane."""

    kind: PlaceKind
    id: str
    bay: int | None = None
    row: int | None = None
    tier: int | None = None

    def __str__(self) -> str:
        slot = "/".join(str(v) for v in (self.bay, self.row, self.tier) if v is not None)
        return f"{self.id}" + (f" {slot}" if slot else "")


class JobError(Exception):
    """A job that cannot take the step asked of it (the job and both states are named)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a job's life: the state entered, when, and what caused it."""

    state: JobState
    at: datetime
    cause: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Job:
    """A container move, as a terminal's work queue describes it, with its life so far."""

    job_id: str
    job_type: JobType
    container_no: str
    size_ft: int
    weight_kg: float
    pickup: Place
    drop: Place
    vessel_call: str | None = None
    non_iso: bool = False
    qc_seq: int | None = None
    alt_blocks: tuple[str, ...] = ()
    twin_with: str | None = None
    priority: int = 0
    deadline: datetime | None = None
    history: tuple[Step, ...] = field(default_factory=tuple)

    @property
    def state(self) -> JobState:
        """The current state (planned before its first step)."""
        return self.history[-1].state if self.history else JobState.PLANNED

    @property
    def crane(self) -> str | None:
        """The quay crane of a DSCH or LOAD job."""
        for place in (self.pickup, self.drop):
            if place.kind is PlaceKind.QUAY_CRANE:
                return place.id
        return None

    @property
    def teu(self) -> float:
        """Twenty-foot equivalent units of the box."""
        return 1.0 if self.size_ft == 20 else 2.0

    def step(self, state: JobState, at: datetime, cause: str, reason: str = "") -> Job:
        """The job after one more step of its life; JobError if its life does not allow it."""
        if state not in ALLOWED[self.state]:
            raise JobError(f"job {self.job_id}: cannot go from {self.state.value} to {state.value}")
        if state in (JobState.FAILED, JobState.CANCELLED) and not reason:
            raise JobError(f"job {self.job_id}: {state.value} needs a reason")
        if self.history and at < self.history[-1].at:
            raise JobError(
                f"job {self.job_id}: {state.value} at {at.isoformat()} is before its last step "
                f"at {self.history[-1].at.isoformat()}"
            )
        return self.with_history((*self.history, Step(state, at, cause, reason)))

    def with_history(self, history: tuple[Step, ...]) -> Job:
        """The same job with another history (a direct call: replay folds millions of these)."""
        return Job(
            self.job_id,
            self.job_type,
            self.container_no,
            self.size_ft,
            self.weight_kg,
            self.pickup,
            self.drop,
            self.vessel_call,
            self.non_iso,
            self.qc_seq,
            self.alt_blocks,
            self.twin_with,
            self.priority,
            self.deadline,
            history,
        )

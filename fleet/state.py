"""The fleet state as the journal tells it: jobs, trucks, cranes and closed lanes.

`FleetState.apply` folds one event; `load` rebuilds the state from the last snapshot plus
the events after it. Events that do not fit the state (a step for an unknown job, an
illegal step) are kept in `rejected` with the reason, not applied, so a bad message never
corrupts what was accepted before it. The dispatcher writes through a `Recorder`, which
appends an event and folds it at once: its state is always what its journal says.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleet.jobs import Job, JobError, JobState, JobType, Place, PlaceKind, Step
from fleet.journal import Event, Journal

RAW_INPUT = "msg."
"""Kinds of the raw messages the server journals as they came; the state does not fold them."""
RECORD_ONLY = ("operator.", "alarm.")
"""Kinds the console journals (an operator's action, an alarm acknowledged): for the record."""


def job_record(job: Job) -> dict[str, Any]:
    """A job as plain JSON-able data (without its history)."""
    rec = asdict(job)
    rec.pop("history")
    rec["deadline"] = job.deadline.isoformat() if job.deadline else None
    rec["alt_blocks"] = list(job.alt_blocks)
    return rec


def job_from_record(rec: dict[str, Any]) -> Job:
    """The job a record describes (without history)."""
    return Job(
        rec["job_id"],
        JobType(rec["job_type"]),
        rec["container_no"],
        int(rec["size_ft"]),
        float(rec["weight_kg"]),
        Place(
            PlaceKind(rec["pickup"]["kind"]),
            rec["pickup"]["id"],
            rec["pickup"]["bay"],
            rec["pickup"]["row"],
            rec["pickup"]["tier"],
        ),
        Place(
            PlaceKind(rec["drop"]["kind"]),
            rec["drop"]["id"],
            rec["drop"]["bay"],
            rec["drop"]["row"],
            rec["drop"]["tier"],
        ),
        vessel_call=rec["vessel_call"],
        non_iso=bool(rec["non_iso"]),
        qc_seq=rec["qc_seq"],
        alt_blocks=tuple(rec["alt_blocks"]),
        twin_with=rec["twin_with"],
        priority=int(rec["priority"]),
        deadline=datetime.fromisoformat(rec["deadline"]) if rec["deadline"] else None,
    )


def job_added(job: Job, at: str) -> Event:
    """The event of a job entering the dispatcher (its id makes re-imports harmless)."""
    return Event(f"job.added:{job.job_id}", "job.added", at, job_record(job))


def job_stepped(
    event_id: str,
    job_id: str,
    state: JobState,
    at: str,
    cause: str,
    reason: str = "",
    truck: str | None = None,
) -> Event:
    """The event of a job taking one step of its life (assigned: with the truck)."""
    body: dict[str, Any] = {"job": job_id, "state": state.value, "cause": cause}
    if reason:
        body["reason"] = reason
    if truck:
        body["truck"] = truck
    return Event(event_id, "job.step", at, body)


@dataclass
class FleetState:
    """Jobs by id with their lives, the truck carrying each assigned job, what was refused."""

    jobs: dict[str, Job] = field(default_factory=dict)
    truck_of: dict[str, str] = field(default_factory=dict)
    seq: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    trucks: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per truck: what it joined with, its last status, phase and link (see fleet.events)."""
    cranes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per crane: its kind, last event and moves done."""
    closed_lanes: dict[str, str] = field(default_factory=dict)
    """Closed lane → why."""
    held: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Truck → the crane's MOVEDONE held for it until it reports it is there (JSON)."""

    def apply(self, seq: int, event: Event) -> None:
        """Fold one event into the state (or record why it does not fit)."""
        self.seq = seq
        body = event.body
        if event.kind == "job.added":
            if body["job_id"] in self.jobs:
                self.rejected.append((seq, f"job {body['job_id']} already exists"))
                return
            self.jobs[body["job_id"]] = job_from_record(body)
        elif event.kind == "job.step":
            job = self.jobs.get(body["job"])
            if job is None:
                self.rejected.append((seq, f"step for unknown job {body['job']}"))
                return
            state = JobState(body["state"])
            try:
                at = datetime.fromisoformat(event.at)
                if at.utcoffset() is None:
                    raise JobError(f"job {job.job_id}: step time {event.at!r} has no UTC offset")
                self.jobs[job.job_id] = job.step(state, at, body["cause"], body.get("reason", ""))
            except (JobError, ValueError) as exc:
                self.rejected.append((seq, str(exc)))
                return
            if state is JobState.ASSIGNED:
                self.truck_of[job.job_id] = body["truck"]
            elif state in (JobState.RELEASED, JobState.FAILED, JobState.CANCELLED):
                self.truck_of.pop(job.job_id, None)
        elif event.kind.startswith(("truck.", "crane.", "lane.")):
            self._fold_fleet(seq, event)
        elif event.kind != "problem" and not event.kind.startswith((RAW_INPUT, *RECORD_ONLY)):
            # problems, raw inputs and operators' words are kept for the record, not folded
            self.rejected.append((seq, f"unknown event kind {event.kind!r}"))

    def _fold_fleet(self, seq: int, event: Event) -> None:
        body = event.body
        if event.kind == "truck.joined":
            self.trucks.setdefault(body["truck"], {}).update(body, joined_at=event.at)
        elif event.kind in ("truck.status", "truck.phase", "truck.connection"):
            truck = self.trucks.get(body["truck"])
            if truck is None:
                self.rejected.append((seq, f"{event.kind} for unknown truck {body['truck']}"))
                return
            truck[event.kind.removeprefix("truck.")] = {**body, "at": event.at}
        elif event.kind == "crane.event":
            crane = self.cranes.setdefault(
                body["crane"], {"crane_kind": body["crane_kind"], "moves": 0}
            )
            crane["last"] = {**body, "at": event.at}
            if body["event"] == "MOVEDONE":
                crane["moves"] += 1
        elif event.kind == "crane.held":
            self.held[body["truck"]] = body["move"]
        elif event.kind == "crane.unheld":
            self.held.pop(body["truck"], None)
        elif event.kind == "lane.closed":
            self.closed_lanes[body["lane"]] = body.get("reason", "")
        elif event.kind == "lane.opened":
            self.closed_lanes.pop(body["lane"], None)
        else:
            self.rejected.append((seq, f"unknown event kind {event.kind!r}"))

    def to_snapshot(self) -> dict[str, Any]:
        """The state as JSON-able data."""
        return {
            "seq": self.seq,
            "jobs": [
                {
                    **job_record(j),
                    "history": [
                        [s.state.value, s.at.isoformat(), s.cause, s.reason] for s in j.history
                    ],
                }
                for j in self.jobs.values()
            ],
            "truck_of": self.truck_of,
            "rejected": self.rejected,
            "trucks": self.trucks,
            "cranes": self.cranes,
            "closed_lanes": self.closed_lanes,
            "held": self.held,
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> FleetState:
        """The state a snapshot describes."""
        jobs = {}
        for rec in data["jobs"]:
            job = job_from_record(rec)
            history = tuple(
                Step(JobState(s), datetime.fromisoformat(at), cause, reason)
                for s, at, cause, reason in rec["history"]
            )
            jobs[job.job_id] = job.with_history(history)
        return cls(
            jobs,
            dict(data["truck_of"]),
            int(data["seq"]),
            [(int(a), str(b)) for a, b in data["rejected"]],
            dict(data.get("trucks", {})),
            dict(data.get("cranes", {})),
            dict(data.get("closed_lanes", {})),
            dict(data.get("held", {})),
        )


def load(journal: Journal) -> FleetState:
    """The state: the last snapshot, then every event after it."""
    snap = journal.latest_snapshot()
    state = FleetState.from_snapshot(snap[1]) if snap else FleetState()
    for seq, event in journal.events(after=state.seq, skip_prefix=RAW_INPUT):
        state.apply(seq, event)
    return state


def snapshot(journal: Journal, state: FleetState, taken_at: str) -> None:
    """Save the state as of its last applied event."""
    journal.save_snapshot(state.seq, taken_at, state.to_snapshot())


class Recorder:
    """The dispatcher's pen: events appended to its journal and folded into its state."""

    def __init__(self, journal: Journal, origin: datetime) -> None:
        self.journal = journal
        self.origin = origin
        self.state = FleetState()
        self._boot = uuid.uuid4().hex[:12]
        self._events = 0

    def at(self, now: float) -> datetime:
        """Shift seconds as a UTC time."""
        return self.origin + timedelta(seconds=now)

    def iso(self, now: float) -> str:
        """Shift seconds as an event time."""
        return self.at(now).isoformat()

    def eid(self, kind: str) -> str:
        """A new event id, unique across restarts (this run's boot id, then a counter)."""
        self._events += 1
        return f"{kind}:{self._boot}:{self._events}"

    def record(self, event: Event) -> None:
        """Append the event; fold it unless the journal had it already."""
        seq = self.journal.append(event)
        if seq is not None:
            self.state.apply(seq, event)

    def resume(self) -> FleetState:
        """The state the journal tells, from now on the one events are folded into."""
        self.state = load(self.journal)
        return self.state

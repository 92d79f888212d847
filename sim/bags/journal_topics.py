"""A shift's journal into its bag: one `JobEvent` per job change, on /yardfleet/jobs/events.

The dispatcher writes every change of a job's life to its journal (`fleet.events`):
`job.added` when a work queue line is accepted (the job is then *planned*) and
`job.step` for each step after that (body: job, state, cause, [reason], [truck]). Each
becomes one JobEvent, stamped at the event's own time (`at`, ISO 8601 with its UTC
offset), in the journal's order:

- `state`: `planned` for `job.added`, else the step's state (`fleet.jobs.JobState`);
- `truck_id`: the truck holding the job at that change: set by the step to `assigned`,
  kept through `done`, `failed` or `cancelled`, empty again from a step back to
  `released` (the job given back) — the journal names the truck on `assigned` only;
- `cause`: the dispatcher's cause (`work queue`, `strategy pooled-optimal`,
  `crane QC03 MOVEDONE`, ...), with the reason of a failure or cancellation after a
  colon; empty for `job.added`.

The journal is read as a stream (raw `msg.*` inputs are left undecoded in the file), so a
long shift's journal is never held in memory; only the trucks of jobs under way are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from fleet.jobs import FINAL, JobState
from fleet.journal import Event, Journal
from fleet.state import RAW_INPUT

PLANNED = JobState.PLANNED.value


class JobEventSink(Protocol):
    """Where job changes go: `sim.bags.BagRecorder` (its `job_event`)."""

    def job_event(
        self, job_id: str, t_s: float, *, state: str, truck: str = "", cause: str = ""
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class JobChange:
    """One change of a job's life, as a JobEvent carries it; `t_s` is UTC seconds."""

    job_id: str
    t_s: float
    state: str
    truck: str
    cause: str


def _seconds(event: Event) -> float:
    """The event's time as UTC seconds; ValueError when it has no UTC offset."""
    at = datetime.fromisoformat(event.at)
    if at.utcoffset() is None:
        raise ValueError(f"journal event {event.event_id}: time {event.at!r} has no UTC offset")
    return at.timestamp()


def job_changes(events: Iterable[tuple[int, Event]]) -> Iterator[JobChange]:
    """The job changes among journal events (`Journal.events()`), in their order."""
    truck_of: dict[str, str] = {}
    for _, event in events:
        body = event.body
        if event.kind == "job.added":
            yield JobChange(str(body["job_id"]), _seconds(event), PLANNED, "", "")
        elif event.kind == "job.step":
            job_id, state = str(body["job"]), str(body["state"])
            if state == JobState.ASSIGNED:
                truck_of[job_id] = str(body.get("truck") or "")
            elif state == JobState.RELEASED:
                truck_of.pop(job_id, None)
            truck = truck_of.get(job_id, "")
            if state in FINAL:
                truck_of.pop(job_id, None)
            cause = str(body.get("cause") or "")
            if reason := body.get("reason"):
                cause = f"{cause}: {reason}" if cause else str(reason)
            yield JobChange(job_id, _seconds(event), state, truck, cause)


def record_job_events(sink: JobEventSink, journal: str | Path) -> int:
    """Write a JobEvent to `sink` (an open `BagRecorder`) for every job change in the
    journal file `journal`; how many were written."""
    if not Path(journal).is_file():
        raise FileNotFoundError(f"{journal}: no such journal")
    written = 0
    with Journal(journal) as book:
        for change in job_changes(book.events(skip_prefix=RAW_INPUT)):
            sink.job_event(
                change.job_id,
                change.t_s,
                state=change.state,
                truck=change.truck,
                cause=change.cause,
            )
            written += 1
    return written

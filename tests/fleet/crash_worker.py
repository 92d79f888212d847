"""A dispatcher stand-in for the crash test: appends job events until it is killed.

Run as `python crash_worker.py JOURNAL SEED`. It prints `ack <event_id>` after every append
has returned, `snap-begin`/`snap-end` around snapshots, and on start re-sends the last
events it finds (as a client would after a lost acknowledgement): those must be ignored.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta

from fleet.jobs import FINAL, Job, JobState, JobType, Place, PlaceKind
from fleet.journal import Journal
from fleet.state import job_added, job_stepped, load, snapshot

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
ORDER = [
    JobState.RELEASED,
    JobState.ASSIGNED,
    JobState.TO_PICKUP,
    JobState.AT_PICKUP,
    JobState.LOADED,
    JobState.TO_DROP,
    JobState.AT_DROP,
    JobState.DONE,
]


def main() -> None:
    journal = Journal(sys.argv[1])
    rng = random.Random(int(sys.argv[2]))
    state = load(journal)
    print(f"ready {state.seq}", flush=True)
    for _, event in list(journal.events(after=max(0, journal.last_seq() - 3))):
        assert journal.append(event) is None  # a resend is stored once
        print(f"resent {event.event_id}", flush=True)
    n = journal.last_seq()
    while True:
        n += 1
        at = (T0 + timedelta(seconds=n)).isoformat()
        open_jobs = [j for j in state.jobs.values() if j.state not in FINAL]
        if len(state.jobs) < 300 and (len(open_jobs) < 40 or rng.random() < 0.3):
            k = len(state.jobs)
            job = Job(
                f"J{k:05d}",
                JobType.DSCH,
                "CSQU3054383",
                40,
                20000.0,
                Place(PlaceKind.QUAY_CRANE, "QC01"),
                Place(PlaceKind.YARD, "A1"),
            )
            event = job_added(job, at)
        elif open_jobs:
            job = rng.choice(open_jobs)
            nxt = ORDER[ORDER.index(job.state) + 1] if job.history else ORDER[0]
            truck = f"T{rng.randrange(32):02d}" if nxt is JobState.ASSIGNED else None
            event = job_stepped(
                f"step:{job.job_id}:{len(job.history)}",
                job.job_id,
                nxt,
                at,
                "crash-test",
                truck=truck,
            )
        else:
            print("done", flush=True)
            return
        seq = journal.append(event)
        assert seq is not None
        state.apply(seq, event)
        print(f"ack {event.event_id}", flush=True)
        if n % 97 == 0:
            print("snap-begin", flush=True)
            snapshot(journal, state, at)
            print("snap-end", flush=True)


if __name__ == "__main__":
    main()

"""The open jobs (released, not yet taken), kept per quay crane in the crane's sequence.

Dispatch looks at only the next few jobs of every crane; with tens of thousands of boxes
queued, going over all of them at every decision would cost more than the decision.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from fleet.jobs import Job


class OpenJobs:
    """Open jobs by id, each crane's in sequence order, the rest (yard, gate) apart."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._by_crane: dict[str, list[tuple[int, str]]] = {}
        self._other: dict[str, Job] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def __getitem__(self, job_id: str) -> Job:
        return self._jobs[job_id]

    def __setitem__(self, job_id: str, job: Job) -> None:
        self.pop(job_id, None)
        self._jobs[job_id] = job
        crane = job.crane
        if crane is None:
            self._other[job_id] = job
        else:
            bisect.insort(self._by_crane.setdefault(crane, []), (job.qc_seq or 0, job_id))

    def pop(self, job_id: str, default: Job | None = None) -> Job | None:
        """Take a job out (None, or `default`, if it was not open)."""
        job = self._jobs.pop(job_id, None)
        if job is None:
            return default
        crane = job.crane
        if crane is None:
            del self._other[job_id]
        else:
            queue = self._by_crane[crane]
            queue.pop(bisect.bisect_left(queue, (job.qc_seq or 0, job_id)))
        return job

    def values(self) -> Iterator[Job]:
        """Every open job."""
        return iter(self._jobs.values())

    def cranes(self) -> list[str]:
        """Cranes with open jobs."""
        return [c for c, q in self._by_crane.items() if q]

    def next_of(self, crane: str) -> Iterator[Job]:
        """A crane's open jobs in its sequence."""
        for _, job_id in self._by_crane.get(crane, ()):
            yield self._jobs[job_id]

    def others(self) -> Iterator[Job]:
        """Open jobs of no quay crane (yard shifts, gate boxes)."""
        return iter(self._other.values())

"""A shift's work from a TOS work queue (the CSV or JSON `yardfleet jobs check` checks).

The queue is read against the shift's yard by `fleet.workqueue.read_work_queue`, the same
checks `jobs check` runs. Every job reaches the dispatcher at the start of the shift: the
format has no release time (its DEADLINE is when a job is due, not when it may start).
A queue with any bad line is refused whole, with every problem as `jobs check` prints it.
"""

from __future__ import annotations

from pathlib import Path

from fleet.workqueue import QueueProblem, read_work_queue
from maps import generate_terminal
from sim.scenario import Scenario
from sim.traffic import Arrival


class QueueError(ValueError):
    """A work queue that cannot be a shift's work: one line per problem, each naming the
    file, the line and the column (`queue.csv:3: SIZE: must be 20, 40 or 45, got 30`)."""

    def __init__(self, problems: list[QueueProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def queue_work(path: str | Path, scenario: Scenario) -> list[Arrival]:
    """The queue's jobs, all at the start of the shift, checked against the scenario's yard;
    QueueError if any line is bad."""
    queue = read_work_queue(path, generate_terminal(scenario.spec()))
    if queue.problems:
        raise QueueError(queue.problems)
    return [Arrival(0.0, job) for job in queue.jobs]

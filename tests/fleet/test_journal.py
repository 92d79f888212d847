"""The journal: appends survive SIGKILL, duplicates apply once, snapshots change nothing."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.jobs import JobState
from fleet.journal import Event, Journal
from fleet.state import FleetState, load

WORKER = Path(__file__).with_name("crash_worker.py")


def full_replay(journal: Journal) -> FleetState:
    state = FleetState()
    for seq, event in journal.events():
        state.apply(seq, event)
    return state


def read_until(
    proc: subprocess.Popen[str], want: int, stop_on: str | None, deadline_s: float = 30.0
) -> list[str]:
    """Lines from the worker until `want` acks (or a line equal to `stop_on`), within a deadline."""
    assert proc.stdout is not None
    lines: list[str] = []
    acks = 0
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, end - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline().strip()
        if not line:
            break
        lines.append(line)
        acks += line.startswith("ack ")
        if acks >= want or (stop_on is not None and line == stop_on):
            break
    return lines


def test_twenty_kills_lose_and_double_nothing(tmp_path: Path) -> None:
    db = tmp_path / "journal.db"
    rng = random.Random(2026)
    acked: set[str] = set()
    during_snapshot = 0
    for round_ in range(24):
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(db), str(round_)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path.cwd(),
            env={**os.environ, "PYTHONPATH": str(Path.cwd())},
        )
        try:
            if round_ % 3 == 0:  # kill it while it writes a snapshot
                lines = read_until(proc, 10**9, "snap-begin")
            else:  # kill it after a random number of acknowledged appends
                lines = read_until(proc, rng.randrange(5, 150), None)
            assert lines and lines[0].startswith("ready"), lines[:3]
            during_snapshot += bool(lines and lines[-1] == "snap-begin")
            acked |= {line[4:] for line in lines if line.startswith("ack ")}
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        with Journal(db) as journal:
            ids = [e.event_id for _, e in journal.events()]
            assert acked <= set(ids)  # nothing acknowledged is lost
            recovered = load(journal)  # snapshot + the events after it
            replayed = full_replay(journal)  # every event from the start
            assert recovered.to_snapshot() == replayed.to_snapshot()
            assert recovered.rejected == []
            steps = [e for _, e in journal.events() if e.kind == "job.step"]
            assert sum(len(j.history) for j in recovered.jobs.values()) == len(steps)
            for job_id, truck in recovered.truck_of.items():
                last = [
                    e
                    for e in steps
                    if e.body["job"] == job_id and e.body["state"] == JobState.ASSIGNED.value
                ][-1]
                assert last.body["truck"] == truck
    assert during_snapshot >= 5


def test_a_duplicate_event_is_applied_once(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        event = Event("e-1", "job.added", "2026-11-29T06:00:00+00:00", {"job_id": "x"})
        assert journal.append(event) == 1
        assert journal.append(event) is None
        stored = journal.append_all([event, Event("e-2", "k", "t", {})])
        assert stored[0] is None and stored[1] is not None and stored[1] > 1
        assert journal.count() == 2


def test_bad_events_are_refused_and_the_rest_kept(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        journal.append(
            Event(
                "s1",
                "job.step",
                "2026-11-29T06:00:00+00:00",
                {"job": "nope", "state": "released", "cause": "x"},
            )
        )
        journal.append(Event("k1", "mystery", "2026-11-29T06:00:01+00:00", {}))
        state = load(journal)
        assert [why for _, why in state.rejected] == [
            "step for unknown job nope",
            "unknown event kind 'mystery'",
        ]


def test_a_simulation_journal_keeps_the_same_events(tmp_path: Path) -> None:
    """`durable=False` (a simulated shift's) stores what a durable journal stores, the
    same sequence numbers too, committed on close; a batch that fails is stored not at
    all, and the open transaction goes on."""
    events = [Event(f"e-{k}", "job.added", "t", {"job_id": str(k)}) for k in range(5)]

    class BoomError(Exception):
        pass

    def failing() -> Iterator[Event]:
        yield events[3]
        raise BoomError

    def fill(journal: Journal) -> list[object]:
        seqs: list[object] = [journal.append(events[0])]
        seqs += journal.append_all([events[1], events[0], events[2]])
        with pytest.raises(BoomError):
            journal.append_all(failing())
        seqs.append(journal.count())
        journal.flush()
        seqs.append(journal.append(events[4]))
        return seqs

    with Journal(tmp_path / "live.db") as live, Journal(tmp_path / "sim.db", durable=False) as sim:
        assert fill(sim) == fill(live)
    with Journal(tmp_path / "sim.db") as a, Journal(tmp_path / "live.db") as b:
        assert list(a.events()) == list(b.events())
        assert [e.event_id for _, e in a.events()] == ["e-0", "e-1", "e-2", "e-4"]

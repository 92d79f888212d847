"""A recorded shift holds every topic the docs list, readable by rosbags and by `mcap`.

A quarter hour of the default shift is recorded (fixes at 0.5 Hz, to keep it short) and
read back twice: with rosbags' `AnyReader` and with the independent `mcap` reader. Every
job change of the shift's journal (`job.added`, `job.step`) is one JobEvent, stamped at
its journal time, within the shift.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from mcap.reader import make_reader
from rosbags.highlevel import AnyReader

from fleet.journal import Event, Journal
from sim.bags.journal_topics import job_changes
from sim.bags.recorder import JOB_TOPIC
from sim.bags.types import JOB_EVENT, NAVSATFIX, TRUCK_CLASS, TRUCK_STATE, typestore
from sim.run import ShiftReport, run_shift
from sim.scenario import load

HOURS = 0.25
TYPES = {NAVSATFIX, TRUCK_STATE, JOB_EVENT, TRUCK_CLASS}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[ShiftReport, Path, Path]:
    """The report, the bag and the journal of a recorded quarter hour."""
    tmp = tmp_path_factory.mktemp("record-topics")
    scenario = load().with_(hours=HOURS)
    report = run_shift(scenario, tmp / "out", record=tmp / "bag", fix_hz=0.5, pictures=False)
    return report, tmp / "bag", tmp / "out" / "journal.db"


def journal_job_events(journal: Path) -> list[Event]:
    """The journal's job.* events, in order."""
    with Journal(journal) as book:
        return [e for _, e in book.events(skip_prefix="msg.") if e.kind.startswith("job.")]


def bag_job_events(bag: Path) -> list[tuple[int, Any]]:
    """(log time ns, JobEvent) of the bag, read with rosbags, in log-time order."""
    with AnyReader([bag]) as reader:
        conns = [c for c in reader.connections if c.msgtype == JOB_EVENT]
        assert [c.topic for c in conns] == [JOB_TOPIC]
        return [
            (t_ns, reader.deserialize(raw, conn.msgtype))
            for conn, t_ns, raw in reader.messages(connections=conns)
        ]


def stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def test_every_listed_topic_type_is_in_the_bag_for_rosbags(
    recorded: tuple[ShiftReport, Path, Path],
) -> None:
    _, bag, _ = recorded
    with AnyReader([bag]) as reader:
        counts: Counter[str] = Counter()
        for conn in reader.connections:
            counts[conn.msgtype] += conn.msgcount
        topics = {c.topic: c.msgtype for c in reader.connections}
    assert set(counts) == TYPES and all(counts[t] > 0 for t in TYPES), counts
    assert counts[TRUCK_STATE] == counts[NAVSATFIX]  # a state with every fix
    assert topics[JOB_TOPIC] == JOB_EVENT
    trucks = [f"TT{k:02d}" for k in range(1, 33)]
    for truck in trucks:
        assert topics[f"/yardfleet/{truck}/gnss/fix"] == NAVSATFIX
        assert topics[f"/yardfleet/{truck}/state"] == TRUCK_STATE
        assert topics[f"/yardfleet/{truck}/class"] == TRUCK_CLASS


def test_the_mcap_reader_reads_every_topic_and_decodes_job_events(
    recorded: tuple[ShiftReport, Path, Path],
) -> None:
    _, bag, journal = recorded
    (mcap_file,) = bag.glob("*.mcap")
    store = typestore()
    counts: Counter[str] = Counter()
    jobs: list[tuple[str, str]] = []
    last = -1
    with mcap_file.open("rb") as f:
        for schema, channel, message in make_reader(f).iter_messages():
            assert schema is not None and schema.encoding == "ros2msg"
            assert channel.message_encoding == "cdr"
            assert message.log_time >= last  # in log-time order, job events merged in
            last = message.log_time
            counts[schema.name] += 1
            if schema.name == JOB_EVENT:
                assert channel.topic == JOB_TOPIC
                msg: Any = store.deserialize_cdr(message.data, schema.name)
                assert stamp_ns(msg) == message.log_time
                jobs.append((msg.job_id, msg.state))
    assert set(counts) == TYPES, counts
    with AnyReader([bag]) as reader:
        assert counts == Counter(
            {t: sum(c.msgcount for c in reader.connections if c.msgtype == t) for t in TYPES}
        )
    expected = Counter(
        (e.body["job_id"], "planned") if e.kind == "job.added" else (e.body["job"], e.body["state"])
        for e in journal_job_events(journal)
    )
    assert Counter(jobs) == expected


def test_one_job_event_per_job_change_of_the_journal(
    recorded: tuple[ShiftReport, Path, Path],
) -> None:
    report, bag, journal = recorded
    events = journal_job_events(journal)
    found = bag_job_events(bag)
    assert found and len(found) == len(events)
    kinds = Counter(e.kind for e in events)
    assert kinds["job.added"] > 0 and kinds["job.step"] > kinds["job.added"]
    added = {e.body["job_id"] for e in events if e.kind == "job.added"}
    assert {m.job_id for _, m in found} == added
    assert report.data["moves"] > 0
    assert sum(1 for _, m in found if m.state == "done") == report.data["moves"]
    yard_id = load().spec().id
    for t_ns, msg in found:
        assert stamp_ns(msg) == t_ns and msg.header.frame_id == yard_id

    # Each job's life, in the journal's order, with its journal times.
    lives: dict[str, list[tuple[int, str]]] = {}
    for e in events:
        job = e.body["job_id"] if e.kind == "job.added" else e.body["job"]
        state = "planned" if e.kind == "job.added" else e.body["state"]
        t_ns = round(datetime.fromisoformat(e.at).timestamp() * 1e9)
        lives.setdefault(job, []).append((t_ns, state))
    recorded_lives: dict[str, list[tuple[int, str]]] = {}
    for t_ns, msg in found:
        recorded_lives.setdefault(msg.job_id, []).append((t_ns, msg.state))
    assert recorded_lives == lives


def test_job_event_stamps_are_monotonic_per_job_and_within_the_shift(
    recorded: tuple[ShiftReport, Path, Path],
) -> None:
    report, bag, _ = recorded
    t0_ns = round(load().start_time.timestamp() * 1e9)
    end_ns = t0_ns + round(report.data["simulated_seconds"] * 1e9)
    last: dict[str, int] = {}
    for t_ns, msg in bag_job_events(bag):
        assert t0_ns <= t_ns <= end_ns, (msg.job_id, msg.state)
        assert t_ns >= last.get(msg.job_id, t0_ns), msg.job_id
        last[msg.job_id] = t_ns


def test_job_events_name_the_truck_holding_the_job(
    recorded: tuple[ShiftReport, Path, Path],
) -> None:
    _, bag, journal = recorded
    assigned = {
        e.body["job"]: e.body["truck"]
        for e in journal_job_events(journal)
        if e.kind == "job.step" and e.body["state"] == "assigned"
    }
    states: Counter[str] = Counter()
    for _, msg in bag_job_events(bag):
        states[msg.state] += 1
        if msg.state in ("planned", "released"):
            assert msg.truck_id == ""
        elif msg.state in ("assigned", "to_pickup", "at_pickup", "loaded", "to_drop", "done"):
            assert msg.truck_id == assigned[msg.job_id], (msg.job_id, msg.state)
            assert msg.truck_id.startswith("TT")
        if msg.state != "planned":
            assert msg.cause  # the dispatcher's cause: work queue, strategy, crane, ...
    assert states["assigned"] > 0 and states["done"] > 0


def test_truck_states_carry_position_speed_and_heading(
    recorded: tuple[ShiftReport, Path, Path],
) -> None:
    _, bag, _ = recorded
    moving = 0
    with AnyReader([bag]) as reader:
        conns = [c for c in reader.connections if c.msgtype == TRUCK_STATE]
        for conn, _, raw in reader.messages(connections=conns):
            msg: Any = reader.deserialize(raw, conn.msgtype)
            assert conn.topic == f"/yardfleet/{msg.truck_id}/state"
            assert msg.activity in ("moving", "standing")
            assert all(math.isfinite(v) for v in (msg.x_m, msg.y_m, msg.speed_mps))
            assert 20.0 < msg.latitude_deg < 21.5 and 106.0 < msg.longitude_deg < 107.5
            if msg.activity == "moving":
                moving += 1
                assert msg.speed_mps > 0 and 0.0 <= msg.heading_deg < 360.0
    assert moving > 0


def _step(n: int, job: str, state: str, cause: str, **extra: str) -> tuple[int, Event]:
    at = f"2026-11-29T06:00:{n:02d}+07:00"
    body = {"job": job, "state": state, "cause": cause, **extra}
    return n, Event(f"job.step:{n}", "job.step", at, body)


def test_job_changes_follow_the_truck_through_give_backs_and_failures() -> None:
    added = (0, Event("job.added:J1", "job.added", "2026-11-29T06:00:00+07:00", {"job_id": "J1"}))
    events = [
        added,
        _step(1, "J1", "released", "work queue"),
        _step(2, "J1", "assigned", "strategy dedicated", truck="TT01"),
        _step(3, "J1", "to_pickup", "order sent"),
        _step(4, "J1", "released", "truck TT01 lost"),
        _step(5, "J1", "assigned", "strategy dedicated", truck="TT02"),
        _step(6, "J1", "failed", "operator", reason="box damaged"),
        (7, Event("truck.status:7", "truck.status", "2026-11-29T06:00:07+07:00", {})),
    ]
    changes = list(job_changes(events))
    assert [(c.state, c.truck, c.cause) for c in changes] == [
        ("planned", "", ""),
        ("released", "", "work queue"),
        ("assigned", "TT01", "strategy dedicated"),
        ("to_pickup", "TT01", "order sent"),
        ("released", "", "truck TT01 lost"),
        ("assigned", "TT02", "strategy dedicated"),
        ("failed", "TT02", "operator: box damaged"),
    ]
    t0 = datetime.fromisoformat("2026-11-29T06:00:00+07:00").timestamp()
    assert [c.t_s - t0 for c in changes] == [0, 1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="no UTC offset"):
        list(job_changes([(1, Event("e", "job.added", "2026-11-29T06:00:00", {"job_id": "J"}))]))

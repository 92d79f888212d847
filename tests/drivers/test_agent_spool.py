"""The agent's spool on a real SQLite file: order, acks, restarts and the bound."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from drivers.agent.spool import ROW_OVERHEAD, Spool

BOOT = "b" * 32


def body(n: int = 100) -> bytes:
    return b"x" * n


def test_keeps_order_and_forgets_what_was_acknowledged(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite")
    for i in range(3):
        assert spool.append("state", "uagv/v2/Y/TT07/state", i, BOOT, body())
        assert spool.append("visualization", "uagv/v2/Y/TT07/visualization", i, BOOT, body())
    pending = spool.pending()
    assert [(e.topic, e.header_id) for e in pending] == [
        ("state", 0), ("visualization", 0), ("state", 1),
        ("visualization", 1), ("state", 2), ("visualization", 2),
    ]  # fmt: skip
    assert [e.seq for e in spool.pending(after=pending[3].seq)] == [p.seq for p in pending[4:]]
    assert spool.ack("state", [0, 2], BOOT) == 2
    assert spool.ack("state", [0, 2], BOOT) == 0  # a repeated ack removes nothing
    assert spool.ack("state", [1], "another boot") == 0  # another boot's state 1 is not ours
    assert [(e.topic, e.header_id) for e in spool.pending()] == [
        ("visualization", 0), ("state", 1), ("visualization", 1), ("visualization", 2),
    ]  # fmt: skip
    assert len(spool) == 4
    assert spool.used_bytes == 4 * (100 + ROW_OVERHEAD)
    assert spool.oldest_seq() == pending[1].seq


def test_survives_a_restart_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    spool = Spool(path)
    spool.append("state", "t/state", 7, BOOT, b'{"a":1}')
    spool.append("connection", "t/connection", 0, BOOT, b'{"c":1}')
    last = spool.last_seq
    spool.close()
    again = Spool(path)
    assert [(e.topic, e.header_id, e.body) for e in again.pending()] == [
        ("state", 7, b'{"a":1}'),
        ("connection", 0, b'{"c":1}'),
    ]
    assert again.last_seq == last
    assert again.used_bytes == 7 + 7 + 2 * ROW_OVERHEAD
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


def test_when_full_drops_the_oldest_visualization_first_and_state_never(tmp_path: Path) -> None:
    row = 100 + ROW_OVERHEAD
    spool = Spool(tmp_path / "spool.sqlite", max_bytes=5 * row)
    for i in range(4):
        spool.append("visualization", "t/visualization", i, BOOT, body())
    spool.append("state", "t/state", 0, BOOT, body())
    assert spool.stats.dropped == 0
    # Full: each new message pushes out the oldest visualization.
    assert spool.append("state", "t/state", 1, BOOT, body())
    assert spool.append("visualization", "t/visualization", 4, BOOT, body())
    kept = [(e.topic, e.header_id) for e in spool.pending()]
    assert kept == [
        ("visualization", 2), ("visualization", 3), ("state", 0),
        ("state", 1), ("visualization", 4),
    ]  # fmt: skip
    assert spool.stats.dropped_by_topic == {"visualization": 2}
    # Only state left to keep: state still goes in (over the bound), visualization does not.
    for i in range(2, 6):
        assert spool.append("state", "t/state", i, BOOT, body())
    assert not spool.append("visualization", "t/visualization", 5, BOOT, body())
    topics = [e.topic for e in spool.pending()]
    assert topics == ["state"] * 6
    assert spool.stats.dropped_by_topic == {"visualization": 6}
    assert spool.stats.over_bound == 1
    assert spool.used_bytes == 6 * row > spool.max_bytes


def test_a_drained_backlog_gives_its_disk_space_back(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    spool = Spool(path)
    for i in range(1000):
        spool.append("state", "t/state", i, BOOT, body(1000))
    spool.close()
    full = path.stat().st_size
    spool = Spool(path)
    assert spool.ack("state", list(range(1000)), BOOT) == 1000
    spool.close()
    assert full > 1_000_000 and path.stat().st_size < full // 20

"""The on-disk spool: every outgoing message waits here, in order, until it is acknowledged.

One SQLite file in WAL mode, one row per message, rowid = sending order. A message
leaves only when the dispatcher acknowledges its (topic, headerId, bootId), so a link
that is down for hours, or an agent restarted meanwhile, loses nothing: the backlog
goes out again in order.

The spool is bounded by the bytes of the messages it holds (`max_bytes`): when a new
message would not fit, the oldest visualization goes first (it is only a picture of
the past); state, connection and factsheet are never dropped, even if that takes the
spool past its bound. A visualization that cannot fit even so is dropped itself.
Every drop is counted and logged.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

__all__ = ["DROPPABLE", "Entry", "Spool", "SpoolStats"]

log = logging.getLogger(__name__)

DROPPABLE = frozenset({"visualization"})
"""Topics whose messages may be dropped when the spool is full (oldest first)."""
ROW_OVERHEAD = 64
"""Bytes counted per row on top of the message body (ids, topic, index entries)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    address TEXT NOT NULL,
    header_id INTEGER NOT NULL,
    boot_id TEXT NOT NULL,
    body BLOB NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS spool_key ON spool (topic, boot_id, header_id);
"""


class Entry(NamedTuple):
    """One spooled message: its order, topic name, full topic, ids and JSON body."""

    seq: int
    topic: str
    address: str
    header_id: int
    boot_id: str
    body: bytes


@dataclass
class SpoolStats:
    """What the spool has seen: appended, acknowledged, dropped (by topic), bytes held."""

    appended: int = 0
    acked: int = 0
    dropped: int = 0
    dropped_by_topic: dict[str, int] | None = None
    over_bound: int = 0
    """Undroppable messages stored although the spool was full."""
    refused: int = 0
    """Messages the dispatcher refused for good (a nack), taken out unsent."""


class Spool:
    """A bounded, ordered, crash-safe outbox in one SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path, max_bytes: int = 1 << 30) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.stats = SpoolStats(dropped_by_topic={})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # a new file gives space back
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT COALESCE(SUM(size), 0), COUNT(*), MAX(seq) FROM spool")
        used, count, last = row.fetchone()
        self._used = int(used)
        self._count = int(count)
        self.last_seq = int(last or 0)
        """The seq of the newest message appended (0 when none ever was)."""

    @property
    def used_bytes(self) -> int:
        """Bytes counted against the bound (bodies plus a fixed overhead per row)."""
        return self._used

    def __len__(self) -> int:
        return self._count

    def append(self, topic: str, address: str, header_id: int, boot_id: str, body: bytes) -> bool:
        """Store one message at the end; False when it was dropped because the spool is full."""
        size = len(body) + ROW_OVERHEAD
        with self._lock:
            if self._used + size > self.max_bytes:
                self._make_room(size)
            if self._used + size > self.max_bytes:
                if topic in DROPPABLE:
                    self._count_drop(topic, 1)
                    return False
                self.stats.over_bound += 1
                if self.stats.over_bound == 1 or self.stats.over_bound % 1000 == 0:
                    log.warning(
                        "spool %s full (%d bytes): keeping %s anyway (%d kept over the bound)",
                        self.path,
                        self.max_bytes,
                        topic,
                        self.stats.over_bound,
                    )
            with self._db:
                cur = self._db.execute(
                    "INSERT INTO spool (topic, address, header_id, boot_id, body, size)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (topic, address, header_id, boot_id, body, size),
                )
            self._used += size
            self._count += 1
            self.last_seq = int(cur.lastrowid or self.last_seq)
            self.stats.appended += 1
            return True

    def _make_room(self, size: int) -> None:
        """Delete the oldest droppable messages until `size` more bytes fit (lock held)."""
        need = self._used + size - self.max_bytes
        marks = ",".join("?" * len(DROPPABLE))
        rows = self._db.execute(
            f"SELECT seq, topic, size FROM spool WHERE topic IN ({marks}) ORDER BY seq",
            tuple(DROPPABLE),
        )
        victims: list[int] = []
        freed = 0
        by_topic: dict[str, int] = {}
        for seq, topic, row_size in rows:
            if freed >= need:
                break
            victims.append(seq)
            freed += row_size
            by_topic[topic] = by_topic.get(topic, 0) + 1
        if not victims:
            return
        with self._db:
            self._db.executemany("DELETE FROM spool WHERE seq = ?", [(s,) for s in victims])
        self._used -= freed
        self._count -= len(victims)
        for topic, n in by_topic.items():
            self._count_drop(topic, n)

    def _count_drop(self, topic: str, n: int) -> None:
        stats = self.stats
        before = stats.dropped
        stats.dropped += n
        assert stats.dropped_by_topic is not None
        stats.dropped_by_topic[topic] = stats.dropped_by_topic.get(topic, 0) + n
        if before == 0 or before // 1000 != stats.dropped // 1000:
            log.warning(
                "spool %s full (%d bytes): dropped %d %s so far (%d messages in all)",
                self.path,
                self.max_bytes,
                stats.dropped_by_topic[topic],
                topic,
                stats.dropped,
            )

    def pending(self, after: int = 0, limit: int = 1000) -> list[Entry]:
        """Up to `limit` unacknowledged messages with seq > `after`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, address, header_id, boot_id, body FROM spool"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [Entry(r[0], r[1], r[2], r[3], r[4], bytes(r[5])) for r in rows]

    def oldest_seq(self) -> int | None:
        """The seq of the oldest unacknowledged message, None when the spool is empty."""
        with self._lock:
            row = self._db.execute("SELECT MIN(seq) FROM spool").fetchone()
        return None if row[0] is None else int(row[0])

    def ack(self, topic: str, header_ids: list[int], boot_id: str) -> int:
        """Remove acknowledged messages; how many were still here (a repeated ack removes 0)."""
        if not header_ids:
            return 0
        removed = 0
        freed = 0
        with self._lock:
            with self._db:
                for header_id in header_ids:
                    rows = self._db.execute(
                        "DELETE FROM spool WHERE topic = ? AND boot_id = ? AND header_id = ?"
                        " RETURNING size",
                        (topic, boot_id, header_id),
                    ).fetchall()
                    removed += len(rows)
                    freed += sum(r[0] for r in rows)
            self._used -= freed
            self._count -= removed
            self.stats.acked += removed
            if removed and not self._count:  # drained: give the backlog's pages back
                self._db.executescript("PRAGMA incremental_vacuum;")  # every step
        return removed

    def refuse(self, topic: str, header_id: int, boot_id: str) -> int:
        """Take out a message the dispatcher refused for good (a nack); how many went."""
        with self._lock:
            with self._db:
                rows = self._db.execute(
                    "DELETE FROM spool WHERE topic = ? AND boot_id = ? AND header_id = ?"
                    " RETURNING size",
                    (topic, boot_id, header_id),
                ).fetchall()
            self._used -= sum(r[0] for r in rows)
            self._count -= len(rows)
            self.stats.refused += len(rows)
        return len(rows)

    def close(self) -> None:
        """Checkpoint and close the file."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()

"""The dispatcher's journal: every change an event appended to SQLite; the state is what they say.

WAL mode with synchronous=NORMAL: a transaction that has committed is in the write-ahead
log before `append` returns, so it survives the process being killed (power loss may
take the last moments; a killed dispatcher loses nothing it acknowledged). Events carry
their own id: appending an id twice stores it once, so a resent message is applied once.
Snapshots (the state as of an event sequence number) make restarts fast: load the last
snapshot, replay what came after.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    body TEXT NOT NULL,
    digest TEXT
);
CREATE TABLE IF NOT EXISTS snapshots (
    seq INTEGER PRIMARY KEY,
    taken_at TEXT NOT NULL,
    state TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Event:
    """One change: a unique id, a kind (e.g. job.added), when (ISO 8601), and its content."""

    event_id: str
    kind: str
    at: str
    body: dict[str, Any]
    digest: str | None = None
    """For a message as received: a digest of its bytes, so that a resend under the same
    id whose content differs is told from a true resend (`Journal.digests`)."""


class Journal:
    """An append-only event log with snapshots, in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        if "digest" not in columns:  # a journal from before digests were kept
            self._db.execute("ALTER TABLE events ADD COLUMN digest TEXT")

    def close(self) -> None:
        """Close the file (appends already returned are safe without this)."""
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, event: Event) -> int | None:
        """Store one event; its sequence number, or None if its id was already stored."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO events (event_id, kind, at, body, digest)"
            " VALUES (?, ?, ?, ?, ?)",
            (event.event_id, event.kind, event.at, _encode(event.body), event.digest),
        )
        return cur.lastrowid if cur.rowcount else None

    def append_all(self, events: Iterable[Event]) -> list[int | None]:
        """Store many events in one transaction: all of them or, on failure, none."""
        out: list[int | None] = []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for event in events:
                out.append(self.append(event))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return out

    def digests(self, event_ids: Iterable[str]) -> dict[str, str | None]:
        """The digests stored with these event ids (ids not stored are left out)."""
        ids = list(event_ids)
        out: dict[str, str | None] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT event_id, digest FROM events WHERE event_id IN ({marks})", chunk
            )
            out.update(rows)
        return out

    def events(self, after: int = 0, *, skip_prefix: str = "") -> Iterator[tuple[int, Event]]:
        """Events with a sequence number above `after`, in order; kinds starting with
        `skip_prefix` (e.g. "msg." for raw inputs) are left in the file, not decoded."""
        query = "SELECT seq, event_id, kind, at, body FROM events WHERE seq > ?"
        args: tuple[object, ...] = (after,)
        if skip_prefix:
            query += " AND substr(kind, 1, ?) != ?"
            args += (len(skip_prefix), skip_prefix)
        rows = self._db.execute(query + " ORDER BY seq", args)
        for seq, event_id, kind, at, body in rows:
            yield seq, Event(event_id, kind, at, _decode(body))

    def count(self) -> int:
        """How many events are stored."""
        return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def last_seq(self) -> int:
        """The highest sequence number stored (0 when empty)."""
        return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def save_snapshot(self, seq: int, taken_at: str, state: dict[str, Any]) -> None:
        """Store the state as of event `seq` (atomic: a crash keeps the previous snapshot)."""
        self._db.execute(
            "INSERT OR REPLACE INTO snapshots (seq, taken_at, state) VALUES (?, ?, ?)",
            (seq, taken_at, _encode(state)),
        )

    def latest_snapshot(self) -> tuple[int, dict[str, Any]] | None:
        """The newest snapshot and its sequence number, if any."""
        row = self._db.execute(
            "SELECT seq, state FROM snapshots ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return (int(row[0]), _decode(row[1])) if row else None

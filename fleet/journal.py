"""The dispatcher's journal: every change an event appended to SQLite; the state is what they say.

WAL mode with synchronous=NORMAL: a transaction that has committed is in the write-ahead
log before `append` returns, so it survives the process being killed (power loss may
take the last moments; a killed dispatcher loses nothing it acknowledged). Events carry
their own id: appending an id twice stores it once, so a resent message is applied once.
Snapshots (the state as of an event sequence number) make restarts fast: load the last
snapshot, replay what came after.

A simulation's journal (`durable=False`) holds the same events but trades durability for
speed: no fsync, the rollback journal in memory, and one transaction kept open and
committed every `SIM_COMMIT_EVERY` appends and on `close` (a simulated shift killed
midway loses its last moments; one that ends, or stops on Ctrl-C, loses nothing).
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

SIM_COMMIT_EVERY = 20_000
"""A simulation's journal commits after this many appends (and on close)."""
SIM_CACHE_KIB = -32768
"""A simulation's journal's page cache (negative: KiB), 32 MiB."""
_INSERT = (
    "INSERT OR IGNORE INTO events (event_id, kind, at, body, digest) VALUES (?, ?, ?, ?, ?)"
)

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


def _row(event: Event) -> tuple[str, str, str, bytes, str | None]:
    """An event as the row `_INSERT` stores."""
    return (event.event_id, event.kind, event.at, _encode(event.body), event.digest)


class Journal:
    """An append-only event log with snapshots, in one SQLite file."""

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        """`durable` False: a simulation's journal (see the module's docstring)."""
        self.path = Path(path)
        self.durable = durable
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        if durable:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        else:
            self._db.execute("PRAGMA journal_mode=MEMORY")
            self._db.execute("PRAGMA synchronous=OFF")
            # Room for the event-id index of a long shift: its inserts land all over it.
            self._db.execute(f"PRAGMA cache_size={SIM_CACHE_KIB}")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        if "digest" not in columns:  # a journal from before digests were kept
            self._db.execute("ALTER TABLE events ADD COLUMN digest TEXT")
        self._pending = 0
        """Appends since the open transaction began (not durable only)."""
        if not durable:
            self._db.execute("BEGIN")

    def close(self) -> None:
        """Close the file (appends already returned are safe without this, if durable)."""
        if self._db.in_transaction and not self.durable:
            self._db.execute("COMMIT")
        self._db.close()

    def flush(self) -> None:
        """Commit what a simulation's journal holds (durable: everything already is)."""
        if not self.durable and self._db.in_transaction:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
            self._pending = 0

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, event: Event) -> int | None:
        """Store one event; its sequence number, or None if its id was already stored."""
        cur = self._db.execute(_INSERT, _row(event))
        if not self.durable:
            self._count()
        return cur.lastrowid if cur.rowcount else None

    def _count(self, n: int = 1) -> None:
        self._pending += n
        if self._pending >= SIM_COMMIT_EVERY:
            self.flush()

    def append_all(self, events: Iterable[Event]) -> list[int | None]:
        """Store many events in one transaction: all of them or, on failure, none."""
        if not self.durable:
            return self._append_all_open(events)
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

    def _append_all_open(self, events: Iterable[Event]) -> list[int | None]:
        """`append_all` inside the open transaction: a savepoint makes it all or none
        (one event needs none: a statement is)."""
        batch = list(events)
        if len(batch) == 1:
            return [self.append(batch[0])]
        out: list[int | None] = []
        db = self._db
        db.execute("SAVEPOINT batch")
        try:
            for event in batch:
                cur = db.execute(_INSERT, _row(event))
                out.append(cur.lastrowid if cur.rowcount else None)
        except BaseException:
            db.execute("ROLLBACK TO batch")
            db.execute("RELEASE batch")
            raise
        db.execute("RELEASE batch")
        self._count(len(out))
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

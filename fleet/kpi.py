"""Shift KPIs computed from the journal alone, in one streaming pass (millions of events).

The keys of `Kpis.as_dict()` are the ones the simulator's report reuses:

- `moves`: jobs that reached `done` (a `job.step` to done; each job counts once).
- `gross_crane_rate`: per quay crane (a `crane.event` with crane_kind QC), its MOVEDONE
  count ÷ the hours between its first and last MOVEDONE; a crane with fewer than 2 moves
  (or all of them at one instant) has no rate (null). `mean` is over the cranes with a rate.
- `crane_wait_minutes`: per quay crane, the sum over its READY events of the time until a
  truck is under it for one of its jobs: the `job.step` to `at_pickup` of a job whose
  pickup is that crane, or to `at_drop` of a job whose drop is that crane. A READY when a
  truck is already waiting there (arrived earlier, not yet served) adds 0. A truck is
  served by the crane's MOVEDONE for its job (else for its truck, else the earliest
  arrival) or when its job moves on (loaded / done / released / failed / cancelled). A
  READY while the clock already runs does not restart it; a FAULT stops it (a faulty
  crane is not ready); a clock still running at the end runs to the journal's last event
  time. `total` is the sum over cranes.
- `truck_hours`: from the consecutive `truck.status` events of each truck, the interval
  between two is spent in the earlier one's activity; the last one's activity lasts until
  the journal's last event time (the latest `at` of any event). Hours per truck and
  activity (`per_truck`) and summed over trucks (`total`), every activity present.
- `empty_km_share`: odometer distance driven in EMPTY ÷ distance in EMPTY + LADEN (the
  odometer delta between two statuses counts in the earlier activity; a falling odometer
  counts nothing); null when no distance was driven.
- `litres_per_move`: litres burnt ÷ moves, litres burnt being the sum of the falls of
  `litres` between consecutive statuses of a truck (a rise is a refuel, not burn); null
  without moves.
- `lateness`: of the done jobs with a deadline (`jobs_with_deadline`), how many finished
  after it (`late`); `mean_minutes` is the mean tardiness over all of them (an on-time job
  counts 0) and `max_minutes` the largest (0 when none was late); null without deadlines.

Times are the events' `at` (ISO 8601; one without an offset is read as UTC). An event that
does not fit (a body without a field the KPIs need, a bad time) is skipped and reported in
`Kpis.problems`; a file that is not a journal raises KpiError.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from fleet.events import ACTIVITIES, Activity
from fleet.journal import Event

__all__ = ["KINDS", "KpiError", "Kpis", "Lateness", "compute", "from_journal"]

KINDS = frozenset({"job.added", "job.step", "truck.status", "crane.event"})
"""The event kinds the KPIs read (every event's time still counts for the shift's end)."""

MAX_PROBLEMS = 5
"""How many skipped events are described in `Kpis.problems` (all are counted)."""

_decode = msgspec.json.Decoder(dict[str, Any]).decode
_SERVED_AT_PICKUP = frozenset({"loaded", "released", "failed", "cancelled"})
_SERVED_AT_DROP = frozenset({"done", "failed", "cancelled"})


class KpiError(Exception):
    """The journal cannot be read at all (missing, not SQLite, not a journal)."""


@dataclass(frozen=True, slots=True)
class Lateness:
    """Done jobs with a deadline, how many were late, mean tardiness and the worst, minutes."""

    jobs_with_deadline: int
    late: int
    mean_minutes: float | None
    max_minutes: float | None


@dataclass(frozen=True, slots=True)
class Kpis:
    """A shift's KPIs (see the module docstring for each definition)."""

    moves: int
    crane_moves: dict[str, int]
    """MOVEDONE events per quay crane."""
    gross_crane_rate: dict[str, float | None]
    """Moves per hour per quay crane (None: fewer than 2 moves)."""
    crane_wait_minutes: dict[str, float]
    truck_hours: dict[str, dict[str, float]]
    """Truck → activity → hours."""
    empty_km: float
    laden_km: float
    litres_burnt: float
    lateness: Lateness
    events: int
    """Events read."""
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    """The first few skipped events: sequence number, kind and why."""

    @property
    def mean_crane_rate(self) -> float | None:
        """The mean gross rate over the cranes that have one."""
        rates = [r for r in self.gross_crane_rate.values() if r is not None]
        return sum(rates) / len(rates) if rates else None

    @property
    def crane_wait_total(self) -> float:
        """Crane wait summed over quay cranes, minutes."""
        return sum(self.crane_wait_minutes.values())

    @property
    def hours_total(self) -> dict[str, float]:
        """Activity → hours summed over trucks (every activity present)."""
        total = dict.fromkeys(ACTIVITIES, 0.0)
        for hours in self.truck_hours.values():
            for activity, h in hours.items():
                total[activity] = total.get(activity, 0.0) + h
        return total

    @property
    def empty_km_share(self) -> float | None:
        """Share of the driven distance without a box (None: nothing driven)."""
        driven = self.empty_km + self.laden_km
        return self.empty_km / driven if driven > 0 else None

    @property
    def litres_per_move(self) -> float | None:
        """Litres burnt per move (None: no moves)."""
        return self.litres_burnt / self.moves if self.moves else None

    def as_dict(self) -> dict[str, Any]:
        """The KPIs as JSON-able data, with the keys the simulator's report shares."""
        return {
            "moves": self.moves,
            "gross_crane_rate": {
                "per_crane": dict(sorted(self.gross_crane_rate.items())),
                "mean": self.mean_crane_rate,
            },
            "crane_wait_minutes": {
                "per_crane": dict(sorted(self.crane_wait_minutes.items())),
                "total": self.crane_wait_total,
            },
            "truck_hours": {
                "per_truck": {t: dict(h) for t, h in sorted(self.truck_hours.items())},
                "total": self.hours_total,
            },
            "empty_km_share": self.empty_km_share,
            "litres_per_move": self.litres_per_move,
            "lateness": {
                "jobs_with_deadline": self.lateness.jobs_with_deadline,
                "late": self.lateness.late,
                "mean_minutes": self.lateness.mean_minutes,
                "max_minutes": self.lateness.max_minutes,
            },
        }


def seconds(at: str) -> float:
    """An ISO 8601 time as POSIX seconds (no offset: UTC)."""
    t = datetime.fromisoformat(at)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


@dataclass(slots=True)
class _Truck:
    """A truck's last status: since when, doing what, with how much fuel and distance."""

    activity: str
    at: float
    litres: float
    odometer_m: float


class _Fold:
    """The running sums of one pass over the events."""

    def __init__(self) -> None:
        self.last_at = -math.inf
        self.events = 0
        self.skipped = 0
        self.problems: list[str] = []
        # jobs: id -> (pickup quay crane, drop quay crane, deadline)
        self.jobs: dict[str, tuple[str | None, str | None, float | None]] = {}
        self.truck_of: dict[str, str] = {}
        self.done: set[str] = set()
        self.with_deadline = 0
        self.late = 0
        self.tardiness_s = 0.0
        self.worst_s = 0.0
        # cranes (quay cranes only)
        self.moves: dict[str, int] = {}
        self.first_move: dict[str, float] = {}
        self.last_move: dict[str, float] = {}
        self.ready_since: dict[str, float] = {}
        self.waited_s: dict[str, float] = {}
        self.under: dict[str, dict[str, str | None]] = {}  # crane -> job -> truck, arrival order
        # trucks
        self.trucks: dict[str, _Truck] = {}
        self.hours_s: dict[str, dict[str, float]] = {}
        self.empty_m = 0.0
        self.laden_m = 0.0
        self.burnt_l = 0.0

    def feed(self, seq: int, kind: str, at_text: str, body: dict[str, Any] | None) -> None:
        """One event; `body` may be None for a kind the KPIs do not read."""
        self.events += 1
        try:
            at = seconds(at_text)
            self.last_at = max(self.last_at, at)
            if body is None:
                return
            if kind == "truck.status":
                self._status(body, at)
            elif kind == "crane.event":
                self._crane(body, at)
            elif kind == "job.step":
                self._step(body, at)
            elif kind == "job.added":
                self._added(body)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.skipped += 1
            if len(self.problems) < MAX_PROBLEMS:
                what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                self.problems.append(f"event {seq} ({kind}): {what}")

    def _added(self, body: dict[str, Any]) -> None:
        def quay_crane(place: dict[str, Any]) -> str | None:
            return str(place["id"]) if place["kind"] == "quay_crane" else None

        deadline = body.get("deadline")
        self.jobs[str(body["job_id"])] = (
            quay_crane(body["pickup"]),
            quay_crane(body["drop"]),
            seconds(deadline) if deadline else None,
        )

    def _step(self, body: dict[str, Any], at: float) -> None:
        job_id = str(body["job"])
        state = str(body["state"])
        if state == "assigned" and body.get("truck"):
            self.truck_of[job_id] = str(body["truck"])
        if state == "done" and job_id not in self.done:
            self.done.add(job_id)
            deadline = self.jobs.get(job_id, (None, None, None))[2]
            if deadline is not None:
                self.with_deadline += 1
                if at > deadline:
                    self.late += 1
                    self.tardiness_s += at - deadline
                    self.worst_s = max(self.worst_s, at - deadline)
        job = self.jobs.get(job_id)
        if job is None:
            return
        pickup, drop, _ = job
        if state == "at_pickup" and pickup is not None:
            self._arrive(pickup, job_id, at)
        elif state == "at_drop" and drop is not None:
            self._arrive(drop, job_id, at)
        if pickup is not None and state in _SERVED_AT_PICKUP:
            self.under.get(pickup, {}).pop(job_id, None)
        if drop is not None and state in _SERVED_AT_DROP:
            self.under.get(drop, {}).pop(job_id, None)

    def _arrive(self, crane: str, job_id: str, at: float) -> None:
        self.under.setdefault(crane, {})[job_id] = self.truck_of.get(job_id)
        since = self.ready_since.pop(crane, None)
        if since is not None:
            self.waited_s[crane] = self.waited_s.get(crane, 0.0) + max(0.0, at - since)

    def _crane(self, body: dict[str, Any], at: float) -> None:
        if body["crane_kind"] != "QC":
            return
        crane = str(body["crane"])
        event = body["event"]
        self.waited_s.setdefault(crane, 0.0)
        self.moves.setdefault(crane, 0)
        if event == "READY":
            if not self.under.get(crane) and crane not in self.ready_since:
                self.ready_since[crane] = at
        elif event == "MOVEDONE":
            self.moves[crane] += 1
            self.first_move.setdefault(crane, at)
            self.last_move[crane] = at
            self._serve(crane, body.get("job"), body.get("truck"))
        elif event == "FAULT":
            since = self.ready_since.pop(crane, None)
            if since is not None:
                self.waited_s[crane] += max(0.0, at - since)

    def _serve(self, crane: str, job: str | None, truck: str | None) -> None:
        under = self.under.get(crane)
        if not under:
            return
        if job is not None and job in under:
            del under[job]
        elif truck is not None and truck in under.values():
            del under[next(j for j, t in under.items() if t == truck)]
        elif job is None and truck is None:
            del under[next(iter(under))]

    def _status(self, body: dict[str, Any], at: float) -> None:
        truck = str(body["truck"])
        now = _Truck(
            Activity(body["activity"]).value,
            at,
            float(body["litres"]),
            float(body["odometer_m"]),
        )
        before = self.trucks.get(truck)
        hours = self.hours_s.setdefault(truck, dict.fromkeys(ACTIVITIES, 0.0))
        if before is not None:
            hours[before.activity] += max(0.0, at - before.at)
            driven = now.odometer_m - before.odometer_m
            if driven > 0:
                if before.activity == Activity.EMPTY:
                    self.empty_m += driven
                elif before.activity == Activity.LADEN:
                    self.laden_m += driven
            fell = before.litres - now.litres
            if fell > 0:
                self.burnt_l += fell
        self.trucks[truck] = now

    def result(self) -> Kpis:
        """The KPIs of everything fed so far."""
        end = self.last_at
        hours: dict[str, dict[str, float]] = {}
        for truck, spent_s in self.hours_s.items():
            spent = dict(spent_s)
            last = self.trucks[truck]
            spent[last.activity] += max(0.0, end - last.at)
            hours[truck] = {a: s / 3600.0 for a, s in spent.items()}
        waited = dict(self.waited_s)
        for crane, since in self.ready_since.items():
            waited[crane] += max(0.0, end - since)
        rates: dict[str, float | None] = {}
        for crane, n in self.moves.items():
            span = self.last_move.get(crane, 0.0) - self.first_move.get(crane, 0.0)
            rates[crane] = n / (span / 3600.0) if n >= 2 and span > 0 else None
        n = self.with_deadline
        return Kpis(
            moves=len(self.done),
            crane_moves=dict(self.moves),
            gross_crane_rate=rates,
            crane_wait_minutes={c: s / 60.0 for c, s in waited.items()},
            truck_hours=hours,
            empty_km=self.empty_m / 1000.0,
            laden_km=self.laden_m / 1000.0,
            litres_burnt=self.burnt_l,
            lateness=Lateness(
                n,
                self.late,
                self.tardiness_s / n / 60.0 if n else None,
                self.worst_s / 60.0 if n else None,
            ),
            events=self.events,
            skipped=self.skipped,
            problems=list(self.problems),
        )


def compute(events: Iterable[Event]) -> Kpis:
    """The KPIs of events in journal order (e.g. `journal.events()` or a list)."""
    fold = _Fold()
    for seq, event in enumerate(events, start=1):
        fold.feed(seq, event.kind, event.at, event.body if event.kind in KINDS else None)
    return fold.result()


def _rows(path: Path) -> Iterator[tuple[int, str, str, str]]:
    """The journal's events as raw rows, read-only (a KPI run never writes a journal)."""
    if not path.is_file():
        raise KpiError(f"{path}: no such journal")
    try:
        db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise KpiError(f"{path}: cannot open ({exc})") from None
    try:
        try:
            cursor = db.execute("SELECT seq, kind, at, body FROM events ORDER BY seq")
        except sqlite3.Error as exc:
            raise KpiError(f"{path}: not a YardFleet journal ({exc})") from None
        try:
            yield from cursor
        except sqlite3.Error as exc:
            raise KpiError(f"{path}: the journal is damaged ({exc})") from None
    finally:
        db.close()


def from_journal(path: str | Path) -> Kpis:
    """The KPIs of a journal file, streamed; bodies are decoded only for the kinds read."""
    fold = _Fold()
    for seq, kind, at, body in _rows(Path(path)):
        decoded: dict[str, Any] | None = None
        if kind in KINDS:
            try:
                decoded = _decode(body)
            except msgspec.DecodeError as exc:
                fold.events += 1
                fold.skipped += 1
                if len(fold.problems) < MAX_PROBLEMS:
                    fold.problems.append(f"event {seq} ({kind}): body is not JSON ({exc})")
                continue
        fold.feed(seq, kind, at, decoded)
    return fold.result()

"""TOS work queues from CSV or JSON: container jobs, every bad line reported with its reason.

Columns (CSV header, or keys of each JSON object; empty where a column does not apply):
JOB_ID, JOB_TYPE (DSCH, LOAD, RECV, DLVR, SHFT), VESSEL_CALL, CONTAINER_NO, NON_ISO (Y/N),
SIZE (20, 40, 45), WEIGHT_KG, QC, QC_SEQ, YARD_BLOCK, YARD_BAY, YARD_ROW, YARD_TIER,
TO_YARD_BLOCK (SHFT), ALT_YARD_BLOCKS (DSCH; semicolon-separated), GATE_LANE (RECV, DLVR),
TWIN_WITH, PRIORITY, DEADLINE (ISO 8601 with offset).

A CSV's columns are separated by commas. A header separated by ';' (a spreadsheet's CSV in
a comma-decimal locale) or tabs is refused with that said, not guessed: ';' is the list
separator inside ALT_YARD_BLOCKS, so a file split at ';' would read those lists wrong.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fleet import iso6346
from fleet.jobs import Job, JobType, Place, PlaceKind
from maps import AreaKind, CraneKind, ServicePointKind, Yard

COLUMNS = (
    "JOB_ID",
    "JOB_TYPE",
    "VESSEL_CALL",
    "CONTAINER_NO",
    "NON_ISO",
    "SIZE",
    "WEIGHT_KG",
    "QC",
    "QC_SEQ",
    "YARD_BLOCK",
    "YARD_BAY",
    "YARD_ROW",
    "YARD_TIER",
    "TO_YARD_BLOCK",
    "ALT_YARD_BLOCKS",
    "GATE_LANE",
    "TWIN_WITH",
    "PRIORITY",
    "DEADLINE",
)
MAX_GROSS_KG = 36_000.0
"""Heavier than any ISO container's maximum gross mass: a typo, not a box."""

#: Which columns each job type needs (and which must stay empty).
NEEDS: dict[JobType, set[str]] = {
    JobType.DSCH: {"VESSEL_CALL", "QC", "QC_SEQ", "YARD_BLOCK"},
    JobType.LOAD: {"VESSEL_CALL", "QC", "QC_SEQ", "YARD_BLOCK"},
    JobType.RECV: {"GATE_LANE", "YARD_BLOCK"},
    JobType.DLVR: {"GATE_LANE", "YARD_BLOCK"},
    JobType.SHFT: {"YARD_BLOCK", "TO_YARD_BLOCK"},
}
ONLY_FOR: dict[str, set[JobType]] = {
    "QC": {JobType.DSCH, JobType.LOAD},
    "QC_SEQ": {JobType.DSCH, JobType.LOAD},
    "TO_YARD_BLOCK": {JobType.SHFT},
    "ALT_YARD_BLOCKS": {JobType.DSCH},
    "GATE_LANE": {JobType.RECV, JobType.DLVR},
}


@dataclass(frozen=True, slots=True)
class QueueProblem:
    """One thing wrong with a work queue line: where and why."""

    source: str
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass(slots=True)
class WorkQueue:
    """The jobs read from a file, each with the line it came from, and the problems found."""

    jobs: list[Job] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    """The line (CSV) or item number (JSON) of each job, in the same order."""
    problems: list[QueueProblem] = field(default_factory=list)

    @property
    def bad_lines(self) -> set[int]:
        """Lines with at least one problem."""
        return {p.line for p in self.problems}


class _Line:
    """Reads the typed fields of one line, recording every problem."""

    def __init__(
        self, row: dict[str, Any], source: str, line: int, problems: list[QueueProblem]
    ) -> None:
        self.row = {
            str(k).strip().upper(): ("" if v is None else str(v).strip())
            for k, v in row.items()
            if k is not None
        }
        self.source, self.line, self.problems = source, line, problems
        self.ok = True

    def bad(self, column: str | None, message: str) -> None:
        self.problems.append(QueueProblem(self.source, self.line, column, message))
        self.ok = False

    def text(self, column: str) -> str:
        return self.row.get(column, "")

    def integer(self, column: str, low: int = 1, default: int | None = None) -> int | None:
        raw = self.text(column)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.bad(column, f"must be a whole number, got {raw!r}")
            return None
        if value < low:
            self.bad(column, f"must be at least {low}, got {value}")
            return None
        return value


def _parse_line(ln: _Line, yard: Yard | None) -> Job | None:
    job_id = ln.text("JOB_ID")
    if not job_id:
        ln.bad("JOB_ID", "missing")
    raw_type = ln.text("JOB_TYPE").upper()
    try:
        job_type = JobType(raw_type)
    except ValueError:
        ln.bad(
            "JOB_TYPE", f"must be one of {', '.join(t.value for t in JobType)}, got {raw_type!r}"
        )
        return None
    for column in sorted(NEEDS[job_type]):
        if not ln.text(column):
            ln.bad(column, f"missing (a {job_type.value} job needs it)")
    for column, types in ONLY_FOR.items():
        if ln.text(column) and job_type not in types:
            ln.bad(column, f"does not apply to a {job_type.value} job (leave it empty)")
    non_iso_raw = ln.text("NON_ISO").upper()
    if non_iso_raw not in ("", "Y", "N", "YES", "NO"):
        ln.bad("NON_ISO", f"must be Y or N, got {ln.text('NON_ISO')!r}")
    non_iso = non_iso_raw in ("Y", "YES")
    container = iso6346.normalise(ln.text("CONTAINER_NO"))
    if not container:
        ln.bad("CONTAINER_NO", "missing")
    elif not non_iso and (why := iso6346.problem(container)):
        ln.bad("CONTAINER_NO", f"{why} (set NON_ISO=Y to accept it)")
    size = ln.integer("SIZE")
    if size is not None and size not in (20, 40, 45):
        ln.bad("SIZE", f"must be 20, 40 or 45, got {size}")
    weight_raw = ln.text("WEIGHT_KG")
    weight = 0.0
    try:
        weight = float(weight_raw)
        if not 0 < weight <= MAX_GROSS_KG:
            ln.bad("WEIGHT_KG", f"must be between 0 and {MAX_GROSS_KG:.0f} kg, got {weight_raw}")
    except ValueError:
        ln.bad("WEIGHT_KG", f"must be a number of kilograms, got {weight_raw!r}")
    qc_seq = ln.integer("QC_SEQ")
    priority = ln.integer("PRIORITY", low=0, default=0)
    bay, row, tier = (ln.integer(c) for c in ("YARD_BAY", "YARD_ROW", "YARD_TIER"))
    deadline = None
    if raw := ln.text("DEADLINE"):
        try:
            deadline = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if deadline.tzinfo is None:
                ln.bad("DEADLINE", f"needs a UTC offset (e.g. +07:00), got {raw!r}")
        except ValueError:
            ln.bad("DEADLINE", f"must be ISO 8601 with an offset, got {raw!r}")
    block = ln.text("YARD_BLOCK")
    alt = tuple(b.strip() for b in ln.text("ALT_YARD_BLOCKS").split(";") if b.strip())
    gate = ln.text("GATE_LANE")
    qc = ln.text("QC")
    if yard is not None:
        gate = _check_against_yard(ln, yard, job_type, qc, block, alt, gate, bay, row, tier)
    if not ln.ok or size is None:
        return None
    slot = Place(PlaceKind.YARD, block, bay, row, tier)
    pickup, drop = {
        JobType.DSCH: (Place(PlaceKind.QUAY_CRANE, qc), slot),
        JobType.LOAD: (slot, Place(PlaceKind.QUAY_CRANE, qc)),
        JobType.RECV: (Place(PlaceKind.GATE, gate), slot),
        JobType.DLVR: (slot, Place(PlaceKind.GATE, gate)),
        JobType.SHFT: (slot, Place(PlaceKind.YARD, ln.text("TO_YARD_BLOCK"))),
    }[job_type]
    return Job(
        job_id,
        job_type,
        container,
        size,
        weight,
        pickup,
        drop,
        vessel_call=ln.text("VESSEL_CALL") or None,
        non_iso=non_iso,
        qc_seq=qc_seq,
        alt_blocks=alt,
        twin_with=ln.text("TWIN_WITH") or None,
        priority=priority or 0,
        deadline=deadline,
    )


def _check_against_yard(
    ln: _Line,
    yard: Yard,
    job_type: JobType,
    qc: str,
    block: str,
    alt: tuple[str, ...],
    gate: str,
    bay: int | None,
    row: int | None,
    tier: int | None,
) -> str:
    """Cranes, blocks, slots and gate lanes must exist in the yard; returns the gate's id."""
    if qc and (qc not in yard.cranes or yard.cranes[qc].kind is not CraneKind.QC):
        known = ", ".join(c.id for c in yard.cranes_of(CraneKind.QC))
        ln.bad("QC", f"yard {yard.id!r} has no quay crane {qc!r} (it has {known})")
    blocks = {a.id: a for a in yard.areas_of(AreaKind.BLOCK)}
    for column, names in (
        ("YARD_BLOCK", [block]),
        ("TO_YARD_BLOCK", [ln.text("TO_YARD_BLOCK")]),
        ("ALT_YARD_BLOCKS", list(alt)),
    ):
        for name in names:
            if name and name not in blocks:
                ln.bad(column, f"yard {yard.id!r} has no block {name!r}")
    area = blocks.get(block)
    if area is not None:
        for column, value, limit in (
            ("YARD_BAY", bay, area.bays),
            ("YARD_ROW", row, area.rows),
            ("YARD_TIER", tier, area.tiers),
        ):
            if value is not None and limit is not None and value > limit:
                ln.bad(column, f"block {block} has {limit}, got {value}")
    if gate:
        lanes = {sp.id for sp in yard.service_points_of(ServicePointKind.GATE_LANE)}
        for candidate in (gate, f"GATE.{gate}", f"GATE.L{gate}"):
            if candidate in lanes:
                return candidate
        ln.bad(
            "GATE_LANE",
            f"yard {yard.id!r} has no gate lane {gate!r} (it has {', '.join(sorted(lanes))})",
        )
    return gate


def _cross_checks(queue: WorkQueue, source: str) -> None:
    """Duplicates, twins and crane sequences: rules across lines."""
    ids = Counter(job.job_id for job in queue.jobs)
    by_id = {job.job_id: job for job in queue.jobs}
    seen: set[str] = set()
    for job, line in zip(queue.jobs, queue.lines, strict=True):
        if ids[job.job_id] > 1 and job.job_id in seen:
            queue.problems.append(
                QueueProblem(source, line, "JOB_ID", f"duplicate job id {job.job_id!r}")
            )
        seen.add(job.job_id)
        if job.twin_with:
            twin = by_id.get(job.twin_with)
            if twin is None:
                queue.problems.append(
                    QueueProblem(
                        source, line, "TWIN_WITH", f"no job {job.twin_with!r} in this queue"
                    )
                )
            elif job.size_ft != 20 or twin.size_ft != 20:
                queue.problems.append(
                    QueueProblem(source, line, "TWIN_WITH", "only two 20' boxes travel as twins")
                )
            elif twin.crane != job.crane or twin.job_type != job.job_type:
                queue.problems.append(
                    QueueProblem(
                        source,
                        line,
                        "TWIN_WITH",
                        f"twin {twin.job_id} is a {twin.job_type.value} job at {twin.crane}",
                    )
                )
    sequence: Counter[tuple[str | None, str | None, JobType, int | None]] = Counter(
        (j.vessel_call, j.crane, j.job_type, j.qc_seq)
        for j in queue.jobs
        if j.qc_seq is not None and j.twin_with is None
    )
    for job, line in zip(queue.jobs, queue.lines, strict=True):
        key = (job.vessel_call, job.crane, job.job_type, job.qc_seq)
        if job.qc_seq is not None and job.twin_with is None and sequence[key] > 1:
            queue.problems.append(
                QueueProblem(
                    source,
                    line,
                    "QC_SEQ",
                    f"{job.crane} has {sequence[key]} {job.job_type.value} moves at sequence "
                    f"{job.qc_seq} for {job.vessel_call}",
                )
            )


def _rows(path: Path, text: str, problems: list[QueueProblem]) -> list[tuple[int, dict[str, Any]]]:
    source = str(path)
    if path.suffix.lower() == ".json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(QueueProblem(source, exc.lineno, None, f"not valid JSON: {exc.msg}"))
            return []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            problems.append(QueueProblem(source, 1, None, "expected a list of job objects"))
            return []
        return [(k + 1, item) for k, item in enumerate(items)]  # JSON: item number as "line"
    first = text.split("\n", 1)[0]
    for sign, name in ((";", "';'"), ("\t", "tabs")):
        if sign in first and "," not in first:
            # Refused, not guessed: ';' separates the blocks inside ALT_YARD_BLOCKS.
            problems.append(
                QueueProblem(source, 1, None, f"the columns are separated by {name}: use commas")
            )
            return []
    reader = csv.DictReader(io.StringIO(text))
    header = {h.strip().upper() for h in reader.fieldnames or []}
    missing = [
        c for c in ("JOB_ID", "JOB_TYPE", "CONTAINER_NO", "SIZE", "WEIGHT_KG") if c not in header
    ]
    if missing:
        problems.append(QueueProblem(source, 1, None, f"header lacks {', '.join(missing)}"))
        return []
    unknown = sorted(header - set(COLUMNS))
    if unknown:
        problems.append(QueueProblem(source, 1, None, f"unknown columns {', '.join(unknown)}"))
    rows = []
    for row in reader:
        rows.append((reader.line_num, row))
    return rows


def read_work_queue(path: str | Path, yard: Yard | None = None) -> WorkQueue:
    """Every job of a CSV or JSON work queue, and every problem (checked against `yard`)."""
    path = Path(path)
    queue = WorkQueue()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        queue.problems.append(QueueProblem(str(path), 0, None, f"cannot read: {exc}"))
        return queue
    for line, row in _rows(path, text, queue.problems):
        job = _parse_line(_Line(row, str(path), line, queue.problems), yard)
        if job is not None:
            queue.jobs.append(job)
            queue.lines.append(line)
    _cross_checks(queue, str(path))
    queue.problems.sort(key=lambda p: (p.line, p.field or ""))
    return queue


def check_rows(rows: list[dict[str, Any]], source: str, yard: Yard | None = None) -> WorkQueue:
    """Work queue lines given as column → value mappings (an operator's form, say), with the
    same checks as a file's; each row's "line" is its number from 1."""
    queue = WorkQueue()
    for line, row in enumerate(rows, 1):
        job = _parse_line(_Line(row, source, line, queue.problems), yard)
        if job is not None:
            queue.jobs.append(job)
            queue.lines.append(line)
    _cross_checks(queue, source)
    queue.problems.sort(key=lambda p: (p.line, p.field or ""))
    return queue

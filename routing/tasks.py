"""Task files for `yardfleet route plan`: CSV or JSON with truck, from, to[, laden, release_s].

CSV has a header line; JSON is a list of objects with the same keys. Every bad line is
reported with its line (CSV) or item number (JSON) and what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from routing.errors import RoutingError
from routing.planner import Task

REQUIRED = ("truck", "from", "to")
TRUE = {"1", "true", "yes", "y", "laden"}
FALSE = {"", "0", "false", "no", "n", "empty"}


class TaskFileError(RoutingError):
    """A task file with problems; `problems` lists each with its line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _task(row: dict[str, Any], where: str, problems: list[str]) -> Task | None:
    missing = [k for k in REQUIRED if not str(row.get(k) or "").strip()]
    if missing:
        problems.append(f"{where}: missing {', '.join(missing)}")
        return None
    laden_raw = str(row.get("laden", "") if row.get("laden") is not None else "").strip().lower()
    if laden_raw not in TRUE | FALSE:
        problems.append(f"{where}: laden must be true or false, got {row.get('laden')!r}")
        return None
    release_raw = row.get("release_s", 0) or 0
    try:
        release = float(release_raw)
        if not math.isfinite(release) or release < 0:
            raise ValueError
    except (TypeError, ValueError):
        problems.append(f"{where}: release_s must be a number of seconds >= 0, got {release_raw!r}")
        return None
    return Task(
        str(row["truck"]).strip(),
        str(row["from"]).strip(),
        str(row["to"]).strip(),
        laden_raw in TRUE,
        release,
    )


def read_tasks(path: str | Path) -> list[Task]:
    """The tasks in a CSV or JSON file; TaskFileError listing every bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskFileError([f"{path}: cannot read: {exc}"]) from None
    problems: list[str] = []
    if path.suffix.lower() == ".json":
        tasks = _json_tasks(path, text, problems)
    else:
        tasks = _csv_tasks(path, text, problems)
    if problems:
        raise TaskFileError(problems)
    if not tasks:
        raise TaskFileError([f"{path}: no tasks"])
    return tasks


def _json_tasks(path: Path, text: str, problems: list[str]) -> list[Task]:
    """The tasks in a JSON list of task objects; bad items go to `problems`."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TaskFileError([f"{path}:{exc.lineno}: not valid JSON: {exc.msg}"]) from None
    if not isinstance(items, list):
        raise TaskFileError([f"{path}: expected a list of task objects"])
    tasks: list[Task] = []
    for i, item in enumerate(items):
        where = f"{path}: item {i}"
        if not isinstance(item, dict):
            problems.append(f"{where}: not an object")
            continue
        task = _task(item, where, problems)
        if task:
            tasks.append(task)
    return tasks


def _csv_tasks(path: Path, text: str, problems: list[str]) -> list[Task]:
    """The tasks in a CSV with a header line; bad lines go to `problems`."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    absent = [k for k in REQUIRED if k not in header]
    if absent:
        raise TaskFileError(
            [
                f"{path}:1: header lacks {', '.join(absent)} "
                f"(expected truck,from,to[,laden][,release_s])"
            ]
        )
    tasks: list[Task] = []
    for row in reader:
        clean = {(k or "").strip(): v for k, v in row.items()}
        task = _task(clean, f"{path}:{reader.line_num}", problems)
        if task:
            tasks.append(task)
    return tasks

"""`yardfleet jobs`: TOS work queues checked against the yard."""

from __future__ import annotations

import sqlite3
import sys
from collections import Counter
from pathlib import Path

import click

from fleet.workqueue import read_work_queue
from maps import DEFAULT_TERMINAL, TERMINALS, Yard, YardError, load_yard
from maps import terminal as embedded
from maps.cli_support import CREATES_FOLDERS, output_file, yard_error


def _yard(yard_file: Path | None, terminal_name: str) -> Yard:
    try:
        return load_yard(yard_file) if yard_file else embedded(terminal_name)
    except YardError as exc:
        raise yard_error(exc) from None


def _not_a_journal(path: Path, exc: sqlite3.Error) -> str:
    """Why SQLite refused `path`, in one line naming it."""
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
        return f"{path}: cannot open the journal ({exc})"
    return f"{path}: not a YardFleet journal ({exc})"


@click.group("jobs")
def jobs_group() -> None:
    """TOS work queues: container jobs for the dispatcher."""


@jobs_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--yard",
    "yard_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="yard GeoJSON the jobs must fit (default: the embedded terminal)",
)
@click.option(
    "--terminal",
    "terminal_name",
    type=click.Choice(sorted(TERMINALS)),
    default=DEFAULT_TERMINAL,
    show_default=True,
)
def check_cmd(file: Path, yard_file: Path | None, terminal_name: str) -> None:
    """Check a work queue (CSV or JSON): every problem with its line; exit 1 if any."""
    yard = _yard(yard_file, terminal_name)
    queue = read_work_queue(file, yard)
    for problem in queue.problems:
        click.echo(str(problem))
    kinds = Counter(job.job_type.value for job in queue.jobs)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no jobs"
    if queue.problems:
        click.echo(
            f"{file}: {len(queue.problems)} problem(s) on {len(queue.bad_lines)} line(s); "
            f"good lines: {summary}",
            err=True,
        )
        sys.exit(1)
    click.echo(f"{file}: {len(queue.jobs)} jobs fit yard {yard.id!r}: {summary}")


@jobs_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help=f"the dispatcher's journal (SQLite; created if absent, {CREATES_FOLDERS})",
)
@click.option("--skip-invalid", is_flag=True, help="apply the good lines, report the bad ones")
@click.option("--yard", "yard_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--terminal",
    "terminal_name",
    type=click.Choice(sorted(TERMINALS)),
    default=DEFAULT_TERMINAL,
    show_default=True,
)
def import_cmd(
    file: Path, journal_path: Path, skip_invalid: bool, yard_file: Path | None, terminal_name: str
) -> None:
    """Add a work queue's jobs to a journal: refused whole if any line is bad, unless skipped."""
    from datetime import UTC, datetime

    from fleet.journal import Journal
    from fleet.state import job_added

    yard = _yard(yard_file, terminal_name)
    queue = read_work_queue(file, yard)
    for problem in queue.problems:
        click.echo(str(problem), err=True)
    if queue.problems and not skip_invalid:
        click.echo(
            f"{file}: {len(queue.problems)} problem(s); nothing imported "
            "(--skip-invalid imports the good lines)",
            err=True,
        )
        sys.exit(1)
    bad = queue.bad_lines
    good = [job for job, line in zip(queue.jobs, queue.lines, strict=True) if line not in bad]
    now = datetime.now(UTC).isoformat()
    output_file(journal_path, "--journal")
    try:
        with Journal(journal_path) as journal:
            stored = journal.append_all(job_added(job, now) for job in good)
    except sqlite3.Error as exc:
        raise click.ClickException(_not_a_journal(journal_path, exc)) from None
    added = sum(1 for seq in stored if seq is not None)
    click.echo(
        f"{journal_path}: {added} job(s) added, {len(good) - added} already there, "
        f"{len(bad)} line(s) skipped"
        if skip_invalid
        else f"{journal_path}: {added} job(s) added, {len(good) - added} already there"
    )

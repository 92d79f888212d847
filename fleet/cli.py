"""`yardfleet jobs`: TOS work queues checked against the yard."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click

from fleet.workqueue import read_work_queue
from maps import DEFAULT_TERMINAL, TERMINALS, Yard, YardError, load_yard
from maps import terminal as embedded


def _yard(yard_file: Path | None, terminal_name: str) -> Yard:
    try:
        return load_yard(yard_file) if yard_file else embedded(terminal_name)
    except YardError as exc:
        raise click.ClickException(str(exc)) from None


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

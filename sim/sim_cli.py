"""`yardfleet sim run|compare|replay`: simulated shifts, strategy tables, bag replay.

Progress: a bar on stderr when it is a terminal; otherwise (a CI log, `2> log`) a plain
line every few seconds: simulated time, moves, their rate. Ctrl-C stops the work, writes
what was done so far (`sim run`: the report of the shift so far; `sim compare`: the table,
compare.json and picture of the shifts that finished) and exits 130.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fleet.strategies import STRATEGIES
from maps.cli_support import (
    CREATES_FOLDERS,
    INTERRUPTED_EXIT,
    ProgressLines,
    clock,
    output_file,
    output_folder,
)
from sim.console_cli import console_command
from sim.replay_cli import replay_command
from sim.scenario import Scenario, ScenarioError, fleet_size_problems, load

if TYPE_CHECKING:
    from sim.compare import CompareProgress
    from sim.run import ShiftProgress
    from sim.traffic import Arrival


def _speed(value: str) -> float | None:
    if value == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither 'max' nor a number") from None
    if not speed > 0:
        raise click.BadParameter("must be positive (1 = real time)")
    return speed


def _fix_hz(ctx: click.Context, param: click.Parameter, value: float) -> float:
    from sim.world import MAX_FIX_HZ

    if not 0.0 < value <= MAX_FIX_HZ:
        raise click.BadParameter(
            f"{value:g} fixes per second: must be above 0 and at most {MAX_FIX_HZ:g}"
        )
    return value


@click.group("sim")
def sim_group() -> None:
    """Simulated shifts: run one, compare strategies, replay a bag."""


def _scenario(path: Path | None, hours: float | None = None) -> Scenario:
    """The scenario of a command, or one error line per problem, each naming file and key."""
    try:
        sc = load(path)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    return sc if hours is None else sc.with_(hours=hours)


def _check_trucks(sc: Scenario, sizes: list[int]) -> None:
    """--trucks: a fleet the scenario's yard and faults can take, or a usage error."""
    for trucks in sizes:
        problems = fleet_size_problems(sc, trucks)
        if problems:
            raise click.BadParameter("; ".join(problems), param_hint="'--trucks'")


QUEUE_PROBLEMS_SHOWN = 10
"""At most this many of a bad --queue's problems in the error; `jobs check` lists them all."""


def _queue(path: Path | None, sc: Scenario) -> list[Arrival] | None:
    """--queue: its jobs, checked against the scenario's yard, all at the start of the shift;
    or a usage error with its problems as `yardfleet jobs check` prints them (file, line,
    column, why)."""
    if path is None:
        return None
    from sim.queue_work import QueueError, queue_work

    try:
        work = queue_work(path, sc)
    except QueueError as exc:
        shown = [str(p) for p in exc.problems[:QUEUE_PROBLEMS_SHOWN]]
        if len(exc.problems) > QUEUE_PROBLEMS_SHOWN:
            more = len(exc.problems) - QUEUE_PROBLEMS_SHOWN
            shown.append(f"and {more} more (`yardfleet jobs check {path}` lists them all)")
        raise click.BadParameter("; ".join(shown), param_hint="'--queue'") from None
    if not work:
        raise click.BadParameter(f"{path}: no jobs", param_hint="'--queue'")
    return work


@sim_group.command("run")
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--seed", type=click.IntRange(min=0), help="random seed, 0 or more (default: the scenario's)"
)
@click.option("--strategy", type=click.Choice(sorted(STRATEGIES)), help="dispatch strategy")
@click.option("--trucks", type=click.IntRange(min=1), help="fleet size")
@click.option("--hours", type=click.FloatRange(min=0.01), help="shift length")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/shift"),
    show_default=True,
    help=f"folder for report.json, journal.db and the pictures ({CREATES_FOLDERS})",
)
@click.option("--speed", default="max", show_default=True, help="'max' or × real time (1 = live)")
@click.option(
    "--record",
    type=click.Path(path_type=Path),
    help=f"write a ROS 2 bag directory, a new one ({CREATES_FOLDERS} above it)",
)
@click.option(
    "--fix-hz",
    type=float,
    default=2.0,
    show_default=True,
    callback=_fix_hz,
    help="GNSS fixes per second and truck in the bag (above 0, at most 20)",
)
@click.option(
    "--queue",
    "queue_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a TOS work queue (CSV or JSON, as `jobs check` reads it): the shift's work, all "
    "at the start, instead of the scenario's vessels and gate",
)
@click.option(
    "--agents",
    is_flag=True,
    help="trucks are onboard agents (agent core, simulated sensors and wheels) talking to "
    "the live dispatcher's intake in bytes; slower, and not yet as productive",
)
@click.option("--json", "as_json", is_flag=True, help="print report.json on stdout")
def run_command(
    scenario: Path | None,
    seed: int | None,
    strategy: str | None,
    trucks: int | None,
    hours: float | None,
    out: Path,
    speed: str,
    record: Path | None,
    fix_hz: float,
    queue_file: Path | None,
    agents: bool,
    as_json: bool,
) -> None:
    """Simulate a shift of SCENARIO (default: the embedded Hai Phong shift)."""
    from sim.run import run_shift

    pace = _speed(speed)
    sc = _scenario(scenario, hours)
    if trucks is not None:
        _check_trucks(sc, [trucks])
    options = {"seed": seed, "strategy": strategy, "trucks": trucks}
    sc = sc.with_(**{k: v for k, v in options.items() if v is not None})
    work = _queue(queue_file, sc)
    _outputs(out, record)
    console = Console(stderr=as_json)
    title = f"{sc.name} · {sc.strategy} · {sc.fleet.trucks} trucks"
    shown = _ShiftProgress(title, sc.hours * 3600.0)
    try:
        with shown:
            report = run_shift(
                sc,
                out,
                speed=pace,
                record=record,
                fix_hz=fix_hz,
                on_status=shown.update,
                work=work,
                agents=agents,
            )
    except KeyboardInterrupt:
        click.echo(
            f"\ninterrupted before the report was written; {out / 'journal.db'} holds the "
            "shift so far",
            err=True,
        )
        sys.exit(INTERRUPTED_EXIT)
    data = report.data
    shown.finish(data)
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    _print_run(console, data, report.files, record)
    if data["interrupted"]:
        sys.exit(INTERRUPTED_EXIT)
    if data["conflicts"] or data["deadlocks"] or data["drive_problems"] or data.get("contacts"):
        raise SystemExit(2)


def _outputs(out: Path, record: Path | None) -> None:
    """--out created if missing; --record a new directory, its folder created if missing."""
    if record is not None and record.exists():
        raise click.BadParameter(
            f"{record} exists; a bag needs a new directory", param_hint="--record"
        )
    output_folder(out, "--out")
    if record is not None:
        output_file(record, "--record")


def _print_run(
    console: Console, data: dict[str, Any], files: list[Path], record: Path | None
) -> None:
    """The KPI table, what was written (the bag last) and what went wrong."""
    console.print(kpi_table(data))
    if data["interrupted"]:
        console.print("[yellow]interrupted: the report covers the shift so far[/yellow]")
    for f in files:
        console.print(f"wrote {f}")
    if record is not None:
        console.print(f"wrote {record} (ROS 2 bag, MCAP + zstd)")
    if data.get("contacts"):
        console.print(
            f"[red]{data['contacts']} contacts between truck bodies (first: "
            f"{data['contact_examples'][0]}); see report.json[/red]"
        )


class _ShiftProgress:
    """A shift's progress on stderr: a bar on a terminal, else a line every few seconds."""

    def __init__(self, title: str, horizon_s: float) -> None:
        self.horizon_s = horizon_s
        self.first = True
        self.stderr = Console(stderr=True)
        self.bar: Progress | None = None
        self.lines: ProgressLines | None = None
        if self.stderr.is_terminal:
            self.bar = Progress(
                TextColumn(title),
                BarColumn(),
                TextColumn("{task.fields[clock]}"),
                TimeElapsedColumn(),
                console=self.stderr,
                transient=True,
            )
            self.task = self.bar.add_task("shift", total=horizon_s, clock="0:00")
        else:
            self.lines = ProgressLines("sim run")
            self.lines.say(f"{title}: {clock(horizon_s)} h to simulate")

    def __enter__(self) -> _ShiftProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, at: ShiftProgress) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=at.t_s, clock=f"{clock(at.t_s)} h")
        elif self.lines is not None and (self.first or self.lines.due()):
            self.first = False  # the first at once: the shift itself has started
            self.lines.say(self._line(at.t_s, at.horizon_s, at.moves))

    def _line(self, t_s: float, horizon_s: float, moves: int) -> str:
        assert self.lines is not None
        wall = max(self.lines.elapsed_s, 1e-9)
        rate = f"{moves / (t_s / 3600.0):.1f}" if t_s > 0 else "-"
        return (
            f"{clock(t_s)} of {clock(horizon_s)} h simulated, {moves} moves ({rate} per hour), "
            f"{t_s / wall:.0f}× real time, {wall:.0f} s"
        )

    def finish(self, data: dict[str, object]) -> None:
        """The last line (no terminal): where the shift ended."""
        if self.lines is not None:
            t_s, moves = data["simulated_seconds"], data["moves"]
            assert isinstance(t_s, int | float) and isinstance(moves, int)
            state = "interrupted at" if data["interrupted"] else "done:"
            self.lines.say(f"{state} {self._line(float(t_s), self.horizon_s, moves)}")


def kpi_table(data: dict[str, object]) -> Table:
    """The headline numbers of a shift report."""
    table = Table(title=f"{data['scenario']} · {data['strategy']} · seed {data['seed']}")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    rate = data["gross_crane_rate"]
    wait = data["crane_wait_minutes"]
    rows = [
        ("moves", f"{data['moves']}"),
        (
            "gross crane rate (moves/crane-hour)",
            _num(rate.get("mean") if isinstance(rate, dict) else None),
        ),
        (
            "crane minutes waiting (all cranes)",
            _num(wait.get("total") if isinstance(wait, dict) else None),
        ),
        ("empty km share", _num(data.get("empty_km_share"), 3)),
        ("litres per move", _num(data.get("litres_per_move"), 2)),
        ("conflicts (executed trajectories)", f"{data['conflicts']}"),
        ("deadlocks", f"{data['deadlocks']}"),
        ("min separation on a lane (m)", _num(data.get("min_separation_m"))),
        ("bodies touching (contacts)", f"{data.get('contacts', 0)}"),
        ("min clearance between bodies (m)", _num(data.get("min_clearance_m"), 2)),
        ("truck minutes held up on the way", _num(data.get("held_up_minutes"))),
        ("drive problems", f"{data.get('drive_problems', 0)}"),
        ("dispatcher problems (report.json: problems)", _problems(data)),
        (
            "simulated / wall seconds",
            f"{data['simulated_seconds']:.0f} / {data['wall_seconds']:.1f}",
        ),
    ]
    for k, v in rows:
        table.add_row(k, v)
    return table


def _problems(data: dict[str, object]) -> str:
    """How many problems the dispatcher noted, and the commonest kind (what it says first)."""
    count = data.get("problem_count", 0)
    listed = data.get("problems")
    if not isinstance(count, int) or not count or not isinstance(listed, list) or not listed:
        return "0"
    kinds = Counter(_gist(str(p)) for p in listed)
    gist, n = kinds.most_common(1)[0]
    return f"{count} ({n}× {gist})" if len(kinds) > 1 or n < count else f"{count} ({gist})"


def _gist(problem: str) -> str:
    """A problem's kind in a few words: its text without time, trucks and places."""
    text = problem.split(" ", 1)[1] if problem.startswith("t=") else problem
    for marker in (": ", " for ", " after "):
        if marker in text and text.index(marker) > 10:
            text = text[: text.index(marker)]
    return " ".join(w for w in text.split() if not any(c.isdigit() for c in w))[:48]


def _num(value: object, digits: int = 1) -> str:
    return "-" if not isinstance(value, int | float) else f"{value:.{digits}f}"


@sim_group.command("compare")
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--strategies", default="dedicated,pooled-nearest,pooled-optimal,dual", show_default=True
)
@click.option("--trucks", "fleet", default="18,24,30,36", show_default=True, help="fleet sizes")
@click.option("--seeds", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--hours", type=click.FloatRange(min=0.01), help="shift length")
@click.option("--jobs", "workers", type=click.IntRange(min=1), help="parallel processes")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/compare"),
    show_default=True,
    help=f"folder for compare.json, compare.png and each shift's run ({CREATES_FOLDERS})",
)
@click.option("--json", "as_json", is_flag=True, help="print the table as JSON on stdout")
def compare_command(
    scenario: Path | None,
    strategies: str,
    fleet: str,
    seeds: int,
    hours: float | None,
    workers: int | None,
    out: Path,
    as_json: bool,
) -> None:
    """Run every strategy × fleet size × seed in parallel; print mean ± std per cell."""
    from sim.compare import compare, compare_plot, compare_table

    names = [s.strip() for s in strategies.split(",") if s.strip()]
    unknown = [s for s in names if s not in STRATEGIES]
    if unknown:
        raise click.BadParameter(
            f"unknown {', '.join(unknown)} (known: {', '.join(STRATEGIES)})",
            param_hint="--strategies",
        )
    try:
        sizes = [int(s) for s in fleet.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(
            f"{fleet!r}: comma-separated numbers", param_hint="--trucks"
        ) from None
    base = _scenario(scenario, hours)
    _check_trucks(base, sizes)
    output_folder(out, "--out")
    console = Console(stderr=as_json, width=200)
    total = len(names) * len(sizes) * seeds
    with _CompareProgress(total) as shown:
        result = compare(base, names, sizes, seeds, out, workers=workers, on_status=shown.update)
    shown.finish(result.interrupted)
    rows = result.rows
    (out / "compare.json").write_text(json.dumps(rows, indent=2))
    wrote = [out / "compare.json"]
    if result.done:
        wrote.append(compare_plot(rows, out / "compare.png"))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    console.print(compare_table(rows))
    if result.interrupted:
        console.print(
            f"[yellow]interrupted: the table and compare.json hold the {result.done} of "
            f"{result.total} shifts that finished[/yellow]"
        )
    console.print(f"wrote {' and '.join(str(w) for w in wrote)}")
    if result.interrupted:
        sys.exit(INTERRUPTED_EXIT)


class _CompareProgress:
    """A comparison's progress on stderr: a bar on a terminal, else a line every few
    seconds (and at most one a second as shifts finish)."""

    def __init__(self, total: int) -> None:
        self.last: CompareProgress | None = None
        self.stderr = Console(stderr=True)
        self.bar: Progress | None = None
        self.lines: ProgressLines | None = None
        if self.stderr.is_terminal:
            self.bar = Progress(
                TextColumn("compare"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} shifts"),
                TimeElapsedColumn(),
                console=self.stderr,
                transient=True,
            )
            self.task = self.bar.add_task("compare", total=total)
        else:
            self.lines = ProgressLines("sim compare")
            self.lines.say(f"{total} shifts to run")

    def __enter__(self) -> _CompareProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, at: CompareProgress) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=at.done)
            return
        self.last = at
        assert self.lines is not None
        if self.lines.due() or (at.finished_one and self.lines.due(at_least_s=1.0)):
            self.lines.say(self._line(at))

    def _line(self, at: CompareProgress) -> str:
        assert self.lines is not None
        rate = f"{at.moves / (at.simulated_s / 3600.0):.1f}" if at.simulated_s > 0 else "-"
        return (
            f"{at.done}/{at.total} shifts done, {at.running} under way; "
            f"{clock(at.simulated_s)} h simulated, {at.moves} moves ({rate} per hour), "
            f"{self.lines.elapsed_s:.0f} s"
        )

    def finish(self, interrupted: bool) -> None:
        """The last line (no terminal): how far the comparison got."""
        if self.lines is not None and self.last is not None:
            self.lines.say(("interrupted: " if interrupted else "done: ") + self._line(self.last))


sim_group.add_command(replay_command)
sim_group.add_command(console_command)

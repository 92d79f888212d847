"""`yardfleet sim run|compare|replay`: simulated shifts, strategy tables, bag replay."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fleet.strategies import STRATEGIES
from sim.replay_cli import replay_command
from sim.scenario import Scenario, ScenarioError, fleet_size_problems, load


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


@sim_group.command("run")
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--seed", type=click.IntRange(min=0), help="random seed, 0 or more (default: the scenario's)"
)
@click.option("--strategy", type=click.Choice(sorted(STRATEGIES)), help="dispatch strategy")
@click.option("--trucks", type=click.IntRange(min=1), help="fleet size")
@click.option("--hours", type=click.FloatRange(min=0.01), help="shift length")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/shift"))
@click.option("--speed", default="max", show_default=True, help="'max' or × real time (1 = live)")
@click.option("--record", type=click.Path(path_type=Path), help="write a ROS 2 bag directory")
@click.option(
    "--fix-hz",
    type=float,
    default=2.0,
    show_default=True,
    callback=_fix_hz,
    help="GNSS fixes per second and truck in the bag (above 0, at most 20)",
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
    if record is not None and record.exists():
        raise click.BadParameter(
            f"{record} exists; a bag needs a new directory", param_hint="--record"
        )
    console = Console(stderr=as_json)
    progress = Progress(
        TextColumn(f"{sc.name} · {sc.strategy} · {sc.fleet.trucks} trucks"),
        BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("shift", total=sc.hours * 3600.0, clock="0:00")

    def tick(t: float, total: float) -> None:
        progress.update(task, completed=t, clock=f"{int(t // 3600)}:{int(t % 3600 // 60):02d} h")

    with progress:
        report = run_shift(sc, out, speed=pace, record=record, fix_hz=fix_hz, on_progress=tick)
    data = report.data
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    console.print(kpi_table(data))
    if data["interrupted"]:
        console.print("[yellow]interrupted: the report covers the shift so far[/yellow]")
    for f in report.files:
        console.print(f"wrote {f}")
    if record is not None:
        console.print(f"wrote {record} (ROS 2 bag, MCAP + zstd)")
    if data.get("contacts"):
        console.print(
            f"[red]{data['contacts']} contacts between truck bodies (first: "
            f"{data['contact_examples'][0]}); see report.json[/red]"
        )
    if data["conflicts"] or data["deadlocks"] or data["drive_problems"] or data.get("contacts"):
        raise SystemExit(2)


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
        (
            "simulated / wall seconds",
            f"{data['simulated_seconds']:.0f} / {data['wall_seconds']:.1f}",
        ),
    ]
    for k, v in rows:
        table.add_row(k, v)
    return table


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
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/compare")
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
    console = Console(stderr=as_json, width=200)
    total = len(names) * len(sizes) * seeds
    progress = Progress(
        TextColumn("compare"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} shifts"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("compare", total=total)
    with progress:
        rows = compare(
            base, names, sizes, seeds, out, workers=workers, on_done=lambda: progress.advance(task)
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(rows, indent=2))
    picture = compare_plot(rows, out / "compare.png")
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    console.print(compare_table(rows))
    console.print(f"wrote {out / 'compare.json'} and {picture}")


sim_group.add_command(replay_command)

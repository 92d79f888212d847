"""`yardfleet route mapf MAP SCEN --agents N`: solve a MovingAI MAPF benchmark instance."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import click

from maps.cli_support import CREATES_FOLDERS, output_file
from maps.errors import MapFormatError
from maps.movingai import check_scenario, read_map, read_scenario
from routing.mapf.moves import to_moves
from routing.mapf.solution import MapfResult
from routing.mapf.solve import Progress, solve

__all__ = ["mapf_cmd"]

EXIT_UNSOLVED = 2
"""Exit status when the instance is not solved within the time limit."""

_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


@click.command("mapf")
@click.argument("map_file", metavar="MAP", type=_FILE)
@click.argument("scen_file", metavar="SCEN", type=_FILE)
@click.option(
    "--agents",
    "-n",
    "count",
    type=click.IntRange(min=1),
    required=True,
    help="solve for the first N agents of the scenario",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="seconds; unsolved by then means exit status 2",
)
@click.option("--seed", type=int, default=0, show_default=True, help="random seed")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"write the solution as MAPF tracker moves, one line per agent ({CREATES_FOLDERS})",
)
def mapf_cmd(
    map_file: Path,
    scen_file: Path,
    count: int,
    time_limit: float,
    seed: int,
    as_json: bool,
    out: Path | None,
) -> None:
    """Solve the MAPF instance of MAP and the first N agents of SCEN (MovingAI formats).

    4-connected unit moves, waiting allowed; vertex and swap conflicts are forbidden.
    Prints the sum of costs, the makespan, the lower bound (sum of BFS distances) and
    the time.
    """
    if out is not None:
        output_file(out, "--out")
    try:
        grid = read_map(map_file)
        scenario = read_scenario(scen_file)
        if count > len(scenario):
            raise click.BadParameter(
                f"{scen_file.name} has {len(scenario)} agents, fewer than {count}",
                param_hint="--agents",
            )
        agents = scenario[:count]
        check_scenario(grid, agents)
        result = solve(grid, agents, time_limit, seed=seed, progress=_progress_line())
        click.echo("\r" + " " * 64 + "\r", nl=False, err=True)  # clear the status line
    except (MapFormatError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if result.solved and out is not None:
        try:
            out.write_text("".join(line + "\n" for line in to_moves(result.paths)))
        except OSError as exc:
            raise click.ClickException(f"{out}: cannot write: {exc.strerror}") from None
    if as_json:
        click.echo(json.dumps(_summary(map_file, scen_file, count, result)))
    else:
        click.echo(_text(map_file, scen_file, count, result, out))
    if not result.solved:
        sys.exit(EXIT_UNSOLVED)


def _summary(map_file: Path, scen_file: Path, count: int, r: MapfResult) -> dict[str, object]:
    """The JSON object of one run (costs are null when unsolved)."""
    ratio = r.soc_over_lb
    return {
        "map": map_file.name,
        "scen": scen_file.name,
        "agents": count,
        "solved": r.solved,
        "sum_of_costs": r.sum_of_costs if r.solved else None,
        "makespan": r.makespan if r.solved else None,
        "lower_bound": r.lower_bound,
        "soc_over_lb": None if math.isnan(ratio) else round(ratio, 4),
        "seconds": round(r.seconds, 3),
        "first_solution_seconds": (
            None if math.isnan(r.first_solution_seconds) else round(r.first_solution_seconds, 3)
        ),
        "initial_sum_of_costs": r.initial_sum_of_costs if r.solved else None,
        "method": r.method,
        "iterations": r.iterations,
        "message": r.message,
    }


def _text(map_file: Path, scen_file: Path, count: int, r: MapfResult, out: Path | None) -> str:
    """A few human-readable lines about one run."""
    head = f"{map_file.name} / {scen_file.name}, {count} agents:"
    if not r.solved:
        return f"{head} unsolved after {r.seconds:.1f} s ({r.message})"
    lines = [
        f"{head} solved in {r.seconds:.1f} s (first solution after"
        f" {r.first_solution_seconds:.1f} s, {r.method})",
        f"  sum of costs {r.sum_of_costs}  lower bound {r.lower_bound}  ratio {r.soc_over_lb:.3f}",
        f"  makespan     {r.makespan}",
    ]
    if out is not None:
        lines.append(f"  moves written to {out}")
    return "\n".join(lines)


def _progress_line() -> Callable[[Progress], None]:
    """A status line on stderr while solving (phase, seconds, sum of costs / lower bound)."""
    last = [0.0]

    def show(p: Progress) -> None:
        if p.seconds - last[0] < 0.5:
            return
        last[0] = p.seconds
        ratio = f"{p.sum_of_costs / p.lower_bound:.3f}" if p.sum_of_costs and p.lower_bound else "-"
        click.echo(
            f"\r  {p.phase:<10} {p.seconds:6.1f} s  SoC/LB {ratio}  iterations {p.iterations}",
            nl=False,
            err=True,
        )

    return show

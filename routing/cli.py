"""`yardfleet route`: fastest paths, fleet plans and MAPF benchmarks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from maps import DEFAULT_TERMINAL, TERMINALS, UnknownFeatureError, Yard, YardError, load_yard
from maps import terminal as embedded
from maps.cli_support import CREATES_FOLDERS, output_file, yard_error
from routing.checker import check_plans
from routing.errors import RoutingError
from routing.network import LaneNetwork
from routing.paths import Router
from routing.planner import FleetPlanner
from routing.tasks import read_tasks

yard_option = click.option(
    "--yard",
    "yard_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="yard GeoJSON (default: the embedded terminal)",
)
terminal_option = click.option(
    "--terminal",
    "terminal_name",
    type=click.Choice(sorted(TERMINALS)),
    default=DEFAULT_TERMINAL,
    show_default=True,
    help="embedded terminal when no --yard",
)


def _yard(yard_file: Path | None, terminal_name: str) -> Yard:
    try:
        return load_yard(yard_file) if yard_file else embedded(terminal_name)
    except YardError as exc:
        raise yard_error(exc) from None


def _picture(out: Path) -> Path:
    """--out: a .png or .svg file, its folder created if missing."""
    if out.suffix.lower() not in (".png", ".svg"):
        raise click.BadParameter(
            f"must end in .png or .svg, not {out.suffix or '(none)'!r}", param_hint="--out"
        )
    return output_file(out, "--out")


def _progress(label: str) -> Callable[[int, int], None]:
    """A one-line progress counter on stderr."""

    def show(done: int, total: int) -> None:
        click.echo(f"\r{label} {done}/{total}", nl=done == total, err=True)

    return show


@click.group("route")
def route_group() -> None:
    """Paths and traffic: fastest routes, conflict-free fleet plans, MAPF benchmarks."""


def _register_mapf() -> None:
    from routing.mapf.cli import mapf_cmd

    route_group.add_command(mapf_cmd)


@route_group.command("path")
@click.argument("origin", metavar="FROM")
@click.argument("destination", metavar="TO")
@click.option("--laden", is_flag=True, help="a laden truck (slower)")
@click.option("--close", "closed", multiple=True, metavar="LANE", help="close a lane (repeat)")
@yard_option
@terminal_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"draw the route: .png or .svg ({CREATES_FOLDERS})",
)
@click.option("--json", "as_json", is_flag=True, help="print the route as JSON")
def path_cmd(
    origin: str,
    destination: str,
    laden: bool,
    closed: tuple[str, ...],
    yard_file: Path | None,
    terminal_name: str,
    out: Path | None,
    as_json: bool,
) -> None:
    """The fastest route between two service points (or nodes), e.g. QC01.SP J2.TP3."""
    if out is not None:
        _picture(out)
    yard = _yard(yard_file, terminal_name)
    net = LaneNetwork(yard)
    try:
        if closed:
            net.close(*closed)
        route = Router(net).route(origin, destination, laden=laden)
    except (RoutingError, UnknownFeatureError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "from": origin,
                    "to": destination,
                    "laden": laden,
                    "length_m": route.length_m,
                    "time_s": route.time_s,
                    "lanes": list(route.lanes),
                    "nodes": list(route.nodes),
                },
                indent=1,
            )
        )
    else:
        click.echo(
            f"{origin} → {destination} ({'laden' if laden else 'empty'}): "
            f"{route.length_m:.1f} m, {route.time_s:.1f} s, {len(route.lanes)} lanes"
        )
        click.echo("  " + " ".join(route.lanes))
    if out:
        from routing.draw import draw_route

        click.echo(f"wrote {draw_route(yard, route, out, closed)}", err=as_json)


@route_group.command("plan")
@click.argument("tasks_file", metavar="TASKS", type=click.Path(dir_okay=False, path_type=Path))
@yard_option
@terminal_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"draw the plans: .png or .svg ({CREATES_FOLDERS})",
)
@click.option("--json", "as_json", is_flag=True, help="print the plans as JSON")
def plan_cmd(
    tasks_file: Path, yard_file: Path | None, terminal_name: str, out: Path | None, as_json: bool
) -> None:
    """Conflict-free plans for truck tasks (CSV or JSON: truck, from, to[, laden, release_s])."""
    if out is not None:
        _picture(out)
    yard = _yard(yard_file, terminal_name)
    try:
        tasks = read_tasks(tasks_file)
        planner = FleetPlanner(LaneNetwork(yard))
        report = planner.plan(tasks, progress=_progress("planning"))
    except (RoutingError, UnknownFeatureError) as exc:
        raise click.ClickException(str(exc)) from None
    plans = [report.plans[t.truck] for t in tasks if t.truck in report.plans]
    conflicts = check_plans(
        plans,
        yard,
        length_m=planner.network.vehicle.length_m,
        gap_m=planner.network.vehicle.safety_gap_m,
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "planned": len(plans),
                    "failed": report.failed,
                    "conflicts": [str(c) for c in conflicts],
                    "seconds": report.seconds,
                    "plans": {
                        p.truck: [
                            {
                                "resource": s.resource,
                                "kind": s.kind.value,
                                "t_enter": s.t_enter,
                                "t_exit": None if s.t_exit == float("inf") else s.t_exit,
                                "speed_mps": s.speed_mps,
                                "from_m": s.from_m,
                                "to_m": s.to_m,
                            }
                            for s in p.steps
                        ]
                        for p in plans
                    },
                },
                indent=1,
            )
        )
    else:
        click.echo(
            f"{'truck':<10} {'from':<10} {'to':<10} {'depart s':>9} {'arrive s':>9} "
            f"{'waiting s':>9}"
        )
        by_truck = {t.truck: t for t in tasks}
        for p in plans:
            t = by_truck[p.truck]
            driving = sum((s.to_m or 0.0) - s.from_m for s in p.steps if s.speed_mps) and sum(
                ((s.to_m or 0.0) - s.from_m) / s.speed_mps for s in p.steps if s.speed_mps
            )
            depart = next((s.t_exit for s in p.steps), 0.0)
            click.echo(
                f"{p.truck:<10} {t.start:<10} {t.goal:<10} {depart:>9.1f} {p.t_end:>9.1f} "
                f"{p.t_end - t.release_s - float(driving):>9.1f}"
            )
        click.echo(
            f"planned {len(plans)} of {len(tasks)} trucks in {report.seconds:.2f} s; "
            f"conflicts found by the checker: {len(conflicts)}; makespan "
            f"{max((p.t_end for p in plans), default=0):.0f} s"
        )
        for truck, why in report.failed.items():
            click.echo(f"  not planned: {truck}: {why}")
    if out:
        from routing.draw import draw_plans

        click.echo(f"wrote {draw_plans(yard, plans, out)}", err=as_json)
    if report.failed or conflicts:
        raise SystemExit(1)


_register_mapf()

"""`yardfleet dispatcher`: serve trucks over ZeroMQ, and KPIs from a journal."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fleet.kpi import Kpis


@click.group("dispatcher")
def dispatcher_group() -> None:
    """The dispatcher: serve trucks over ZeroMQ, KPIs from a journal."""


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print_table(kpis: Kpis, journal: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, markup=False)
    late = kpis.lateness
    summary = Table(title=f"KPIs of {journal} ({kpis.events} events)", show_header=False)
    summary.add_column("kpi")
    summary.add_column("value", justify="right")
    share = kpis.empty_km_share
    summary.add_row("moves", str(kpis.moves))
    summary.add_row("gross crane rate, mean [moves/h]", _num(kpis.mean_crane_rate))
    summary.add_row("crane wait, total [min]", _num(kpis.crane_wait_total))
    summary.add_row("empty km share [%]", _num(None if share is None else share * 100))
    summary.add_row("empty / laden [km]", f"{kpis.empty_km:.1f} / {kpis.laden_km:.1f}")
    summary.add_row("litres burnt [L]", _num(kpis.litres_burnt))
    summary.add_row("litres per move [L]", _num(kpis.litres_per_move, 2))
    summary.add_row(
        "late jobs (of done with a deadline)", f"{late.late} of {late.jobs_with_deadline}"
    )
    summary.add_row(
        "lateness mean / max [min]", f"{_num(late.mean_minutes)} / {_num(late.max_minutes)}"
    )
    console.print(summary)

    if kpis.crane_moves:
        cranes = Table(title="Quay cranes")
        for name in ("crane", "moves", "gross rate [moves/h]", "wait [min]"):
            cranes.add_column(name, justify="left" if name == "crane" else "right")
        for crane in sorted(kpis.crane_moves):
            cranes.add_row(
                crane,
                str(kpis.crane_moves[crane]),
                _num(kpis.gross_crane_rate.get(crane)),
                _num(kpis.crane_wait_minutes.get(crane, 0.0)),
            )
        console.print(cranes)

    if kpis.truck_hours:
        from fleet.events import ACTIVITIES

        trucks = Table(title="Truck hours by activity")
        trucks.add_column("truck")
        for activity in ACTIVITIES:
            trucks.add_column(activity, justify="right")
        for truck, hours in sorted(kpis.truck_hours.items()):
            trucks.add_row(truck, *(f"{hours.get(a, 0.0):.2f}" for a in ACTIVITIES))
        total = kpis.hours_total
        trucks.add_row("total", *(f"{total[a]:.2f}" for a in ACTIVITIES), style="bold")
        console.print(trucks)


@dispatcher_group.command("kpi")
@click.argument("journal", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the KPIs as JSON")
def kpi_cmd(journal: Path, as_json: bool) -> None:
    """KPIs of a shift from its journal: moves, crane rate and wait, truck hours, fuel, lateness."""
    from fleet.kpi import KpiError, from_journal

    try:
        kpis = from_journal(journal)
    except KpiError as exc:
        raise click.ClickException(str(exc)) from None
    if kpis.skipped:
        click.echo(f"{journal}: {kpis.skipped} event(s) skipped:", err=True)
        for problem in kpis.problems:
            click.echo(f"  {problem}", err=True)
    if as_json:
        click.echo(json.dumps(kpis.as_dict(), indent=2))
    else:
        _print_table(kpis, journal)

"""`yardfleet map`: show, export and validate yards."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import click

from maps.cli_support import CREATES_FOLDERS, output_file, yard_error
from maps.errors import YardError
from maps.generator import TerminalSpec, generate_terminal
from maps.geojson import load_yard, save_yard, validate_file
from maps.model import Yard
from maps.terminals import DEFAULT_TERMINAL, TERMINALS, terminal

_SPEC_FIELDS = [f for f in dataclasses.fields(TerminalSpec) if f.name != "version"]


def _generator_options(func: Any) -> Any:
    """One option per generator parameter, e.g. --quay-cranes 8 --block-rows 12."""
    for f in reversed(_SPEC_FIELDS):
        kind = {"int": int, "float": float}.get(str(f.type), str)
        func = click.option(
            f"--{f.name.replace('_', '-')}",
            f.name,
            type=kind,
            default=None,
            help=f"generator: {f.name} (haiphong: {getattr(TERMINALS[DEFAULT_TERMINAL], f.name)})",
        )(func)
    return func


def _spec_from(terminal_name: str, overrides: dict[str, Any]) -> TerminalSpec:
    base = TERMINALS[terminal_name]
    given = {k: v for k, v in overrides.items() if v is not None}
    if given and "id" not in given:
        given["id"] = "generated"
    return dataclasses.replace(base, **given)


def _yard_for(file: Path | None, terminal_name: str) -> Yard:
    try:
        return load_yard(file, check=False) if file else terminal(terminal_name)
    except YardError as exc:
        raise yard_error(exc) from None


@click.group("map")
def map_group() -> None:
    """The yard: lane graph, areas, service points and cranes."""


@map_group.command("export")
@click.option(
    "--terminal",
    "terminal_name",
    type=click.Choice(sorted(TERMINALS)),
    default=DEFAULT_TERMINAL,
    show_default=True,
    help="embedded terminal to start from",
)
@_generator_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help=f"GeoJSON file to write ({CREATES_FOLDERS})",
)
def export_cmd(terminal_name: str, out: Path, **overrides: Any) -> None:
    """Write an embedded or generated terminal as GeoJSON, ready to edit and validate."""
    spec = _spec_from(terminal_name, overrides)
    try:
        yard = (
            terminal(terminal_name) if spec == TERMINALS[terminal_name] else generate_terminal(spec)
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    save_yard(yard, output_file(out, "--out"))
    summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in yard.summary().items())
    click.echo(f"wrote {out}: yard {yard.id} v{yard.version}: {summary}")


@map_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the problems as JSON")
def validate_cmd(file: Path, as_json: bool) -> None:
    """List every problem of a yard file, each with the feature id; exit 1 if there is one."""
    problems = validate_file(file)
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(p) for p in problems], indent=1))
    else:
        for p in problems:
            click.echo(str(p))
    if problems:
        click.echo(f"{file}: {len(problems)} problem(s)", err=True)
        if any(p.index is not None for p in problems):
            click.echo("(service-point reachability is checked once the features above are "
                       "fixed)", err=True)
        sys.exit(1)
    yard = load_yard(file, check=False)
    summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in yard.summary().items())
    if not as_json:
        click.echo(f"{file}: yard {yard.id} v{yard.version} is valid: {summary}")


@map_group.command("show")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--terminal",
    "terminal_name",
    type=click.Choice(sorted(TERMINALS)),
    default=DEFAULT_TERMINAL,
    show_default=True,
    help="embedded terminal to draw when no FILE is given",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help=f"picture to write: .png or .svg ({CREATES_FOLDERS})",
)
@click.option("--around", help="draw only around this feature id (e.g. a junction, X0070)")
@click.option(
    "--radius",
    type=click.FloatRange(min=1.0),
    default=45.0,
    show_default=True,
    help="metres around --around",
)
def show_cmd(
    file: Path | None, terminal_name: str, out: Path, around: str | None, radius: float
) -> None:
    """Draw the yard (a GeoJSON FILE, or an embedded terminal) as PNG or SVG; with
    --around, a close-up of one feature (a junction: lanes at their width, stop lines,
    a truck standing at each)."""
    from maps.draw import draw_yard

    if out.suffix.lower() not in (".png", ".svg"):
        raise click.UsageError(f"--out must end in .png or .svg, not {out.suffix or '(none)'!r}")
    yard = _yard_for(file, terminal_name)
    output_file(out, "--out")
    try:
        path = draw_yard(yard, out, around=around, radius_m=radius)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {path}")

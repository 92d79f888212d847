"""`yardfleet keys`: make and list the CURVE keys of the dispatcher, trucks and cranes."""

from __future__ import annotations

from pathlib import Path

import click

from fleet.keys import KeyFileError, Role, Roster, new_key, read_badge


@click.group("keys")
def keys_group() -> None:
    """CURVE keys: one pair per truck, crane adapter, observer and the dispatcher."""


@keys_group.command("new")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="truck (speaks as NAME), crane (for --cranes), dispatcher, observer (reads only)",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="the keys folder (created if absent)",
)
@click.option("--cranes", default="", help="a crane adapter's crane ids, e.g. QC01,QC02")
def new_cmd(name: str, role: str, folder: Path, cranes: str) -> None:
    """Write DIR/NAME.key (public: give it to the dispatcher) and DIR/NAME.key_secret."""
    wanted = tuple(c.strip() for c in cranes.split(",") if c.strip())
    try:
        public, secret = new_key(folder, name, Role(role), wanted)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    badge = read_badge(public)
    click.echo(f"{public}: {badge.name} ({badge.role.value}), public key {badge.public}")
    click.echo(f"{secret}: the secret half, for {name} only")


@keys_group.command("list")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="the keys folder",
)
def list_cmd(folder: Path) -> None:
    """The keys a dispatcher serving with --keys DIR admits: name, role, cranes, public key."""
    try:
        roster = Roster.load(folder)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("name\trole\tcranes\tpublic key")
    for badge in sorted(roster.by_key.values(), key=lambda b: (b.role.value, b.name)):
        click.echo(badge.describe())
    for problem in roster.problems:
        click.echo(f"not enrolled: {problem}", err=True)

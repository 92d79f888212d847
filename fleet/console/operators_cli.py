"""`yardfleet operators`: add and list the console's operators."""

from __future__ import annotations

from pathlib import Path

import click

from fleet.console.operators import OperatorError, Operators, Role

FILE_OPTION = click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the operators file (JSON; created if absent)",
)


@click.group("operators")
def operators_group() -> None:
    """The fleet console's operators: who may sign in, and whether they may act."""


@operators_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    required=True,
    help="dispatcher: watches and acts; viewer: only watches",
)
@FILE_OPTION
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="the password (prompted for when not given)",
)
def add_cmd(name: str, role: str, path: Path, password: str) -> None:
    """Add an operator, or give one a new role and password (argon2-hashed)."""
    try:
        ops = Operators.load(path)
        ops.add(name, Role(role), password)
        ops.save()
    except OperatorError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{path}: operator {name} ({role}); {len(ops)} operator(s)")


@operators_group.command("list")
@FILE_OPTION
def list_cmd(path: Path) -> None:
    """The operators of a file and their roles."""
    try:
        ops = Operators.load(path)
    except OperatorError as exc:
        raise click.ClickException(str(exc)) from None
    for op in sorted(ops.by_name.values(), key=lambda o: o.name):
        click.echo(f"{op.name}\t{op.role.value}")

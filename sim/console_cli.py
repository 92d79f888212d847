"""`yardfleet sim console`: a simulated shift with the fleet console on it, paced."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from maps.cli_support import CREATES_FOLDERS, INTERRUPTED_EXIT

__all__ = ["console_command"]


@click.command("console")
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--console",
    "address",
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="where to serve the console (beyond loopback only with --operators)",
)
@click.option(
    "--operators",
    "operators_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="the console's operators (yardfleet operators add); without: watch-only",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0.1, max=20.0),
    default=1.0,
    show_default=True,
    help="× real time",
)
@click.option("--hours", type=click.FloatRange(min=0.01), help="shift length")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/console"),
    show_default=True,
    help=f"folder for the shift's journal.db ({CREATES_FOLDERS})",
)
def console_command(
    scenario: Path | None,
    address: str,
    operators_file: Path | None,
    speed: float,
    hours: float | None,
    out: Path,
) -> None:
    """A shift of SCENARIO (default: Hai Phong) whose trucks are onboard agents, paced at
    --speed, with the fleet console served from its dispatcher: open the address printed."""
    from fleet.console.operators import OperatorError, Operators
    from fleet.console.serving import parse_address
    from sim.console_shift import ConsoleShift
    from sim.scenario import ScenarioError, load

    try:
        host, port = parse_address(address)
        operators = Operators.load(operators_file) if operators_file else None
        sc = load(scenario)
    except (ValueError, OperatorError, ScenarioError) as exc:
        raise click.ClickException(str(exc)) from None
    if hours is not None:
        sc = sc.with_(hours=hours)
    out.mkdir(parents=True, exist_ok=True)
    try:
        shift = ConsoleShift(sc, out / "journal.db", host, port, speed=speed, operators=operators)
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"--console {address}: {exc}") from None

    def ready(url: str) -> None:
        who = "sign in with an operator of " + str(operators_file) if operators else "watch-only"
        click.echo(
            f"fleet console on {url} ({who}); {sc.hours:g} h shift at {speed:g}× "
            "real time; Ctrl-C ends it",
            err=False,
        )
        sys.stdout.flush()

    result = shift.run(ready)
    click.echo(f"shift ended at {result.simulated_seconds / 3600:.2f} h; journal {result.journal}")
    if result.interrupted:
        sys.exit(INTERRUPTED_EXIT)

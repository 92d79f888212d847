"""The `yardfleet` command: one subcommand group per job, each loaded only when it is used.

The root lives in `sim`, the one room allowed to use every other, so the import rules
hold; the rooms' groups are imported lazily, so `yardfleet agent` on a truck's
onboard unit never loads the simulator or the dispatcher.

Whatever a command does not expect ends the same way everywhere: one line `Error: what`
on stderr and exit status 1 (`yardfleet --debug ...` shows the traceback instead); Ctrl-C
that a command does not handle itself says `interrupted` and exits 130.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

INTERRUPTED_EXIT = 130
"""The exit status after Ctrl-C, as a shell gives a command killed by SIGINT."""

COMMANDS: dict[str, tuple[str, str]] = {
    "map": ("maps.cli:map_group", "The yard: show, export and validate lane maps."),
    "route": ("routing.cli:route_group", "Paths and traffic: routes, fleet plans, MAPF."),
    "jobs": ("fleet.cli:jobs_group", "TOS work queues: check container jobs against the yard."),
    "dispatcher": (
        "fleet.dispatcher_cli:dispatcher_group",
        "The dispatcher: serve trucks over ZeroMQ, KPIs from a journal.",
    ),
    "keys": (
        "fleet.keys_cli:keys_group",
        "CURVE keys: make and list those of the dispatcher, trucks and cranes.",
    ),
    "operators": (
        "fleet.console.operators_cli:operators_group",
        "The fleet console's operators: add and list who may sign in.",
    ),
    "sim": ("sim.sim_cli:sim_group", "Simulated shifts: run, compare strategies, replay bags."),
    "gnss": ("drivers.gnss.cli:gnss_group", "GNSS receivers: decode NMEA 0183, for debugging."),
    "agent": (
        "drivers.agent.cli:agent_command",
        "The onboard driver agent: GNSS + fuel over serial, state to the dispatcher over ZeroMQ.",
    ),
    "fuel": (
        "drivers.fuel.cli:fuel_group",
        "Fuel sensors: read LLS, J1939 (SLCAN) and Modbus level sensors live.",
    ),
}
"""Subcommand → (module:attribute, one-line help). A command appears here when it works."""


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target[0].split(":")
        command: Any = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target[0]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; an exception it did not expect becomes one error line
        (unless --debug), a Ctrl-C it did not handle exit status 130."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            raise click.exceptions.Exit(INTERRUPTED_EXIT) from None
        except BrokenPipeError:
            raise  # click's own: stdout went away (`| head`), exit quietly
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(
                f"{unexpected(exc)} (yardfleet --debug ... shows the traceback)"
            ) from None


def unexpected(exc: BaseException) -> str:
    """An exception in one line: "FILE: reason" for an OS error on a file, else its type
    and the first line of its message."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else type(exc).__name__
        return f"{where}: {exc.strerror}"
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if len(lines) > 1:
        text += f" (and {len(lines) - 1} more line(s))"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="yardfleet")
@click.option(
    "--debug",
    is_flag=True,
    help="show the traceback of an unexpected error (default: one line, exit status 1)",
)
def main(debug: bool) -> None:
    """YardFleet: fleet management for the internal trucks of container terminals."""


if __name__ == "__main__":
    main()

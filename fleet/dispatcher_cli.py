"""`yardfleet dispatcher`: serve trucks over ZeroMQ, and KPIs from a journal."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from fleet.guard import DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_SKEW_S
from fleet.kpi import Kpis
from fleet.server import DEFAULT_BIND, DEFAULT_BROKEN_AFTER_S
from maps import DEFAULT_TERMINAL, TERMINALS

if TYPE_CHECKING:
    from fleet.console.serving import ConsoleServer
    from fleet.journal import Journal
    from fleet.live import LiveDispatcher
    from fleet.server import Server


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

        total = kpis.hours_total
        # The rare ones (broken down, lost) only when they happened.
        shown = [a for a in ACTIVITIES if total.get(a) or a not in ("BROKEN", "LOST")]
        trucks = Table(title="Truck hours by activity")
        trucks.add_column("truck")
        for activity in shown:
            trucks.add_column(activity, justify="right")
        for truck, hours in sorted(kpis.truck_hours.items()):
            trucks.add_row(truck, *(f"{hours.get(a, 0.0):.2f}" for a in shown))
        trucks.add_row("total", *(f"{total[a]:.2f}" for a in shown), style="bold")
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


def loopback_only(bind: str) -> bool:
    """Whether an endpoint can be reached from this machine only (ipc://, inproc://, or
    tcp:// on a loopback address)."""
    if bind.startswith(("ipc://", "inproc://")):
        return True
    host = urlsplit(bind).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # *, an interface name, a host name: beyond loopback
        return False


def _console(
    server: Server, live: LiveDispatcher | None, at: str | None, operators: Path | None
) -> ConsoleServer | None:
    """The fleet console on the server's dispatcher, started (None: not asked for)."""
    if at is None:
        return None
    if live is None:
        raise click.BadParameter("needs the dispatcher (not --no-dispatch)", param_hint="--console")
    from fleet.console.serving import attach

    try:
        console = attach(server, live, at, operators)
    except (ValueError, OSError, RuntimeError) as exc:
        raise click.ClickException(f"--console {at}: {exc}") from None
    click.echo(f"fleet console on {console.url}")
    return console


def _live(
    journal: Journal,
    strategy: str,
    yard_file: Path | None,
    terminal: str,
    broken_after_s: float,
    clock_rate: float,
) -> LiveDispatcher:
    """The dispatcher core behind `serve` (its strategy and yard checked first)."""
    from fleet.live import LiveDispatcher
    from fleet.strategies import STRATEGIES
    from maps import YardError, load_yard
    from maps import terminal as embedded

    if strategy not in STRATEGIES:
        raise click.BadParameter(
            f"{strategy!r} (known: {', '.join(STRATEGIES)})", param_hint="--strategy"
        )
    try:
        yard = load_yard(yard_file) if yard_file else embedded(terminal)
    except (YardError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    return LiveDispatcher(
        yard, journal, strategy, lost_after_s=broken_after_s, clock_rate=clock_rate
    )


@dispatcher_group.command("serve")
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the dispatcher's journal (SQLite; created if absent)",
)
@click.option(
    "--bind",
    default=DEFAULT_BIND,
    show_default=True,
    help="ZeroMQ endpoint the trucks connect to (port * takes a free one)",
)
@click.option(
    "--broken-after",
    "broken_after_s",
    type=click.FloatRange(min=0.0, min_open=True),
    default=DEFAULT_BROKEN_AFTER_S,
    show_default=True,
    help="seconds of silence after which a truck's link is recorded as broken",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0.0),
    default=None,
    help="stop after this many seconds (for tests and demos)",
)
@click.option(
    "--terminal",
    type=click.Choice(sorted(TERMINALS)),
    default=DEFAULT_TERMINAL,
    show_default=True,
    help="an embedded yard",
)
@click.option(
    "--yard",
    "yard_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="a GeoJSON yard instead of --terminal",
)
@click.option("--strategy", default="pooled-optimal", show_default=True, help="dispatch strategy")
@click.option(
    "--clock-rate",
    type=click.FloatRange(min=0.0, min_open=True, max=100.0),
    default=1.0,
    show_default=True,
    help="the dispatcher's clock runs this many times the wall clock (demos and tests; "
    "1 in a yard): plans, releases and the lost-truck limit in its time",
)
@click.option(
    "--dispatch/--no-dispatch",
    default=True,
    show_default=True,
    help="run the dispatcher core (plans and orders); --no-dispatch only journals and acks",
)
@click.option(
    "--keys",
    "keys",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="CURVE: the keys folder (dispatcher.key_secret and the public keys it admits; "
    "SIGHUP re-reads it)",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="serve beyond loopback without keys (anyone who reaches the port may speak)",
)
@click.option(
    "--max-skew",
    "max_skew_s",
    type=click.FloatRange(min=0.0, min_open=True),
    default=DEFAULT_MAX_SKEW_S,
    show_default=True,
    help="refuse messages whose timestamp is further than this many seconds from the clock",
)
@click.option(
    "--max-message-bytes",
    type=click.IntRange(min=1024),
    default=DEFAULT_MAX_FRAME_BYTES,
    show_default=True,
    help="ZMQ_MAXMSGSIZE: a peer sending a larger frame is disconnected",
)
@click.option(
    "--console",
    "console_at",
    metavar="HOST:PORT",
    help="serve the fleet console there too (e.g. 127.0.0.1:8080; beyond loopback only "
    "with --operators)",
)
@click.option(
    "--operators",
    "operators_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="the console's operators (yardfleet operators add); without it the console on "
    "loopback is watch-only",
)
def serve_cmd(
    journal_path: Path,
    bind: str,
    broken_after_s: float,
    seconds: float | None,
    terminal: str,
    yard_file: Path | None,
    strategy: str,
    clock_rate: float,
    dispatch: bool,
    keys: Path | None,
    insecure: bool,
    max_skew_s: float,
    max_message_bytes: int,
    console_at: str | None,
    operators_file: Path | None,
) -> None:
    """Serve trucks over ZeroMQ: journal what they send, then ack; until SIGTERM or Ctrl-C.

    Beyond loopback it needs --keys (or --insecure): every truck, crane adapter and
    observer then has its own key, and speaks only as itself."""
    import logging
    import signal
    import sqlite3

    import zmq

    from fleet.guard import Limits
    from fleet.journal import Journal
    from fleet.keys import KeyFileError
    from fleet.server import Server

    if keys is None and not insecure and not loopback_only(bind):
        raise click.UsageError(
            f"{bind} is reachable beyond this machine: give --keys DIR (yardfleet keys new "
            "dispatcher --role dispatcher --dir DIR, one key per truck) or --insecure"
        )
    limits = Limits(max_frame_bytes=max_message_bytes, max_skew_s=max_skew_s)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        journal = Journal(journal_path)
    except sqlite3.Error as exc:
        raise click.ClickException(f"{journal_path}: cannot open the journal ({exc})") from None
    with journal:
        handler = (
            _live(journal, strategy, yard_file, terminal, broken_after_s, clock_rate)
            if dispatch
            else None
        )
        try:
            server = Server(
                journal,
                bind,
                broken_after_s=broken_after_s,
                echo=click.echo,
                handler=handler,
                keys=keys,
                limits=limits,
            )
        except zmq.ZMQError as exc:
            raise click.ClickException(f"cannot bind {bind}: {exc}") from None
        except KeyFileError as exc:
            raise click.ClickException(f"--keys {keys}: {exc}") from None
        console = _console(server, handler, console_at, operators_file)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: server.stop())
        signal.signal(signal.SIGHUP, lambda *_: server.reload())
        click.echo(f"listening on {server.endpoint}, journal {journal_path}")
        if server.public_key is not None and server.guard.roster is not None:
            click.echo(
                f"CURVE: {len(server.guard.roster)} key(s) enrolled from {keys}; "
                f"the dispatcher's public key {server.public_key.decode()}"
            )
        stats = server.run(seconds)
        if console is not None:
            console.stop()
        click.echo(f"stopped: {stats.line()}")

"""`yardfleet agent --config onboard.toml`: run the onboard agent until SIGTERM or Ctrl-C.

On SIGTERM (or SIGINT) the agent sends a last state and connection OFFLINE, then waits
up to `[dispatcher] flush_timeout_s` for the dispatcher to acknowledge the whole spool;
what is left stays on disk and goes out after the next start. Exit status 0 after a
clean stop on SIGTERM, 130 after one on Ctrl-C (SIGINT), 1 for a bad configuration, map or
calibration table. A serial port that cannot be opened is logged at once (WARNING, the port
and the OS's reason) and retried; the retries that fail are logged too, at most every 5 s.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

import click

from drivers.agent.agent import Agent, load_map
from drivers.agent.config import ConfigError, load_config
from drivers.fuel.calibration import CalibrationError
from maps.errors import YardError

__all__ = ["agent_command"]

INTERRUPTED_EXIT = 130
"""The exit status after Ctrl-C, as a shell gives a command killed by SIGINT."""


@click.command("agent")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The agent's TOML configuration (see drivers/agent/onboard.example.toml).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
    help="How much to log on stderr.",
)
def agent_command(config_path: str, log_level: str) -> None:
    """The onboard driver agent: GNSS + fuel over serial, state to the dispatcher over ZeroMQ."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(config_path)
        agent = Agent(config, yard=load_map(config))
    except (ConfigError, YardError, CalibrationError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    signals: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals.append(signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent.start()
    while not stop.wait(0.2):  # a timed wait, so the signal handler gets to run
        pass
    log = logging.getLogger("drivers.agent")
    log.info("stopping: OFFLINE, then flushing %d spooled messages", len(agent.spool))
    flushed = agent.stop()
    log.info("stopped (%s)", "spool flushed" if flushed else "spool kept for the next start")
    if signals and signals[0] == signal.SIGINT:
        sys.exit(INTERRUPTED_EXIT)

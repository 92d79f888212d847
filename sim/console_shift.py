"""A simulated shift with the fleet console on it: `make console`, and the browser test.

The agents path (`sim.agent_shift.AgentShift`: onboard agent cores talking bytes to the
live server's intake) runs paced at `speed` times real time; the console's `Watch` sits
in front of its live dispatcher, and the simulated clock pumps the console's bridge every
`PUMP_S` simulated seconds, as `dispatcher serve`'s loop does on every turn: operators'
actions are carried out on the shift's thread, between its events, and what they send
goes to the trucks like any order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from fleet.console import Bridge, Watch
from fleet.console.operators import Operators
from fleet.console.serving import ConsoleServer
from sim.agent_shift import AgentShift
from sim.scenario import Scenario
from sim.world import ShiftResult

__all__ = ["PUMP_S", "ConsoleShift"]

PUMP_S = 0.25
"""Simulated seconds between two pumps of the console's bridge."""


class ConsoleShift:
    """An agents-path shift, paced, with its console served at host:port."""

    def __init__(
        self,
        scenario: Scenario,
        journal_path: Path,
        host: str,
        port: int,
        *,
        speed: float = 1.0,
        operators: Operators | None = None,
        on_progress: Callable[[float, float], None] | None = None,
    ) -> None:
        self.shift = AgentShift(scenario, journal_path, speed=speed, on_progress=on_progress)
        self.speed = speed
        live = self.shift.dispatcher
        self.watch = Watch(live)
        self.shift.intake.handler = self.watch
        self.bridge = Bridge(live, self.watch, self.shift.intake)
        self.console = ConsoleServer(self.bridge, host, port, operators)
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        """Where the console is."""
        return self.console.url

    def stop(self) -> None:
        """End the shift at its next pump (from any thread): `run` returns what it did."""
        self._stop.set()

    def _pump(self) -> None:
        shift = self.shift
        if self._stop.is_set():
            raise KeyboardInterrupt  # AgentShift.run's way to end a shift early
        at = shift.origin.timestamp() + shift.now
        # what the actions send goes to the trucks as the shift delivers every order
        shift.deliver(self.bridge.pump(at, wall=time.monotonic()))
        shift.at(shift.now + PUMP_S, self._pump)

    def run(self, on_ready: Callable[[str], None] | None = None) -> ShiftResult:
        """Serve the console, run the shift to its end (or to `stop`/Ctrl-C), stop serving."""
        self.console.start()
        self.shift.at(0.0, self._pump)
        if on_ready is not None:
            on_ready(self.url)
        try:
            return self.shift.run()
        finally:
            self.console.stop()

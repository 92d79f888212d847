"""A live dispatcher with the console's bridge, pumped by a thread as `dispatcher serve`
pumps it, and trucks that report through the server's intake (bytes, journalled)."""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleet.console import Bridge, Watch
from fleet.console.operators import Operators, Role
from fleet.journal import Journal
from fleet.live import LiveDispatcher
from fleet.protocol import (
    TruckTelemetry,
    encode,
    make_state,
    message_topic,
    starter_battery,
)
from fleet.protocol.codec import Message
from fleet.protocol.extensions import Fuel
from fleet.protocol.geometry import AgvPosition, Velocity
from fleet.server import Intake
from maps import ServicePointKind, Yard

PASSWORDS = {"dana": "dispatch-pw-1", "vic": "viewer-pw-1"}
"""The rig's operators: dana is a dispatcher, vic a viewer."""


def operators_file(path: Path) -> Operators:
    ops = Operators(path)
    ops.add("dana", Role.DISPATCHER, PASSWORDS["dana"])
    ops.add("vic", Role.VIEWER, PASSWORDS["vic"])
    ops.save()
    return Operators.load(path)


def wait_for(what: Callable[[], Any], deadline_s: float = 10.0, every_s: float = 0.02) -> Any:
    """Poll until `what()` is truthy (its value), or fail naming the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"not so after {deadline_s} s: {what}")
        time.sleep(every_s)


class Rig:
    """A dispatcher's loop in a thread: it takes trucks' bytes, pumps the bridge."""

    def __init__(self, yard: Yard, journal_path: Path) -> None:
        self.yard = yard
        self.journal = Journal(journal_path)
        self.live = LiveDispatcher(yard, self.journal, lost_after_s=None)
        self.watch = Watch(self.live)
        self.intake = Intake(self.journal, self.watch, broken_after_s=math.inf)
        self.bridge = Bridge(self.live, self.watch, self.intake, refresh_s=0.1)
        self.sent: list[tuple[str, Message]] = []
        self._inbox: queue.SimpleQueue[list[bytes]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._headers: dict[str, int] = {}
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Rig:
        self._thread.start()
        wait_for(lambda: self.bridge.latest()[1] is not None)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self.journal.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            batch = []
            while True:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            now = time.time()
            if batch:
                self.sent += self.intake.take(batch, now, time.monotonic()).outgoing
            self.sent += self.bridge.pump(now)
            time.sleep(0.01)

    def parking(self, k: int) -> str:
        """The node of the k-th parking spot."""
        return self.yard.service_points_of(ServicePointKind.PARKING)[k].node

    def send(self, sender: str, message: Message) -> None:
        """A truck's message, as bytes through the intake (on the loop's thread)."""
        self._inbox.put([sender.encode(), message_topic(message).encode(), encode(message)])

    def report(
        self,
        truck: str,
        node: str,
        *,
        litres: float = 300.0,
        driving: bool = False,
        xy: tuple[float, float] | None = None,
        theta: float = 0.0,
        speed: float = 0.0,
    ) -> None:
        """A truck's state: standing at (or driving from) a node, its pose and fuel."""
        n = self.yard.node(node)
        x, y = xy if xy is not None else (n.x, n.y)
        self._headers[truck] = self._headers.get(truck, 0) + 1
        state = make_state(
            "YardFleet",
            truck,
            starter_battery(25.0),
            header_id=self._headers[truck],
            last_node_id=node,
            driving=driving,
            position=AgvPosition(
                x=x, y=y, theta=theta, map_id=self.yard.id, position_initialized=True
            ),
            velocity=Velocity(vx=speed),
            telemetry=TruckTelemetry(
                boot_id=f"boot-{truck}",
                fuel=Fuel(litres=litres, tank_litres=400.0, level_percent=litres / 4.0),
            ),
        )
        self.send(truck, state)

    def truck(self, truck: str) -> dict[str, Any] | None:
        """The truck in the latest snapshot."""
        snap = self.bridge.latest()[1] or {"trucks": []}
        return next((t for t in snap["trucks"] if t["id"] == truck), None)

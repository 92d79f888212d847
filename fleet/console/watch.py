"""What the console sees of each truck beyond the dispatcher's record: pose, speed, fix.

`Watch` wraps the live handler (`fleet.live.LiveDispatcher`): every message the server
hands over passes through it on the way in, and it keeps the latest pose (state or
visualization), speed, GNSS fix status, pause and link per truck, and counts messages
the dispatcher could not take. It decides nothing and sends nothing of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from fleet.protocol.codec import Message
from fleet.protocol.connection import Connection
from fleet.protocol.extensions import FixStatus
from fleet.protocol.state import State
from fleet.protocol.visualization import Visualization

__all__ = ["Seen", "Watch"]


class _Handler(Protocol):
    def on_message(
        self, truck: str, topic: str, message: Message, at: float
    ) -> list[tuple[str, Message]]: ...


@dataclass(slots=True)
class Seen:
    """The latest word from one truck."""

    x: float | None = None
    y: float | None = None
    theta: float | None = None
    """Heading [rad], counter-clockwise from east (VDA 5050's)."""
    speed_mps: float = 0.0
    fix: bool = True
    """False while its receiver reports no fix."""
    paused: bool = False
    fuel_loss: str = "NONE"
    """What its fuel sensor suspects: NONE, THEFT (a sudden drop) or LEAK."""
    link: str = "ONLINE"
    heard_at: float = 0.0
    """POSIX time of its last message."""


class Watch:
    """A handler in front of the live dispatcher: notes what each truck says, then passes it on."""

    def __init__(self, inner: _Handler) -> None:
        self.inner = inner
        self.seen: dict[str, Seen] = {}

    def on_message(
        self, truck: str, topic: str, message: Message, at: float
    ) -> list[tuple[str, Message]]:
        """Note the message, then let the dispatcher take it."""
        if isinstance(message, State | Visualization | Connection):
            self._note(truck, message, at)
        return self.inner.on_message(truck, topic, message, at)

    def tick(self, at: float) -> list[tuple[str, Message]]:
        """The dispatcher's tick (the server calls it every few seconds)."""
        tick = getattr(self.inner, "tick", None)
        return [] if tick is None else list(tick(at))

    def _note(self, truck: str, message: State | Visualization | Connection, at: float) -> None:
        seen = self.seen.setdefault(truck, Seen())
        seen.heard_at = at
        if isinstance(message, Connection):
            seen.link = message.connection_state.value
            return
        seen.link = "ONLINE"
        p = message.agv_position
        if p is not None and math.isfinite(p.x) and math.isfinite(p.y):
            seen.x, seen.y, seen.theta = p.x, p.y, p.theta
        if message.velocity is not None and message.velocity.vx is not None:
            seen.speed_mps = abs(message.velocity.vx)
        ext = message.yardfleet
        if ext is not None and ext.fuel is not None:
            seen.fuel_loss = ext.fuel.loss.value
        if ext is not None and ext.gnss is not None:
            seen.fix = ext.gnss.status is not FixStatus.NOFIX
        if isinstance(message, State):
            seen.paused = bool(message.paused)
            if not message.driving:
                seen.speed_mps = 0.0

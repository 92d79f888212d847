"""The dispatcher core behind the live server: messages from the wire in, orders out.

`LiveDispatcher` is the server's `Handler`: each stored message goes to the
`Dispatcher`, whose plans go back to the trucks as VDA 5050 orders (or a pause). A
truck joins on its first state or factsheet; it gets work once it stands at a service
point (its `lastNodeId` is a service point's node), also when it joined before its
receiver had a fix. Crane adapters' events move the
jobs on. The journal is the server's: every change the dispatcher makes lands in it
next to the messages that caused it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fleet.dispatcher import Dispatch, Dispatcher, DispatcherConfig
from fleet.journal import Journal
from fleet.problems import Problem, ProblemKind
from fleet.protocol import (
    CraneEvent,
    Factsheet,
    State,
    make_action,
    make_instant_actions,
)
from fleet.protocol.codec import Message
from fleet.strategies import strategy as make_strategy
from fleet.trucks import Truck
from maps import Yard

log = logging.getLogger(__name__)


class LiveDispatcher:
    """A `fleet.server.Handler` running the dispatcher core on live messages."""

    def __init__(
        self,
        yard: Yard,
        journal: Journal,
        strategy: str = "pooled-optimal",
        *,
        lost_after_s: float | None = 15.0,
        clock_rate: float = 1.0,
    ) -> None:
        """`lost_after_s` is wall-clock seconds of silence; `clock_rate` makes the
        dispatcher's clock (its plans, releases, timestamps) run that many times the wall
        clock, for demos and tests that should not wait for a real shift's minutes."""
        self.origin = datetime.now(UTC)
        self.clock_rate = clock_rate
        lost = None if lost_after_s is None else lost_after_s * clock_rate
        config = DispatcherConfig(lost_after_s=lost)
        self.dispatcher = Dispatcher(yard, journal, make_strategy(strategy), self.origin, config)
        self.dispatcher.resume()
        self.yard = yard
        self._asked = 0

    def _now(self, at: float) -> float:
        return max(0.0, at - self.origin.timestamp()) * self.clock_rate

    def on_message(
        self, truck: str, topic: str, message: Message, at: float
    ) -> list[tuple[str, Message]]:
        """Feed one stored message to the dispatcher; the orders it makes, per truck."""
        now = self._now(at)
        d = self.dispatcher
        out: list[Dispatch] = []
        try:
            joined = False
            if isinstance(message, State | Factsheet) and truck not in d.trucks:
                d.add_truck(truck, self._spot_of(message), now, **facts_of(message))
                joined = True
            if isinstance(message, State):
                out = d.on_state(message, now)
                spot = None if joined else self._spot_of(message)
                if spot is not None and d.trucks[truck].spot is None and not message.driving:
                    out += d.locate(truck, spot, now)  # joined before it knew where it was
            elif isinstance(message, CraneEvent):
                out = d.on_crane_event(message, now, journaled=True)
            elif isinstance(message, Factsheet) and not joined:
                learn(d.trucks[truck], message)
            if joined:
                out += d.tick(now)  # a new truck may take work (or its box) at once
        except (KeyError, ValueError) as exc:  # bad content: named, the server keeps going
            log.error("%s %s: %s", truck, topic, exc)
            bad = Problem(ProblemKind.BAD_MESSAGE, truck, now, detail=f"{topic}: {exc}")
            d.problems.append(bad)
            return []
        sent: list[tuple[str, Message]] = [(x.truck, x.order) for x in out]
        if joined and isinstance(message, State):
            # Who drives it, its tank and twin carry are in its factsheet: ask for it.
            self._asked += 1
            ask = make_instant_actions(
                d.config.manufacturer,
                truck,
                [make_action("factsheetRequest", action_id=f"{truck}:factsheet:{self._asked}")],
                timestamp=d.at(now),
            )
            sent.insert(0, (truck, ask))
        return sent

    def tick(self, at: float) -> list[tuple[str, Message]]:
        """Look again (waiting trucks, open jobs); call every few seconds."""
        return [(x.truck, x.order) for x in self.dispatcher.tick(self._now(at))]

    def _spot_of(self, message: State | Factsheet) -> str | None:
        if isinstance(message, State) and message.last_node_id:
            sp = self.yard.service_point_by_node.get(message.last_node_id)
            if sp is not None and self.dispatcher.spots.free(sp.id, message.serial_number or ""):
                return sp.id
        return None


def facts_of(message: State | Factsheet) -> dict[str, Any]:
    """What a truck's first message says of it: driver, tank size and litres, twin carry."""
    facts: dict[str, Any] = {}
    if isinstance(message, Factsheet):
        sheet = message.yardfleet
        if sheet is not None:
            facts.update(driver=sheet.driver.value, twin=sheet.twin_carry, tank_l=sheet.tank_litres)
        return facts
    ext = message.yardfleet
    if ext is not None and ext.fuel is not None:
        facts.update(tank_l=ext.fuel.tank_litres, litres=ext.fuel.litres)
    return facts


def learn(t: Truck, sheet: Factsheet) -> None:
    """A known truck's factsheet: who drives it, its tank, whether it carries twins."""
    facts = sheet.yardfleet
    if facts is None:
        return
    t.driver, t.twin, t.tank_l = facts.driver.value, facts.twin_carry, facts.tank_litres

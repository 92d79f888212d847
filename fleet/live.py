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
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fleet.dispatcher import Dispatch, Dispatcher, DispatcherConfig

__all__ = ["DispatcherConfig", "LiveDispatcher", "facts_of", "learn"]
from fleet.jobs import Job, JobState
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
        origin: datetime | None = None,
        config: DispatcherConfig | None = None,
        gangs: Mapping[str, str] | None = None,
    ) -> None:
        """`lost_after_s` is wall-clock seconds of silence; `clock_rate` makes the
        dispatcher's clock (its plans, releases, timestamps) run that many times the wall
        clock, for demos and tests that should not wait for a real shift's minutes.

        `origin` is the shift's start (now, by default): `at` times are POSIX seconds, the
        dispatcher's are seconds since `origin`. `config` overrides the dispatcher's knobs
        (its `lost_after_s` then too); `gangs` names the quay crane each truck is fixed to
        (the `dedicated` strategy's gangs), from the terminal's roster."""
        self.origin = origin or datetime.now(UTC)
        self.clock_rate = clock_rate
        lost = None if lost_after_s is None else lost_after_s * clock_rate
        config = config or DispatcherConfig(lost_after_s=lost)
        self.dispatcher = Dispatcher(yard, journal, make_strategy(strategy), self.origin, config)
        self.dispatcher.resume()
        self.yard = yard
        self.gangs = dict(gangs or {})
        self._t0 = self.origin.timestamp()
        self._asked = 0

    def _now(self, at: float) -> float:
        return max(0.0, at - self._t0) * self.clock_rate

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
                facts = facts_of(message)
                if truck in self.gangs:
                    facts["gang"] = self.gangs[truck]
                d.add_truck(truck, self._spot_of(message), now, **facts)
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
        sent = _sent(out)
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
        return _sent(self.dispatcher.tick(self._now(at)))

    def release(self, at: float) -> list[tuple[str, Message]]:
        """Extend the bases whose planned times have come (a light tick; see `due`)."""
        return _sent(self.dispatcher.release_pending(self._now(at)))

    def due(self, at: float) -> float | None:
        """The next POSIX time after `at` when a base waiting for its planned time may
        grow (call `release` then); None when none waits so."""
        t = self.dispatcher.release.next_due(self._now(at))
        return None if t is None else self._t0 + t / self.clock_rate

    # -- the terminal's side: work, lanes, what is going on

    def add_jobs(
        self, jobs: Sequence[Job], at: float
    ) -> tuple[list[Problem], list[tuple[str, Message]]]:
        """Jobs from the terminal's work queue: the problems with them, and the orders
        for the trucks that take them at once."""
        now = self._now(at)
        d = self.dispatcher
        problems = d.add_jobs(jobs, now)
        for p in problems:
            d.problems.append(p)
        return problems, self.tick(at)

    def close_lane(self, lane: str, at: float, reason: str) -> list[tuple[str, Message]]:
        """Close a lane (an operator's or a scenario's word): plans through it repaired."""
        if lane not in self.yard.lanes:
            raise KeyError(f"no lane {lane!r} in yard {self.yard.id}")
        return _sent(self.dispatcher.close_lane(lane, self._now(at), reason))

    def open_lane(self, lane: str, at: float, reason: str) -> list[tuple[str, Message]]:
        """Open a closed lane again."""
        if lane not in self.yard.lanes:
            raise KeyError(f"no lane {lane!r} in yard {self.yard.id}")
        return _sent(self.dispatcher.open_lane(lane, self._now(at), reason))

    def waits_for(self) -> list[tuple[str, str]]:
        """Who waits for whom: for a spot (→ the trucks holding it) and for the way (→ the
        trucks whose rear must clear it first)."""
        d = self.dispatcher
        edges = set(d.waits_for())
        for holder, waiters in d.release.waiting.items():
            edges.update((w, holder) for w in waiters if w != holder)
        return sorted(edges)

    @property
    def problems(self) -> list[Problem]:
        """What the dispatcher found wrong so far (also journalled as `problem`)."""
        return self.dispatcher.problems

    @property
    def circles_opened(self) -> int:
        """Times trucks waiting on each other for spots were set free."""
        return self.dispatcher.circles_opened

    def moves(self) -> int:
        """Jobs done so far."""
        return sum(1 for j in self.dispatcher.book.jobs.values() if j.state is JobState.DONE)

    def _spot_of(self, message: State | Factsheet) -> str | None:
        if isinstance(message, State) and message.last_node_id:
            sp = self.yard.service_point_by_node.get(message.last_node_id)
            if sp is not None and self.dispatcher.spots.free(sp.id, message.serial_number or ""):
                return sp.id
        return None


def _sent(out: list[Dispatch]) -> list[tuple[str, Message]]:
    return [(x.truck, x.order) for x in out]


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

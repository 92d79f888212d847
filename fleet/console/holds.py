"""An operator's pause: a truck told to stand (`startPause`) until the operator lets it go.

The truck goes on the scheduler's `held` set, so no new order of the dispatcher's lets it
go on by itself (the scheduler sends `stopPause` after an order only to trucks it paused
itself); its base is not extended meanwhile. Resuming sends `stopPause` and extends its
base as far as the traffic allows. Each message is journalled as sent, as the
dispatcher's own are.
"""

from __future__ import annotations

import uuid

from fleet.console.snapshot import shift_seconds
from fleet.events import message_sent
from fleet.live import LiveDispatcher
from fleet.protocol.codec import Message

__all__ = ["hold", "let_go"]


def hold(live: LiveDispatcher, truck: str, at: float) -> list[tuple[str, Message]]:
    """Pause one truck (KeyError: no such truck; ValueError: paused already)."""
    d = live.dispatcher
    t = d.trucks[truck]
    if truck in d.scheduler.held:
        raise ValueError(f"{truck} is paused already")
    now = shift_seconds(live, at)
    d.scheduler.held.add(truck)
    t.paused = True
    d.release.paused.add(truck)
    stand = d.release.pause(
        truck, now, f"{truck}:operator-pause:{uuid.uuid4().hex[:8]}", stand=True
    )
    d.recorder.record(message_sent(truck, stand, "operator pause"))
    return [(truck, stand)]


def let_go(live: LiveDispatcher, truck: str, at: float) -> list[tuple[str, Message]]:
    """Let a truck an operator paused go on (ValueError: it is not paused so)."""
    d = live.dispatcher
    if truck not in d.scheduler.held:
        raise ValueError(f"{truck} is not paused by an operator")
    now = shift_seconds(live, at)
    d.scheduler.held.discard(truck)
    d.trucks[truck].paused = False
    d.release.paused.discard(truck)
    go = d.release.pause(truck, now, f"{truck}:operator-go:{uuid.uuid4().hex[:8]}", stand=False)
    d.recorder.record(message_sent(truck, go, "operator resume"))
    out: list[tuple[str, Message]] = [(truck, go)]
    for x in d.scheduler.released([truck], now):
        d.recorder.record(message_sent(x.truck, x.order, x.purpose))
        out.append((x.truck, x.order))
    return out

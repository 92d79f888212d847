"""Alarms in tiers, from what a snapshot shows; each acknowledged by an operator, on the record.

A condition alarm (truck lost, broken down, low fuel, no GNSS fix, lane closed) is up
while its condition holds and goes when it clears; an event alarm (a message refused) is
latched: it stays until someone acknowledges it. Acknowledging keeps a condition alarm
on the list, marked with who and when; the journal gets an `alarm.acked` event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

__all__ = ["CRITICAL", "DEADLOCK_S", "INFO", "WARNING", "Alarm", "Alarms", "Circles", "conditions"]

DEADLOCK_S = 60.0
"""Shift seconds a circle of trucks waiting on each other must last to be a deadlock (the
dispatcher opens most circles by itself at once)."""

CRITICAL, WARNING, INFO = "critical", "warning", "info"
_ORDER = {CRITICAL: 0, WARNING: 1, INFO: 2}


@dataclass(slots=True)
class Alarm:
    """One alarm: a stable id (kind and subject), its tier, text, when raised and acked."""

    id: str
    tier: str
    kind: str
    text: str
    raised_at: str
    truck: str | None = None
    latched: bool = False
    acked_by: str | None = None
    acked_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The alarm as JSON-able data."""
        return {
            "id": self.id,
            "tier": self.tier,
            "kind": self.kind,
            "text": self.text,
            "raised_at": self.raised_at,
            "truck": self.truck,
            "acked_by": self.acked_by,
            "acked_at": self.acked_at,
        }


def _truck_alarms(t: dict[str, Any], critical_fuel: float) -> list[tuple[str, str, str, str]]:
    tid = t["id"]
    out: list[tuple[str, str, str, str]] = []
    if t["state"] == "lost":
        out.append((f"lost:{tid}", CRITICAL, "truck_lost", f"{tid} lost: no word for a while"))
    if t["state"] == "broken":
        out.append((f"broken:{tid}", CRITICAL, "breakdown", f"{tid} broken down"))
    if not t["fix"]:
        out.append((f"nofix:{tid}", WARNING, "gnss_fix_lost", f"{tid}: GNSS fix lost"))
    if t.get("fuel_loss", "NONE") != "NONE":
        what = "a sudden drop: possible theft" if t["fuel_loss"] == "THEFT" else "a leak"
        out.append((f"fuelloss:{tid}", CRITICAL, "fuel_loss", f"{tid}: fuel falling, {what}"))
    if t["fuel"] < critical_fuel:
        pct = round(t["fuel"] * 100)
        out.append((f"fuel:{tid}", CRITICAL, "low_fuel", f"{tid}: fuel critical ({pct} %)"))
    elif t["low_fuel"]:
        pct = round(t["fuel"] * 100)
        out.append((f"fuel:{tid}", WARNING, "low_fuel", f"{tid}: fuel low ({pct} %)"))
    return out


def conditions(
    snap: dict[str, Any], critical_fuel: float, stuck: Sequence[list[str]] = ()
) -> list[tuple[str, str, str, str]]:
    """The condition alarms a snapshot shows, and circles of trucks `stuck` waiting on each
    other: (id, tier, kind, text) each."""
    out: list[tuple[str, str, str, str]] = []
    for t in snap["trucks"]:
        out += _truck_alarms(t, critical_fuel)
    for circle in stuck:
        names = ", ".join(circle)
        text = f"deadlock: {names} wait on each other"
        out.append((f"deadlock:{'+'.join(circle)}", CRITICAL, "deadlock", text))
    for lane, reason in sorted(snap["closed_lanes"].items()):
        out.append((f"lane:{lane}", INFO, "lane_closed", f"lane {lane} closed: {reason}"))
    return out


class Alarms:
    """The alarms up now (dispatcher thread only)."""

    def __init__(self) -> None:
        self.up: dict[str, Alarm] = {}
        self._events = 0

    def update(self, now_iso: str, current: list[tuple[str, str, str, str]]) -> None:
        """Raise the conditions new in `current`; drop the cleared ones (not latched)."""
        ids = {c[0] for c in current}
        for alarm_id in [a for a, al in self.up.items() if not al.latched and a not in ids]:
            del self.up[alarm_id]
        for alarm_id, tier, kind, text in current:
            if alarm_id in self.up:
                self.up[alarm_id].text = text
                self.up[alarm_id].tier = tier
            else:
                truck = (
                    alarm_id.split(":", 1)[1] if kind not in ("lane_closed", "deadlock") else None
                )
                self.up[alarm_id] = Alarm(alarm_id, tier, kind, text, now_iso, truck)

    def event(self, now_iso: str, tier: str, kind: str, text: str) -> Alarm:
        """A latched alarm for something that happened (a refused message)."""
        self._events += 1
        alarm = Alarm(f"{kind}:{self._events}", tier, kind, text, now_iso, latched=True)
        self.up[alarm.id] = alarm
        return alarm

    def ack(self, alarm_id: str, operator: str, now_iso: str) -> Alarm:
        """Acknowledge an alarm (KeyError: none up with that id); a latched one goes."""
        alarm = self.up[alarm_id]
        alarm.acked_by, alarm.acked_at = operator, now_iso
        if alarm.latched:
            del self.up[alarm_id]
        return alarm

    def listed(self) -> list[dict[str, Any]]:
        """The alarms up, unacknowledged first, then by tier and time."""
        return [
            a.as_dict()
            for a in sorted(
                self.up.values(),
                key=lambda a: (a.acked_by is not None, _ORDER[a.tier], a.raised_at, a.id),
            )
        ]


class Circles:
    """Circles of trucks waiting on each other, and since when each has stood."""

    def __init__(self, after_s: float = DEADLOCK_S) -> None:
        self.after_s = after_s
        self._since: dict[frozenset[str], float] = {}

    def stuck(self, edges: list[tuple[str, str]], now: float) -> list[list[str]]:
        """The circles in the waits-for `edges` that have lasted `after_s` by `now`."""
        graph = nx.DiGraph(edges)
        circles = {frozenset(c) for c in nx.simple_cycles(graph)} if edges else set()
        self._since = {c: self._since.get(c, now) for c in circles}
        return sorted(sorted(c) for c, t in self._since.items() if now - t >= self.after_s)

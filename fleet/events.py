"""The journal's vocabulary: every kind of event the dispatcher records, and how to make one.

The state and the KPIs are computed from these events alone, so a live yard and a simulated
shift (which drives the same dispatcher) produce journals that read the same way.

| kind | body | when |
| --- | --- | --- |
| `job.added` | the job (see `fleet.state.job_record`) | a work queue line is accepted |
| `job.step` | job, state, cause, [reason], [truck] | a job takes a step of its life |
| `truck.joined` | truck, driver, twin, tank_l, [gang] | a truck enters the fleet |
| `truck.status` | truck, activity, [node], x, y, litres, odometer_m, [job] | its activity changes |
| `truck.phase` | truck, phase, [spot], [goal], [job], laden | its life changes (`fleet.trucks`) |
| `truck.connection` | truck, state, boot | ONLINE / OFFLINE / CONNECTIONBROKEN |
| `crane.event` | crane, crane_kind, event, [job], [truck], [seq] | a crane's CraneEvent |
| `crane.held` | truck, move (the CraneEvent) | a MOVEDONE before the truck arrived, held |
| `crane.unheld` | truck, reason | the held move took effect (or was dropped) |
| `lane.closed` / `lane.opened` | lane, reason | an operator or a fault closes a lane |
| `msg.order`, `msg.instantActions` | truck, purpose, message (JSON as sent) | sent to a truck |
| `problem` | kind, text, [truck], [crane], [job], [spot], [trucks], [seconds] | one is noted |

A truck's `activity` is one of `ACTIVITIES`; the time between two `truck.status` events of
a truck is spent in the earlier one's activity, and so is the distance (odometer delta).
Litres that fall between two events were burnt; litres that rise were filled.

A truck's `phase` (see `fleet.trucks.Phase`) is where it is in its work, `spot` where it
stands (none while on its way), `goal` the spot it is booked for, `job` the job it works
for, `laden` whether a box is on it: what a restarted dispatcher takes up when the truck
reports again. A `problem` (see `fleet.problems`) is said once per truck until it changes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from fleet.journal import Event
from fleet.protocol.instant_actions import InstantActions
from fleet.protocol.order import Order


class Activity(StrEnum):
    """What a truck is doing, for the time and distance shares of the KPIs."""

    IDLE = "IDLE"
    """Waiting for work, parked or standing."""
    EMPTY = "EMPTY"
    """Driving without a box (to a pickup, to park, to a pump)."""
    LADEN = "LADEN"
    """Driving with a box."""
    SERVICE = "SERVICE"
    """Standing under a crane or at a gate lane while a box goes on or off."""
    QUEUED = "QUEUED"
    """Waiting at a service point for the crane to come to it."""
    HELD = "HELD"
    """On its way, standing: held up by the trucks ahead (or by its plan's time)."""
    REFUELLING = "REFUELLING"
    """At a pump, filling."""
    BROKEN = "BROKEN"
    """Broken down where it stands."""
    LOST = "LOST"
    """Silent past the dispatcher's limit: its place held, its work given to another."""


ACTIVITIES = tuple(a.value for a in Activity)


def truck_joined(
    truck: str, at: str, *, driver: str, twin: bool, tank_l: float, gang: str | None = None
) -> Event:
    """A truck enters the fleet (its id makes a re-announcement harmless)."""
    body: dict[str, Any] = {"truck": truck, "driver": driver, "twin": twin, "tank_l": tank_l}
    if gang:
        body["gang"] = gang
    return Event(f"truck.joined:{truck}", "truck.joined", at, body)


def truck_status(
    event_id: str,
    truck: str,
    at: str,
    *,
    activity: Activity,
    x: float,
    y: float,
    litres: float,
    odometer_m: float,
    node: str | None = None,
    job: str | None = None,
) -> Event:
    """A truck's activity changed (or its position and fuel are worth recording)."""
    body: dict[str, Any] = {
        "truck": truck,
        "activity": activity.value,
        "x": round(x, 3),
        "y": round(y, 3),
        "litres": round(litres, 3),
        "odometer_m": round(odometer_m, 2),
    }
    if node:
        body["node"] = node
    if job:
        body["job"] = job
    return Event(event_id, "truck.status", at, body)


def truck_phase(
    event_id: str,
    truck: str,
    at: str,
    *,
    phase: str,
    spot: str | None,
    goal: str | None,
    job: str | None,
    laden: bool,
) -> Event:
    """A truck's life changed: its phase, where it stands or heads, its job, its box."""
    body: dict[str, Any] = {"truck": truck, "phase": phase}
    for name, value in (("spot", spot), ("goal", goal), ("job", job)):
        if value:
            body[name] = value
    body["laden"] = laden
    return Event(event_id, "truck.phase", at, body)


def truck_connection(event_id: str, truck: str, at: str, *, state: str, boot: str) -> Event:
    """A truck's link came up, was closed in order, or broke."""
    return Event(event_id, "truck.connection", at, {"truck": truck, "state": state, "boot": boot})


def crane_event(
    event_id: str,
    crane: str,
    at: str,
    *,
    crane_kind: str,
    event: str,
    job: str | None = None,
    truck: str | None = None,
    seq: int | None = None,
) -> Event:
    """A quay crane or RTG reported READY, MOVESTARTED, MOVEDONE, FAULT or FAULTCLEARED."""
    body: dict[str, Any] = {"crane": crane, "crane_kind": crane_kind, "event": event}
    if job:
        body["job"] = job
    if truck:
        body["truck"] = truck
    if seq is not None:
        body["seq"] = seq
    return Event(event_id, "crane.event", at, body)


def crane_held(event_id: str, truck: str, at: str, move: dict[str, Any]) -> Event:
    """A crane's MOVEDONE held until the truck reports it is there (`move`: the CraneEvent
    as JSON), so that a restarted dispatcher holds it still."""
    return Event(event_id, "crane.held", at, {"truck": truck, "move": move})


def crane_unheld(event_id: str, truck: str, at: str, reason: str) -> Event:
    """A held crane move took effect (the truck arrived) or was dropped."""
    return Event(event_id, "crane.unheld", at, {"truck": truck, "reason": reason})


def lane_closed(event_id: str, lane: str, at: str, reason: str) -> Event:
    """A lane is closed to traffic from now on."""
    return Event(event_id, "lane.closed", at, {"lane": lane, "reason": reason})


def lane_opened(event_id: str, lane: str, at: str, reason: str) -> Event:
    """A closed lane is open again."""
    return Event(event_id, "lane.opened", at, {"lane": lane, "reason": reason})


def message_sent(truck: str, message: Order | InstantActions, purpose: str) -> Event:
    """An order or instant actions the dispatcher sends a truck, as sent (an audit of who
    was released how far, and when). The id is the truck, topic and header id."""
    topic = "order" if isinstance(message, Order) else "instantActions"
    body = {"truck": truck, "purpose": purpose, "message": msgspec.to_builtins(message)}
    at = message.timestamp.isoformat()
    return Event(f"msg.{topic}:{truck}:{message.header_id}:{at}", f"msg.{topic}", at, body)


def problem_noted(event_id: str, at: str, *, text: str, fields: dict[str, Any]) -> Event:
    """A problem the dispatcher noted: its kind and named fields, and its text."""
    return Event(event_id, "problem", at, {**fields, "text": text})

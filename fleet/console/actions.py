"""An operator's actions, carried out on the dispatcher's thread through its public API.

Each action is checked first (a lane that does not exist, a closure that would cut a quay
crane off, a job that fails the work queue's checks are refused, with why), then done
through `fleet.live.LiveDispatcher`, and journalled as an `operator.action` event naming
the operator, whatever the outcome.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fleet.console.alarms import Alarms
from fleet.console.cutoff import cut_off_cranes
from fleet.console.holds import hold, let_go
from fleet.journal import Event
from fleet.live import LiveDispatcher
from fleet.protocol.codec import Message
from fleet.workqueue import check_rows

__all__ = ["KINDS", "Action", "Outcome", "carry_out"]

Sent = list[tuple[str, Message]]


@dataclass(frozen=True, slots=True)
class Action:
    """What an operator asked for: a kind (see `KINDS`) and its arguments."""

    kind: str
    operator: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Done (`ok`) or refused, and the sentence that says which and why."""

    ok: bool
    text: str


class RefusedError(Exception):
    """An action that must not be done; its message says why."""


@dataclass(slots=True)
class _Ctx:
    live: LiveDispatcher
    alarms: Alarms
    at: float
    now_iso: str


def _text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RefusedError(f"{name} is missing")
    return value.strip()


def _close_lane(ctx: _Ctx, op: str, args: dict[str, Any]) -> tuple[str, Sent]:
    lane = _text(args, "lane")
    reason = str(args.get("reason") or "closed from the console").strip()
    live = ctx.live
    closed = live.dispatcher.state.closed_lanes
    if lane not in live.yard.lanes:
        raise RefusedError(f"no lane {lane!r} in yard {live.yard.id}")
    if lane in closed:
        raise RefusedError(f"lane {lane} is closed already ({closed[lane]})")
    cut = cut_off_cranes(live.yard, closed, lane)
    if cut:
        raise RefusedError(f"closing lane {lane} would cut {', '.join(cut)} off from the yard")
    sent = live.close_lane(lane, ctx.at, f"{reason} (by {op})")
    return f"lane {lane} closed", sent


def _open_lane(ctx: _Ctx, op: str, args: dict[str, Any]) -> tuple[str, Sent]:
    lane = _text(args, "lane")
    if lane not in ctx.live.dispatcher.state.closed_lanes:
        raise RefusedError(f"lane {lane} is not closed")
    reason = str(args.get("reason") or "reopened from the console").strip()
    return f"lane {lane} reopened", ctx.live.open_lane(lane, ctx.at, f"{reason} (by {op})")


def _add_job(ctx: _Ctx, op: str, args: dict[str, Any]) -> tuple[str, Sent]:
    row = args.get("job")
    if not isinstance(row, dict):
        raise RefusedError("job is missing (column → value, as in a work queue)")
    queue = check_rows(
        [{str(k): "" if v is None else str(v) for k, v in row.items()}], "job", ctx.live.yard
    )
    if queue.problems:
        raise RefusedError(
            "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in queue.problems)
        )
    problems, sent = ctx.live.add_jobs(queue.jobs, ctx.at)
    if problems:
        raise RefusedError("; ".join(p.text() for p in problems))
    job = queue.jobs[0]
    return f"job {job.job_id} added ({job.job_type.value} {job.container_no})", sent


def _ack_alarm(ctx: _Ctx, op: str, args: dict[str, Any]) -> tuple[str, Sent]:
    alarm_id = _text(args, "alarm")
    try:
        alarm = ctx.alarms.ack(alarm_id, op, ctx.now_iso)
    except KeyError:
        raise RefusedError(f"no alarm {alarm_id!r} is up") from None
    body = {"alarm": alarm.id, "kind": alarm.kind, "text": alarm.text, "operator": op}
    if alarm.truck:
        body["truck"] = alarm.truck
    journal = ctx.live.dispatcher.journal
    journal.append(Event(f"alarm.acked:{uuid.uuid4().hex}", "alarm.acked", ctx.now_iso, body))
    return f"alarm {alarm.text!r} acknowledged", []


def _truck(ctx: _Ctx, args: dict[str, Any]) -> str:
    truck = _text(args, "truck")
    if truck not in ctx.live.dispatcher.trucks:
        raise RefusedError(f"no truck {truck!r} in the fleet")
    return truck


def _pause_truck(ctx: _Ctx, op: str, args: dict[str, Any]) -> tuple[str, Sent]:
    truck = _truck(ctx, args)
    return f"{truck} told to stand", hold(ctx.live, truck, ctx.at)


def _resume_truck(ctx: _Ctx, op: str, args: dict[str, Any]) -> tuple[str, Sent]:
    truck = _truck(ctx, args)
    return f"{truck} told to go on", let_go(ctx.live, truck, ctx.at)


def _stop_all(ctx: _Ctx, op: str, args: dict[str, Any]) -> tuple[str, Sent]:
    held = ctx.live.dispatcher.scheduler.held
    trucks = sorted(t for t in ctx.live.dispatcher.trucks if t not in held)
    sent: Sent = []
    for truck in trucks:
        sent += hold(ctx.live, truck, ctx.at)
    return f"{len(trucks)} truck(s) told to stand", sent


def _release_all(ctx: _Ctx, op: str, args: dict[str, Any]) -> tuple[str, Sent]:
    trucks = sorted(ctx.live.dispatcher.scheduler.held)
    sent: Sent = []
    for truck in trucks:
        sent += let_go(ctx.live, truck, ctx.at)
    return f"{len(trucks)} truck(s) told to go on", sent


KINDS: dict[str, Callable[[_Ctx, str, dict[str, Any]], tuple[str, Sent]]] = {
    "close_lane": _close_lane,
    "open_lane": _open_lane,
    "add_job": _add_job,
    "ack_alarm": _ack_alarm,
    "pause_truck": _pause_truck,
    "resume_truck": _resume_truck,
    "stop_all": _stop_all,
    "release_all": _release_all,
}
"""The actions an operator can take, by kind."""


def carry_out(
    live: LiveDispatcher, alarms: Alarms, action: Action, at: float, now_iso: str
) -> tuple[Outcome, Sent]:
    """Do one action (on the dispatcher's thread): its outcome and the messages to send."""
    ctx = _Ctx(live, alarms, at, now_iso)
    do = KINDS.get(action.kind)
    sent: Sent = []
    try:
        if do is None:
            raise RefusedError(f"unknown action {action.kind!r}")
        text, sent = do(ctx, action.operator, action.args)
        outcome = Outcome(True, text)
    except RefusedError as exc:
        outcome = Outcome(False, str(exc))
    except (KeyError, ValueError) as exc:  # the dispatcher's own refusal, named
        outcome = Outcome(False, str(exc).strip("'\""))
    body = {
        "operator": action.operator,
        "action": action.kind,
        "args": action.args,
        "ok": outcome.ok,
        "text": outcome.text,
    }
    event = Event(f"operator.action:{uuid.uuid4().hex}", "operator.action", now_iso, body)
    live.dispatcher.journal.append(event)
    return outcome, sent

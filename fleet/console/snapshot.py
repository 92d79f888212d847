"""What the console shows at one moment: trucks, crane queues, cranes, closed lanes.

Built on the dispatcher's thread from its own records (`fleet.live.LiveDispatcher`) and
what `Watch` saw on the wire, as plain JSON-able data: the web side only ever reads a
finished snapshot, never the dispatcher.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from fleet.console.watch import Seen, Watch
from fleet.jobs import FINAL, Job, JobState, PlaceKind
from fleet.live import LiveDispatcher
from fleet.trucks import Phase, Truck, activity
from maps import CraneKind

__all__ = [
    "QUEUE_SHOWN",
    "TARGET_RATE",
    "shift_seconds",
    "snapshot",
    "truck_route",
    "truck_state",
]

QUEUE_SHOWN = 12
"""Jobs listed per quay crane (the rest counted)."""
TARGET_RATE = 30.0
"""A quay crane's target gross rate [moves/h] (DESIGN.md's planning figure)."""

_QUEUED = (Phase.QUEUED, Phase.WAITING, Phase.TO_QUEUE)
_STAGE = {
    JobState.PLANNED: "waiting",
    JobState.RELEASED: "waiting",
    JobState.ASSIGNED: "assigned",
}


def shift_seconds(live: LiveDispatcher, at: float) -> float:
    """POSIX time `at` as the dispatcher's shift seconds."""
    return max(0.0, at - live.origin.timestamp()) * live.clock_rate


def truck_state(t: Truck, seen: Seen) -> str:
    """The state colour of a truck on the map and in the table (the first that holds)."""
    held = t.paused or activity(t, seen.speed_mps > 0.05).value == "HELD"
    checks = (
        ("lost", t.lost_at is not None),
        ("broken", t.broken_at is not None),
        ("no_fix", not seen.fix),
        ("refuelling", t.phase in (Phase.REFUELLING, Phase.TO_PUMP)),
        ("queued", t.phase in _QUEUED),
        ("held", held),
        ("laden", t.laden),
        ("to_pickup", t.phase in (Phase.TO_PICKUP, Phase.AT_PICKUP)),
    )
    return next((name for name, holds in checks if holds), "idle")


def truck_route(live: LiveDispatcher, truck: str) -> dict[str, Any] | None:
    """The lanes of the truck's order in order, and how many of them are released (its
    base; the rest is horizon); None without an order."""
    ledger = live.dispatcher.release.ledgers.get(truck)
    if ledger is None:
        return None
    lanes: list[str] = []
    released = 0
    for k, w in enumerate(ledger.route.waypoints):
        if w.lane_id and (not lanes or lanes[-1] != w.lane_id):
            lanes.append(w.lane_id)
        if k < ledger.released:
            released = len(lanes)
    return {"lanes": lanes, "released": released}


def _truck(live: LiveDispatcher, t: Truck, seen: Seen, now: float) -> dict[str, Any]:
    cfg = live.dispatcher.config
    share = t.litres / t.tank_l if t.tank_l > 0 else 0.0
    ago = max(0.0, now - t.heard)
    stale_after = (cfg.lost_after_s or 60.0) / 2.0
    x = seen.x if seen.x is not None else t.x
    y = seen.y if seen.y is not None else t.y
    return {
        "id": t.id,
        "mode": "autonomous" if t.driver == "AUTONOMOUS" else "manual",
        "state": truck_state(t, seen),
        "phase": t.phase.value,
        "job": t.job,
        "laden": t.laden,
        "litres": round(t.litres, 1),
        "fuel": round(share, 3),
        "low_fuel": share < cfg.fuel_threshold,
        "heard_s": round(ago, 1),
        "stale": ago > stale_after,
        "speed_kmh": round(seen.speed_mps * 3.6, 1),
        "link": "lost" if t.lost_at is not None or seen.link != "ONLINE" else "connected",
        "x": round(x, 2),
        "y": round(y, 2),
        "heading": round(seen.theta, 3) if seen.theta is not None else None,
        "spot": t.spot,
        "goal": t.goal,
        "fix": seen.fix,
        "route": truck_route(live, t.id),
        "operator_pause": t.id in live.dispatcher.scheduler.held,
        "says_paused": seen.paused,
        "fuel_loss": seen.fuel_loss,
    }


def _stage(job: Job) -> str:
    state = job.state
    if state in _STAGE:
        return _STAGE[state]
    pick, drop = job.pickup, job.drop
    where = pick if state in (JobState.TO_PICKUP, JobState.AT_PICKUP) else drop
    place = {PlaceKind.QUAY_CRANE: "crane", PlaceKind.YARD: "yard", PlaceKind.GATE: "gate"}[
        where.kind
    ]
    if state is JobState.LOADED:
        return "loaded"
    return ("at " if state in (JobState.AT_PICKUP, JobState.AT_DROP) else "to ") + place


def _queues(live: LiveDispatcher, clock: datetime) -> dict[str, dict[str, Any]]:
    state = live.dispatcher.state
    by_crane: dict[str, list[Job]] = {c.id: [] for c in live.yard.cranes_of(CraneKind.QC)}
    for job in state.jobs.values():
        crane = job.crane
        if crane is not None and job.state not in FINAL:
            by_crane.setdefault(crane, []).append(job)
    out: dict[str, dict[str, Any]] = {}
    for crane, jobs in sorted(by_crane.items()):
        jobs.sort(key=lambda j: (j.qc_seq if j.qc_seq is not None else math.inf, j.job_id))
        out[crane] = {
            "open": len(jobs),
            "jobs": [
                {
                    "job": j.job_id,
                    "type": j.job_type.value,
                    "box": j.container_no,
                    "seq": j.qc_seq,
                    "stage": _stage(j),
                    "truck": state.truck_of.get(j.job_id),
                    "late": j.deadline is not None and j.deadline < clock,
                    "yard": str(j.drop if j.pickup.kind is PlaceKind.QUAY_CRANE else j.pickup),
                }
                for j in jobs[:QUEUE_SHOWN]
            ],
        }
    return out


def _cranes(live: LiveDispatcher, now: float) -> list[dict[str, Any]]:
    cranes = live.dispatcher.state.cranes
    hours = max(now / 3600.0, 1e-9)
    out = []
    for c in live.yard.cranes_of(CraneKind.QC):
        moves = int(cranes.get(c.id, {}).get("moves", 0))
        out.append(
            {
                "id": c.id,
                "moves": moves,
                "rate": round(moves / hours, 1) if now >= 60.0 else None,
                "target": TARGET_RATE,
            }
        )
    return out


def snapshot(live: LiveDispatcher, watch: Watch, at: float) -> dict[str, Any]:
    """The console's view of the dispatcher at POSIX time `at` (on the dispatcher's thread)."""
    d = live.dispatcher
    now = shift_seconds(live, at)
    clock = d.at(now)
    trucks = [
        _truck(live, t, watch.seen.get(t.id, Seen()), now)
        for t in sorted(d.trucks.values(), key=lambda t: t.id)
    ]
    return {
        "at": clock.isoformat(),
        "shift_s": round(now, 1),
        "strategy": d.strategy.id,
        "fuel_threshold": d.config.fuel_threshold,
        "trucks": trucks,
        "queues": _queues(live, clock),
        "cranes": _cranes(live, now),
        "closed_lanes": dict(d.state.closed_lanes),
        "moves": live.moves(),
    }

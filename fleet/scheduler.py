"""The scheduler seam: which message puts a truck's plan on the wire, and when.

`fleet.release` grants each truck its way and writes the messages; here is the choice
between them. A new leg is a new order; a repair is an update of the truck's order
where its base stays as it was, else `cancelOrder` and a new order from the last node it
passed; a truck that must stand gets `startPause` (and `stopPause` right after the order
that takes it on again); a plan with no way at all (standing in a lane cell) is a pause
too. As trucks report, what their rears have cleared is freed, and every truck whose
grant moved on gets a base extension (`progress`, `released`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fleet.protocol import Action, InstantActions, Order, State
from fleet.release import Release
from fleet.trucks import Truck
from routing.plan import Plan
from routing.planner import FleetPlanner

__all__ = ["Dispatch", "Scheduler"]


@dataclass(frozen=True, slots=True)
class Dispatch:
    """A truck's new plan and the order that drives it; `purpose` says what the leg is for."""

    truck: str
    plan: Plan
    order: Order | InstantActions
    """The order that drives the plan; a pause (instant action) when it must stand."""
    purpose: str
    new_plan: bool = True
    """False for messages that leave the plan as it is: a base extension, a pause, a cancel."""


class Scheduler:
    """The messages for the dispatcher's plans, through its `Release`."""

    def __init__(self, release: Release, planner: FleetPlanner) -> None:
        self.release = release
        self.planner = planner
        self.held: set[str] = set()
        """Trucks an operator paused: they stand, new orders or not, until resumed."""

    def dispatch(
        self,
        t: Truck,
        plan: Plan,
        now: float,
        actions: list[Action] | None,
        purpose: str,
        update: int = 0,
    ) -> list[Dispatch]:
        """The messages that put a plan on the wire: a new order, an update of the truck's
        order after a repair (or, where the repair changes its base, `cancelOrder` and a
        new order), or — when it must stand — `startPause`. A paused truck gets
        `stopPause` after the order that takes it on."""
        release = self.release
        if purpose == "stand":
            if t.paused:
                return [Dispatch(t.id, plan, self.no_order(t, now), purpose)]
            t.paused = True
            release.paused.add(t.id)
            pause = release.pause(t.id, now, f"{t.id}:pause:{t.legs}:{t.updates}", stand=True)
            return [Dispatch(t.id, plan, pause, purpose)]
        if not release.knows(t.id):
            node = plan.nodes[0] if plan.nodes else None
            if node is None:
                return []
            release.place(t.id, node, now)
        out: list[Dispatch] = []
        offset = release.follow(t.id, plan)
        order = release.replan(t.id, plan, offset, now, actions) if update else None
        if order is None:
            if update and t.id in release.ledgers:
                cancel = release.cancel(t.id, now, f"{t.id}:cancel:{t.legs}")
                out.append(Dispatch(t.id, plan, cancel, "cancel", new_plan=False))
            t.legs += 1
            behind = (t.last_node, t.since_m) if update and t.last_node else None
            order = release.new_order(
                t.id, plan, offset, f"{t.id}-{t.legs}", now, actions, from_node=behind
            )
        if order is None:
            return [*out, Dispatch(t.id, plan, self.no_order(t, now), purpose)]
        out.append(Dispatch(t.id, plan, order, purpose))
        if t.paused and t.id not in self.held:
            t.paused = False
            release.paused.discard(t.id)
            go = release.pause(t.id, now, f"{t.id}:go:{t.legs}:{t.updates}", stand=False)
            out.append(Dispatch(t.id, plan, go, "go on", new_plan=False))
        return out

    def repaired(
        self, trucks: Mapping[str, Truck], plans: Mapping[str, tuple[Plan, str]], now: float
    ) -> list[Dispatch]:
        """Repaired plans on the wire: an update (or a cancel and a new order) for each
        truck re-planned, a pause for each that must stand."""
        out = []
        for truck, (plan, purpose) in plans.items():
            t = trucks[truck]
            if purpose == "stand":
                out += self.dispatch(t, plan, now, None, "stand")
                continue
            t.eta = plan.t_end
            t.updates += 1
            out += self.dispatch(t, plan, now, t.actions, "repair", update=t.updates)
        return out

    def no_order(self, t: Truck, now: float) -> InstantActions:
        """A plan without a way (standing in a lane cell): the truck stands."""
        return self.release.pause(t.id, now, f"{t.id}:pause:{t.legs}:{t.updates}", stand=True)

    def progress(self, t: Truck, state: State, now: float) -> list[Dispatch]:
        """The truck's report frees what its rear has cleared: its own base and those of
        the trucks waiting on it may reach further."""
        seq = state.last_node_sequence_id if t.id in self.release.ledgers else None
        freed = self.release.reported(
            t.id, state.last_node_id, seq, state.distance_since_last_node or 0.0, now
        )
        trucks = [t.id, *self.release.waiting_on(t.id)] if freed else [t.id]
        return self.released(trucks, now)

    def released(self, trucks: Sequence[str], now: float) -> list[Dispatch]:
        """Base extensions for the trucks whose grant moved on."""
        out: list[Dispatch] = []
        for truck in trucks:
            ledger = self.release.ledgers.get(truck)
            plan = self.planner.plans.get(truck)
            if ledger is None or plan is None:
                continue
            before = ledger.released
            if self.release.grant(truck, now):
                order = self.release.extension(truck, before - 1, now)
                out.append(Dispatch(truck, plan, order, "release", new_plan=False))
        return out

    def pending(self, now: float) -> list[Dispatch]:
        """Extensions for the trucks whose planned times came or whose holds went."""
        return self.released(self.release.pending(), now)

"""Driving plans forward in time through an Execution: delays, breakdowns, manual drivers.

A small time-stepped model, enough to test execution and deadlock handling: each truck
drives its passages at its planned speed times a delay factor, stops at the end of a
passage when it may not enter the next, and may break down for a while at a passage's
end. What the trucks actually did comes back as plans (`executed()`), so the
independent checker can verify the executed trajectories, not just the plans.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from routing.execution import Execution
from routing.plan import Plan, ResourceKind, Step

EPS = 1e-9
DeadlockHandler = Callable[["Rollout", list[list[str]]], None]


def _clock(s0: float, t0: float, v: float) -> Callable[[float], float]:
    """When a front driving at v from s0 at t0 reaches a distance."""
    return lambda x: t0 + (x - s0) / v


@dataclass
class Rollout:
    """Steps an Execution forward: who drives, who waits, what happened when."""

    execution: Execution
    dt: float = 0.25
    slowdown: dict[str, float] = field(default_factory=dict)
    """Per truck: the factor (0, 1] on its planned speeds."""
    breakdowns: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Per truck: (passage index, seconds) — it stands that long at that passage's end."""
    start_at: dict[str, float] = field(default_factory=dict)
    """Per truck: when it sets off from its start (default at once)."""
    on_deadlock: DeadlockHandler | None = None
    t: float = 0.0
    entered: dict[str, list[float]] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)
    deadlocks_seen: list[list[str]] = field(default_factory=list)
    collisions: list[tuple[float, str, list[str]]] = field(default_factory=list)
    """Moments two trucks occupied one node or lane cell (must stay empty)."""
    _broken_until: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for truck, run in self.execution.runs.items():
            self.entered[truck] = [0.0] * (run.at + 1) + [math.nan] * (
                len(run.passages) - run.at - 1
            )

    def step(self) -> None:
        """Advance every truck by dt, then look for circular waits."""
        ex = self.execution
        self.waiting.clear()
        for run in sorted(ex.runs.values(), key=lambda r: r.priority):
            truck = run.truck
            budget = self.dt
            if self.t + self.dt <= max(self.start_at.get(truck, 0.0), run.depart_at):
                continue
            factor = self.slowdown.get(truck, 1.0)
            while budget > EPS and not run.finished:
                p = run.passages[run.at]
                left = p.s_out - run.s
                if left > EPS and p.group and ex.facing(truck):
                    self.waiting.add(truck)  # head-on in a single-track road: nobody passes
                    break
                now = self.t + (self.dt - budget)
                if left > EPS:
                    v = p.speed_mps * factor
                    d = min(left, v * budget)
                    s0 = run.s
                    run.s += d
                    budget -= d / v
                    ex.drove_to(truck, run.s, _clock(s0, now, v))
                    continue
                stop = self.breakdowns.get(truck)
                if stop and stop[0] == run.at:
                    until = self._broken_until.setdefault(truck, self.t + stop[1])
                    if self.t + (self.dt - budget) < until:
                        break
                if not ex.may_enter(truck):
                    self.waiting.add(truck)
                    break
                # What it waited for may have cleared only later in this step.
                t_free = ex.free_from(truck)
                if t_free > now + EPS:
                    if t_free >= self.t + self.dt:
                        break
                    budget -= t_free - now
                    now = t_free
                ex.enter_next(truck)
                self.entered[truck][run.at] = now
        self.t += self.dt
        for resource, trucks in ex.held_twice():
            self.collisions.append((self.t, resource, trucks))
        if self.waiting:
            cycles = ex.deadlocks(self.waiting)
            if cycles:
                self.deadlocks_seen.extend(cycles)
                if self.on_deadlock:
                    self.on_deadlock(self, cycles)

    def run(self, until_s: float = 3600.0, stop_on_deadlock: bool = False) -> bool:
        """Step until every truck is at its goal (True) or the time runs out (False)."""
        while self.t < until_s:
            if all(r.finished for r in self.execution.runs.values()):
                return True
            if stop_on_deadlock and self.deadlocks_seen and not self.on_deadlock:
                return False
            self.step()
        return all(r.finished for r in self.execution.runs.values())

    def rerouted(self, truck: str) -> None:
        """The truck's way changed after its current passage: keep its entry times so far."""
        run = self.execution.runs[truck]
        times = self.entered[truck][: run.at + 1]
        self.entered[truck] = times + [math.nan] * (len(run.passages) - len(times))

    def executed(self) -> list[Plan]:
        """What each truck actually did, as a plan (front-based times), for the checker."""
        plans = []
        for truck, run in self.execution.runs.items():
            times = self.entered[truck]
            steps: list[Step] = []
            factor = self.slowdown.get(truck, 1.0)
            for k, p in enumerate(run.passages):
                if p.s_out <= 0.0 and p.s_in < 0.0:
                    continue  # the body behind a parked truck, not a step of its way
                if math.isnan(times[k]):
                    break
                t_out = (
                    times[k + 1]
                    if k + 1 < len(times) and not math.isnan(times[k + 1])
                    else math.inf
                )
                kind, _, name = p.resource.partition(":")
                if kind == "node":
                    steps.append(Step(name, ResourceKind.NODE, times[k], t_out))
                else:
                    lane, _, start = name.partition("@")
                    steps.append(
                        Step(
                            lane,
                            ResourceKind.LANE,
                            times[k],
                            t_out,
                            p.speed_mps * factor,
                            float(start),
                            float(start) + p.s_out - p.s_in,
                        )
                    )
            plans.append(Plan.of(truck, steps))
        return plans

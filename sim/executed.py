"""What the trucks actually did, as one plan per truck, and the safety numbers drawn from it.

Each truck drove a sequence of plans: a new leg, a repaired plan after a breakdown or a
closure, a freeze while broken down. `Executed` splices them at the moments they
replaced each other, so that routing's independent checker can verify the shift as
driven, not as planned. `min_separation_m` is the closest front-to-front distance of two
trucks on the same lane, sampled every second (a truck length plus the gap is safe).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from maps import Yard
from routing.checker import Conflict, check_plans
from routing.plan import Plan, ResourceKind, Step


def _same_place(a: Step, b: Step) -> bool:
    return a.kind is b.kind and a.resource == b.resource and abs(a.from_m - b.from_m) < 1e-6


@dataclass
class Executed:
    """Per truck, the steps it has driven so far."""

    steps: dict[str, list[Step]] = field(default_factory=dict)

    def follow(self, truck: str, plan: Plan, t0: float) -> None:
        """From t0 on the truck follows `plan` (which starts where the truck is at t0)."""
        old = self.steps.get(truck)
        new = list(plan.steps)
        if not old:
            self.steps[truck] = new
            return
        kept = [s for s in old if s.t_enter <= t0]
        body = [s for s in kept if s.kind is not ResourceKind.CONFLICT_GROUP]
        clipped = [
            _clip(s, min(s.t_exit, t0)) for s in kept if s.kind is ResourceKind.CONFLICT_GROUP
        ]
        firsts = [s for s in new if s.kind is not ResourceKind.CONFLICT_GROUP]
        if body and firsts and _same_place(body[-1], firsts[0]):
            # The same place on both sides: one step, from the old entry to the new exit.
            body[-1] = _clip(body[-1], max(firsts[0].t_exit, body[-1].t_enter))
            new.remove(firsts[0])
        elif body:
            body[-1] = _clip(body[-1], max(t0, body[-1].t_enter))
        merged = body + clipped + new
        merged.sort(key=lambda s: (s.t_enter, s.kind is ResourceKind.CONFLICT_GROUP))
        self.steps[truck] = merged

    def freeze(self, truck: str, t0: float) -> None:
        """The truck stops where it is at t0 (a breakdown) until its next plan."""
        old = self.steps.get(truck, [])
        kept = [s for s in old if s.t_enter <= t0]
        body = [s for s in kept if s.kind is not ResourceKind.CONFLICT_GROUP]
        groups = [s for s in kept if s.kind is ResourceKind.CONFLICT_GROUP]
        if body:
            body[-1] = _clip(body[-1], math.inf)
        groups = [_clip(g, math.inf) if g.t_exit > t0 else g for g in groups]
        merged = body + groups
        merged.sort(key=lambda s: (s.t_enter, s.kind is ResourceKind.CONFLICT_GROUP))
        self.steps[truck] = merged

    def plans(self, until: float) -> list[Plan]:
        """Every truck's executed plan, open ends closed at `until`."""
        out = []
        for truck, steps in self.steps.items():
            closed = [_clip(s, max(until, s.t_enter)) if math.isinf(s.t_exit) else s for s in steps]
            out.append(Plan.of(truck, closed))
        return out


def _clip(s: Step, t_exit: float) -> Step:
    return Step(s.resource, s.kind, s.t_enter, t_exit, s.speed_mps, s.from_m, s.to_m)


def conflicts(plans: Sequence[Plan], yard: Yard, length_m: float, gap_m: float) -> list[Conflict]:
    """Routing's independent checker over the executed plans."""
    return check_plans(plans, yard, length_m=length_m, gap_m=gap_m)


def min_separation_m(
    plans: Sequence[Plan], until: float, every_s: float = 1.0, yard: Yard | None = None
) -> float:
    """Closest front-to-front distance of two trucks on one lane (inf if never together).

    A lane step driving to the lane's end (`to_m` None) needs the yard for its length.
    """
    times = np.arange(0.0, until, every_s)
    lanes: dict[str, int] = {}
    lane_at = np.full((len(plans), len(times)), -1, dtype=np.int64)
    s_at = np.zeros((len(plans), len(times)))
    for i, plan in enumerate(plans):
        for st in plan.steps:
            if st.kind is not ResourceKind.LANE:
                continue
            to_m = st.to_m
            if to_m is None:
                if yard is None or st.resource not in yard.lanes:
                    continue
                to_m = yard.lanes[st.resource].length_m
            a = int(np.searchsorted(times, st.t_enter, side="left"))
            b = int(np.searchsorted(times, min(st.t_exit, until), side="left"))
            if b <= a:
                continue
            code = lanes.setdefault(st.resource, len(lanes))
            tt = times[a:b]
            lane_at[i, a:b] = code
            s_at[i, a:b] = st.from_m + np.minimum(
                to_m - st.from_m, (tt - st.t_enter) * (st.speed_mps or 0.0)
            )
    best = math.inf
    for i in range(len(plans)):
        for j in range(i + 1, len(plans)):
            same = (lane_at[i] == lane_at[j]) & (lane_at[i] >= 0)
            if same.any():
                best = min(best, float(np.abs(s_at[i, same] - s_at[j, same]).min()))
    return best

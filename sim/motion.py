"""Where a truck following a plan is: distance driven, position and heading at any time.

A plan's lane steps are driven at their planned speed from the moment the front enters
(then the truck stands at the step's end until `t_exit`): so distance is piecewise linear
in time, and positions come from the lane's geometry.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from maps import Yard
from routing.plan import Plan, ResourceKind, Step


@dataclass(frozen=True)
class Track:
    """A plan prepared for quick lookups by time."""

    plan: Plan
    steps: tuple[Step, ...]
    starts: tuple[float, ...]

    @classmethod
    def of(cls, plan: Plan) -> Track:
        """The plan's node and lane steps, by entry time."""
        steps = tuple(s for s in plan.steps if s.kind is not ResourceKind.CONFLICT_GROUP)
        return cls(plan, steps, tuple(s.t_enter for s in steps))

    @property
    def arrival(self) -> float:
        """When the front reaches the last node."""
        return self.steps[-1].t_enter

    @property
    def departure(self) -> float:
        """When the front leaves its start (inf: it stays)."""
        return self.steps[0].t_exit if len(self.steps) > 1 else math.inf

    def step_at(self, t: float) -> Step:
        """The step the front is in at t."""
        k = max(0, bisect.bisect_right(self.starts, t) - 1)
        return self.steps[k]

    def driven(self, t: float) -> float:
        """Metres driven along the plan by time t."""
        total = 0.0
        for s in self.steps:
            if s.t_enter >= t:
                break
            if s.kind is ResourceKind.LANE:
                length = (s.to_m if s.to_m is not None else s.from_m) - s.from_m
                total += min(length, (t - s.t_enter) * (s.speed_mps or 0.0))
        return total

    def length(self) -> float:
        """Metres of the whole plan."""
        return self.driven(math.inf)

    def moving(self, t: float) -> bool:
        """Whether the front is driving at t (inside a lane step, before its end)."""
        s = self.step_at(t)
        if s.kind is not ResourceKind.LANE:
            return False
        length = (s.to_m if s.to_m is not None else s.from_m) - s.from_m
        return (t - s.t_enter) * (s.speed_mps or 0.0) < length

    def pose(self, yard: Yard, t: float) -> tuple[float, float, float, float]:
        """(x, y, heading in radians from +x, speed m/s) of the front at t."""
        s = self.step_at(t)
        if s.kind is ResourceKind.NODE:
            node = yard.node(s.resource)
            return node.x, node.y, 0.0, 0.0
        lane = yard.lane(s.resource)
        length = (s.to_m if s.to_m is not None else lane.length_m) - s.from_m
        d = min(length, max(0.0, (t - s.t_enter) * (s.speed_mps or 0.0)))
        at = s.from_m + d
        p = lane.geometry.interpolate(at)
        q = lane.geometry.interpolate(min(lane.length_m, at + 1.0))
        r = lane.geometry.interpolate(max(0.0, at - 1.0))
        heading = math.atan2(q.y - r.y, q.x - r.x)
        speed = (s.speed_mps or 0.0) if d < length else 0.0
        return p.x, p.y, heading, speed

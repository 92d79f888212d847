"""How a truck speeds up and slows down: speed profiles along its way.

A profile starts from where the truck is (time, distance along its way, speed) and
ends standing at the end of what it may drive (its movement authority), never faster
than each stretch's speed limit, speeding up at most at `accel` and braking at most at
`brake`. It is the time-optimal profile for those bounds: the classic forward pass
(how fast it can be by each boundary) and backward pass (how slow it must be to still
stop in time), then per stretch accelerate, cruise, brake. Motion is piecewise constant
acceleration, so distance and speed at any time, and the time any distance is reached,
are exact.

A truck already too fast to stop where it must (its way was cut short while it drove)
brakes harder than `brake`; `hard_brake_mps2` says how hard, for the report.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

EPS = 1e-9
STANDING_MPS = 1e-3
"""Slower than this, a truck stands (what is left of a stop computed in floating point)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """Constant acceleration `a` from (t0, s0, v0) until t1."""

    t0: float
    s0: float
    v0: float
    a: float
    t1: float

    def s(self, t: float) -> float:
        """Distance at t (inside the segment)."""
        dt = t - self.t0
        return self.s0 + self.v0 * dt + 0.5 * self.a * dt * dt

    def v(self, t: float) -> float:
        """Speed at t (inside the segment)."""
        return max(0.0, self.v0 + self.a * (t - self.t0))

    @property
    def s1(self) -> float:
        """Distance at the end."""
        return self.s(self.t1)

    def t_at(self, s: float) -> float:
        """When the segment reaches distance s (s between its ends)."""
        d = s - self.s0
        if d <= 0:
            return self.t0
        if abs(self.a) < EPS:
            return self.t0 + d / self.v0 if self.v0 > EPS else math.inf
        disc = self.v0 * self.v0 + 2.0 * self.a * d
        if disc < 0:
            if d > self.s1 - self.s0 + 1e-9:
                return math.inf
            disc = 0.0  # the stop point itself, short by rounding
        return min(self.t1, self.t0 + (math.sqrt(disc) - self.v0) / self.a)


@dataclass(frozen=True, slots=True)
class Profile:
    """A truck's motion from `t0` on: segments, then standing at `s_end` for ever."""

    t0: float
    s0: float
    segments: tuple[Segment, ...]
    hard_brake_mps2: float = 0.0
    starts: tuple[float, ...] = ()
    t_end: float = 0.0
    """When it comes to a stand."""
    s_end: float = 0.0
    """Where it comes to a stand."""

    def __post_init__(self) -> None:
        last = self.segments[-1] if self.segments else None
        object.__setattr__(self, "starts", tuple(g.t0 for g in self.segments))
        object.__setattr__(self, "t_end", last.t1 if last else self.t0)
        object.__setattr__(self, "s_end", last.s1 if last else self.s0)

    @classmethod
    def standing(cls, t0: float, s0: float) -> Profile:
        """Standing at s0 from t0."""
        return cls(t0, s0, ())

    def _seg(self, t: float) -> Segment | None:
        if not self.segments or t >= self.t_end:
            return None
        k = bisect.bisect_right(self.starts, t) - 1
        return self.segments[max(0, k)]

    def s(self, t: float) -> float:
        """Distance at t."""
        if t <= self.t0:
            return self.s0
        g = self._seg(t)
        return self.s_end if g is None else g.s(t)

    def v(self, t: float) -> float:
        """Speed at t."""
        if t < self.t0:
            return self.segments[0].v0 if self.segments else 0.0
        g = self._seg(t)
        return 0.0 if g is None else g.v(t)

    def t_at(self, s: float) -> float:
        """The first time the front reaches distance s (inf if it stops short)."""
        if s <= self.s0 + EPS:
            return self.t0
        if s > self.s_end + 1e-6:
            return math.inf
        for g in self.segments:
            if g.s1 >= s - 1e-9:
                return g.t_at(min(s, g.s1))
        return self.t_end

    def pieces(
        self, t_from: float, t_to: float, max_s: float = 1.0
    ) -> Iterator[tuple[float, float]]:
        """(t, s) points from t_from to t_to, at most `max_s` apart while speeding up or
        braking: the piecewise-linear trajectory a plan step can carry, within a few cm."""
        yield t_from, self.s(t_from)
        last = t_from
        for g in self.segments:
            a, b = max(g.t0, t_from), min(g.t1, t_to)
            if b <= a + EPS:
                continue
            n = 1 if abs(g.a) < EPS else max(1, math.ceil((b - a) / max_s))
            for k in range(1, n + 1):
                last = a + (b - a) * k / n
                yield last, g.s(last)
        if t_to > last:
            yield t_to, self.s(t_to)


def profile(
    t0: float,
    s0: float,
    v0: float,
    stretches: Sequence[tuple[float, float]],
    accel: float,
    brake: float,
) -> Profile:
    """The fastest motion from (t0, s0, v0) to a stand at the last stretch's end.

    `stretches`: (end distance, speed limit) in order, the first from s0. Speed at each
    boundary is at most the lower of the two limits.
    """
    xs = [s0] + [e for e, _ in stretches]
    limits = [lim for _, lim in stretches]
    n = len(limits)
    if n == 0 or xs[-1] <= s0 + EPS:
        stop = _stop_now(t0, s0, v0, brake)
        if v0 > STANDING_MPS:  # no room at all, yet moving: it cannot stop where it must
            return Profile(stop.t0, stop.s0, stop.segments, math.inf)
        return stop
    if limits[0] < v0 < limits[0] + 1e-3:
        v0 = limits[0]  # (rounding from the last profile)
    cap = [v0] + [min(limits[k], limits[k + 1]) for k in range(n - 1)] + [0.0]
    back = cap[:]
    for k in range(n - 1, 0, -1):
        back[k] = min(cap[k], math.sqrt(back[k + 1] ** 2 + 2 * brake * max(0.0, xs[k + 1] - xs[k])))
    first_brake = brake
    reach = math.sqrt(back[1] ** 2 + 2 * brake * max(0.0, xs[1] - xs[0]))
    if v0 > reach + 1e-9:
        # Too fast to stop where it must at the usual rate: it brakes harder.
        first_brake = (v0 * v0 - back[1] ** 2) / (2 * max(EPS, xs[1] - xs[0]))
    fwd = [v0] + [0.0] * n
    for k in range(1, n + 1):
        fwd[k] = min(back[k], math.sqrt(fwd[k - 1] ** 2 + 2 * accel * max(0.0, xs[k] - xs[k - 1])))
    segs: list[Segment] = []
    t, s = t0, s0
    for k in range(n):
        b = first_brake if k == 0 else brake
        for a, dur in _stretch(fwd[k], fwd[k + 1], limits[k], xs[k + 1] - xs[k], accel, b):
            if dur <= EPS:
                continue
            g = Segment(t, s, fwd[k] if not segs else segs[-1].v(segs[-1].t1), a, t + dur)
            segs.append(g)
            t, s = g.t1, g.s1
    hard = first_brake if first_brake > brake + 1e-9 else 0.0
    return Profile(t0, s0, tuple(segs), hard)


def _stretch(
    u1: float, u2: float, limit: float, length: float, accel: float, brake: float
) -> list[tuple[float, float]]:
    """(acceleration, duration) phases over one stretch: speed up, cruise, brake."""
    if length <= EPS:
        return []
    if u1 > limit + 1e-9:  # entering too fast (a limit ahead came late): brake to it first
        d0 = (u1 * u1 - limit * limit) / (2 * brake)
        d_down = max(0.0, (limit * limit - u2 * u2) / (2 * brake))
        if d0 + d_down <= length:
            return [
                (-brake, (u1 - limit) / brake),
                (0.0, (length - d0 - d_down) / limit),
                (-brake, (limit - u2) / brake),
            ]
        a = (u1 * u1 - u2 * u2) / (2 * length)
        return [(-a, (u1 - u2) / a)]
    peak2 = (2 * accel * brake * length + brake * u1 * u1 + accel * u2 * u2) / (accel + brake)
    peak = min(max(limit, u1), math.sqrt(max(peak2, 0.0)))
    peak = max(peak, u1, u2)
    d_up = max(0.0, (peak * peak - u1 * u1) / (2 * accel))
    d_down = max(0.0, (peak * peak - u2 * u2) / (2 * brake))
    cruise = max(0.0, length - d_up - d_down)
    out = [(accel, (peak - u1) / accel)]
    out.append((0.0, cruise / peak if peak > EPS else 0.0))
    out.append((-brake, (peak - u2) / brake))
    return out


def _stop_now(t0: float, s0: float, v0: float, brake: float) -> Profile:
    if v0 <= EPS:
        return Profile.standing(t0, s0)
    return Profile(t0, s0, (Segment(t0, s0, v0, -brake, t0 + v0 / brake),))


def earliest(d: float, v: float, limit: float, accel: float) -> float:
    """The least time to drive d metres from speed v, never above `limit`."""
    if d <= 0:
        return 0.0
    v = min(v, limit)
    d_up = (limit * limit - v * v) / (2 * accel)
    if d <= d_up:
        return (math.sqrt(v * v + 2 * accel * d) - v) / accel
    return (limit - v) / accel + (d - d_up) / limit

"""Simulated time: actions at given times, run in order, as fast as possible or paced.

`speed` None runs as fast as it can; a number paces the same actions at that many times
wall-clock time (a paced run lasts its whole length, quiet end included). `on_progress`
hears the clock every simulated minute.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable

__all__ = ["Clock"]


class Clock:
    """A discrete-event clock up to `horizon` simulated seconds."""

    def __init__(
        self,
        horizon: float,
        speed: float | None = None,
        on_progress: Callable[[float, float], None] | None = None,
    ) -> None:
        self.horizon = horizon
        self.speed = speed
        self.on_progress = on_progress
        self.now = 0.0
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()

    def at(self, t: float, action: Callable[[], None]) -> None:
        """Run `action` at simulated time t."""
        heapq.heappush(self._queue, (t, next(self._seq), action))

    def run(self, wall0: float) -> None:
        """Everything that happens up to the horizon, in time order (from wall time
        `wall0`, for pacing). Ctrl-C stops it where it is (`now`)."""
        last_progress = -math.inf
        while self._queue:
            t, _, action = heapq.heappop(self._queue)
            if t > self.horizon:
                break
            if self.speed:
                lag = (t / self.speed) - (time.perf_counter() - wall0)
                if lag > 0:
                    time.sleep(lag)
            self.now = t
            action()
            if self.on_progress and t - last_progress >= 60.0:
                last_progress = t
                self.on_progress(t, self.horizon)
        if self.speed:
            rest = self.horizon / self.speed - (time.perf_counter() - wall0)
            if rest > 0:
                time.sleep(rest)

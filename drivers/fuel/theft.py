"""Possible theft or leak: litres falling while the truck stands still.

Readings pass a running median first, so a single outlier (a slosh, a glitched frame) never
looks like a drop. While the truck stands (speed below `still_kmh`, from GNSS), a fall of more
than `min_drop_l` below the highest level of the last `window_s` opens an event; the event
grows while the level keeps falling and is reported, with its start, end and litres lost, once
the level has settled for `settle_s`, the truck moves, or `flush` is called. Rises (refuelling)
never open one.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TheftConfig:
    """Thresholds: a drop of more than `min_drop_l` within `window_s` below `still_kmh`."""

    min_drop_l: float = 10.0
    window_s: float = 300.0
    still_kmh: float = 1.0
    settle_s: float = 60.0
    median_of: int = 3


@dataclass(frozen=True, slots=True)
class FuelDropEvent:
    """A possible theft or leak: litres lost between `start` and `end` (seconds)."""

    start: float
    end: float
    litres_before: float
    litres_after: float

    @property
    def litres_lost(self) -> float:
        """How much fuel went."""
        return self.litres_before - self.litres_after


class TheftDetector:
    """Feed it readings with the truck's speed; it returns the drop events they complete."""

    def __init__(self, config: TheftConfig | None = None) -> None:
        self.config = config if config is not None else TheftConfig()
        if self.config.median_of < 1 or self.config.median_of % 2 == 0:
            raise ValueError(f"median_of must be odd and positive, got {self.config.median_of}")
        self._raw: deque[tuple[float, float]] = deque(maxlen=self.config.median_of)
        self._window: deque[tuple[float, float]] = deque()
        self._open: tuple[float, float] | None = None  # (start time, litres before)
        self._low: tuple[float, float] = (0.0, 0.0)  # (time, litres) of the lowest point so far

    def feed(self, time: float, litres: float, speed_kmh: float) -> list[FuelDropEvent]:
        """One reading (valid ones only) and the speed at its time; events it completes."""
        cfg = self.config
        if speed_kmh >= cfg.still_kmh:
            events = self.flush()
            self._raw.clear()
            self._window.clear()
            return events
        self._raw.append((time, litres))
        if len(self._raw) < cfg.median_of:
            return []
        mid = self._raw[cfg.median_of // 2]
        return self._filtered(mid[0], statistics.median(v for _, v in self._raw))

    def _filtered(self, time: float, litres: float) -> list[FuelDropEvent]:
        cfg = self.config
        events: list[FuelDropEvent] = []
        if self._open is not None:
            low_time, low = self._low
            if litres < low:
                self._low = (time, litres)
            elif time - low_time >= cfg.settle_s:
                events = self.flush()
        window = self._window
        window.append((time, litres))
        while window and window[0][0] < time - cfg.window_s:
            window.popleft()
        if self._open is None:
            peak_time, peak = max(window, key=lambda p: (p[1], p[0]))
            if peak - litres > cfg.min_drop_l:
                self._open = (peak_time, peak)
                self._low = (time, litres)
        return events

    def flush(self) -> list[FuelDropEvent]:
        """Report an open event now (the truck moves off, or the stream ends)."""
        if self._open is None:
            return []
        (start, before), (end, after) = self._open, self._low
        self._open = None
        self._window.clear()
        self._window.append((end, after))
        return [FuelDropEvent(start, end, before, after)]

"""Reservation tables: who holds which resource when, and the safe intervals between holds."""

from __future__ import annotations

import bisect
import math
from collections import defaultdict

Interval = tuple[float, float]


class ReservationTable:
    """Holds per resource (any hashable key): intervals [start, end) with their truck."""

    def __init__(self) -> None:
        self._holds: dict[object, list[tuple[float, float, str]]] = defaultdict(list)
        self._by_truck: dict[str, list[tuple[object, float, float]]] = defaultdict(list)
        self._safe: dict[object, list[Interval]] = {}

    def hold(self, key: object, start: float, end: float, truck: str) -> None:
        """Reserve `key` for `truck` over [start, end)."""
        if end <= start:
            end = start + 1e-9
        bisect.insort(self._holds[key], (start, end, truck))
        self._by_truck[truck].append((key, start, end))
        self._safe.pop(key, None)

    def release(self, truck: str) -> None:
        """Drop every hold of one truck."""
        for key, start, end in self._by_truck.pop(truck, []):
            holds = self._holds[key]
            holds.remove((start, end, truck))
            self._safe.pop(key, None)

    def forget_before(self, t: float) -> int:
        """Drop every hold that ended before t (nothing searches the past); how many."""
        dropped = 0
        for key in list(self._holds):
            holds = self._holds[key]
            kept = [h for h in holds if h[1] >= t]
            if len(kept) != len(holds):
                dropped += len(holds) - len(kept)
                self._safe.pop(key, None)
                if kept:
                    self._holds[key] = kept
                else:
                    del self._holds[key]
        if dropped:
            for truck in list(self._by_truck):
                self._by_truck[truck] = [h for h in self._by_truck[truck] if h[2] >= t]
        return dropped

    def holds(self, key: object) -> list[tuple[float, float, str]]:
        """The holds on one resource, by start time."""
        return list(self._holds.get(key, ()))

    def safe(self, key: object) -> list[Interval]:
        """The free intervals of a resource, in order; the last ends at inf if free for ever."""
        cached = self._safe.get(key)
        if cached is not None:
            return cached
        out: list[Interval] = []
        t = 0.0
        for start, end, _ in self._holds.get(key, ()):
            if start > t:
                out.append((t, start))
            t = max(t, end)
            if math.isinf(t):
                break
        if not math.isinf(t):
            out.append((t, math.inf))
        self._safe[key] = out
        return out

"""Replayed fixes into a dispatcher, as the VDA 5050 states a live truck would send.

Each truck joins the dispatcher on its first fix (tracked, without a spot: it gets no
work); every fix then becomes a `State` — position in yard metres when it has one,
driving when it moved more than a metre since its last fix, the fix itself in the
`yardfleet.gnss` extension — journaled by the dispatcher like any live state.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

from fleet.dispatcher import Dispatcher, DispatcherConfig
from fleet.journal import Journal
from fleet.protocol import (
    AgvPosition,
    FixStatus,
    Gnss,
    TruckTelemetry,
    make_state,
    starter_battery,
)
from fleet.strategies import strategy
from maps import Yard
from sim.bags.replay import ReplayedFix

STATUS = {-1: FixStatus.NOFIX, 0: FixStatus.FIX, 1: FixStatus.SBASFIX, 2: FixStatus.GBASFIX}


class DispatcherFeed:
    """Feeds replayed fixes to a dispatcher writing its journal at `journal`."""

    def __init__(self, yard: Yard, journal: Path, origin: datetime | None = None) -> None:
        journal.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{journal}{suffix}").unlink(missing_ok=True)
        self.journal = Journal(journal)
        self.origin = origin
        self.yard = yard
        self.dispatcher: Dispatcher | None = None
        self.states = 0
        self._t0 = 0.0
        self._last: dict[str, tuple[float, float]] = {}
        self._header: dict[str, int] = {}

    def __call__(self, fix: ReplayedFix) -> None:
        """One fix: the truck joins on its first, then a state per fix."""
        if self.dispatcher is None:
            origin = self.origin or datetime.fromtimestamp(fix.t_s).astimezone()
            self._t0 = fix.t_s if self.origin is None else origin.timestamp()
            self.dispatcher = Dispatcher(
                self.yard,
                self.journal,
                strategy("pooled-optimal"),
                origin,
                DispatcherConfig(lost_after_s=None),  # a replay keeps what the bag says
            )
        d = self.dispatcher
        now = max(0.0, fix.t_s - self._t0)
        if fix.truck not in d.trucks:
            d.add_truck(fix.truck, None, now)
        has_xy = math.isfinite(fix.x) and math.isfinite(fix.y)
        last = self._last.get(fix.truck)
        driving = bool(has_xy and last and math.dist(last, (fix.x, fix.y)) > 1.0)
        if has_xy:
            self._last[fix.truck] = (fix.x, fix.y)
        self._header[fix.truck] = self._header.get(fix.truck, 0) + 1
        gnss = Gnss(
            status=STATUS.get(fix.status, FixStatus.NOFIX),
            latitude=fix.lat if math.isfinite(fix.lat) else None,
            longitude=fix.lon if math.isfinite(fix.lon) else None,
            altitude=fix.alt if math.isfinite(fix.alt) else None,
        )
        state = make_state(
            "replay",
            fix.truck,
            starter_battery(25.0),
            header_id=self._header[fix.truck],
            timestamp=d.at(now),
            driving=driving,
            position=AgvPosition(
                x=fix.x, y=fix.y, theta=0.0, map_id=self.yard.id, position_initialized=True
            )
            if has_xy
            else None,
            telemetry=TruckTelemetry(gnss=gnss),
        )
        d.on_state(state, now)
        self.states += 1

    def close(self) -> None:
        """Close the journal."""
        self.journal.close()

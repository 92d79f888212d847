"""Crane models: quay cranes with random cycles, RTGs that gantry to the truck's bay and lift.

A quay crane's cycle (lognormal around its mean) includes a handover with a truck under it:
the crane is ready for the truck at `ready_at`, and the move is done a handover after both
crane and truck are there. An RTG serves the trucks at its block's transfer points in
arrival order: it drives along the block to the truck's bay, then lifts.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from maps import CraneKind as YardCraneKind
from maps import ServicePointKind, Yard
from sim.scenario import CraneSpec


def lognormal(rng: np.random.Generator, mean: float, sigma: float) -> float:
    """A lognormal draw with the given mean and shape."""
    mu = math.log(mean) - sigma * sigma / 2.0
    return float(rng.lognormal(mu, sigma))


@dataclass
class QuayCrane:
    """One quay crane: when it is ready for the next truck, and who is under it."""

    id: str
    cycle_s: float
    sigma: float
    handover_s: float
    ready_at: float = 0.0
    serving: str | None = None
    moves: int = 0

    def next_ready(self, rng: np.random.Generator, done_at: float) -> float:
        """After a move done at `done_at`, when the crane wants its next truck."""
        cycle = lognormal(rng, self.cycle_s, self.sigma)
        self.ready_at = done_at + max(cycle - self.handover_s, 5.0)
        return self.ready_at

    def serve(self, truck: str, arrived: float) -> float:
        """A truck is under it: when the move will be done."""
        self.serving = truck
        return max(arrived, self.ready_at) + self.handover_s


@dataclass
class Rtg:
    """One RTG in its block: where it stands (bay) and when it is free."""

    id: str
    block: str
    bay: float = 1.0
    free_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Waiting:
    """A truck under a yard crane, for a job's box."""

    truck: str
    job: str


@dataclass
class BlockCranes:
    """The RTGs of a block and the trucks waiting for them, first come first served."""

    block: str
    rtgs: list[Rtg]
    lift_s: float
    sigma: float
    gantry_mps: float
    queue: deque[tuple[Waiting, int, float]] = field(default_factory=deque)

    def arrive(self, truck: Waiting, bay: int, at: float) -> None:
        """A truck stands at a transfer point of the block."""
        self.queue.append((truck, bay, at))

    def start(self, rng: np.random.Generator, now: float) -> list[tuple[str, Waiting, float]]:
        """Start every move a free RTG can take now: (rtg, truck, done at)."""
        out = []
        while self.queue:
            free = [r for r in self.rtgs if r.free_at <= now]
            if not free:
                break
            truck, bay, _ = self.queue.popleft()
            rtg = min(free, key=lambda r: abs(r.bay - bay))
            travel = abs(rtg.bay - bay) * 6.5 / self.gantry_mps
            done = now + travel + lognormal(rng, self.lift_s, self.sigma)
            rtg.bay, rtg.free_at = bay, done
            out.append((rtg.id, truck, done))
        return out


@dataclass
class YardCranes:
    """A scenario's cranes on its yard: quay cranes, the RTGs of each block, the bay of
    each transfer point."""

    qcs: dict[str, QuayCrane]
    blocks: dict[str, BlockCranes]
    tp_bay: dict[str, int]

    @classmethod
    def of(cls, yard: Yard, cranes: CraneSpec) -> YardCranes:
        """The cranes of `yard`, with the cycles and speeds of the scenario's `cranes`."""
        qcs = {
            c.id: QuayCrane(c.id, cranes.qc_cycle_s, cranes.qc_cycle_sigma, cranes.handover_s)
            for c in yard.cranes_of(YardCraneKind.QC)
        }
        rtgs: dict[str, list[Rtg]] = {}
        for c in yard.cranes_of(YardCraneKind.RTG):
            rtgs.setdefault(c.area, []).append(
                Rtg(c.id, c.area, 1.0 + 10 * len(rtgs.get(c.area, [])))
            )
        blocks = {
            b: BlockCranes(
                b, group, cranes.rtg_lift_s, cranes.rtg_lift_sigma, cranes.rtg_gantry_mps
            )
            for b, group in rtgs.items()
        }
        tp_bay = {
            sp.id: sp.bay or 1 for sp in yard.service_points_of(ServicePointKind.TRANSFER_POINT)
        }
        return cls(qcs, blocks, tp_bay)

"""The work of a shift: vessel DSCH and LOAD lists per crane, and gate boxes, from a seed.

Box sizes are mixed like real traffic (ConFlowGen's defaults: about 40% 20', 57% 40',
3% 45', 1.6 TEU per box); container numbers are valid ISO 6346 numbers. A crane's
sequence alternates discharge and load hatch by hatch. DSCH boxes may go to any of three
blocks (the dispatcher balances the RTGs); LOAD boxes come from a block and bay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleet.iso6346 import check_digit
from fleet.jobs import Job, JobType, Place, PlaceKind
from maps import AreaKind, ServicePointKind, Yard
from sim.scenario import Scenario

SIZES = (20, 40, 45)
SIZE_SHARE = (0.40, 0.57, 0.03)
OWNERS = ("MSKU", "CMAU", "OOLU", "EVRU", "HLXU", "TGHU", "SEGU", "TCNU")


@dataclass(frozen=True, slots=True)
class Arrival:
    """A job and when it reaches the dispatcher (seconds into the shift)."""

    at_s: float
    job: Job


def container_number(rng: np.random.Generator) -> str:
    """A random, valid ISO 6346 container number."""
    first = OWNERS[int(rng.integers(len(OWNERS)))] + f"{int(rng.integers(1_000_000)):06d}"
    return first + str(check_digit(first))


def shift_work(scenario: Scenario, yard: Yard) -> list[Arrival]:
    """Every job of the shift, vessel lists at the start, gate boxes as they arrive."""
    rng = np.random.default_rng(scenario.seed)
    blocks = sorted(a.id for a in yard.areas_of(AreaKind.BLOCK))
    bays = {a.id: a.bays or 40 for a in yard.areas_of(AreaKind.BLOCK)}
    out: list[Arrival] = []

    def box(rng: np.random.Generator = rng) -> tuple[str, int, float]:
        size = int(rng.choice(SIZES, p=SIZE_SHARE))
        weight = float(rng.uniform(4_000, 28_000 if size == 20 else 30_000))
        return container_number(rng), size, round(weight, -1)

    def slot(rng: np.random.Generator = rng) -> Place:
        block = blocks[int(rng.integers(len(blocks)))]
        return Place(
            PlaceKind.YARD,
            block,
            int(rng.integers(1, bays[block] + 1)),
            int(rng.integers(1, 7)),
            int(rng.integers(1, 6)),
        )

    for vessel in scenario.vessels:
        for crane in vessel.cranes:
            d_left, l_left, seq = vessel.dsch, vessel.load, 0
            discharging = True
            while d_left or l_left:
                if discharging and not d_left:
                    discharging = False
                elif not discharging and not l_left:
                    discharging = True
                batch = min(vessel.hatch, d_left if discharging else l_left)
                for _ in range(batch):
                    seq += 1
                    number, size, weight = box()
                    job_id = f"{vessel.call}-{crane}-{seq:04d}"
                    if discharging:
                        to = slot()
                        alts = [str(b) for b in rng.choice(blocks, size=3, replace=False)]
                        job = Job(
                            job_id,
                            JobType.DSCH,
                            number,
                            size,
                            weight,
                            Place(PlaceKind.QUAY_CRANE, crane),
                            to,
                            vessel_call=vessel.call,
                            qc_seq=seq,
                            alt_blocks=tuple(b for b in alts if b != to.id)[:2],
                        )
                    else:
                        job = Job(
                            job_id,
                            JobType.LOAD,
                            number,
                            size,
                            weight,
                            slot(),
                            Place(PlaceKind.QUAY_CRANE, crane),
                            vessel_call=vessel.call,
                            qc_seq=seq,
                        )
                    out.append(Arrival(0.0, job))
                if discharging:
                    d_left -= batch
                else:
                    l_left -= batch
                discharging = not discharging
    gates = [sp.id for sp in yard.service_points_of(ServicePointKind.GATE_LANE)]
    horizon = scenario.hours * 3600.0
    # Each gate stream draws from its own generator, so the first hours of a shift do not
    # depend on how long the shift is.
    streams = (
        (JobType.RECV, scenario.gate.recv_per_hour),
        (JobType.DLVR, scenario.gate.dlvr_per_hour),
    )
    for n, (kind, rate) in enumerate(streams, start=1):
        if rate <= 0 or not gates:
            continue
        grng = np.random.default_rng([scenario.seed, n])
        t = float(grng.exponential(3600.0 / rate))
        k = 0
        while t < horizon:
            k += 1
            number, size, weight = box(grng)
            gate = Place(PlaceKind.GATE, gates[int(grng.integers(len(gates)))])
            pickup, drop = (gate, slot(grng)) if kind is JobType.RECV else (slot(grng), gate)
            out.append(
                Arrival(t, Job(f"{kind.value}-{k:04d}", kind, number, size, weight, pickup, drop))
            )
            t += float(grng.exponential(3600.0 / rate))
    return out

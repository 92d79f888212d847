"""A simulated shift whose trucks are onboard agents: no back doors into the dispatcher.

Each truck is `sim.agents.SimTruck`: the agent core (`yardfleet agent`'s, without serial
ports and socket), simulated sensors and wheels that drive only what the core commands.
Their messages, and the cranes' CraneEvents, go as JSON bytes through the live server's
intake (`fleet.server.Intake`: decode, journal, dedupe, ack) to the live handler
(`fleet.live.LiveDispatcher`), in process and in simulated time; what it sends back goes
as bytes into the trucks' cores. The work (a generated shift or a TOS work queue), lane
closures and the clock reach the dispatcher through the handler's public API. The
journal is what a live yard's server writes.
"""

from __future__ import annotations

import gc
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path

import networkx as nx
import numpy as np

from drivers.agent.config import MapConfig, TruckConfig
from drivers.agent.core import AgentCore
from fleet.jobs import Job
from fleet.journal import Journal
from fleet.live import DispatcherConfig, LiveDispatcher
from fleet.protocol import REFUEL, CraneEventKind, CraneKind, make_crane_event
from fleet.protocol.codec import Message, encode, message_topic
from fleet.protocol.connection import ConnectionState
from fleet.protocol.extensions import Driver
from fleet.server import Intake
from maps import CraneKind as YardCraneKind
from maps import ServicePointKind, Yard, generate_terminal
from maps.matching import MapMatcher
from routing.vehicle import VehicleClass
from sim.agents import HEARTBEAT_S, Burn, SimTruck
from sim.clock import Clock
from sim.cranes import BlockCranes, QuayCrane, Waiting, YardCranes
from sim.scenario import Scenario, truck_id
from sim.traffic import Arrival, shift_work
from sim.wheels import WheelProblems, Wheels
from sim.world import (
    DEFAULT_FIX_HZ,
    GATE_HANDLING_S,
    MAX_FIX_HZ,
    SPOT_CIRCLE_S,
    TICK_S,
    AntennaFix,
    ShiftResult,
)

LOST_AFTER_S = 3 * HEARTBEAT_S
"""The dispatcher takes a truck silent this long for lost (trucks beat every 10 s)."""
MANUFACTURER = "YardFleet"
MATCH_M = 20.0
"""Map-matching reaches this far from a lane (typed positions lie on them)."""
REPORT_M = 15.0
"""A moving truck's receiver speaks at least every so many metres (a live truck: every
second), so that what its rear has cleared is known in time."""
RELEASE_LATE_S = 1e-3
"""Bases waiting for their planned time are looked at this long after it."""
NODE_REACH_M = 1.0
"""The simulated trucks' node tolerance (typed positions are exact)."""
GC_YOUNG = 20_000
"""Allocations between collections of the young generation while a shift runs."""


@contextmanager
def _quiet_gc() -> Iterator[None]:
    """Fewer, cheaper garbage collections while the shift runs: what exists before it (the
    yard, the planner's tables) is frozen out of them, and the young generation is
    collected every `GC_YOUNG` allocations, not every 700. (Memory use, not what the
    shift does: garbage in cycles is freed later, all of it by the end.)"""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_YOUNG, before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


class AgentShift:
    """One simulated shift of a scenario, its trucks onboard agents."""

    def __init__(
        self,
        scenario: Scenario,
        journal_path: Path,
        *,
        speed: float | None = None,
        on_progress: Callable[[float, float], None] | None = None,
        on_fix: Callable[[AntennaFix], None] | None = None,
        fix_hz: float = DEFAULT_FIX_HZ,
        work: list[Arrival] | None = None,
    ) -> None:
        """`work` is the shift's jobs and when each reaches the dispatcher (a TOS work
        queue, say); None generates the scenario's (`sim.traffic.shift_work`)."""
        if not 0.0 < fix_hz <= MAX_FIX_HZ:
            raise ValueError(f"fix_hz must be above 0 and at most {MAX_FIX_HZ:g} (got {fix_hz})")
        self.scenario = scenario
        self.yard: Yard = generate_terminal(scenario.spec())
        self.vehicle = VehicleClass()
        self.rng = np.random.default_rng(scenario.seed)
        self.speed = speed
        self.on_progress = on_progress
        self.on_fix = on_fix
        self.fix_hz = fix_hz
        self.work = work
        self._fix_count = 0
        self.horizon = scenario.hours * 3600.0
        journal_path.parent.mkdir(parents=True, exist_ok=True)
        if journal_path.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{journal_path}{suffix}").unlink(missing_ok=True)
        # A paced shift is watched (the console, `dispatcher kpi`) while it runs: its
        # journal is a live server's. A fast one commits in large transactions.
        self.journal = Journal(journal_path, durable=speed is not None)
        self.origin = scenario.start_time
        self._t0 = self.origin.timestamp()
        self.roster = self._roster()
        self.dispatcher = LiveDispatcher(
            self.yard,
            self.journal,
            scenario.strategy,
            origin=self.origin,
            config=DispatcherConfig(lost_after_s=LOST_AFTER_S, vehicle=self.vehicle),
            gangs={tid: gang for tid, (_, _, gang) in self.roster.items()},
        )
        # The trucks' cores encode with the protocol's codec: their bytes are journalled
        # as they come, not encoded again (the same bytes).
        self.intake = Intake(self.journal, self.dispatcher, broken_after_s=math.inf, canonical=True)
        self.trucks: dict[str, SimTruck] = {}
        self.matcher = MapMatcher(self.yard, max_distance_m=MATCH_M)
        self.problems = WheelProblems()
        cranes = YardCranes.of(self.yard, scenario.cranes)
        self.qcs, self.blocks, self.tp_bay = cranes.qcs, cranes.blocks, cranes.tp_bay
        self.clock = Clock(self.horizon, speed, on_progress)
        self._crane_header = 0
        self._release_at = math.inf
        self._outbox: deque[tuple[str, Message]] = deque()
        self._sending = False
        self.deadlocks: dict[frozenset[str], float] = {}
        """Each circle of trucks waiting on each other, and when it was first seen."""
        self._circles: dict[frozenset[str], tuple[float, tuple[float, ...]]] = {}

    def _roster(self) -> dict[str, tuple[str, str, str]]:
        """Per truck: its starting spot, who drives it, its gang (the terminal's roster)."""
        sc = self.scenario
        parking = [sp.id for sp in self.yard.service_points_of(ServicePointKind.PARKING)]
        spots = parking + [
            sp.id for sp in self.yard.service_points_of(ServicePointKind.TRANSFER_POINT)
        ]
        if sc.fleet.trucks > len(spots):
            raise ValueError(
                f"fleet.trucks: {sc.fleet.trucks} trucks but only {len(spots)} spots to start "
                "from; add parking_spots in terminal_spec"
            )
        autonomous = round(sc.fleet.trucks * sc.fleet.autonomous_share)
        gangs = sorted(c.id for c in self.yard.cranes_of(YardCraneKind.QC))
        return {
            truck_id(k): (
                spots[k],
                "AUTONOMOUS" if k < autonomous else "HUMAN",
                gangs[k % len(gangs)] if gangs else "",
            )
            for k in range(sc.fleet.trucks)
        }

    def moves(self) -> int:
        """Jobs done so far."""
        return self.dispatcher.moves()

    # -- the clock -------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Simulated seconds since the shift's start."""
        return self.clock.now

    def at(self, t: float, action: Callable[[], None]) -> None:
        """Run `action` at simulated time t."""
        self.clock.at(t, action)

    def run(self) -> ShiftResult:
        """Run the shift to its end (or to Ctrl-C: a partial result)."""
        wall0 = time.perf_counter()
        interrupted = False
        self._setup()
        try:
            with _quiet_gc():
                self.clock.run(wall0)
        except KeyboardInterrupt:
            interrupted = True
        end = min(self.now, self.horizon) if interrupted else self.horizon
        for truck in self.trucks.values():
            truck.fuel_now(end)
        if self.on_progress:
            self.on_progress(end, self.horizon)
        self.journal.close()
        return ShiftResult(
            self.journal.path,
            end,
            time.perf_counter() - wall0,
            [truck.wheels.executed(end) for truck in self.trucks.values()],
            interrupted,
            [str(p) for p in self.dispatcher.problems],
            [(t, sorted(c)) for c, t in self.deadlocks.items()],
            self.problems.misaligned + self.problems.hard_brakes,
            sum(truck.held_up_s for truck in self.trucks.values()),
        )

    def _setup(self) -> None:
        sc = self.scenario
        for k, (tid, (spot, driver, _)) in enumerate(self.roster.items()):
            share = self.rng.uniform(sc.fleet.fuel_start_min, sc.fleet.fuel_start_max)
            self.trucks[tid] = self._truck(tid, self.yard.node_of(spot), driver, share, k)
        for truck in self.trucks.values():  # each truck's receiver finds it at its spot
            self.send(truck.id, truck.core.connection(ConnectionState.ONLINE, 0.0))
            truck.report(0.0)
            truck.heartbeat(0.0)
        work = self.work if self.work is not None else shift_work(sc, self.yard)
        self._jobs([a.job for a in work if a.at_s <= 0.0])
        for a in work:
            if a.at_s > 0.0:
                self.at(a.at_s, partial(self._jobs, [a.job]))
        busy = {c for v in sc.vessels for c in v.cranes}
        for qc in self.qcs.values():
            if qc.id in busy:
                ready = qc.next_ready(self.rng, 0.0)
                self.at(ready, partial(self._crane, qc.id, CraneKind.QC, CraneEventKind.READY))
        for f in sc.faults:
            self.at(f.at_s, partial(self._fault_start, f.kind, f.truck, f.lane, f.for_s))
        self.at(0.0, self._tick)
        if self.on_fix:
            self.at(0.0, self._fixes)

    def _truck(self, tid: str, node: str, driver: str, share: float, k: int) -> SimTruck:
        fs = self.scenario.fleet
        config = TruckConfig(
            tid,
            MANUFACTURER,
            fs.tank_l,
            25.2,
            Driver.AUTONOMOUS if driver == "AUTONOMOUS" else Driver.HUMAN,
        )
        core = AgentCore(
            config,
            self.yard,
            MapConfig(None, None, self.yard.id, "1", MATCH_M, NODE_REACH_M),
            boot_id=f"sim-{self.scenario.seed}-{k}",
            utc_at_zero=self.origin,
            state_interval_s=HEARTBEAT_S,
            link_lost_stop_s=None,
            held_actions=frozenset({REFUEL}),
            matcher=self.matcher,
        )
        wheels = Wheels(tid, self.yard, self.vehicle, node, 0.0, self.problems, REPORT_M)
        burn = Burn(fs.idle_lph, fs.litres_per_km, fs.laden_factor)
        return SimTruck(tid, core, wheels, self, self, burn, fs.tank_l, fs.tank_l * share)

    # -- the link: bytes both ways through the live server's intake ------------------

    def send(self, sender: str, message: Message) -> None:
        """A truck's (or crane's) message, as bytes through the server's intake; what the
        dispatcher sends back goes, as bytes, to the trucks' cores."""
        self._outbox.append((sender, message))
        if self._sending:
            return
        self._sending = True
        try:
            while self._outbox:
                who, msg = self._outbox.popleft()
                frames = [who.encode(), message_topic(msg).encode(), encode(msg)]
                delivery = self.intake.take([frames], self._t0 + self.now, self.now)
                self.deliver(delivery.outgoing)
        finally:
            self._sending = False

    def deliver(self, outgoing: list[tuple[str, Message]]) -> None:
        """What the dispatcher sends, as bytes into the trucks' cores (a console's actions
        go the same way)."""
        for truck, msg in outgoing:
            target = self.trucks.get(truck)
            if target is not None:
                target.receive(message_topic(msg), encode(msg), self.now)
        due = self.dispatcher.due(self._t0 + self.now)
        if due is not None:
            t = max(self.now, due - self._t0) + RELEASE_LATE_S  # (POSIX time rounds)
            if t < self._release_at - 1e-9:
                self._release_at = t
                self.at(t, partial(self._release, t))

    def _release(self, t: float) -> None:
        if t != self._release_at:
            return  # an earlier one came first
        self._release_at = math.inf
        self.deliver(self.dispatcher.release(self._t0 + self.now))

    def _jobs(self, jobs: list[Job]) -> None:
        _, out = self.dispatcher.add_jobs(jobs, self._t0 + self.now)
        self.deliver(out)

    def _tick(self) -> None:
        self.deliver(self.intake.tick(self._t0 + self.now, every_s=0.0))
        self._look_for_deadlocks()
        self.at(self.now + TICK_S, self._tick)

    def _look_for_deadlocks(self) -> None:
        """Trucks waiting on each other in a circle (for spots, or for the way) that
        nothing opens: still there, with none of them having moved, `SPOT_CIRCLE_S` after
        it was first seen (one that dissolves by itself, a crane finishing, is none; the
        dispatcher opens the others)."""
        edges = self.dispatcher.waits_for()
        circles = {frozenset(c) for c in nx.simple_cycles(nx.DiGraph(edges))} if edges else set()
        seen: dict[frozenset[str], tuple[float, tuple[float, ...]]] = {}
        for c in circles:
            odo = tuple(round(self.trucks[t].wheels.s(self.now), 3) for t in sorted(c))
            first, before = self._circles.get(c, (self.now, odo))
            if before != odo:
                first = self.now
            seen[c] = (first, odo)
            if self.now - first >= SPOT_CIRCLE_S:
                self.deadlocks.setdefault(c, first)
        self._circles = seen

    # -- the work at the goal (sim.agents.Work) ---------------------------------------

    def serve(self, truck: SimTruck, station_type: str, station: str, job: str) -> None:
        if station_type == "QC":
            qc = self.qcs[station]
            done = qc.serve(truck.id, self.now)
            self.at(done, lambda: self._qc_done(qc, truck, job))
        elif station_type == "RTG" and station in self.blocks:
            block = self.blocks[station]
            sp = self.yard.service_point_by_node.get(truck.wheels.node_at(truck.wheels.s(self.now)))
            bay = self.tp_bay.get(sp.id, 1) if sp else 1
            block.arrive(Waiting(truck.id, job), bay, self.now)
            self._start_rtgs(block)
        else:  # a gate lane's handling equipment reports like a yard crane
            self.at(
                self.now + GATE_HANDLING_S, lambda: self._done(station, CraneKind.RTG, truck, job)
            )

    def refuel(self, truck: SimTruck, action_id: str) -> None:
        fill = (truck.tank_l - truck.fuel_now(self.now)) / self.scenario.fleet.refuel_lpm * 60.0
        self.at(self.now + fill, lambda: truck.filled(action_id, self.now))

    def _start_rtgs(self, block: BlockCranes) -> None:
        for rtg, who, done in block.start(self.rng, self.now):
            self.at(done, partial(self._rtg_done, block, rtg, who))

    def _rtg_done(self, block: BlockCranes, rtg: str, who: Waiting) -> None:
        self._done(rtg, CraneKind.RTG, self.trucks[who.truck], who.job)
        self._start_rtgs(block)

    def _qc_done(self, qc: QuayCrane, truck: SimTruck, job: str) -> None:
        qc.moves += 1
        qc.serving = None
        self._done(qc.id, CraneKind.QC, truck, job)
        ready = qc.next_ready(self.rng, self.now)
        self.at(ready, lambda: self._crane(qc.id, CraneKind.QC, CraneEventKind.READY))

    def _done(self, crane: str, kind: CraneKind, truck: SimTruck, job: str) -> None:
        truck.loaded(self.now)
        self._crane(crane, kind, CraneEventKind.MOVEDONE, truck.id, job)

    def _crane(
        self,
        crane: str,
        kind: CraneKind,
        event: CraneEventKind,
        truck: str | None = None,
        job: str | None = None,
    ) -> None:
        self._crane_header += 1
        msg = make_crane_event(
            crane,
            kind,
            event,
            job_id=job,
            truck_id=truck,
            header_id=self._crane_header,
            timestamp=self.origin + timedelta(seconds=self.now),
        )
        self.send(crane, msg)

    # -- faults ----------------------------------------------------------------------

    def _fault_start(
        self, kind: str, truck_id_: str | None, lane: str | None, for_s: float
    ) -> None:
        if kind == "breakdown" and truck_id_:
            truck = self.trucks[truck_id_]
            if truck.wheels.moving(self.now):
                truck.break_down(for_s, self.now)
            else:
                truck.pending_break = for_s  # it breaks down when it next drives
        elif kind == "gnss_loss" and truck_id_:
            truck = self.trucks[truck_id_]
            truck.gnss_lost = True
            truck.report(self.now)
            self.at(self.now + for_s, partial(self._fix_back, truck))
        elif kind == "lane_closure" and lane:
            at = self._t0 + self.now
            self.deliver(self.dispatcher.close_lane(lane, at, "scenario: lane closed"))
            self.at(self.now + for_s, partial(self._reopen, lane))

    def _fix_back(self, truck: SimTruck) -> None:
        truck.gnss_lost = False
        truck.report(self.now)

    def _reopen(self, lane: str) -> None:
        at = self._t0 + self.now
        self.deliver(self.dispatcher.open_lane(lane, at, "scenario: reopened"))

    # -- sampling --------------------------------------------------------------------

    def _fixes(self) -> None:
        """Every truck's receiver reports where its antenna is (at k / fix_hz seconds)."""
        assert self.on_fix is not None
        for truck in self.trucks.values():
            x, y, heading, speed = truck.wheels.antenna(self.now)
            self.on_fix(AntennaFix(truck.id, self.now, x, y, heading, speed, not truck.gnss_lost))
        self._fix_count += 1
        self.at(self._fix_count / self.fix_hz, self._fixes)

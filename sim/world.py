"""A simulated shift: trucks, cranes, gate and faults around the real dispatcher.

A discrete-event clock drives everything. Simulated trucks do what a real onboard agent
does — follow the orders (and plans) the dispatcher sends, and tell it their VDA 5050
state on every change (departing, arriving, breaking down, refuelled), with fuel and
odometer in the `yardfleet` extension; cranes send `CraneEvent`s (READY, MOVEDONE). The
dispatcher journals everything, exactly as in a live yard. `speed` None runs as fast as
possible; a number paces the same events at that many times wall-clock time.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from fleet.dispatcher import Dispatch, Dispatcher, DispatcherConfig
from fleet.jobs import Job
from fleet.journal import Journal
from fleet.protocol import (
    ActionState,
    ActionStatus,
    AgvPosition,
    CraneEventKind,
    CraneKind,
    Error,
    ErrorLevel,
    Fuel,
    Travel,
    TruckTelemetry,
    make_crane_event,
    make_state,
    starter_battery,
)
from fleet.strategies import strategy as make_strategy
from maps import CraneKind as YardCraneKind
from maps import ServicePointKind, Yard, generate_terminal
from routing.plan import Plan, ResourceKind, Step
from sim.cranes import BlockCranes, QuayCrane, Rtg
from sim.executed import Executed
from sim.motion import Track
from sim.scenario import Scenario, truck_id
from sim.traffic import shift_work

TICK_S = 60.0
"""The dispatcher looks again at least this often (waiting trucks, gate boxes)."""
GATE_HANDLING_S = 90.0


@dataclass
class SimTruck:
    """A simulated truck: the plan it follows, its fuel and odometer, its faults."""

    id: str
    tank_l: float
    litres: float
    track: Track | None = None
    order_actions: list[Any] = field(default_factory=list)
    version: int = 0
    odo_base_m: float = 0.0
    fuel_t: float = 0.0
    fuel_odo_m: float = 0.0
    laden: bool = False
    broken: bool = False
    gnss_lost: bool = False
    header: int = 0
    finished_actions: list[ActionState] = field(default_factory=list)
    pending_break: float | None = None
    frozen: tuple[float, float, float] | None = None
    """Where it stands broken down (x, y, heading), while it has no plan."""

    def odometer(self, t: float) -> float:
        """Metres driven by time t."""
        if self.track is None:
            return self.odo_base_m
        return self.odo_base_m + self.track.driven(t)


@dataclass
class ShiftResult:
    """What a shift produced (the KPIs come from its journal)."""

    journal: Path
    simulated_seconds: float
    wall_seconds: float
    executed: list[Plan]
    interrupted: bool
    problems: list[str]
    deadlocks: list[tuple[float, list[str]]]


class Shift:
    """One simulated shift of a scenario."""

    def __init__(
        self,
        scenario: Scenario,
        journal_path: Path,
        *,
        speed: float | None = None,
        on_progress: Callable[[float, float], None] | None = None,
        on_fix: Callable[[str, float, float, float, bool], None] | None = None,
        fix_every_s: float = 1.0,
    ) -> None:
        self.scenario = scenario
        self.yard: Yard = generate_terminal(scenario.spec())
        self.rng = np.random.default_rng(scenario.seed)
        self.speed = speed
        self.on_progress = on_progress
        self.on_fix = on_fix
        self.fix_every_s = fix_every_s
        self.horizon = scenario.hours * 3600.0
        journal_path.parent.mkdir(parents=True, exist_ok=True)
        if journal_path.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{journal_path}{suffix}").unlink(missing_ok=True)
        self.journal = Journal(journal_path)
        self.dispatcher = Dispatcher(
            self.yard,
            self.journal,
            make_strategy(scenario.strategy),
            scenario.start_time,
            DispatcherConfig(),
        )
        self.executed = Executed()
        self.trucks: dict[str, SimTruck] = {}
        self.qcs = {
            c.id: QuayCrane(
                c.id,
                scenario.cranes.qc_cycle_s,
                scenario.cranes.qc_cycle_sigma,
                scenario.cranes.handover_s,
            )
            for c in self.yard.cranes_of(YardCraneKind.QC)
        }
        blocks: dict[str, list[Rtg]] = {}
        for c in self.yard.cranes_of(YardCraneKind.RTG):
            blocks.setdefault(c.area, []).append(
                Rtg(c.id, c.area, 1.0 + 10 * len(blocks.get(c.area, [])))
            )
        self.blocks = {
            b: BlockCranes(
                b,
                rtgs,
                scenario.cranes.rtg_lift_s,
                scenario.cranes.rtg_lift_sigma,
                scenario.cranes.rtg_gantry_mps,
            )
            for b, rtgs in blocks.items()
        }
        self.tp_bay = {
            sp.id: sp.bay or 1
            for sp in self.yard.service_points_of(ServicePointKind.TRANSFER_POINT)
        }
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.now = 0.0
        self._crane_header = 0
        self.deadlocks: dict[frozenset[str], float] = {}
        """Each circle of trucks waiting on each other, and when it was first seen."""

    # -- the clock -------------------------------------------------------------------

    def at(self, t: float, action: Callable[[], None]) -> None:
        """Run `action` at simulated time t."""
        heapq.heappush(self._queue, (t, next(self._seq), action))

    def run(self) -> ShiftResult:
        """Run the shift to its end (or to Ctrl-C: a partial result)."""
        wall0 = time.perf_counter()
        interrupted = False
        self._setup()
        last_progress = -math.inf
        try:
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
            if self.speed:  # a paced shift lasts its length, quiet end included
                rest = self.horizon / self.speed - (time.perf_counter() - wall0)
                if rest > 0:
                    time.sleep(rest)
        except KeyboardInterrupt:
            interrupted = True
        end = min(self.now, self.horizon) if interrupted else self.horizon
        self._settle(end)
        if self.on_progress:
            self.on_progress(end, self.horizon)
        self.journal.close()
        return ShiftResult(
            self.journal.path,
            end,
            time.perf_counter() - wall0,
            self.executed.plans(end),
            interrupted,
            list(self.dispatcher.problems),
            [(t, sorted(c)) for c, t in self.deadlocks.items()],
        )

    def _setup(self) -> None:
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
        gangs = sorted(self.qcs)
        for k in range(sc.fleet.trucks):
            tid = truck_id(k)
            share = self.rng.uniform(sc.fleet.fuel_start_min, sc.fleet.fuel_start_max)
            truck = SimTruck(tid, sc.fleet.tank_l, sc.fleet.tank_l * share)
            self.trucks[tid] = truck
            self.dispatcher.add_truck(
                tid,
                spots[k],
                0.0,
                driver="AUTONOMOUS" if k < autonomous else "HUMAN",
                tank_l=sc.fleet.tank_l,
                litres=truck.litres,
                gang=gangs[k % len(gangs)],
            )
            node = self.yard.node_of(spots[k])
            stay = Plan.of(tid, [_stay(node)])
            self.executed.follow(tid, stay, 0.0)
            truck.track = Track.of(stay)
        work = shift_work(sc, self.yard)
        now_jobs = [a.job for a in work if a.at_s <= 0.0]
        for p in self.dispatcher.add_jobs(now_jobs, 0.0):
            self.dispatcher.problems.append(p)
        for a in work:
            if a.at_s > 0.0:
                self.at(a.at_s, partial(self._gate_job, a.job))
        busy = {c for v in sc.vessels for c in v.cranes}
        for qc in self.qcs.values():
            if qc.id in busy:
                ready = qc.next_ready(self.rng, 0.0)
                self.at(ready, partial(self._crane, qc.id, CraneKind.QC, CraneEventKind.READY))
        for f in sc.faults:
            self.at(f.at_s, partial(self._fault_start, f.kind, f.truck, f.lane, f.for_s))
        self.at(0.0, lambda: self._apply(self.dispatcher.tick(self.now)))
        self.at(TICK_S, self._tick)
        if self.on_fix:
            self.at(0.0, self._fixes)

    def _gate_job(self, job: Job) -> None:
        for p in self.dispatcher.add_jobs([job], self.now):
            self.dispatcher.problems.append(p)
        self._apply(self.dispatcher.tick(self.now))

    def _tick(self) -> None:
        self._apply(self.dispatcher.tick(self.now))
        self._look_for_deadlocks()
        self.at(self.now + TICK_S, self._tick)

    def _look_for_deadlocks(self) -> None:
        """Trucks waiting on each other in a circle (none may move on by itself)."""
        edges = self.dispatcher.waits_for()
        if not edges:
            return
        graph = nx.DiGraph(edges)
        for cycle in nx.simple_cycles(graph):
            key = frozenset(cycle)
            if key not in self.deadlocks:
                self.deadlocks[key] = self.now

    # -- trucks ----------------------------------------------------------------------

    def _apply(self, dispatches: list[Dispatch]) -> None:
        for d in dispatches:
            self._follow(d)

    def _follow(self, d: Dispatch) -> None:
        truck = self.trucks[d.truck]
        self._burn(truck, self.now)
        truck.odo_base_m = truck.odometer(self.now)
        truck.track = Track.of(d.plan)
        truck.odo_base_m -= truck.track.driven(self.now)
        truck.version += 1
        nodes = getattr(d.order, "nodes", None)
        truck.order_actions = list(nodes[-1].actions) if nodes else []
        self.executed.follow(d.truck, d.plan, self.now)
        v = truck.version
        dep = truck.track.departure
        if math.isfinite(dep) and dep >= self.now:
            self.at(dep, lambda: self._depart(truck, v))
        if len(truck.track.steps) > 1 or truck.order_actions:
            self.at(max(self.now, truck.track.arrival), lambda: self._arrive(truck, v))

    def _burn(self, truck: SimTruck, t: float) -> None:
        """Fuel burnt since the last account: idling plus distance (more when laden)."""
        fs = self.scenario.fleet
        odo = truck.odometer(t)
        km = max(0.0, odo - truck.fuel_odo_m) / 1000.0
        hours = max(0.0, t - truck.fuel_t) / 3600.0
        per_km = fs.litres_per_km * (fs.laden_factor if truck.laden else 1.0)
        truck.litres = max(0.0, truck.litres - fs.idle_lph * hours - per_km * km)
        truck.fuel_t, truck.fuel_odo_m = t, odo

    def _state(
        self,
        truck: SimTruck,
        *,
        driving: bool,
        last_node: str = "",
        errors: list[Error] | None = None,
    ) -> None:
        self._burn(truck, self.now)
        x = y = theta = 0.0
        if truck.track is not None:
            x, y, theta, _ = truck.track.pose(self.yard, self.now)
        elif truck.frozen is not None:
            x, y, theta = truck.frozen
        truck.header += 1
        theta = (theta + math.pi) % (2 * math.pi) - math.pi
        state = make_state(
            self.scenario.name[:32] or "YardFleet",
            truck.id,
            starter_battery(25.2 if not truck.broken else 23.0),
            header_id=truck.header,
            timestamp=self.dispatcher.at(self.now),
            last_node_id=last_node,
            driving=driving,
            position=AgvPosition(
                x=x, y=y, theta=theta, map_id=self.yard.id, position_initialized=not truck.gnss_lost
            ),
            errors=errors or [],
            action_states=truck.finished_actions,
            telemetry=TruckTelemetry(
                fuel=Fuel(
                    litres=truck.litres,
                    tank_litres=truck.tank_l,
                    level_percent=100.0 * truck.litres / truck.tank_l,
                ),
                travel=Travel(odometer=truck.odometer(self.now) / 1000.0),
            ),
        )
        truck.finished_actions = []
        self._apply(self.dispatcher.on_state(state, self.now))

    def _depart(self, truck: SimTruck, version: int) -> None:
        if truck.version != version or truck.broken:
            return
        self._state(truck, driving=True)
        if truck.pending_break is not None:
            self._break(truck, truck.pending_break)

    def _arrive(self, truck: SimTruck, version: int) -> None:
        if truck.version != version or truck.broken or truck.track is None:
            return
        goal = truck.track.steps[-1].resource
        self._state(truck, driving=False, last_node=goal)
        if truck.version != version:
            return  # the dispatcher already sent it on (e.g. moved up from a queue)
        for action in truck.order_actions:
            params = {p.key: p.value for p in action.action_parameters or []}
            job = action.action_id.split(":")[0]
            if action.action_type in ("pick", "drop"):
                self._serve(
                    truck, str(params.get("stationType")), str(params.get("stationName")), job
                )
            elif action.action_type == "refuel":
                fill = (truck.tank_l - truck.litres) / self.scenario.fleet.refuel_lpm * 60.0
                self.at(self.now + fill, partial(self._filled, truck, action.action_id))

    def _filled(self, truck: SimTruck, action_id: str) -> None:
        self._burn(truck, self.now)
        truck.litres = truck.tank_l
        truck.fuel_t = self.now
        truck.finished_actions = [
            ActionState(
                action_id=action_id, action_type="refuel", action_status=ActionStatus.FINISHED
            )
        ]
        self._state(truck, driving=False)

    # -- cranes ----------------------------------------------------------------------

    def _serve(self, truck: SimTruck, station_type: str, station: str, job: str) -> None:
        if station_type == "QC":
            qc = self.qcs[station]
            done = qc.serve(truck.id, self.now)
            self.at(done, lambda: self._qc_done(qc, truck, job))
        elif station_type == "RTG":
            spot = truck.track.steps[-1].resource if truck.track else ""
            sp = self.yard.service_point_by_node.get(spot)
            bay = self.tp_bay.get(sp.id, 1) if sp else 1
            block = self.blocks.get(station)
            if block is None:
                self.at(
                    self.now + GATE_HANDLING_S,
                    lambda: self._done(station, CraneKind.RTG, truck, job),
                )
                return
            block.arrive(truck.id + "|" + job, bay, self.now)
            self._start_rtgs(block)
        else:  # a gate lane's handling equipment reports like a yard crane
            self.at(
                self.now + GATE_HANDLING_S, lambda: self._done(station, CraneKind.RTG, truck, job)
            )

    def _start_rtgs(self, block: BlockCranes) -> None:
        for rtg, who, done in block.start(self.rng, self.now):
            tid, job = who.split("|")
            self.at(done, partial(self._rtg_done, block, rtg, tid, job))

    def _rtg_done(self, block: BlockCranes, rtg: str, truck: str, job: str) -> None:
        self._done(rtg, CraneKind.RTG, self.trucks[truck], job)
        self._start_rtgs(block)

    def _qc_done(self, qc: QuayCrane, truck: SimTruck, job: str) -> None:
        qc.moves += 1
        qc.serving = None
        self._done(qc.id, CraneKind.QC, truck, job)
        ready = qc.next_ready(self.rng, self.now)
        self.at(ready, lambda: self._crane(qc.id, CraneKind.QC, CraneEventKind.READY))

    def _done(self, crane: str, kind: CraneKind, truck: SimTruck, job: str) -> None:
        self._burn(truck, self.now)
        truck.laden = not truck.laden
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
            timestamp=self.dispatcher.at(self.now),
        )
        self._apply(self.dispatcher.on_crane_event(msg, self.now))

    # -- faults ----------------------------------------------------------------------

    def _fault_start(
        self, kind: str, truck_id_: str | None, lane: str | None, for_s: float
    ) -> None:
        if kind == "breakdown" and truck_id_:
            truck = self.trucks[truck_id_]
            if truck.track is not None and truck.track.moving(self.now):
                self._break(truck, for_s)
            else:
                truck.pending_break = for_s  # it breaks down when it next drives
        elif kind == "gnss_loss" and truck_id_:
            self.trucks[truck_id_].gnss_lost = True
            self.at(self.now + for_s, lambda: setattr(self.trucks[truck_id_], "gnss_lost", False))
        elif kind == "lane_closure" and lane:
            self._apply(self.dispatcher.close_lane(lane, self.now, "scenario: lane closed"))
            self.at(
                self.now + for_s,
                lambda: self._apply(
                    self.dispatcher.open_lane(lane, self.now, "scenario: reopened")
                ),
            )

    def _break(self, truck: SimTruck, for_s: float) -> None:
        truck.pending_break = None
        self._burn(truck, self.now)
        truck.odo_base_m = truck.odometer(self.now)
        self.executed.freeze(truck.id, self.now)
        truck.version += 1
        breakdown = Error(
            error_type="breakdown",
            error_level=ErrorLevel.FATAL,
            error_description="engine stopped; truck stands where it is",
        )
        self._state(truck, driving=True, errors=[breakdown])
        truck.broken = True
        if truck.track is not None:
            x, y, theta, _ = truck.track.pose(self.yard, self.now)
            truck.frozen = (x, y, theta)
        truck.track = None
        self.at(self.now + for_s, lambda: self._repaired(truck))

    def _repaired(self, truck: SimTruck) -> None:
        truck.broken = False
        self._state(truck, driving=False)

    # -- sampling --------------------------------------------------------------------

    def _fixes(self) -> None:
        assert self.on_fix is not None
        for truck in self.trucks.values():
            xy = self._xy(truck)
            if xy is not None:
                self.on_fix(truck.id, self.now, xy[0], xy[1], not truck.gnss_lost)
        self.at(self.now + self.fix_every_s, self._fixes)

    def _xy(self, truck: SimTruck) -> tuple[float, float] | None:
        if truck.track is not None:
            x, y, _, _ = truck.track.pose(self.yard, self.now)
            return x, y
        return None if truck.frozen is None else truck.frozen[:2]

    def _settle(self, end: float) -> None:
        for truck in self.trucks.values():
            self._burn(truck, end)


def _stay(node: str) -> Step:
    """Standing at a node from the start, until told otherwise."""
    return Step(node, ResourceKind.NODE, 0.0, math.inf)

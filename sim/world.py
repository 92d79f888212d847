"""A simulated shift: trucks, cranes, gate and faults around the real dispatcher.

A discrete-event clock drives everything. Simulated trucks do what a real onboard agent
does — follow the orders (and plans) the dispatcher sends, and tell it their VDA 5050
state on every change (departing, arriving, breaking down, refuelled), with fuel and
odometer in the `yardfleet` extension; cranes send `CraneEvent`s (READY, MOVEDONE). The
dispatcher journals everything, exactly as in a live yard. `speed` None runs as fast as
possible; a number paces the same events at that many times wall-clock time. With
`on_fix`, every truck's GNSS receiver reports `fix_hz` times a second where its antenna
is: the vehicle class's `antenna_m` behind the front, along the way it drove.
"""

from __future__ import annotations

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
from fleet.jobs import Job, JobState
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
    Velocity,
    make_crane_event,
    make_state,
    starter_battery,
)
from fleet.strategies import strategy as make_strategy
from maps import ServicePointKind, Yard, generate_terminal
from routing.plan import Plan
from sim.clock import Clock
from sim.cranes import BlockCranes, QuayCrane, Waiting, YardCranes
from sim.drive import Drive
from sim.scenario import Scenario, truck_id
from sim.traffic import Arrival, shift_work

TICK_S = 60.0
"""The dispatcher looks again at least this often (waiting trucks, gate boxes)."""
GATE_HANDLING_S = 90.0
SPOT_CIRCLE_S = 600.0
"""Trucks waiting for each other's spots this long count as a deadlock."""
DEFAULT_FIX_HZ = 2.0
MAX_FIX_HZ = 20.0
"""Simulated GNSS receivers report at most this often (fixes per second and truck)."""


@dataclass(frozen=True, slots=True)
class AntennaFix:
    """A simulated GNSS fix: where the truck's antenna is, which way and how fast it moves."""

    truck: str
    t_s: float
    """Simulated seconds since the shift's start."""
    x_m: float
    y_m: float
    """The antenna in the yard's local frame (metres east and north of the origin)."""
    heading_deg: float
    """Compass heading of travel at the antenna: 0 = north, 90 = east."""
    speed_mps: float
    ok: bool
    """False while the receiver has lost its fix (a `gnss_loss` fault)."""


@dataclass
class SimTruck:
    """A simulated truck: its order's last actions, its fuel, its faults (its wheels are
    in `sim.drive`)."""

    id: str
    tank_l: float
    litres: float
    goal: str = ""
    order_actions: list[Any] = field(default_factory=list)
    version: int = 0
    fuel_t: float = 0.0
    fuel_odo_m: float = 0.0
    laden: bool = False
    broken: bool = False
    gnss_lost: bool = False
    header: int = 0
    finished_actions: list[ActionState] = field(default_factory=list)
    pending_break: float | None = None


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
    drive_problems: list[str] = field(default_factory=list)
    """Plans that did not start where the truck was, stops harder than the brakes allow."""
    held_up_s: float = 0.0
    """Seconds trucks stood on their way waiting for the way ahead (or their plan's time)."""


class Shift:
    """One simulated shift of a scenario."""

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
        self.journal = Journal(journal_path)
        self.dispatcher = Dispatcher(
            self.yard,
            self.journal,
            make_strategy(scenario.strategy),
            scenario.start_time,
            # Simulated trucks speak only on change and drive plans, not bases (yet).
            DispatcherConfig(lost_after_s=None, keep_bases=False),
        )
        self.vehicle = self.dispatcher.config.vehicle
        self.drive = Drive(
            self.yard,
            self.dispatcher.planner.cells,
            self.dispatcher.config.vehicle,
            self.at,
            self,
        )
        self.trucks: dict[str, SimTruck] = {}
        cranes = YardCranes.of(self.yard, scenario.cranes)
        self.qcs, self.blocks, self.tp_bay = cranes.qcs, cranes.blocks, cranes.tp_bay
        self.clock = Clock(self.horizon, speed, on_progress)
        self._crane_header = 0
        self.deadlocks: dict[frozenset[str], float] = {}
        """Each circle of trucks waiting on each other, and when it was first seen."""
        self._spot_circles: dict[frozenset[str], float] = {}

    def moves(self) -> int:
        """Jobs done so far."""
        return sum(1 for job in self.dispatcher.book.jobs.values() if job.state is JobState.DONE)

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
            self.clock.run(wall0)
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
            self.drive.executed(end),
            interrupted,
            [str(p) for p in self.dispatcher.problems],
            [(t, sorted(c)) for c, t in self.deadlocks.items()],
            self.drive.problems.misaligned + self.drive.problems.hard_brakes,
            self.drive.held_up_s,
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
            self.drive.place(tid, self.yard.node_of(spots[k]), 0.0)
        work = self.work if self.work is not None else shift_work(sc, self.yard)
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
        """Trucks waiting on each other in a circle that nothing opens: on the yard, any
        circle in the dependency graph (there must never be one); for spots at the
        dispatcher, a circle still there `SPOT_CIRCLE_S` after it was first seen (one
        that dissolves by itself, a crane finishing, is no deadlock; the dispatcher opens
        the others every tick, unless the way out is blocked, by a broken-down truck, say,
        until that clears)."""
        cycles = [frozenset(c) for c in self.drive.deadlocks(self.now)]
        edges = self.dispatcher.waits_for()
        spot_circles = (
            {frozenset(c) for c in nx.simple_cycles(nx.DiGraph(edges))} if edges else set()
        )
        seen = {c: self._spot_circles.get(c, self.now) for c in spot_circles}
        self._spot_circles = seen
        for key in cycles:
            self.deadlocks.setdefault(key, self.now)
        for key, first in seen.items():
            if self.now - first >= SPOT_CIRCLE_S:
                self.deadlocks.setdefault(key, first)

    # -- trucks ----------------------------------------------------------------------

    def _apply(self, dispatches: list[Dispatch]) -> None:
        for d in dispatches:
            if d.new_plan:  # the simulated wheels drive plans (extensions and pauses aside)
                self._follow(d)

    def _follow(self, d: Dispatch) -> None:
        truck = self.trucks[d.truck]
        self._burn(truck, self.now)
        truck.version += 1
        nodes = getattr(d.order, "nodes", None)
        truck.order_actions = list(nodes[-1].actions) if nodes else []
        truck.goal = d.plan.nodes[-1] if d.plan.nodes else ""
        self.drive.follow(d.truck, d.plan, self.now)
        if not self.drive.en_route(d.truck) and truck.order_actions:
            v = truck.version
            self.at(self.now, lambda: self._work(truck, v))  # work where it stands

    # What the wheels tell (sim.drive.DriveEvents): each becomes a state message.

    def departed(self, truck_id: str) -> None:
        """Moved off: driving."""
        truck = self.trucks[truck_id]
        if truck.broken:
            return
        self._state(truck, driving=True)
        if truck.pending_break is not None:
            self._break(truck, truck.pending_break)

    def stopped(self, truck_id: str) -> None:
        """Came to a stand on the way: waiting for the way ahead (a broken-down truck has
        told its breakdown already)."""
        truck = self.trucks[truck_id]
        if not truck.broken:
            self._state(truck, driving=False)

    def arrived(self, truck_id: str) -> None:
        """At the goal: the last node is the goal, not driving; then the order's actions."""
        truck = self.trucks[truck_id]
        if truck.broken:
            return
        v = truck.version
        self._state(truck, driving=False)
        if truck.version == v:  # not already sent on (e.g. moved up from a queue)
            self._work(truck, v)

    def _burn(self, truck: SimTruck, t: float) -> None:
        """Fuel burnt since the last account: idling plus distance (more when laden)."""
        fs = self.scenario.fleet
        odo = self.drive.odometer(truck.id, t)
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
        errors: list[Error] | None = None,
    ) -> None:
        self._burn(truck, self.now)
        x, y, theta, speed = self.drive.pose(truck.id, self.now)
        last_node, metres = self.drive.position(truck.id, self.now)
        truck.header += 1
        theta = (theta + math.pi) % (2 * math.pi) - math.pi
        state = make_state(
            self.scenario.name[:32] or "YardFleet",
            truck.id,
            starter_battery(25.2 if not truck.broken else 23.0),
            header_id=truck.header,
            timestamp=self.dispatcher.at(self.now),
            last_node_id=last_node,
            distance_since_last_node=metres,
            driving=driving,
            position=AgvPosition(
                x=x, y=y, theta=theta, map_id=self.yard.id, position_initialized=not truck.gnss_lost
            ),
            velocity=Velocity(vx=speed, vy=0.0, omega=0.0),
            errors=errors or [],
            action_states=truck.finished_actions,
            telemetry=TruckTelemetry(
                fuel=Fuel(
                    litres=truck.litres,
                    tank_litres=truck.tank_l,
                    level_percent=100.0 * truck.litres / truck.tank_l,
                ),
                travel=Travel(odometer=round(self.drive.odometer(truck.id, self.now), 1)),
            ),
        )
        truck.finished_actions = []
        self._apply(self.dispatcher.on_state(state, self.now))

    def _report_positions(self) -> None:
        """Every truck on its way tells where it is now (before the dispatcher repairs
        plans: in a live yard states stream every second; here they come when they count)."""
        for truck in self.trucks.values():
            if not truck.broken and self.drive.en_route(truck.id):
                self._state(truck, driving=self.drive.moving(truck.id, self.now))

    def _work(self, truck: SimTruck, version: int) -> None:
        """The order's actions at the goal: a crane move, or filling up."""
        if truck.version != version or truck.broken:
            return
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
            sp = self.yard.service_point_by_node.get(truck.goal)
            bay = self.tp_bay.get(sp.id, 1) if sp else 1
            block = self.blocks.get(station)
            if block is None:
                self.at(
                    self.now + GATE_HANDLING_S,
                    lambda: self._done(station, CraneKind.RTG, truck, job),
                )
                return
            block.arrive(Waiting(truck.id, job), bay, self.now)
            self._start_rtgs(block)
        else:  # a gate lane's handling equipment reports like a yard crane
            self.at(
                self.now + GATE_HANDLING_S, lambda: self._done(station, CraneKind.RTG, truck, job)
            )

    def _start_rtgs(self, block: BlockCranes) -> None:
        for rtg, who, done in block.start(self.rng, self.now):
            self.at(done, partial(self._rtg_done, block, rtg, who.truck, who.job))

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
            if self.drive.moving(truck.id, self.now):
                self._break(truck, for_s)
            else:
                truck.pending_break = for_s  # it breaks down when it next drives
        elif kind == "gnss_loss" and truck_id_:
            self.trucks[truck_id_].gnss_lost = True
            self.at(self.now + for_s, lambda: setattr(self.trucks[truck_id_], "gnss_lost", False))
        elif kind == "lane_closure" and lane:
            self._report_positions()
            self._apply(self.dispatcher.close_lane(lane, self.now, "scenario: lane closed"))
            self.at(
                self.now + for_s,
                lambda: self._apply(
                    self.dispatcher.open_lane(lane, self.now, "scenario: reopened")
                ),
            )

    def _break(self, truck: SimTruck, for_s: float) -> None:
        """The engine stops: the truck rolls to a stand, and says so at once — with its
        speed, so the dispatcher stands it where it will stop, not where it is."""
        truck.pending_break = None
        truck.broken = True
        truck.version += 1
        self.drive.halt(truck.id, self.now)
        breakdown = Error(
            error_type="breakdown",
            error_level=ErrorLevel.FATAL,
            error_description="engine stopped; truck stands where it is",
        )
        self._report_positions()
        self._state(truck, driving=self.drive.moving(truck.id, self.now), errors=[breakdown])
        self.at(self.now + for_s, lambda: self._repaired(truck))

    def _repaired(self, truck: SimTruck) -> None:
        self._report_positions()
        truck.broken = False
        self.drive.repaired(truck.id, self.now)
        self._state(truck, driving=False)

    # -- sampling --------------------------------------------------------------------

    def _fixes(self) -> None:
        """Every truck's receiver reports where its antenna is (at k / fix_hz seconds)."""
        assert self.on_fix is not None
        antenna_m = self.drive.vehicle.antenna_m
        for truck in self.trucks.values():
            x, y, heading, speed = self.drive.antenna(truck.id, self.now, antenna_m)
            self.on_fix(AntennaFix(truck.id, self.now, x, y, heading, speed, not truck.gnss_lost))
        self._fix_count += 1
        self.at(self._fix_count / self.fix_hz, self._fixes)

    def _settle(self, end: float) -> None:
        for truck in self.trucks.values():
            self._burn(truck, end)

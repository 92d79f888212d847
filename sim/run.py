"""Run a shift end to end: the world, optional bag recording, safety checks, report, pictures.

`report.json` holds the dispatcher's KPI keys (computed from the shift's journal by
`fleet.kpi`, as for a live yard) plus what the simulator checks on what the trucks
actually did: `conflicts` (routing's independent checker over the executed
trajectories), `deadlocks` (circles of trucks waiting on each other) and
`min_separation_m`; `min_clearance_m` and `contacts` from the body check in metres
(`routing.bodies`: 16 × 2.5 m rectangles along what the trucks drove, no planner
resources); and the run's `simulated_seconds`, `wall_seconds`, `seed`,
`strategy`.

With `record`, the shift is written as a ROS 2 bag: each truck's vehicle class once at
the start (`/yardfleet/<truck>/class`) and its GNSS fixes at `fix_hz` — where its
antenna is, `antenna_m` behind the front — each with a TruckState; after the shift, one
JobEvent per job change of its journal (`sim.bags.journal_topics`).

`on_progress(t, horizon)` hears the simulated clock every simulated minute; `on_status`
the same as a `ShiftProgress`, which also counts the moves so far (when asked: counting
takes a walk over the jobs). Ctrl-C during the shift stops it: the report covers the
shift so far (`interrupted`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.kpi import from_journal
from routing.bodies import check_bodies
from routing.checker import check_plans
from sim.agent_shift import AgentShift
from sim.executed import min_separation_m
from sim.scenario import Scenario, truck_id
from sim.traffic import Arrival
from sim.world import DEFAULT_FIX_HZ, AntennaFix, Shift, ShiftResult


@dataclass(frozen=True)
class ShiftProgress:
    """Where a running shift is: simulated seconds, of how many, and its moves so far."""

    t_s: float
    horizon_s: float
    count_moves: Callable[[], int]

    @property
    def moves(self) -> int:
        """Jobs done so far (the report's `moves`, as the dispatcher knows them now)."""
        return self.count_moves()


def _moves(shift: Shift | AgentShift) -> int:
    return shift.moves()


@dataclass
class ShiftReport:
    """The report's data, the shift it came from, and the files written."""

    data: dict[str, Any]
    result: ShiftResult
    files: list[Path]


def run_shift(
    scenario: Scenario,
    out: Path,
    *,
    speed: float | None = None,
    record: Path | None = None,
    fix_hz: float = DEFAULT_FIX_HZ,
    pictures: bool = True,
    on_progress: Callable[[float, float], None] | None = None,
    on_status: Callable[[ShiftProgress], None] | None = None,
    work: list[Arrival] | None = None,
    agents: bool = False,
) -> ShiftReport:
    """Simulate the scenario, check safety, compute the KPIs, write report and pictures
    (and, with `record`, the bag: classes, and fixes at the antenna `fix_hz` times a second).
    `work` is the shift's jobs (a TOS work queue: `sim.queue_work`); None generates the
    scenario's. `agents`: the trucks are onboard agents on the wire (`sim.agent_shift`)."""
    out.mkdir(parents=True, exist_ok=True)
    journal = out / "journal.db"
    with ExitStack() as stack:
        on_fix: Callable[[AntennaFix], None] | None = None
        shift: Shift | AgentShift

        def tick(t: float, horizon: float) -> None:
            if on_progress is not None:
                on_progress(t, horizon)
            if on_status is not None:
                on_status(ShiftProgress(t, horizon, lambda: _moves(shift)))

        trucks = [truck_id(k) for k in range(scenario.fleet.trucks)]
        if record is not None:
            from sim.bags.recorder import BagRecorder

            yard_id = scenario.spec().id
            recorder = stack.enter_context(
                BagRecorder(record, trucks=trucks, fix_rate_hz=fix_hz, yard_id=yard_id)
            )
            t0 = scenario.start_time.timestamp()

            def on_fix(fix: AntennaFix) -> None:
                lon, lat = shift.yard.frame.point_to_wgs84(fix.x_m, fix.y_m)
                status = 0 if fix.ok else -1
                if recorder.fix(fix.truck, t0 + fix.t_s, lat, lon, status=status):
                    # With the fix, its heading and speed: enough to redo the body check
                    # from the bag alone (TruckState beside NavSatFix).
                    recorder.truck_state(
                        fix.truck,
                        t0 + fix.t_s,
                        activity="moving" if fix.speed_mps > 0.05 else "standing",
                        x_m=fix.x_m,
                        y_m=fix.y_m,
                        lat=lat,
                        lon=lon,
                        speed_mps=fix.speed_mps,
                        heading_deg=fix.heading_deg,
                    )

        shift = (AgentShift if agents else Shift)(
            scenario,
            journal,
            speed=speed,
            on_progress=tick if on_progress is not None or on_status is not None else None,
            on_fix=on_fix,
            fix_hz=fix_hz,
            work=work,
        )
        if record is None:
            result = shift.run()
        else:
            from sim.bags.journal_topics import record_job_events

            vehicle = shift.vehicle
            for truck in trucks:
                recorder.truck_class(
                    truck,
                    t0,
                    class_name=vehicle.name,
                    length_m=vehicle.length_m,
                    width_m=vehicle.width_m,
                    antenna_m=vehicle.antenna_m,
                )
            result = shift.run()
            record_job_events(recorder, journal)  # the bag is closed after: on leaving `with`
    vehicle = shift.vehicle
    found = check_plans(
        result.executed, shift.yard, length_m=vehicle.length_m, gap_m=vehicle.safety_gap_m
    )
    closest = min_separation_m(result.executed, result.simulated_seconds, yard=shift.yard)
    bodies = check_bodies(
        result.executed,
        shift.yard,
        length_m=vehicle.length_m,
        width_m=vehicle.width_m,
        until=result.simulated_seconds,
    )
    kpis = from_journal(journal).as_dict()
    data: dict[str, Any] = {
        **kpis,
        "conflicts": len(found),
        "conflict_examples": [str(c) for c in found[:10]],
        "deadlocks": len(result.deadlocks),
        "spot_circles_opened": shift.dispatcher.circles_opened,
        "deadlock_examples": [{"t_s": t, "trucks": c} for t, c in result.deadlocks[:10]],
        "min_separation_m": None if math.isinf(closest) else round(closest, 3),
        "min_clearance_m": None
        if bodies.min_clearance_m is None
        else round(bodies.min_clearance_m, 3),
        "closest_bodies": None if bodies.closest is None else str(bodies.closest),
        "contacts": len(bodies.contacts),
        "contact_examples": [str(c) for c in bodies.contacts[:10]],
        "held_up_minutes": round(result.held_up_s / 60.0, 1),
        "drive_problems": len(result.drive_problems),
        "drive_problem_examples": result.drive_problems[:10],
        "simulated_seconds": result.simulated_seconds,
        "wall_seconds": round(result.wall_seconds, 3),
        "speedup": round(result.simulated_seconds / max(result.wall_seconds, 1e-9), 1),
        "seed": scenario.seed,
        "strategy": scenario.strategy,
        "trucks": scenario.fleet.trucks,
        "scenario": scenario.name,
        "interrupted": result.interrupted,
        "problems": result.problems[:50],
        "problem_count": len(result.problems),
    }
    files = [out / "report.json"]
    (out / "report.json").write_text(json.dumps(data, indent=2, default=str))
    if pictures:
        from sim.pictures import crane_rate, traffic_map, truck_states

        hours = result.simulated_seconds / 3600.0
        files.append(crane_rate(journal, scenario.start_time, hours, out / "crane_rate.png"))
        files.append(truck_states(journal, scenario.start_time, hours, out / "truck_states.png"))
        files.append(
            traffic_map(
                shift.yard,
                result.executed,
                out / "traffic.png",
                f"{scenario.name}: traffic over {hours:.1f} h, {scenario.strategy}, "
                f"{scenario.fleet.trucks} trucks",
            )
        )
    return ShiftReport(data, result, files)

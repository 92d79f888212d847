"""Scenarios: the yard, the vessel calls and gate traffic, the fleet, the strategy, the faults.

A scenario is a TOML or JSON file (the same keys; see the README and `default.toml`
next to this module, the embedded default). Every problem in a file is reported with
its field path (`vessels[1].cranes`, `fleet.trucks`), never a traceback.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from maps import TERMINALS, TerminalSpec

DEFAULT = "default.toml"


class ScenarioError(ValueError):
    """A scenario that cannot run: every problem, each naming its field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class Vessel:
    """A vessel call at a berth: boxes to discharge and to load, per crane."""

    call: str
    berth: str
    cranes: tuple[str, ...]
    dsch: int = 150
    load: int = 150
    hatch: int = 20
    """Moves per hatch: the crane alternates discharging and loading hatch by hatch."""


@dataclass(frozen=True)
class Fault:
    """A breakdown (truck), a GNSS outage (truck) or a lane closure (lane), from `at_s` on."""

    kind: str
    at_s: float
    for_s: float
    truck: str | None = None
    lane: str | None = None


@dataclass(frozen=True)
class FleetSpec:
    """The trucks: how many, who drives, tanks and fuel burn."""

    trucks: int = 32
    autonomous_share: float = 0.25
    tank_l: float = 250.0
    fuel_start_min: float = 0.15
    fuel_start_max: float = 0.9
    idle_lph: float = 2.5
    litres_per_km: float = 0.40
    laden_factor: float = 1.25
    refuel_lpm: float = 40.0


@dataclass(frozen=True)
class CraneSpec:
    """Quay crane and RTG timing."""

    qc_cycle_s: float = 120.0
    qc_cycle_sigma: float = 0.25
    handover_s: float = 30.0
    rtg_lift_s: float = 75.0
    rtg_lift_sigma: float = 0.3
    rtg_gantry_mps: float = 0.83


@dataclass(frozen=True)
class GateSpec:
    """External boxes through the gate: receivals and deliveries per hour."""

    recv_per_hour: float = 6.0
    dlvr_per_hour: float = 6.0


@dataclass(frozen=True)
class Scenario:
    """Everything a simulated shift needs."""

    name: str = "haiphong-default"
    terminal: str = "haiphong"
    terminal_spec: dict[str, Any] = field(default_factory=dict)
    """Overrides of the terminal's generator parameters (e.g. more parking spots)."""
    seed: int = 1
    hours: float = 8.0
    strategy: str = "pooled-optimal"
    start: str = "2026-11-29T06:00:00+07:00"
    vessels: tuple[Vessel, ...] = ()
    fleet: FleetSpec = field(default_factory=FleetSpec)
    cranes: CraneSpec = field(default_factory=CraneSpec)
    gate: GateSpec = field(default_factory=GateSpec)
    faults: tuple[Fault, ...] = ()

    @property
    def start_time(self) -> datetime:
        """The shift's start."""
        return datetime.fromisoformat(self.start)

    def spec(self) -> TerminalSpec:
        """The terminal's generator parameters, with this scenario's overrides."""
        return replace(TERMINALS[self.terminal], **self.terminal_spec)

    def with_(self, **changes: Any) -> Scenario:
        """A copy with some fields changed (seed, strategy, trucks, hours)."""
        trucks = changes.pop("trucks", None)
        out = replace(self, **changes)
        if trucks is not None:
            out = replace(out, fleet=replace(out.fleet, trucks=trucks))
        return out


def _section(
    cls: type[Any], data: Any, where: str, problems: list[str], *, required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The keys of one table, type-checked against the dataclass's defaults."""
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a table")
        return {}
    known = {f.name: f for f in fields(cls)}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            problems.append(f"{where}.{key}: unknown field (known: {', '.join(known)})")
            continue
        kind = str(known[key].type).replace(" | None", "")
        if kind == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                problems.append(f"{where}.{key}: expected a number (a whole one), got {value!r}")
                continue
            if value < 0:
                problems.append(f"{where}.{key}: must not be negative (got {value})")
                continue
            out[key] = value
        elif kind == "float":
            if not isinstance(value, int | float) or isinstance(value, bool):
                problems.append(f"{where}.{key}: expected a number, got {value!r}")
                continue
            if value < 0 or math.isnan(value):
                problems.append(f"{where}.{key}: must not be negative (got {value})")
                continue
            out[key] = float(value)
        elif kind == "str":
            if not isinstance(value, str):
                problems.append(f"{where}.{key}: expected a string, got {value!r}")
                continue
            out[key] = value
        else:
            out[key] = value
    for key in required:
        if key not in data:
            problems.append(f"{where}.{key}: required")
    return out


def parse(data: Any, source: str) -> Scenario:
    """A scenario from parsed TOML/JSON data; ScenarioError listing every problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ScenarioError(source, ["expected a table at the top level"])
    top = {
        k: v for k, v in data.items() if k not in ("vessels", "fleet", "cranes", "gate", "faults")
    }
    kw = _section(Scenario, top, "scenario", problems)
    if "terminal" in kw and kw["terminal"] not in TERMINALS:
        problems.append(
            f"scenario.terminal: no terminal {kw['terminal']!r} ({', '.join(TERMINALS)})"
        )
    if "terminal_spec" in kw:
        if not isinstance(kw["terminal_spec"], dict):
            problems.append("scenario.terminal_spec: expected a table")
        else:
            names = {f.name for f in fields(TerminalSpec)}
            for key in kw["terminal_spec"]:
                if key not in names:
                    problems.append(f"scenario.terminal_spec.{key}: unknown generator parameter")
    if "start" in kw:
        try:
            if datetime.fromisoformat(kw["start"]).tzinfo is None:
                problems.append("scenario.start: needs a UTC offset (e.g. +07:00)")
        except ValueError:
            problems.append(f"scenario.start: not an ISO 8601 time: {kw['start']!r}")
    for name, cls in (("fleet", FleetSpec), ("cranes", CraneSpec), ("gate", GateSpec)):
        if name in data:
            kw[name] = cls(**_section(cls, data[name], name, problems))
    vessels = []
    raw_vessels = data.get("vessels", [])
    if not isinstance(raw_vessels, list):
        problems.append("vessels: expected a list of tables")
        raw_vessels = []
    for i, v in enumerate(raw_vessels):
        where = f"vessels[{i}]"
        vk = _section(Vessel, v, where, problems, required=("call", "berth", "cranes"))
        cranes = vk.get("cranes")
        if "cranes" in vk and (
            not isinstance(cranes, list)
            or not cranes
            or not all(isinstance(c, str) for c in cranes)
        ):
            problems.append(f"{where}.cranes: expected a non-empty list of crane ids")
            continue
        if {"call", "berth", "cranes"} <= vk.keys():
            vk["cranes"] = tuple(vk["cranes"])
            vessels.append(Vessel(**vk))
    faults = []
    raw_faults = data.get("faults", [])
    if not isinstance(raw_faults, list):
        problems.append("faults: expected a list of tables")
        raw_faults = []
    for i, f in enumerate(raw_faults):
        where = f"faults[{i}]"
        fk = _section(Fault, f, where, problems, required=("kind", "at_s", "for_s"))
        kind = fk.get("kind")
        if kind not in (None, "breakdown", "gnss_loss", "lane_closure"):
            problems.append(f"{where}.kind: {kind!r} is not breakdown, gnss_loss or lane_closure")
            continue
        if kind in ("breakdown", "gnss_loss") and not fk.get("truck"):
            problems.append(f"{where}.truck: required for a {kind}")
            continue
        if kind == "lane_closure" and not fk.get("lane"):
            problems.append(f"{where}.lane: required for a lane closure")
            continue
        if {"kind", "at_s", "for_s"} <= fk.keys():
            faults.append(Fault(**fk))
    if problems:
        raise ScenarioError(source, problems)
    scenario = Scenario(**kw, vessels=tuple(vessels), faults=tuple(faults))
    _check_against_yard(scenario, source)
    return scenario


def _check_against_yard(scenario: Scenario, source: str) -> None:
    """Cranes, berths, trucks and lanes named by the scenario must exist."""
    from fleet.strategies import STRATEGIES
    from maps import CraneKind, ServicePointKind, generate_terminal

    problems = []
    try:
        spec = scenario.spec()
        yard = generate_terminal(spec)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(source, [f"scenario.terminal_spec: {exc}"]) from None
    qcs = {c.id for c in yard.cranes_of(CraneKind.QC)}
    berths = {a.id for a in yard.areas.values() if a.id.startswith("BERTH")}
    for i, v in enumerate(scenario.vessels):
        if v.berth not in berths:
            problems.append(
                f"vessels[{i}].berth: no berth {v.berth!r} ({', '.join(sorted(berths))})"
            )
        for c in v.cranes:
            if c not in qcs:
                problems.append(f"vessels[{i}].cranes: no quay crane {c!r}")
    trucks = {truck_id(k) for k in range(scenario.fleet.trucks)}
    for i, f in enumerate(scenario.faults):
        if f.truck and f.truck not in trucks:
            problems.append(f"faults[{i}].truck: no truck {f.truck!r} in a fleet of {len(trucks)}")
        if f.lane and f.lane not in yard.lanes:
            problems.append(f"faults[{i}].lane: no lane {f.lane!r} in the yard")
    if scenario.fleet.trucks < 1:
        problems.append("fleet.trucks: at least 1")
    spots = len(yard.service_points_of(ServicePointKind.PARKING)) + len(
        yard.service_points_of(ServicePointKind.TRANSFER_POINT)
    )
    if scenario.fleet.trucks > spots:
        problems.append(
            f"fleet.trucks: {scenario.fleet.trucks} trucks but the yard has {spots} spots to "
            "start from (parking and transfer points); raise terminal_spec.parking_spots"
        )
    if scenario.strategy not in STRATEGIES:
        problems.append(
            f"scenario.strategy: no strategy {scenario.strategy!r} ({', '.join(STRATEGIES)})"
        )
    for i, v in enumerate(scenario.vessels):
        if v.hatch < 1:
            problems.append(f"vessels[{i}].hatch: at least 1 move per hatch")
    if scenario.fleet.tank_l <= 0:
        problems.append("fleet.tank_l: must be positive")
    if scenario.fleet.refuel_lpm <= 0:
        problems.append("fleet.refuel_lpm: must be positive")
    if scenario.cranes.qc_cycle_s <= scenario.cranes.handover_s:
        problems.append("cranes.qc_cycle_s: must be longer than cranes.handover_s")
    if scenario.fleet.fuel_start_min > scenario.fleet.fuel_start_max:
        problems.append("fleet.fuel_start_min: must not exceed fleet.fuel_start_max")
    if not 0 <= scenario.fleet.autonomous_share <= 1:
        problems.append("fleet.autonomous_share: must be within 0..1")
    if scenario.hours <= 0:
        problems.append("scenario.hours: must be positive")
    if problems:
        raise ScenarioError(source, problems)


def truck_id(k: int) -> str:
    """The id of the k-th truck (TT01, TT02, …)."""
    return f"TT{k + 1:02d}"


def load(path: str | Path | None = None) -> Scenario:
    """A scenario file (TOML or JSON), or the embedded default when None."""
    if path is None:
        text = resources.files("sim").joinpath(DEFAULT).read_text()
        return parse(tomllib.loads(text), f"(embedded) {DEFAULT}")
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ScenarioError(str(p), [f"cannot read: {exc.strerror}"]) from None
    try:
        data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(
            str(p), [f"not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {exc}"]
        ) from None
    return parse(data, str(p))

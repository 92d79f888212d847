"""Scenarios: the yard, the vessel calls and gate traffic, the fleet, the strategy, the faults.

A scenario is a TOML or JSON file (the same keys; see docs/simulator.md and `default.toml`
next to this module, the embedded default). A file overrides the default: its tables
merge into the default's key by key, its arrays replace the default's whole (`faults =
[]`: none), a key or section it leaves out keeps the default's value, and its run is
named after the file (`rush.toml` → `rush`) unless it sets `name`. The file's shape is a
set of msgspec structs read by `maps.config_files`; every problem in a file is reported,
one line each, with its key as the file writes it (`[fleet] trucks`, `[[vessels]] #2
cranes`), never a traceback.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import msgspec
from msgspec import Meta

from maps import TERMINALS, TerminalSpec, Yard
from maps.config_files import ConfigFileError, convert, key_name, merge, read_document

DEFAULT = "default.toml"


class ScenarioError(ConfigFileError):
    """A scenario that cannot run: every problem (`key: reason`), one line each in str()."""


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


# -- the file's shape ---------------------------------------------------------------------
# Every table key is required here: the merged document always has the default's values.

Name = Annotated[str, Meta(min_length=1)]
Count = Annotated[int, Meta(ge=0)]
Amount = Annotated[float, Meta(ge=0)]
"""A quantity that may be 0 but not negative."""
Positive = Annotated[float, Meta(gt=0)]
Share = Annotated[float, Meta(ge=0, le=1)]


class _Section(msgspec.Struct, forbid_unknown_fields=True):
    """A table of a scenario file: unknown keys are errors (a typo must not pass)."""


class _VesselFile(_Section):
    call: Name
    berth: Name
    cranes: Annotated[tuple[Name, ...], Meta(min_length=1)]
    dsch: Count = Vessel.dsch
    load: Count = Vessel.load
    hatch: Annotated[int, Meta(ge=1)] = Vessel.hatch


class _FaultFile(_Section, tag_field="kind"):
    at_s: Amount
    for_s: Amount


class _Breakdown(_FaultFile, tag="breakdown"):
    truck: Name
    """The truck stops where it is."""


class _GnssLoss(_FaultFile, tag="gnss_loss"):
    truck: Name
    """The truck's receiver reports no fix."""


class _LaneClosure(_FaultFile, tag="lane_closure"):
    lane: Name


class _FleetFile(_Section):
    trucks: Annotated[int, Meta(ge=1)]
    autonomous_share: Share
    tank_l: Positive
    fuel_start_min: Share
    fuel_start_max: Share
    idle_lph: Amount
    litres_per_km: Amount
    laden_factor: Amount
    refuel_lpm: Positive


class _CranesFile(_Section):
    qc_cycle_s: Positive
    qc_cycle_sigma: Amount
    handover_s: Amount
    rtg_lift_s: Amount
    rtg_lift_sigma: Amount
    rtg_gantry_mps: Positive


class _GateFile(_Section):
    recv_per_hour: Amount
    dlvr_per_hour: Amount


class _ScenarioFile(_Section):
    name: Name
    terminal: Name
    seed: Annotated[int, Meta(ge=0)]
    hours: Positive
    strategy: Name
    start: Name
    fleet: _FleetFile
    cranes: _CranesFile
    gate: _GateFile
    vessels: tuple[_VesselFile, ...]
    faults: tuple[_Breakdown | _GnssLoss | _LaneClosure, ...]
    terminal_spec: dict[str, Any] = {}


@functools.cache
def _terminal_spec_file() -> type[msgspec.Struct]:
    """The shape of `terminal_spec`: any of the generator's parameters, with its type."""
    hints = get_type_hints(TerminalSpec)
    return msgspec.defstruct(
        "TerminalSpecFile",
        [(f.name, hints[f.name], msgspec.UNSET) for f in dataclasses.fields(TerminalSpec)],
        forbid_unknown_fields=True,
    )


@functools.cache
def _default_document() -> dict[str, Any]:
    text = resources.files("sim").joinpath(DEFAULT).read_text(encoding="utf-8")
    return tomllib.loads(text)


# -- reading ---------------------------------------------------------------------------------


def parse(data: Any, source: str) -> Scenario:
    """A scenario from parsed TOML/JSON data laid over the default; ScenarioError listing
    every problem."""
    if not isinstance(data, dict):
        raise ScenarioError(source, ["expected a table at the top level"])
    base = _default_document()
    try:
        doc = convert(merge(base, data), _ScenarioFile, source=source, fallback=base)
        problems = _file_problems(doc, source)
        if problems:
            raise ConfigFileError(source, problems)
    except ConfigFileError as exc:
        raise ScenarioError(exc.source, exc.problems) from None
    scenario = msgspec.convert(msgspec.to_builtins(doc), Scenario)
    inherited = {k for k in ("vessels", "faults") if k not in data}
    _check_against_yard(scenario, source, inherited)
    return scenario


def _file_problems(doc: _ScenarioFile, source: str) -> list[str]:
    """What the types cannot say: names that must exist, a time with an offset, one key
    against another."""
    from fleet.strategies import STRATEGIES

    problems: list[str] = []
    if doc.terminal not in TERMINALS:
        problems.append(f"terminal: no terminal {doc.terminal!r} ({', '.join(TERMINALS)})")
    try:
        convert(doc.terminal_spec, _terminal_spec_file(), source=source, at=("terminal_spec",))
    except ConfigFileError as exc:
        problems += exc.problems
    try:
        if datetime.fromisoformat(doc.start).tzinfo is None:
            problems.append("start: needs a UTC offset (e.g. +07:00)")
    except ValueError:
        problems.append(f"start: not an ISO 8601 time: {doc.start!r}")
    if doc.strategy not in STRATEGIES:
        problems.append(f"strategy: no strategy {doc.strategy!r} ({', '.join(STRATEGIES)})")
    if doc.cranes.qc_cycle_s <= doc.cranes.handover_s:
        problems.append(f"{key_name(('cranes', 'qc_cycle_s'))}: must be longer than handover_s")
    if doc.fleet.fuel_start_min > doc.fleet.fuel_start_max:
        problems.append(f"{key_name(('fleet', 'fuel_start_min'))}: must not exceed fuel_start_max")
    return problems


def _check_against_yard(
    scenario: Scenario, source: str, inherited: AbstractSet[str] = frozenset()
) -> None:
    """Cranes, berths, trucks and lanes named by the scenario must exist."""
    from maps import generate_terminal

    try:
        yard = generate_terminal(scenario.spec())
    except (TypeError, ValueError) as exc:
        raise ScenarioError(
            source, [f"{key_name(('terminal_spec',), table=True)}: {exc}"]
        ) from None

    def note(section: str) -> str:
        if section not in inherited:
            return ""
        return f" (the default's {section}: write {section} = [] for none, or your own)"

    problems = _vessel_problems(scenario, yard, note("vessels"))
    problems += _fault_problems(scenario, yard, note("faults"))
    spots = start_places(yard)
    if scenario.fleet.trucks > spots:
        problems.append(
            f"{key_name(('fleet', 'trucks'))}: {_too_many(scenario.fleet.trucks, spots)}"
        )
    if problems:
        raise ScenarioError(source, problems)


def _vessel_problems(scenario: Scenario, yard: Yard, note: str) -> list[str]:
    from maps import CraneKind

    problems = []
    qcs = {c.id for c in yard.cranes_of(CraneKind.QC)}
    berths = {a.id for a in yard.areas.values() if a.id.startswith("BERTH")}
    for i, v in enumerate(scenario.vessels):
        if v.berth not in berths:
            problems.append(
                f"{key_name(('vessels', i, 'berth'))}: no berth {v.berth!r} "
                f"({', '.join(sorted(berths))}){note}"
            )
        problems += [
            f"{key_name(('vessels', i, 'cranes'))}: no quay crane {c!r}{note}"
            for c in v.cranes
            if c not in qcs
        ]
    return problems


def _fault_problems(scenario: Scenario, yard: Yard, note: str) -> list[str]:
    problems = []
    trucks = {truck_id(k) for k in range(scenario.fleet.trucks)}
    for i, f in enumerate(scenario.faults):
        if f.truck and f.truck not in trucks:
            problems.append(
                f"{key_name(('faults', i, 'truck'))}: no truck {f.truck!r} in a fleet of "
                f"{len(trucks)}{note}"
            )
        if f.lane and f.lane not in yard.lanes:
            problems.append(
                f"{key_name(('faults', i, 'lane'))}: no lane {f.lane!r} in the yard{note}"
            )
    return problems


def start_places(yard: Yard) -> int:
    """How many trucks can start a shift in `yard`: one per parking spot and transfer point."""
    from maps import ServicePointKind

    return len(yard.service_points_of(ServicePointKind.PARKING)) + len(
        yard.service_points_of(ServicePointKind.TRANSFER_POINT)
    )


def _too_many(trucks: int, spots: int) -> str:
    return (
        f"{trucks} trucks but the yard has {spots} spots to start from (parking and "
        "transfer points); raise terminal_spec.parking_spots"
    )


def fleet_size_problems(scenario: Scenario, trucks: int) -> list[str]:
    """Why `scenario` cannot run with `trucks` trucks (none: it can), for a command's option.

    A fault that fires within the shift must name a truck of the fleet; faults after the
    shift's end never fire.
    """
    from maps import generate_terminal

    problems = []
    if trucks < 1:
        problems.append(f"{trucks} trucks: at least 1")
    spots = start_places(generate_terminal(scenario.spec()))
    if trucks > spots:
        problems.append(_too_many(trucks, spots))
    fleet = {truck_id(k) for k in range(trucks)}
    for i, f in enumerate(scenario.faults):
        if f.truck and f.truck not in fleet and f.at_s < scenario.hours * 3600.0:
            problems.append(
                f"the scenario's fault #{i + 1} ({f.kind} at {f.at_s:g} s) is for truck "
                f"{f.truck}, not in a fleet of {trucks}: take more trucks, fewer hours, or a "
                "scenario file with other faults"
            )
    return problems


def truck_id(k: int) -> str:
    """The id of the k-th truck (TT01, TT02, …)."""
    return f"TT{k + 1:02d}"


def load(path: str | Path | None = None) -> Scenario:
    """A scenario file (TOML or JSON) laid over the embedded default, or the default itself.

    The run takes the file's name (its stem) unless the file sets `name`.
    """
    if path is None:
        return parse(_default_document(), f"(embedded) {DEFAULT}")
    p = Path(path)
    try:
        data = read_document(p, what="the scenario")
    except ConfigFileError as exc:
        raise ScenarioError(exc.source, exc.problems) from None
    if isinstance(data, dict) and "name" not in data:
        data = {"name": p.stem, **data}
    return parse(data, str(p))

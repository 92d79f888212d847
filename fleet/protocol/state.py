"""The state message (vehicle → master control): order progress, pose, loads, health (§6.10).

A diesel truck's `batteryState` carries its starter battery (see `fleet.protocol.battery`);
fuel, GNSS quality and travel ride in the `yardfleet` extension (see
`fleet.protocol.extensions`).
"""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

from fleet.protocol.base import NonNegative, UInt32, Wire
from fleet.protocol.extensions import TruckTelemetry
from fleet.protocol.geometry import (
    AgvPosition,
    BoundingBoxReference,
    LoadDimensions,
    NodePosition,
    Trajectory,
    Velocity,
)
from fleet.protocol.header import Header

__all__ = [
    "ActionState",
    "ActionStatus",
    "BatteryState",
    "EStop",
    "EdgeState",
    "Error",
    "ErrorLevel",
    "ErrorReference",
    "Info",
    "InfoLevel",
    "InfoReference",
    "Load",
    "Map",
    "MapStatus",
    "NodeState",
    "OperatingMode",
    "SafetyState",
    "State",
]


class OperatingMode(enum.StrEnum):
    """Who is in control of the vehicle (§6.10.6, Table 1)."""

    AUTOMATIC = "AUTOMATIC"
    SEMIAUTOMATIC = "SEMIAUTOMATIC"
    MANUAL = "MANUAL"
    SERVICE = "SERVICE"
    TEACHIN = "TEACHIN"


class MapStatus(enum.StrEnum):
    """Whether a stored map version is the one in use."""

    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


class ActionStatus(enum.StrEnum):
    """Where an action is in its life (§6.11).

    PAUSED is in the specification's list (which wins over the schema) but missing from the
    official 2.1 state.schema's enum: we decode it, but a state that reports it does not
    validate against that schema. YardFleet's convention, until the schema is fixed: a
    paused action stays RUNNING and the state's `paused` says the vehicle is paused.
    """

    WAITING = "WAITING"
    INITIALIZING = "INITIALIZING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"


class ErrorLevel(enum.StrEnum):
    """WARNING: the vehicle can go on; FATAL: a person must intervene."""

    WARNING = "WARNING"
    FATAL = "FATAL"


class InfoLevel(enum.StrEnum):
    """INFO for visualization, DEBUG for debugging."""

    INFO = "INFO"
    DEBUG = "DEBUG"


class EStop(enum.StrEnum):
    """Which e-stop is active and how it is acknowledged; NONE when none is."""

    AUTOACK = "AUTOACK"
    MANUAL = "MANUAL"
    REMOTE = "REMOTE"
    NONE = "NONE"


class Map(Wire, kw_only=True):
    """A map version stored on the vehicle."""

    map_id: str
    map_version: str
    map_description: str | None = None
    map_status: MapStatus


class NodeState(Wire, kw_only=True):
    """A node of the order the vehicle has still to reach."""

    node_id: str
    sequence_id: UInt32
    node_description: str | None = None
    released: bool
    node_position: NodePosition | None = None


class EdgeState(Wire, kw_only=True):
    """An edge of the order the vehicle has still to traverse."""

    edge_id: str
    sequence_id: UInt32
    edge_description: str | None = None
    released: bool
    trajectory: Trajectory | None = None


class Load(Wire, kw_only=True):
    """A load on the vehicle (for YardFleet: a container, loadId = its ISO 6346 number)."""

    load_id: str | None = None
    load_type: str | None = None
    load_position: str | None = None
    bounding_box_reference: BoundingBoxReference | None = None
    load_dimensions: LoadDimensions | None = None
    weight: NonNegative | None = None


class ActionState(Wire, kw_only=True):
    """The progress of one action of the order or of an instant action."""

    action_id: str
    action_type: str | None = None
    action_description: str | None = None
    action_status: ActionStatus
    result_description: str | None = None


class BatteryState(Wire, kw_only=True):
    """Battery charge, voltage, health, charging; for a diesel truck, the starter battery."""

    battery_charge: float
    battery_voltage: float | None = None
    battery_health: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    charging: bool
    reach: UInt32 | None = None


class ErrorReference(Wire, kw_only=True):
    """A key-value reference pointing at the cause of an error (nodeId, orderId, ...)."""

    reference_key: str
    reference_value: str


class Error(Wire, kw_only=True):
    """An active error of the vehicle."""

    error_type: str
    error_references: list[ErrorReference] | None = None
    error_description: str | None = None
    error_hint: str | None = None
    error_level: ErrorLevel


class InfoReference(Wire, kw_only=True):
    """A key-value reference of an information entry."""

    reference_key: str
    reference_value: str


class Info(Wire, kw_only=True):
    """Information for visualization or debugging, never for master control's logic."""

    info_type: str
    info_references: list[InfoReference] | None = None
    info_description: str | None = None
    info_level: InfoLevel


class SafetyState(Wire, kw_only=True):
    """E-stop and protective field status."""

    e_stop: EStop
    field_violation: bool


class State(Header, kw_only=True):
    """Everything about the vehicle, sent on events and at least every 30 s."""

    maps: list[Map] | None = None
    order_id: str
    order_update_id: UInt32
    zone_set_id: str | None = None
    last_node_id: str
    last_node_sequence_id: UInt32
    driving: bool
    paused: bool | None = None
    new_base_request: bool | None = None
    distance_since_last_node: float | None = None
    operating_mode: OperatingMode
    node_states: list[NodeState]
    edge_states: list[EdgeState]
    agv_position: AgvPosition | None = None
    velocity: Velocity | None = None
    loads: list[Load] | None = None
    """Absent: the vehicle cannot tell; empty: it carries nothing."""
    action_states: list[ActionState]
    battery_state: BatteryState
    errors: list[Error]
    information: list[Info] | None = None
    safety_state: SafetyState
    yardfleet: TruckTelemetry | None = None
    """Our extension: fuel, GNSS quality, travel (see fleet.protocol.extensions)."""

"""The factsheet message (vehicle → master control): what a vehicle type is and can do (§6.15).

Two flaws of the official 2.1 factsheet.schema, where the text (which wins) says otherwise:

- `agvActions[].blockingTypes` is typed "array" with a string enum at the array's level, so
  no value validates; we model it as the text does (an array of BlockingType), but a
  factsheet that sets it fails that schema, so our builder leaves it out.
- `envelopes3d[].description` is typed "integer" in the schema, "string" in the text; we
  follow the text, and our builder leaves it out.

The text's `physicalParameters.angularSpeedMin/Max`, missing from the schema, are here too.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from fleet.protocol.actions import BlockingType
from fleet.protocol.base import NonNegative, UInt32, Version, Wire
from fleet.protocol.extensions import TruckFacts
from fleet.protocol.geometry import BoundingBoxReference, LoadDimensions
from fleet.protocol.timestamps import Timestamp, to_utc

__all__ = [
    "ActionScope",
    "AgvAction",
    "AgvClass",
    "AgvGeometry",
    "AgvKinematic",
    "Envelope2d",
    "Envelope3d",
    "Factsheet",
    "FactsheetActionParameter",
    "LoadSet",
    "LoadSpecification",
    "LocalizationType",
    "MaxArrayLens",
    "MaxStringLens",
    "NavigationType",
    "Network",
    "OptionalParameter",
    "PhysicalParameters",
    "PolygonPoint",
    "ProtocolFeatures",
    "ProtocolLimits",
    "Support",
    "Timing",
    "TypeSpecification",
    "ValueDataType",
    "VehicleConfig",
    "VersionInfo",
    "WheelDefinition",
    "WheelPosition",
    "WheelType",
]


class AgvKinematic(enum.StrEnum):
    """Kinematics; a car-like terminal tractor is THREEWHEEL ("or similar kinematics")."""

    DIFF = "DIFF"
    OMNI = "OMNI"
    THREEWHEEL = "THREEWHEEL"


class AgvClass(enum.StrEnum):
    """Vehicle class; a terminal tractor with a trailer is a TUGGER, an ITV a CARRIER."""

    FORKLIFT = "FORKLIFT"
    CONVEYOR = "CONVEYOR"
    TUGGER = "TUGGER"
    CARRIER = "CARRIER"


class LocalizationType(enum.StrEnum):
    """Localization means as the schema lists them (GNSS is not among them)."""

    NATURAL = "NATURAL"
    REFLECTOR = "REFLECTOR"
    RFID = "RFID"
    DMC = "DMC"
    SPOT = "SPOT"
    GRID = "GRID"


class NavigationType(enum.StrEnum):
    """Path planning types, spelt as the schema spells them."""

    PHYSICAL_LINE_GUIDED = "PHYSICAL_LINE_GUIDED"
    VIRTUAL_LINE_GUIDED = "VIRTUAL_LINE_GUIDED"
    AUTONOMOUS = "AUTONOMOUS"


class Support(enum.StrEnum):
    """How an optional parameter is supported."""

    SUPPORTED = "SUPPORTED"
    REQUIRED = "REQUIRED"


class ActionScope(enum.StrEnum):
    """Where an action type may be used."""

    INSTANT = "INSTANT"
    NODE = "NODE"
    EDGE = "EDGE"


class ValueDataType(enum.StrEnum):
    """The data type of an action parameter's value."""

    BOOL = "BOOL"
    NUMBER = "NUMBER"
    INTEGER = "INTEGER"
    FLOAT = "FLOAT"
    STRING = "STRING"
    OBJECT = "OBJECT"
    ARRAY = "ARRAY"


class WheelType(enum.StrEnum):
    """Wheel type."""

    DRIVE = "DRIVE"
    CASTER = "CASTER"
    FIXED = "FIXED"
    MECANUM = "MECANUM"


class TypeSpecification(Wire, kw_only=True):
    """The vehicle type series: name, kinematics, class, load, localization, navigation."""

    series_name: str
    series_description: str | None = None
    agv_kinematic: AgvKinematic
    agv_class: AgvClass
    max_load_mass: NonNegative
    localization_types: list[LocalizationType]
    navigation_types: list[NavigationType]


class PhysicalParameters(Wire, kw_only=True):
    """Speeds [m/s], accelerations [m/s²] and size [m] of the vehicle."""

    speed_min: float
    speed_max: float
    angular_speed_min: float | None = None
    angular_speed_max: float | None = None
    acceleration_max: float
    deceleration_max: float
    height_min: float | None = None
    height_max: float
    width: float
    length: float


class MaxStringLens(Wire, kw_only=True):
    """Maximum string lengths the vehicle handles; absent or 0 means no limit."""

    msg_len: UInt32 | None = None
    topic_serial_len: UInt32 | None = None
    topic_elem_len: UInt32 | None = None
    id_len: UInt32 | None = None
    id_numerical_only: bool | None = None
    enum_len: UInt32 | None = None
    load_id_len: UInt32 | None = None


class MaxArrayLens(Wire, kw_only=True):
    """Maximum array lengths the vehicle handles, keyed on the wire as "order.nodes" etc."""

    order_nodes: UInt32 | None = msgspec.field(default=None, name="order.nodes")
    order_edges: UInt32 | None = msgspec.field(default=None, name="order.edges")
    node_actions: UInt32 | None = msgspec.field(default=None, name="node.actions")
    edge_actions: UInt32 | None = msgspec.field(default=None, name="edge.actions")
    actions_actions_parameters: UInt32 | None = msgspec.field(
        default=None, name="actions.actionsParameters"
    )
    instant_actions: UInt32 | None = msgspec.field(default=None, name="instantActions")
    trajectory_knot_vector: UInt32 | None = msgspec.field(
        default=None, name="trajectory.knotVector"
    )
    trajectory_control_points: UInt32 | None = msgspec.field(
        default=None, name="trajectory.controlPoints"
    )
    state_node_states: UInt32 | None = msgspec.field(default=None, name="state.nodeStates")
    state_edge_states: UInt32 | None = msgspec.field(default=None, name="state.edgeStates")
    state_loads: UInt32 | None = msgspec.field(default=None, name="state.loads")
    state_action_states: UInt32 | None = msgspec.field(default=None, name="state.actionStates")
    state_errors: UInt32 | None = msgspec.field(default=None, name="state.errors")
    state_information: UInt32 | None = msgspec.field(default=None, name="state.information")
    error_error_references: UInt32 | None = msgspec.field(
        default=None, name="error.errorReferences"
    )
    information_info_references: UInt32 | None = msgspec.field(
        default=None, name="information.infoReferences"
    )


class Timing(Wire, kw_only=True):
    """Message intervals [s]."""

    min_order_interval: float
    min_state_interval: float
    default_state_interval: float | None = None
    visualization_interval: float | None = None


class ProtocolLimits(Wire, kw_only=True):
    """String, array and timing limits of the vehicle's protocol stack."""

    max_string_lens: MaxStringLens
    max_array_lens: MaxArrayLens
    timing: Timing


class OptionalParameter(Wire, kw_only=True):
    """An optional protocol field the vehicle supports or needs."""

    parameter: str
    support: Support
    description: str | None = None


class FactsheetActionParameter(Wire, kw_only=True):
    """A parameter an action type takes (not the order's key-value actionParameter)."""

    key: str
    value_data_type: ValueDataType
    description: str | None = None
    is_optional: bool | None = None


class AgvAction(Wire, kw_only=True):
    """An action type the vehicle supports, where, and with which parameters."""

    action_type: str
    action_description: str | None = None
    action_scopes: list[ActionScope]
    action_parameters: list[FactsheetActionParameter] | None = None
    result_description: str | None = None
    blocking_types: list[BlockingType] | None = None
    """Fails the official 2.1 schema whatever its value (see module doc): leave it None."""


class ProtocolFeatures(Wire, kw_only=True):
    """Optional parameters and action types the vehicle supports."""

    optional_parameters: list[OptionalParameter]
    agv_actions: list[AgvAction]


class WheelPosition(Wire, kw_only=True):
    """A wheel's place [m] and orientation [rad] in vehicle coordinates."""

    x: float
    y: float
    theta: float | None = None


class WheelDefinition(Wire, kw_only=True):
    """One wheel: type, drive, steering, place and size [m]."""

    type: WheelType
    is_active_driven: bool
    is_active_steered: bool
    position: WheelPosition
    diameter: float
    width: float
    center_displacement: float | None = None
    constraints: str | None = None


class PolygonPoint(Wire, kw_only=True):
    """A corner of a 2D envelope [m]."""

    x: float
    y: float


class Envelope2d(Wire, kw_only=True):
    """A closed 2D outline of the vehicle (mechanical, loaded, safety field)."""

    set: str
    polygon_points: list[PolygonPoint]
    description: str | None = None


class Envelope3d(Wire, kw_only=True):
    """A 3D outline, inline or by URL."""

    set: str
    format: str
    data: dict[str, Any] | None = None
    url: str | None = None
    description: str | None = None
    """A string, as the text says; the 2.1 schema's "integer" is a flaw: leave it None."""


class AgvGeometry(Wire, kw_only=True):
    """Wheels and envelopes."""

    wheel_definitions: list[WheelDefinition] | None = None
    envelopes2d: list[Envelope2d] | None = None
    envelopes3d: list[Envelope3d] | None = None


class LoadSet(Wire, kw_only=True):
    """A kind of load the vehicle handles, with its limits."""

    set_name: str
    load_type: str
    load_positions: list[str] | None = None
    bounding_box_reference: BoundingBoxReference | None = None
    load_dimensions: LoadDimensions | None = None
    max_weight: float | None = None
    min_loadhandling_height: float | None = None
    max_loadhandling_height: float | None = None
    min_loadhandling_depth: float | None = None
    max_loadhandling_depth: float | None = None
    min_loadhandling_tilt: float | None = None
    max_loadhandling_tilt: float | None = None
    agv_speed_limit: float | None = None
    agv_acceleration_limit: float | None = None
    agv_deceleration_limit: float | None = None
    pick_time: float | None = None
    drop_time: float | None = None
    description: str | None = None


class LoadSpecification(Wire, kw_only=True):
    """Load positions (the values of loads[].loadPosition and the lhd parameter) and sets."""

    load_positions: list[str] | None = None
    load_sets: list[LoadSet] | None = None


class VersionInfo(Wire, kw_only=True):
    """A software or hardware version on the vehicle."""

    key: str
    value: str


class Network(Wire, kw_only=True):
    """The vehicle's network settings."""

    dns_servers: list[str] | None = None
    local_ip_address: str | None = None
    ntp_servers: list[str] | None = None
    netmask: str | None = None
    default_gateway: str | None = None


class VehicleConfig(Wire, kw_only=True):
    """Versions and network of this vehicle."""

    versions: list[VersionInfo] | None = None
    network: Network | None = None


class Factsheet(Wire, kw_only=True):
    """What the vehicle is and can do; headerId and timestamp are optional here."""

    header_id: UInt32 | None = None
    timestamp: Timestamp | None = None
    version: Version
    manufacturer: str
    serial_number: str
    type_specification: TypeSpecification
    physical_parameters: PhysicalParameters
    protocol_limits: ProtocolLimits
    protocol_features: ProtocolFeatures
    agv_geometry: AgvGeometry
    load_specification: LoadSpecification
    vehicle_config: VehicleConfig | None = None
    yardfleet: TruckFacts | None = None
    """Our extension: driver, tank, twin carry, fuel model (see fleet.protocol.extensions)."""

    def __post_init__(self) -> None:
        """Hold the timestamp in UTC, as the spec demands."""
        if self.timestamp is not None:
            self.timestamp = to_utc(self.timestamp)

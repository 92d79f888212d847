"""Small builders for the messages a truck agent and a dispatcher send, with sane defaults.

Every builder fills the header (version 2.1.0, timestamp now in UTC unless given) and
leaves out what is unknown, so what it returns validates against the official schema.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from fleet.protocol.actions import Action, ActionParameter, ActionParameterValue, BlockingType
from fleet.protocol.connection import Connection, ConnectionState
from fleet.protocol.crane import CRANE_EVENT_VERSION, CraneEvent, CraneEventKind, CraneKind
from fleet.protocol.extensions import REFUEL, Driver, LinkInfo, TruckFacts, TruckTelemetry
from fleet.protocol.factsheet import (
    ActionScope,
    AgvAction,
    AgvClass,
    AgvGeometry,
    AgvKinematic,
    Factsheet,
    LoadSpecification,
    LocalizationType,
    MaxArrayLens,
    MaxStringLens,
    NavigationType,
    PhysicalParameters,
    ProtocolFeatures,
    ProtocolLimits,
    Timing,
    TypeSpecification,
)
from fleet.protocol.geometry import AgvPosition, NodePosition, Velocity
from fleet.protocol.header import VERSION
from fleet.protocol.instant_actions import InstantActions
from fleet.protocol.order import Edge, Node, Order
from fleet.protocol.state import (
    ActionState,
    BatteryState,
    EdgeState,
    Error,
    EStop,
    Info,
    Load,
    NodeState,
    OperatingMode,
    SafetyState,
    State,
)
from fleet.protocol.timestamps import to_utc, utc_now
from fleet.protocol.visualization import Visualization

__all__ = [
    "Waypoint",
    "make_action",
    "make_connection",
    "make_crane_event",
    "make_factsheet",
    "make_instant_actions",
    "make_order",
    "make_state",
    "make_visualization",
]


def _stamp(timestamp: datetime | None) -> datetime:
    """The given time in UTC, or now."""
    return utc_now() if timestamp is None else to_utc(timestamp)


def make_action(
    action_type: str,
    *,
    action_id: str | None = None,
    blocking_type: BlockingType = BlockingType.HARD,
    description: str | None = None,
    **parameters: ActionParameterValue,
) -> Action:
    """An action with key-value parameters, e.g. `make_action("pick", loadId="MSKU1234565")`."""
    return Action(
        action_type=action_type,
        action_id=action_id or str(uuid.uuid4()),
        action_description=description,
        blocking_type=blocking_type,
        action_parameters=[ActionParameter(key=k, value=v) for k, v in parameters.items()] or None,
    )


class Waypoint(NamedTuple):
    """A stop of a route for `make_order`: a node, where it is, the lane leading to it."""

    node_id: str
    x: float
    y: float
    lane_id: str | None = None
    """The edge from the previous waypoint; "<from>-<to>" when None."""
    actions: Sequence[Action] = ()
    max_speed: float | None = None
    """Speed limit [m/s] on the lane leading here."""


def make_order(
    manufacturer: str,
    serial_number: str,
    order_id: str,
    route: Sequence[Waypoint],
    *,
    released: int | None = None,
    order_update_id: int = 0,
    first_sequence_id: int = 0,
    map_id: str = "yard",
    header_id: int = 0,
    timestamp: datetime | None = None,
) -> Order:
    """An order along `route`: the first `released` waypoints are the base, the rest horizon.

    Nodes get even sequenceIds from `first_sequence_id`, edges the odd ones between; an
    edge is released when the node it leads to is. Positions go to the millimetre, speeds
    to the mm/s (the wire carries no more than that means). An order update continues the
    sequenceIds of the last released node.
    """
    if not route:
        raise ValueError("an order needs at least one node")
    base = len(route) if released is None else released
    if not 1 <= base <= len(route):
        raise ValueError(f"released={released}: must be 1..{len(route)}")
    nodes = [
        Node(
            node_id=stop.node_id,
            sequence_id=first_sequence_id + 2 * i,
            released=i < base,
            node_position=NodePosition(x=round(stop.x, 3), y=round(stop.y, 3), map_id=map_id),
            actions=list(stop.actions),
        )
        for i, stop in enumerate(route)
    ]
    edges = [
        Edge(
            edge_id=stop.lane_id or f"{prev.node_id}-{stop.node_id}",
            sequence_id=first_sequence_id + 2 * i - 1,
            released=i < base,
            start_node_id=prev.node_id,
            end_node_id=stop.node_id,
            max_speed=None if stop.max_speed is None else round(stop.max_speed, 3),
            actions=[],
        )
        for i, (prev, stop) in enumerate(itertools.pairwise(route), start=1)
    ]
    return Order(
        header_id=header_id,
        timestamp=_stamp(timestamp),
        version=VERSION,
        manufacturer=manufacturer,
        serial_number=serial_number,
        order_id=order_id,
        order_update_id=order_update_id,
        nodes=nodes,
        edges=edges,
    )


def make_instant_actions(
    manufacturer: str,
    serial_number: str,
    actions: Sequence[Action],
    *,
    header_id: int = 0,
    timestamp: datetime | None = None,
) -> InstantActions:
    """Instant actions for one truck, e.g. `[make_action("startPause")]`."""
    return InstantActions(
        header_id=header_id,
        timestamp=_stamp(timestamp),
        version=VERSION,
        manufacturer=manufacturer,
        serial_number=serial_number,
        actions=list(actions),
    )


def make_state(
    manufacturer: str,
    serial_number: str,
    battery: BatteryState,
    *,
    header_id: int = 0,
    timestamp: datetime | None = None,
    order_id: str = "",
    order_update_id: int = 0,
    last_node_id: str = "",
    last_node_sequence_id: int = 0,
    distance_since_last_node: float | None = None,
    node_states: Sequence[NodeState] = (),
    edge_states: Sequence[EdgeState] = (),
    action_states: Sequence[ActionState] = (),
    driving: bool = False,
    paused: bool | None = None,
    position: AgvPosition | None = None,
    velocity: Velocity | None = None,
    loads: Sequence[Load] | None = None,
    operating_mode: OperatingMode = OperatingMode.AUTOMATIC,
    errors: Sequence[Error] = (),
    information: Sequence[Info] | None = None,
    safety: SafetyState | None = None,
    telemetry: TruckTelemetry | None = None,
) -> State:
    """A truck's state; idle, no order, no errors and no e-stop unless told otherwise.

    `battery` is the starter battery (`fleet.protocol.battery.starter_battery`); `loads`
    None means "cannot tell", an empty sequence "carries nothing".
    """
    return State(
        header_id=header_id,
        timestamp=_stamp(timestamp),
        version=VERSION,
        manufacturer=manufacturer,
        serial_number=serial_number,
        order_id=order_id,
        order_update_id=order_update_id,
        last_node_id=last_node_id,
        last_node_sequence_id=last_node_sequence_id,
        driving=driving,
        distance_since_last_node=distance_since_last_node,
        paused=paused,
        operating_mode=operating_mode,
        node_states=list(node_states),
        edge_states=list(edge_states),
        agv_position=position,
        velocity=velocity,
        loads=None if loads is None else list(loads),
        action_states=list(action_states),
        battery_state=battery,
        errors=list(errors),
        information=None if information is None else list(information),
        safety_state=safety or SafetyState(e_stop=EStop.NONE, field_violation=False),
        yardfleet=telemetry,
    )


def make_connection(
    manufacturer: str,
    serial_number: str,
    state: ConnectionState = ConnectionState.ONLINE,
    *,
    header_id: int = 0,
    timestamp: datetime | None = None,
    boot_id: str | None = None,
) -> Connection:
    """ONLINE on connecting; OFFLINE before an orderly goodbye; CONNECTIONBROKEN as last will."""
    return Connection(
        header_id=header_id,
        timestamp=_stamp(timestamp),
        version=VERSION,
        manufacturer=manufacturer,
        serial_number=serial_number,
        connection_state=state,
        yardfleet=LinkInfo(boot_id=boot_id) if boot_id else None,
    )


def make_visualization(
    manufacturer: str,
    serial_number: str,
    position: AgvPosition,
    *,
    velocity: Velocity | None = None,
    telemetry: TruckTelemetry | None = None,
    header_id: int = 0,
    timestamp: datetime | None = None,
) -> Visualization:
    """A pose update for the console, with the full header though the schema needs none."""
    return Visualization(
        header_id=header_id,
        timestamp=_stamp(timestamp),
        version=VERSION,
        manufacturer=manufacturer,
        serial_number=serial_number,
        agv_position=position,
        velocity=velocity,
        yardfleet=telemetry,
    )


_TRUCK_ACTIONS: Mapping[str, tuple[ActionScope, ...]] = {
    "pick": (ActionScope.NODE,),
    "drop": (ActionScope.NODE,),
    REFUEL: (ActionScope.NODE,),
    "waitForTrigger": (ActionScope.NODE,),
    "startPause": (ActionScope.INSTANT,),
    "stopPause": (ActionScope.INSTANT,),
    "cancelOrder": (ActionScope.INSTANT,),
    "stateRequest": (ActionScope.INSTANT,),
    "factsheetRequest": (ActionScope.INSTANT,),
    "initPosition": (ActionScope.INSTANT, ActionScope.NODE),
}


def make_factsheet(
    manufacturer: str,
    serial_number: str,
    *,
    series_name: str = "terminal tractor",
    driver: Driver = Driver.HUMAN,
    agv_class: AgvClass = AgvClass.TUGGER,
    tank_litres: float = 300.0,
    twin_carry: bool = True,
    speed_max: float = 40 / 3.6,
    max_load_mass: float = 70_000.0,
    header_id: int = 0,
    timestamp: datetime | None = None,
) -> Factsheet:
    """A terminal tractor's factsheet: car-like kinematics, GNSS, pick/drop/refuel actions.

    GNSS is not among the schema's localization types; NATURAL is the nearest and the
    series description says GNSS. Fuel figures default to DESIGN.md's (2.5 L/h idling,
    0.40 L/km driving).
    """
    return Factsheet(
        header_id=header_id,
        timestamp=_stamp(timestamp),
        version=VERSION,
        manufacturer=manufacturer,
        serial_number=serial_number,
        type_specification=TypeSpecification(
            series_name=series_name,
            series_description="diesel terminal truck, GNSS (RTK) localization",
            agv_kinematic=AgvKinematic.THREEWHEEL,
            agv_class=agv_class,
            max_load_mass=max_load_mass,
            localization_types=[LocalizationType.NATURAL],
            navigation_types=[NavigationType.AUTONOMOUS],
        ),
        physical_parameters=PhysicalParameters(
            speed_min=0.5,
            speed_max=speed_max,
            acceleration_max=1.0,
            deceleration_max=3.0,
            height_max=4.2,
            width=2.6,
            length=6.2,
        ),
        protocol_limits=ProtocolLimits(
            max_string_lens=MaxStringLens(),
            max_array_lens=MaxArrayLens(),
            timing=Timing(
                min_order_interval=0.5,
                min_state_interval=0.5,
                default_state_interval=1.0,
                visualization_interval=0.2,
            ),
        ),
        protocol_features=ProtocolFeatures(
            optional_parameters=[],
            agv_actions=[
                AgvAction(action_type=name, action_scopes=list(scopes))
                for name, scopes in _TRUCK_ACTIONS.items()
            ],
        ),
        agv_geometry=AgvGeometry(),
        load_specification=LoadSpecification(
            load_positions=["CENTER", "FRONT", "REAR"] if twin_carry else ["CENTER"]
        ),
        yardfleet=TruckFacts(
            driver=driver,
            tank_litres=tank_litres,
            twin_carry=twin_carry,
            idle_litres_per_hour=2.5,
            litres_per_km=0.40,
        ),
    )


def make_crane_event(
    crane_id: str,
    crane_kind: CraneKind,
    event: CraneEventKind,
    *,
    container_number: str | None = None,
    job_id: str | None = None,
    truck_id: str | None = None,
    header_id: int = 0,
    timestamp: datetime | None = None,
) -> CraneEvent:
    """A crane event, e.g. MOVEDONE for a box at QC03; the TOS and crane adapters send these."""
    return CraneEvent(
        header_id=header_id,
        timestamp=_stamp(timestamp),
        version=CRANE_EVENT_VERSION,
        crane_id=crane_id,
        crane_kind=crane_kind,
        event=event,
        container_number=container_number,
        job_id=job_id,
        truck_id=truck_id,
    )

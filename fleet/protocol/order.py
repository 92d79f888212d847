"""The order message (master control → vehicle): a graph of nodes and edges (VDA 5050 §6.6).

Nodes and edges alternate in sequenceId (by convention nodes even, edges odd). Released
nodes and edges form the base the vehicle may drive; the rest is the horizon, the planned
continuation that may still change.
"""

from __future__ import annotations

import enum

from fleet.protocol.actions import Action
from fleet.protocol.base import Angle, NonNegative, UInt32, Wire
from fleet.protocol.geometry import NodePosition, Trajectory
from fleet.protocol.header import Header

__all__ = ["Corridor", "CorridorRefPoint", "Edge", "Node", "Order", "OrientationType"]


class OrientationType(enum.StrEnum):
    """How an edge's orientation is meant; the spec lists it, the schema leaves it a string."""

    GLOBAL = "GLOBAL"
    TANGENTIAL = "TANGENTIAL"


class CorridorRefPoint(enum.StrEnum):
    """Whether a corridor bounds the kinematic centre or the vehicle's contour."""

    KINEMATICCENTER = "KINEMATICCENTER"
    CONTOUR = "CONTOUR"


class Corridor(Wire, kw_only=True):
    """How far left and right of its trajectory a vehicle may deviate on an edge."""

    left_width: NonNegative
    right_width: NonNegative
    corridor_ref_point: CorridorRefPoint | None = None


class Node(Wire, kw_only=True):
    """A point of the order's graph (for YardFleet: a yard node or service point)."""

    node_id: str
    sequence_id: UInt32
    node_description: str | None = None
    released: bool
    node_position: NodePosition | None = None
    actions: list[Action]


class Edge(Wire, kw_only=True):
    """A directed connection between two nodes of the order (for YardFleet: a lane)."""

    edge_id: str
    sequence_id: UInt32
    edge_description: str | None = None
    released: bool
    start_node_id: str
    end_node_id: str
    max_speed: float | None = None
    max_height: float | None = None
    min_height: float | None = None
    orientation: Angle | None = None
    orientation_type: OrientationType | None = None
    direction: str | None = None
    rotation_allowed: bool | None = None
    max_rotation_speed: float | None = None
    length: float | None = None
    trajectory: Trajectory | None = None
    corridor: Corridor | None = None
    actions: list[Action]


class Order(Header, kw_only=True):
    """A driving order: nodes and edges to traverse, identified by orderId and orderUpdateId."""

    order_id: str
    order_update_id: UInt32
    zone_set_id: str | None = None
    nodes: list[Node]
    edges: list[Edge]

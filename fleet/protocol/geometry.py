"""Positions, velocities, trajectories and load boxes shared by several messages.

Coordinates are metres in the map frame (for YardFleet: the yard's local east-north
frame, x east, y north), angles radians counter-clockwise from x, in [-Pi, Pi].
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from fleet.protocol.base import Angle, NonNegative, UnitInterval, Wire

__all__ = [
    "AgvPosition",
    "BoundingBoxReference",
    "ControlPoint",
    "LoadDimensions",
    "NodePosition",
    "Trajectory",
    "Velocity",
]

_DEVIATION_THETA_MAX = 3.141592654
"""The order schema's bound for allowedDeviationTheta (the text says [0, Pi])."""


class NodePosition(Wire, kw_only=True):
    """Where a node is on a map, and how precisely the vehicle must hit it (order, state)."""

    x: float
    y: float
    theta: Angle | None = None
    allowed_deviation_x_y: NonNegative | None = None
    allowed_deviation_theta: (
        Annotated[float, msgspec.Meta(ge=0.0, le=_DEVIATION_THETA_MAX)] | None
    ) = None
    map_id: str
    map_description: str | None = None


class ControlPoint(Wire, kw_only=True):
    """A NURBS control point in world coordinates; weight defaults to 1.0 when absent."""

    x: float
    y: float
    weight: NonNegative | None = None


class Trajectory(Wire, kw_only=True):
    """An edge's path as a NURBS: knotVector has len(controlPoints) + degree + 1 knots."""

    degree: Annotated[int, msgspec.Meta(ge=1)]
    knot_vector: list[UnitInterval]
    control_points: list[ControlPoint]


class AgvPosition(Wire, kw_only=True):
    """The vehicle's pose on a map, with how well it knows it (state, visualization)."""

    x: float
    y: float
    theta: Angle
    map_id: str
    map_description: str | None = None
    position_initialized: bool
    localization_score: UnitInterval | None = None
    deviation_range: float | None = None


class Velocity(Wire, kw_only=True):
    """The vehicle's velocity in its own frame: vx forward, vy left (m/s), omega (rad/s)."""

    vx: float | None = None
    vy: float | None = None
    omega: float | None = None


class BoundingBoxReference(Wire, kw_only=True):
    """Centre of a load box's bottom face, in vehicle coordinates."""

    x: float
    y: float
    z: float
    theta: float | None = None


class LoadDimensions(Wire, kw_only=True):
    """A load box's size in metres (a 40' container: 12.192 × 2.438 × 2.591)."""

    length: float
    width: float
    height: float | None = None

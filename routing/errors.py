"""Errors of the routing room: each names the places, lanes or trucks involved."""

from __future__ import annotations


class RoutingError(Exception):
    """Base of every error routing raises on purpose."""


class NoRouteError(RoutingError):
    """No open route between two places (both are named)."""


class PlanningError(RoutingError):
    """The planner could not plan a truck (the truck and the reason are named)."""

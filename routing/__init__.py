"""Paths and traffic over the yard's lane graph.

Fastest routes on a live network (closures, speed zones), the service-point travel-time
table, conflict-free plans for the whole fleet (prioritized SIPP, complete in
well-formed yards), an independent plan checker, execution through the temporal plan
graph with run-time deadlock detection and resolution, repair of affected plans, and
MAPF benchmarks on grid maps (routing.mapf).
"""

from routing.checker import Conflict, check_plans
from routing.deadlock import DeadlockResolver, Resolution
from routing.errors import NoRouteError, PlanningError, RoutingError
from routing.execution import Execution
from routing.network import LaneNetwork
from routing.paths import Route, Router
from routing.plan import Plan, ResourceKind, Step
from routing.planner import FleetPlanner, PlanningReport, Task
from routing.table import TravelTimeTable
from routing.vehicle import TERMINAL_TRACTOR, VehicleClass

__all__ = [
    "TERMINAL_TRACTOR",
    "Conflict",
    "DeadlockResolver",
    "Execution",
    "FleetPlanner",
    "LaneNetwork",
    "NoRouteError",
    "Plan",
    "PlanningError",
    "PlanningReport",
    "Resolution",
    "ResourceKind",
    "Route",
    "Router",
    "RoutingError",
    "Step",
    "Task",
    "TravelTimeTable",
    "VehicleClass",
    "check_plans",
]

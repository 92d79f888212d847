"""Plans into VDA 5050 orders: the nodes and lanes of a truck's plan, and what to do at its end.

The order carries the way (every node of the plan, every lane between them, each lane's
planned speed as `maxSpeed`) fully released: the plan is conflict-free as a whole, so the
truck may drive all of it; the timing stays with the dispatcher, which holds trucks back
through the plan's order of passage. The last node carries the work: `pick` or `drop` of
the container at the crane or gate (`stationType`, `stationName`), or `refuel` at a pump.
"""

from __future__ import annotations

from datetime import datetime

from fleet.protocol import Action, Order, make_action
from fleet.protocol.builders import Waypoint, make_order
from maps import Yard
from routing.plan import Plan, ResourceKind


def route_of(plan: Plan, yard: Yard) -> list[Waypoint]:
    """The plan's nodes in order, each with the lane that leads to it (repeats collapsed)."""
    points: list[Waypoint] = []
    lane: str | None = None
    speed: float | None = None
    for step in plan.steps:
        if step.kind is ResourceKind.LANE:
            lane, speed = step.resource, step.speed_mps
        elif step.kind is ResourceKind.NODE:
            if points and points[-1].node_id == step.resource:
                continue
            node = yard.node(step.resource)
            points.append(
                Waypoint(step.resource, node.x, node.y, lane if points else None, (), speed)
            )
            lane = None
    return points


def order_for(
    plan: Plan,
    yard: Yard,
    *,
    manufacturer: str,
    order_id: str,
    update: int,
    header_id: int,
    at: datetime,
    actions: list[Action] | None = None,
) -> Order:
    """The order that drives `plan`, with `actions` on its last node."""
    route = route_of(plan, yard)
    if actions:
        last = route[-1]
        route[-1] = last._replace(actions=tuple(actions))
    return make_order(
        manufacturer,
        plan.truck,
        order_id,
        route,
        order_update_id=update,
        map_id=yard.id,
        header_id=header_id,
        timestamp=at,
    )


def work_action(kind: str, container: str, station_type: str, station: str, job: str) -> Action:
    """`pick` or `drop` of a container at a crane or gate lane."""
    return make_action(
        kind,
        action_id=f"{job}:{kind}",
        loadId=container,
        stationType=station_type,
        stationName=station,
    )

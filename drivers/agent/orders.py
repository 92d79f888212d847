"""Orders and instant actions on the truck, by VDA 5050 2.1's rules (§6.6, Figure 8).

- Invalid order (no nodes, edges that do not join consecutive nodes, sequenceIds not
  rising, a released node after an unreleased one, a map we do not drive on): rejected,
  warning `validationError`.
- New orderId: rejected (`orderError`) while the truck still executes an order or
  waits for its update (nodeStates left or actions not finished); otherwise accepted
  when its first node is the truck's last node or the truck stands within the node's
  deviation range (`allowedDeviationXY`, else `node_tolerance_m`), and that node
  counts as traversed at once.
- Same orderId: a lower orderUpdateId is rejected (`orderUpdateError`) and the current
  order runs on; an equal one is a resend and ignored; a higher one must stitch: its
  first node must be the decision point (the last released base node; the last
  traversed node once the base is done), by nodeId and sequenceId. The stitching
  node keeps the first order's contents, the old horizon is replaced by the update's
  nodes and edges (released ones become base, `released: false` ones horizon).
- cancelOrder: the remaining nodes and edges go, waiting actions FAILED, orderId and
  orderUpdateId kept; with no order to cancel it FAILS with a `noOrderToCancel` warning.
  startPause/stopPause, stateRequest, factsheetRequest finish at once; other instant
  actions FAIL with an `orderError` naming the actionType.
- Rejection warnings stay in `errors` until an order is accepted.

The driver (or the autonomous stack) does the work at a node; this book reports a
node's and its edge's actions FINISHED when the truck passes the node.
"""

from __future__ import annotations

import enum
import itertools
import math
from dataclasses import dataclass, field

from fleet.protocol.actions import Action
from fleet.protocol.instant_actions import InstantActions
from fleet.protocol.order import Edge, Node, Order
from fleet.protocol.state import (
    ActionState,
    ActionStatus,
    EdgeState,
    Error,
    ErrorLevel,
    ErrorReference,
    NodeState,
)

__all__ = ["INSTANT_ACTIONS", "OrderBook", "Verdict"]

INSTANT_ACTIONS = frozenset(
    {"cancelOrder", "startPause", "stopPause", "stateRequest", "factsheetRequest"}
)
"""The instant actions this agent performs."""
_KEEP_INSTANT = 20
"""How many finished instant-action states stay in the state message."""


class Verdict(enum.StrEnum):
    """What became of an order: accepted (new or update), ignored (resend) or rejected."""

    ACCEPTED = "ACCEPTED"
    UPDATED = "UPDATED"
    IGNORED = "IGNORED"
    REJECTED = "REJECTED"


def _refs(**pairs: object) -> list[ErrorReference]:
    return [ErrorReference(reference_key=k, reference_value=str(v)) for k, v in pairs.items()]


def _warning(error_type: str, description: str, **refs: object) -> Error:
    return Error(
        error_type=error_type,
        error_description=description,
        error_references=_refs(**refs) or None,
        error_level=ErrorLevel.WARNING,
    )


def _bad_nodes(nodes: list[Node], map_id: str) -> str | None:
    """Why the nodes do not form an order: falling sequenceIds, released after horizon, map."""
    for a, b in itertools.pairwise(nodes):
        if b.sequence_id <= a.sequence_id:
            return f"node {b.node_id!r}: sequenceId {b.sequence_id} does not rise"
        if b.released and not a.released:
            return f"node {b.node_id!r} is released after the unreleased {a.node_id!r}"
    for node in nodes:
        pos = node.node_position
        if pos is not None and pos.map_id != map_id:
            return f"node {node.node_id!r} is on map {pos.map_id!r}, not {map_id!r}"
    return None


def _bad_edges(nodes: list[Node], edges: list[Edge]) -> str | None:
    """Why the edges do not join consecutive nodes with the sequenceId and release between."""
    for edge, a, b in zip(edges, nodes, nodes[1:], strict=False):
        if (edge.start_node_id, edge.end_node_id) != (a.node_id, b.node_id):
            return (
                f"edge {edge.edge_id!r} joins {edge.start_node_id!r}→{edge.end_node_id!r},"
                f" expected {a.node_id!r}→{b.node_id!r}"
            )
        if not a.sequence_id < edge.sequence_id < b.sequence_id:
            return f"edge {edge.edge_id!r}: sequenceId {edge.sequence_id} not between its nodes'"
        if edge.released != b.released:
            return f"edge {edge.edge_id!r}: released must match its end node {b.node_id!r}"
    return None


@dataclass
class OrderBook:
    """The truck's current order, its progress and the errors it reports."""

    map_id: str
    node_tolerance_m: float = 5.0
    order_id: str = ""
    order_update_id: int = 0
    last_node_id: str = ""
    last_node_sequence_id: int = 0
    node_states: list[NodeState] = field(default_factory=list)
    edge_states: list[EdgeState] = field(default_factory=list)
    paused: bool = False
    errors: list[Error] = field(default_factory=list)
    decision_point: tuple[str, int] | None = None
    """The last released node (nodeId, sequenceId) of the order: where an update stitches."""
    held: frozenset[str] = frozenset()
    """Action types that take time at their node (refuelling, say): RUNNING when the truck
    passes the node, FINISHED when the shell says so (`finish`)."""
    _order_actions: dict[str, ActionState] = field(default_factory=dict)
    _instant_actions: dict[str, ActionState] = field(default_factory=dict)
    _node_actions: dict[int, list[str]] = field(default_factory=dict)
    """sequenceId of a node or edge → its action ids."""
    _node_positions: dict[int, Node] = field(default_factory=dict)
    _edges: dict[int, Edge] = field(default_factory=dict)

    # -- what the state message shows

    @property
    def action_states(self) -> list[ActionState]:
        """Order actions then instant actions, as state's actionStates."""
        return [*self._order_actions.values(), *self._instant_actions.values()]

    def executing(self) -> bool:
        """Still executing an order or waiting for its update (§6.6.2, question 3)."""
        done = (ActionStatus.FINISHED, ActionStatus.FAILED)
        return bool(self.node_states) or any(
            a.action_status not in done for a in self._order_actions.values()
        )

    def node(self, sequence_id: int) -> Node | None:
        """The order's node with this sequenceId (for its position and deviation range)."""
        return self._node_positions.get(sequence_id)

    def edge(self, sequence_id: int) -> Edge | None:
        """The order's edge with this sequenceId (for its speed limit and trajectory)."""
        return self._edges.get(sequence_id)

    # -- orders

    def receive_order(self, order: Order, position: tuple[float, float] | None) -> Verdict:
        """Accept, ignore or reject an order; `position` is the truck's (x, y) in the map."""
        problem = self._invalid(order)
        if problem is not None:
            return self._reject("validationError", problem, order)
        if order.order_id != self.order_id:
            return self._new_order(order, position)
        if order.order_update_id < self.order_update_id:
            return self._reject(
                "orderUpdateError",
                f"orderUpdateId {order.order_update_id} is lower than the current "
                f"{self.order_update_id}",
                order,
            )
        if order.order_update_id == self.order_update_id:
            return Verdict.IGNORED
        return self._update(order)

    def _invalid(self, order: Order) -> str | None:
        nodes = order.nodes
        if not nodes:
            return "an order needs at least one node"
        if not nodes[0].released:
            return f"the first node {nodes[0].node_id!r} is not released"
        if len(order.edges) != len(nodes) - 1:
            return f"{len(nodes)} nodes need {len(nodes) - 1} edges, got {len(order.edges)}"
        return _bad_nodes(nodes, self.map_id) or _bad_edges(nodes, order.edges)

    def _reject(self, error_type: str, description: str, order: Order) -> Verdict:
        error = _warning(
            error_type,
            description,
            headerId=order.header_id,
            orderId=order.order_id,
            orderUpdateId=order.order_update_id,
        )
        self._report(error)
        return Verdict.REJECTED

    def _report(self, error: Error) -> None:
        """Add a warning, replacing an older one of its type; at most 9 are kept."""
        kept = [e for e in self.errors if e.error_type != error.error_type][-8:]
        self.errors = [*kept, error]

    def _new_order(self, order: Order, position: tuple[float, float] | None) -> Verdict:
        if self.executing():
            return self._reject(
                "orderError",
                f"still executing order {self.order_id!r}: cancel it first (cancelOrder)",
                order,
            )
        first = order.nodes[0]
        if first.node_id != self.last_node_id and not self._within(first, position):
            return self._reject(
                "orderError",
                f"the first node {first.node_id!r} is neither the last node "
                f"{self.last_node_id or '(none)'!r} nor within reach of the truck",
                order,
            )
        self.order_id = order.order_id
        self.order_update_id = order.order_update_id
        self.node_states, self.edge_states = [], []
        self._order_actions.clear()
        self._node_actions.clear()
        self._node_positions.clear()
        self._edges.clear()
        self.errors = []
        self._append(order.nodes, order.edges)
        self.traverse(first.sequence_id)
        return Verdict.ACCEPTED

    def _within(self, node: Node, position: tuple[float, float] | None) -> bool:
        pos = node.node_position
        if pos is None or position is None:
            return False
        reach = pos.allowed_deviation_x_y
        tolerance = self.node_tolerance_m if reach is None or reach <= 0 else reach
        return math.hypot(position[0] - pos.x, position[1] - pos.y) <= tolerance

    def _update(self, order: Order) -> Verdict:
        first = order.nodes[0]
        stitch = self.decision_point if self.executing() else None
        if stitch is None:
            stitch = (self.last_node_id, self.last_node_sequence_id)
        if (first.node_id, first.sequence_id) != stitch:
            return self._reject(
                "orderUpdateError",
                f"the update starts at {first.node_id!r}/{first.sequence_id}, not at the "
                f"stitching node {stitch[0]!r}/{stitch[1]}",
                order,
            )
        # The old horizon goes; the stitching node keeps the first order's contents.
        self.node_states = [n for n in self.node_states if n.released]
        self.edge_states = [e for e in self.edge_states if e.released]
        for seq in [s for s in self._node_actions if s > first.sequence_id]:
            for action_id in self._node_actions.pop(seq):
                self._order_actions.pop(action_id, None)
        self.order_update_id = order.order_update_id
        self.errors = []
        self._append(order.nodes[1:], order.edges)
        return Verdict.UPDATED

    def _append(self, nodes: list[Node], edges: list[Edge]) -> None:
        for node in nodes:
            self.node_states.append(
                NodeState(
                    node_id=node.node_id,
                    sequence_id=node.sequence_id,
                    node_description=node.node_description,
                    released=node.released,
                    node_position=node.node_position,
                )
            )
            self._node_positions[node.sequence_id] = node
            self._add_actions(node.sequence_id, node.actions)
            if node.released:
                self.decision_point = (node.node_id, node.sequence_id)
        for edge in edges:
            self._edges[edge.sequence_id] = edge
            self.edge_states.append(
                EdgeState(
                    edge_id=edge.edge_id,
                    sequence_id=edge.sequence_id,
                    edge_description=edge.edge_description,
                    released=edge.released,
                    trajectory=edge.trajectory,
                )
            )
            self._add_actions(edge.sequence_id, edge.actions)

    def _add_actions(self, sequence_id: int, actions: list[Action]) -> None:
        ids = self._node_actions.setdefault(sequence_id, [])
        for action in actions:
            ids.append(action.action_id)
            self._order_actions[action.action_id] = ActionState(
                action_id=action.action_id,
                action_type=action.action_type,
                action_description=action.action_description,
                action_status=ActionStatus.WAITING,
            )

    def malformed(self, address: str, reason: str) -> None:
        """A message from master control that did not decode: a `validationError` warning."""
        self._report(_warning("validationError", reason, topic=address))

    # -- progress

    def traverse(self, sequence_id: int) -> bool:
        """The truck passed the released node `sequence_id`: it and all before it are done."""
        passed = [n for n in self.node_states if n.sequence_id <= sequence_id]
        if not passed or not passed[-1].released:
            return False
        last = passed[-1]
        self.last_node_id, self.last_node_sequence_id = last.node_id, last.sequence_id
        self.node_states = [n for n in self.node_states if n.sequence_id > sequence_id]
        self.edge_states = [e for e in self.edge_states if e.sequence_id > sequence_id]
        for seq in [s for s in self._node_actions if s <= sequence_id]:
            for action_id in self._node_actions.pop(seq):
                state = self._order_actions.get(action_id)
                if state is not None and state.action_status is ActionStatus.WAITING:
                    held = state.action_type in self.held
                    state.action_status = ActionStatus.RUNNING if held else ActionStatus.FINISHED
        return True

    def finish(self, action_id: str) -> bool:
        """A held action is done (the tank is full, say); whether it was running."""
        state = self._order_actions.get(action_id)
        if state is None or state.action_status is not ActionStatus.RUNNING:
            return False
        state.action_status = ActionStatus.FINISHED
        return True

    # -- instant actions

    def receive_instant_actions(self, message: InstantActions) -> list[str]:
        """Run instant actions; the action types that finished (the agent acts on some)."""
        done: list[str] = []
        for action in message.actions:
            status = ActionStatus.FINISHED
            result: str | None = None
            if action.action_type == "cancelOrder":
                status, result = self._cancel(action)
            elif action.action_type in ("startPause", "stopPause"):
                self.paused = action.action_type == "startPause"
            elif action.action_type not in INSTANT_ACTIONS:
                status, result = ActionStatus.FAILED, "not supported by this truck"
                self.errors.append(
                    _warning(
                        "orderError",
                        f"instant action {action.action_type!r} is not supported",
                        actionId=action.action_id,
                        actionType=action.action_type,
                    )
                )
            self._instant_actions[action.action_id] = ActionState(
                action_id=action.action_id,
                action_type=action.action_type,
                action_status=status,
                result_description=result,
            )
            if status is ActionStatus.FINISHED:
                done.append(action.action_type)
        for stale in list(self._instant_actions)[:-_KEEP_INSTANT]:
            del self._instant_actions[stale]
        return done

    def _cancel(self, action: Action) -> tuple[ActionStatus, str | None]:
        if not self.executing():
            self.errors.append(
                _warning(
                    "noOrderToCancel",
                    "cancelOrder, but the truck has no order to cancel",
                    actionId=action.action_id,
                )
            )
            return ActionStatus.FAILED, "no order to cancel"
        self.node_states, self.edge_states = [], []
        self._node_actions.clear()
        self.decision_point = None
        for state in self._order_actions.values():
            if state.action_status not in (ActionStatus.FINISHED, ActionStatus.FAILED):
                state.action_status = ActionStatus.FAILED
                state.result_description = "cancelled"
        return ActionStatus.FINISHED, None

"""VDA 5050 order rules on the truck (§6.6) and order progress from map-matched positions."""

from __future__ import annotations

from drivers.agent.orders import OrderBook, Verdict
from drivers.agent.progress import Progress, Whereabouts
from fleet.protocol.actions import BlockingType
from fleet.protocol.builders import Waypoint, make_action, make_instant_actions, make_order
from fleet.protocol.order import Order
from fleet.protocol.state import ActionStatus

M, S = "YardFleet", "TT07"
A = Waypoint("A", 0.0, 0.0)
B = Waypoint("B", 100.0, 0.0, actions=[make_action("pick", action_id="pick-B")])
C = Waypoint("C", 200.0, 0.0)
D = Waypoint("D", 300.0, 0.0)
E = Waypoint("E", 400.0, 0.0)
XY = {"A": (0.0, 0.0), "B": (100.0, 0.0), "C": (200.0, 0.0), "D": (300.0, 0.0), "E": (400.0, 0.0)}


def order(*route: Waypoint, update: int = 0, released: int | None = None, first: int = 0) -> Order:
    return make_order(
        M, S, "job-1", route, order_update_id=update, released=released,
        first_sequence_id=first, map_id="haiphong",
    )  # fmt: skip


def book_with_first_order() -> OrderBook:
    """A truck standing at A holding order job-1: base A-B, horizon C-D."""
    book = OrderBook("haiphong")
    assert book.receive_order(order(A, B, C, D, released=2), (1.0, 1.0)) is Verdict.ACCEPTED
    return book


def error_types(book: OrderBook) -> list[str]:
    return [e.error_type for e in book.errors]


def test_a_new_order_starting_where_the_truck_stands_is_accepted() -> None:
    book = book_with_first_order()
    assert (book.order_id, book.order_update_id) == ("job-1", 0)
    assert (book.last_node_id, book.last_node_sequence_id) == ("A", 0)  # the start counts
    assert [(n.node_id, n.released) for n in book.node_states] == [
        ("B", True), ("C", False), ("D", False),
    ]  # fmt: skip
    assert [(e.sequence_id, e.released) for e in book.edge_states] == [
        (1, True), (3, False), (5, False),
    ]  # fmt: skip
    assert book.decision_point == ("B", 2)
    assert [(a.action_id, a.action_status) for a in book.action_states] == [
        ("pick-B", ActionStatus.WAITING)
    ]
    assert book.executing()


def test_a_new_order_out_of_reach_or_while_busy_is_rejected() -> None:
    far = OrderBook("haiphong")
    assert far.receive_order(order(A, B), (50.0, 0.0)) is Verdict.REJECTED
    assert error_types(far) == ["orderError"] and far.order_id == ""
    assert far.receive_order(order(A, B), None) is Verdict.REJECTED  # position unknown
    book = book_with_first_order()
    other = make_order(M, S, "job-2", [A, B], map_id="haiphong")
    assert book.receive_order(other, (1.0, 0.0)) is Verdict.REJECTED
    assert book.order_id == "job-1" and error_types(book) == ["orderError"]


def test_order_update_ids_lower_rejected_equal_ignored_higher_stitched() -> None:
    book = book_with_first_order()
    assert book.receive_order(order(A, B, C, D, released=2), None) is Verdict.IGNORED
    assert book.errors == []
    update = order(B, C, D, E, update=2, released=3, first=2)
    assert book.receive_order(update, None) is Verdict.UPDATED
    assert book.order_update_id == 2
    # The old horizon C, D is replaced; C, D are now base, E is the new horizon.
    assert [(n.node_id, n.sequence_id, n.released) for n in book.node_states] == [
        ("B", 2, True), ("C", 4, True), ("D", 6, True), ("E", 8, False),
    ]  # fmt: skip
    assert [(e.sequence_id, e.released) for e in book.edge_states] == [
        (1, True), (3, True), (5, True), (7, False),
    ]  # fmt: skip
    assert book.decision_point == ("D", 6)
    assert [a.action_id for a in book.action_states] == ["pick-B"]  # the stitch node's own
    lower = order(B, C, update=1, first=2)
    assert book.receive_order(lower, None) is Verdict.REJECTED
    assert error_types(book) == ["orderUpdateError"] and book.order_update_id == 2
    # A later accepted update clears the warning.
    assert book.receive_order(order(D, E, update=3, first=6), None) is Verdict.UPDATED
    assert book.errors == []


def test_an_update_must_stitch_on_the_decision_point() -> None:
    book = book_with_first_order()
    wrong_node = order(C, D, update=1, first=4)
    assert book.receive_order(wrong_node, None) is Verdict.REJECTED
    assert error_types(book) == ["orderUpdateError"]
    wrong_sequence = order(B, C, update=1, first=6)  # B, but not B's sequenceId
    assert book.receive_order(wrong_sequence, None) is Verdict.REJECTED
    assert book.order_update_id == 0 and len(book.node_states) == 3


def test_an_update_after_the_base_is_done_continues_from_the_last_node() -> None:
    book = OrderBook("haiphong")
    book.receive_order(order(A, B), (0.0, 0.0))
    assert book.traverse(2)
    assert (book.last_node_id, book.last_node_sequence_id) == ("B", 2)
    assert book.action_states[0].action_status is ActionStatus.FINISHED  # passed B
    assert not book.executing()
    assert book.receive_order(order(A, B, update=1), None) is Verdict.REJECTED
    assert book.receive_order(order(B, C, update=1, first=2), None) is Verdict.UPDATED
    assert [n.node_id for n in book.node_states] == ["C"]


def test_malformed_orders_are_validation_errors() -> None:
    book = book_with_first_order()
    broken = order(B, C, update=1, first=2)
    broken.edges[0].end_node_id = "X"
    assert book.receive_order(broken, None) is Verdict.REJECTED
    assert error_types(book) == ["validationError"]
    other_map = make_order(M, S, "job-9", [A, B], map_id="elsewhere")
    fresh = OrderBook("haiphong")
    assert fresh.receive_order(other_map, (0.0, 0.0)) is Verdict.REJECTED
    assert "map 'elsewhere'" in (fresh.errors[0].error_description or "")
    horizon_first = order(A, B)
    horizon_first.nodes[0].released = False
    assert fresh.receive_order(horizon_first, (0.0, 0.0)) is Verdict.REJECTED


def test_cancel_order_clears_the_route_and_keeps_the_ids() -> None:
    book = book_with_first_order()
    cancel = make_instant_actions(M, S, [make_action("cancelOrder", action_id="c1")])
    assert book.receive_instant_actions(cancel) == ["cancelOrder"]
    assert book.node_states == [] and book.edge_states == []
    assert (book.order_id, book.order_update_id) == ("job-1", 0)
    states = {a.action_id: a.action_status for a in book.action_states}
    assert states == {"pick-B": ActionStatus.FAILED, "c1": ActionStatus.FINISHED}
    again = make_instant_actions(M, S, [make_action("cancelOrder", action_id="c2")])
    assert book.receive_instant_actions(again) == []
    assert {a.action_id: a.action_status for a in book.action_states}["c2"] is ActionStatus.FAILED
    assert error_types(book) == ["noOrderToCancel"]
    assert book.errors[0].error_references is not None
    assert book.errors[0].error_references[0].reference_value == "c2"
    # After a cancellation a new order starting where the truck stands is accepted.
    new = make_order(M, S, "job-2", [A, B], map_id="haiphong")
    assert book.receive_order(new, (0.5, 0.0)) is Verdict.ACCEPTED


def test_pause_and_unknown_instant_actions() -> None:
    book = OrderBook("haiphong")
    pause = make_action("startPause", blocking_type=BlockingType.HARD)
    assert book.receive_instant_actions(make_instant_actions(M, S, [pause])) == ["startPause"]
    assert book.paused
    odd = make_action("liftForks", action_id="odd")
    assert book.receive_instant_actions(make_instant_actions(M, S, [odd])) == []
    assert error_types(book) == ["orderError"]


def where(x: float, speed: float = 3.0, lane: str | None = None) -> Whereabouts:
    return Whereabouts(x=x, y=2.0, speed_mps=speed, lane_id=lane, offset_m=x, snap_x=x, snap_y=0.0)


def test_progress_passes_released_nodes_as_the_truck_reaches_them() -> None:
    book = OrderBook("haiphong")
    route = [w._replace(lane_id=f"lane-{w.node_id}") for w in (A, B, C, D, E)]
    book.receive_order(order(*route, released=4), (0.0, 0.0))
    progress = Progress(5.0, XY.get)
    assert progress.update(book, where(50.0))  # starts driving
    assert book.last_node_id == "A" and progress.distance_since_last_node is None
    assert progress.update(book, where(97.0)) and book.last_node_id == "B"
    assert book.action_states[0].action_status is ActionStatus.FINISHED
    assert [e.sequence_id for e in book.edge_states] == [3, 5, 7]
    assert not progress.update(book, where(150.0, lane="lane-C"))
    assert progress.distance_since_last_node == 150.0  # on the edge being driven
    # A fix lost at C: reaching D passes C and its edges too.
    assert progress.update(book, where(302.0)) and book.last_node_sequence_id == 6
    assert [n.node_id for n in book.node_states] == ["E"]
    # E is horizon: reaching it passes nothing; stopping is a change.
    assert not progress.update(book, where(400.0))
    assert progress.update(book, where(400.0, speed=0.0)) and not progress.driving
    assert book.last_node_id == "D"


def test_progress_judges_by_the_snapped_position_and_the_order_deviation() -> None:
    book = OrderBook("haiphong")
    b = Waypoint("B", 100.0, 0.0)
    route = order(A, b)
    assert route.nodes[1].node_position is not None
    route.nodes[1].node_position.allowed_deviation_x_y = 1.0
    book.receive_order(route, (0.0, 0.0))
    progress = Progress(5.0, lambda _node: None)
    progress.update(book, Whereabouts(x=98.5, y=0.0, speed_mps=1.0))  # 1.5 m off: not yet
    assert book.last_node_id == "A"
    snapped = Whereabouts(x=99.5, y=3.0, speed_mps=1.0, lane_id="A-B", snap_x=99.5, snap_y=0.0)
    progress.update(book, snapped)  # in range, but still driving up the edge into B
    assert book.last_node_id == "A"
    standing = Whereabouts(x=99.5, y=3.0, speed_mps=0.0, lane_id="A-B", snap_x=99.5, snap_y=0.0)
    progress.update(book, standing)  # stopped there: it is at B
    assert book.last_node_id == "B" and not book.executing()


def test_an_order_looping_back_to_its_start_is_not_cut_short() -> None:
    book = OrderBook("haiphong")
    a_again = Waypoint("A", 0.0, 0.0, lane_id="B-A")
    book.receive_order(order(A, B, a_again), (0.0, 0.0))
    progress = Progress(5.0, XY.get)
    progress.update(book, where(0.0))  # still at A: the A at the end is not reached
    assert book.last_node_sequence_id == 0
    progress.update(book, where(100.0))
    progress.update(book, where(99.0))
    assert book.last_node_sequence_id == 2
    progress.update(book, where(1.0))
    assert book.last_node_sequence_id == 4 and not book.node_states


def test_a_node_part_way_along_a_lane_is_passed_even_when_no_fix_fell_on_it() -> None:
    """Cell boundaries are order nodes part-way along one lane (`lane@metres`): the edges
    before and after are the same lane, so leaving the edge does not tell the truck passed
    it. A truck whose report right at the node was missed (15 m on, out of the node's
    range) still counts it by where it is along the lane, else its order stalls there and
    its commands no longer match its wheels."""
    book = OrderBook("haiphong")
    cut1, cut2 = (
        Waypoint("L@100.00", 100.0, 0.0, lane_id="L"),
        Waypoint("L@200.00", 200.0, 0.0, lane_id="L"),
    )
    end = Waypoint("Z", 300.0, 0.0, lane_id="L")
    book.receive_order(order(A._replace(lane_id="L"), cut1, cut2, end), (0.0, 0.0))
    progress = Progress(1.0, XY.get, lane_offset=lambda _lane, x, _y: x)
    progress.update(book, where(90.0, lane="L"))
    assert book.last_node_id == "A"  # not there yet
    progress.update(book, where(115.0, lane="L"))  # 15 m past L@100 (no fix at it)
    assert book.last_node_id == "L@100.00"
    assert progress.distance_since_last_node == 15.0
    progress.update(book, where(199.0, lane="L"))
    assert book.last_node_id == "L@100.00"  # a metre short of L@200: not yet

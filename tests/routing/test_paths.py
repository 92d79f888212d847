"""Fastest paths and the travel-time table on the live network: closures, zones, errors."""

from __future__ import annotations

from collections import Counter

import networkx as nx
import numpy as np
import pytest

from maps import UnknownFeatureError, Yard
from routing.errors import NoRouteError
from routing.network import LaneNetwork
from routing.paths import Router
from routing.table import TravelTimeTable


@pytest.fixture
def net(haiphong: Yard) -> LaneNetwork:
    return LaneNetwork(haiphong)


def nx_time(yard: Yard, a: str, b: str, speed_mps: float, closed: set[str] = set()) -> float:  # noqa: B006
    g = nx.DiGraph()
    for lane in yard.lanes.values():
        if lane.id not in closed:
            g.add_edge(lane.start, lane.end, t=lane.length_m / min(lane.speed_limit_mps, speed_mps))
    return float(nx.dijkstra_path_length(g, a, b, weight="t"))


def test_fastest_path_agrees_with_networkx(net: LaneNetwork, haiphong: Yard) -> None:
    router = Router(net)
    for a, b in [
        ("QC01.SP", "J2.TP3"),
        ("A1.TP1", "QC06.SP"),
        ("PARK.S01", "FUEL.P2"),
        ("GATE.L4", "E2.TP2"),
    ]:
        route = router.route(a, b)
        na, nb = haiphong.service_points[a].node, haiphong.service_points[b].node
        assert route.time_s == pytest.approx(nx_time(haiphong, na, nb, 25 / 3.6))
        assert route.nodes[0] == na and route.nodes[-1] == nb
        hops = zip(route.nodes, route.nodes[1:], strict=False)
        for lane_id, (u, v) in zip(route.lanes, hops, strict=True):
            assert (haiphong.lanes[lane_id].start, haiphong.lanes[lane_id].end) == (u, v)
        assert route.length_m == pytest.approx(sum(haiphong.lanes[k].length_m for k in route.lanes))


def test_laden_trucks_are_slower(net: LaneNetwork) -> None:
    router = Router(net)
    empty, laden = router.route("QC01.SP", "J2.TP3"), router.route("QC01.SP", "J2.TP3", laden=True)
    assert laden.time_s > empty.time_s
    assert laden.time_s == pytest.approx(
        nx_time(net.yard, laden.nodes[0], laden.nodes[-1], 20 / 3.6)
    )


def test_a_closure_changes_the_next_route_and_reopening_restores_it(net: LaneNetwork) -> None:
    router = Router(net)
    before = router.route("QC03.SP", "F1.TP2")
    closed = before.lanes[len(before.lanes) // 2]
    net.close(closed)
    during = router.route("QC03.SP", "F1.TP2")
    assert closed not in during.lanes
    assert during.time_s >= before.time_s
    assert during.time_s == pytest.approx(
        nx_time(net.yard, before.nodes[0], before.nodes[-1], 25 / 3.6, {closed})
    )
    net.reopen(closed)
    assert router.route("QC03.SP", "F1.TP2") == before


def test_a_speed_zone_slows_the_route_until_lifted(net: LaneNetwork) -> None:
    router = Router(net)
    before = router.route("QC03.SP", "F1.TP2")
    net.set_speed_zone("rain", before.lanes, 2.0)
    during = router.route("QC03.SP", "F1.TP2")
    assert during.time_s > before.time_s
    assert net.speed_on(before.lanes[3], laden=False) == 2.0
    net.clear_speed_zone("rain")
    assert router.route("QC03.SP", "F1.TP2").time_s == pytest.approx(before.time_s)


def test_unreachable_destination_names_both_ends(net: LaneNetwork) -> None:
    router = Router(net)
    # QC01 sits west of every vertical road: the apron loop's west end is its only way out.
    net.close("apron-w-01")
    with pytest.raises(NoRouteError, match=r"no route from 'QC01\.SP' to 'J2\.TP3'.*apron-w-01"):
        router.route("QC01.SP", "J2.TP3")


def test_unknown_places_and_lanes_are_named(net: LaneNetwork) -> None:
    router = Router(net)
    with pytest.raises(UnknownFeatureError, match=r"'QC99\.SP'"):
        router.route("QC99.SP", "A1.TP1")
    with pytest.raises(UnknownFeatureError, match="no-such-lane"):
        net.close("no-such-lane")


def test_table_matches_the_router_and_refreshes_only_affected_rows(net: LaneNetwork) -> None:
    table = TravelTimeTable(net)
    router = Router(net)
    n = len(table.points)
    assert table.times.shape == (n, n)
    rng = np.random.default_rng(5)
    for i, j in rng.integers(0, n, (30, 2)):
        a, b = table.points[i], table.points[j]
        assert table.time(a, b) == pytest.approx(router.time(a, b))
    # In a compiled yard most nodes are entered by one lane only (a stop line, a lane's
    # start), so every source's tree uses that lane; a junction's movement onto a lane that
    # other movements also reach is used by some sources' trees and not by others'.
    into = Counter(lane.end for lane in net.yard.lanes.values())
    route = router.route("QC02.SP", "H1.TP1")
    lane = next(k for k in route.lanes[4:] if into[net.yard.lanes[k].end] > 1)
    net.close(lane)
    assert 0 < table.last_refreshed_rows < n
    fresh = TravelTimeTable(net)
    np.testing.assert_allclose(table.times, fresh.times)
    net.reopen(lane)
    assert 0 < table.last_refreshed_rows < n
    np.testing.assert_allclose(table.times, TravelTimeTable(net).times)


def test_a_vehicle_class_keeps_to_the_lane_kinds_it_may_use(haiphong: Yard) -> None:
    from maps import LaneKind
    from routing.vehicle import VehicleClass

    # An autonomous ITV barred from the gate lanes (the OCR gate is for road trucks here).
    itv = VehicleClass("autonomous-itv", allowed_kinds=frozenset(LaneKind) - {LaneKind.GATE})
    router = Router(LaneNetwork(haiphong, itv))
    assert router.route("QC01.SP", "J2.TP3").time_s > 0
    with pytest.raises(NoRouteError, match=r"no route from 'QC01\.SP' to 'GATE\.L1'"):
        router.route("QC01.SP", "GATE.L1")
    assert Router(LaneNetwork(haiphong)).route("QC01.SP", "GATE.L1").lanes[-1] == "GATE.L1-in"

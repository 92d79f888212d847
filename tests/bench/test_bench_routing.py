"""Routing benchmarks: one fastest path against plain networkx, the service-point table and
its refresh after a closure (csgraph against networkx), and planning 50, 200 and 500 trucks.

At YARDFLEET_BENCH_SCALE < 1 (make test) the fleet sizes shrink; every benchmark still
checks its result (paths equal networkx's, tables equal a full recomputation, plans free
of conflicts by the independent checker).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import replace

import networkx as nx
import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from maps import TerminalSpec, Yard, generate_terminal, terminal
from routing.checker import check_plans
from routing.network import LaneNetwork
from routing.paths import Router
from routing.planner import FleetPlanner, Task
from routing.table import TravelTimeTable

SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))
EMPTY_MPS = 25 / 3.6
PAIRS = [
    ("QC01.SP", "J2.TP3"),
    ("A1.TP1", "QC06.SP"),
    ("PARK.S01", "FUEL.P2"),
    ("GATE.L4", "E2.TP2"),
    ("QC03.SP", "F1.TP2"),
]


@pytest.fixture(scope="module")
def yard() -> Yard:
    return terminal()


def timed_graph(yard: Yard) -> nx.DiGraph:
    g = nx.DiGraph()
    for lane in yard.lanes.values():
        g.add_edge(
            lane.start,
            lane.end,
            t=lane.length_m / min(lane.speed_limit_mps, EMPTY_MPS),
            x=yard.nodes[lane.end].x,
            y=yard.nodes[lane.end].y,
        )
    return g


def _nodes(yard: Yard) -> list[tuple[str, str]]:
    return [(yard.service_points[a].node, yard.service_points[b].node) for a, b in PAIRS]


def test_bench_path_ours_cold(benchmark: BenchmarkFixture, yard: Yard) -> None:
    """Our router, a fresh network each round: Dijkstra tree built, then the path walked."""
    g = timed_graph(yard)

    def run() -> list[float]:
        router = Router(LaneNetwork(yard))
        return [router.route(a, b).time_s for a, b in PAIRS]

    times = benchmark(run)
    expect = [nx.dijkstra_path_length(g, a, b, weight="t") for a, b in _nodes(yard)]
    np.testing.assert_allclose(times, expect)


def test_bench_path_ours_warm(benchmark: BenchmarkFixture, yard: Yard) -> None:
    """Our router on a live network: trees cached until the next closure."""
    router = Router(LaneNetwork(yard))
    times = benchmark(lambda: [router.route(a, b).time_s for a, b in PAIRS])
    g = timed_graph(yard)
    expect = [nx.dijkstra_path_length(g, a, b, weight="t") for a, b in _nodes(yard)]
    np.testing.assert_allclose(times, expect)


def test_bench_path_networkx_dijkstra(benchmark: BenchmarkFixture, yard: Yard) -> None:
    g = timed_graph(yard)
    pairs = _nodes(yard)
    paths = benchmark(lambda: [nx.dijkstra_path(g, a, b, weight="t") for a, b in pairs])
    assert all(p[0] == a and p[-1] == b for p, (a, b) in zip(paths, pairs, strict=True))


def test_bench_path_networkx_astar(benchmark: BenchmarkFixture, yard: Yard) -> None:
    g = timed_graph(yard)
    pairs = _nodes(yard)
    pos = {n: (yard.nodes[n].x, yard.nodes[n].y) for n in g}

    def h(u: str, v: str) -> float:
        return float(np.hypot(pos[u][0] - pos[v][0], pos[u][1] - pos[v][1])) / EMPTY_MPS

    paths = benchmark(lambda: [nx.astar_path(g, a, b, heuristic=h, weight="t") for a, b in pairs])
    assert all(p[0] == a and p[-1] == b for p, (a, b) in zip(paths, pairs, strict=True))


def test_bench_table_csgraph(benchmark: BenchmarkFixture, yard: Yard) -> None:
    """The full service-point table with scipy.sparse.csgraph (what TravelTimeTable uses)."""
    table = benchmark(lambda: TravelTimeTable(LaneNetwork(yard)))
    assert table.times.shape == (len(yard.service_points),) * 2


def test_bench_table_networkx(benchmark: BenchmarkFixture, yard: Yard) -> None:
    """The same table with networkx, one Dijkstra per service point: the peer we measured."""
    g = timed_graph(yard)
    sps = sorted(yard.service_points)
    nodes = [yard.service_points[p].node for p in sps]

    def run() -> np.ndarray:
        out = np.empty((len(nodes), len(nodes)))
        for i, a in enumerate(nodes):
            d = nx.single_source_dijkstra_path_length(g, a, weight="t")
            out[i] = [d.get(b, np.inf) for b in nodes]
        return out

    times = benchmark(run)
    np.testing.assert_allclose(times, TravelTimeTable(LaneNetwork(yard)).times)


def test_bench_table_refresh_after_closure(benchmark: BenchmarkFixture, yard: Yard) -> None:
    """Closing and reopening one busy lane: only the rows it touches are recomputed."""
    net = LaneNetwork(yard)
    table = TravelTimeTable(net)
    # A junction's movement onto a lane other movements also reach: in a compiled yard most
    # nodes are entered by one lane only, and closing that lane touches every source's tree.
    into = Counter(lane.end for lane in yard.lanes.values())
    route = Router(net).route("QC02.SP", "H1.TP1")
    lane = next(k for k in route.lanes[4:] if into[yard.lanes[k].end] > 1)
    rows: list[int] = []

    def run() -> None:
        net.close(lane)
        rows.append(table.last_refreshed_rows)
        net.reopen(lane)

    benchmark(run)
    assert 0 < max(rows) < len(table.points)
    np.testing.assert_allclose(table.times, TravelTimeTable(LaneNetwork(yard)).times)


def _fleet_yard(trucks: int) -> Yard:
    """A generated terminal with at least twice as many service points as trucks."""
    if trucks <= 60:
        return terminal()
    spec = TerminalSpec(
        id=f"bench{trucks}",
        quay_cranes=12,
        quay_length_m=1800,
        block_columns=6,
        block_rows=4,
        bays=52,
        parking_spots=60,
        gate_lanes=8,
        fuel_pumps=4,
    )
    # As many transfer points as a 52-bay block holds (bays 30 m apart, clear of the roads).
    tps = max(n for n in range(1, 13) if not replace(spec, transfer_points_per_block=n).problems())
    rows = max(4, -(-trucks * 2 // (tps * 6)))  # 6 columns of blocks
    return generate_terminal(
        replace(spec, id=f"bench{trucks}", block_rows=rows, transfer_points_per_block=tps)
    )


@pytest.mark.parametrize("trucks", [50, 200, 500])
def test_bench_plan_fleet(benchmark: BenchmarkFixture, trucks: int) -> None:
    n = max(5, round(trucks * SCALE))
    yard = _fleet_yard(n)
    assert len(yard.service_points) >= 2 * n
    rng = random.Random(trucks)
    pool = rng.sample(sorted(yard.service_points), 2 * n)
    tasks = [
        Task(f"T{i:03d}", a, b, laden=bool(i % 2))
        for i, (a, b) in enumerate(zip(pool[:n], pool[n:], strict=True))
    ]
    net = LaneNetwork(yard)
    FleetPlanner(net).plan(tasks[:1])  # warm the speed tables of this network

    report = benchmark.pedantic(lambda: FleetPlanner(net).plan(tasks), rounds=1, iterations=1)
    assert report.complete, report.failed
    assert check_plans(list(report.plans.values()), yard) == []
    benchmark.extra_info.update(
        trucks=n,
        service_points=len(yard.service_points),
        expansions=report.expansions,
        seconds=report.seconds,
        makespan_s=max(p.t_end for p in report.plans.values()),
    )

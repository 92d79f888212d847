"""MAPF benchmarks of the routing issue: random-32-32-20 and warehouse-10-20-10-2-1, scenario 1.

Agent counts scale with YARDFLEET_BENCH_SCALE (default 1.0: 100, 200, 400 and 100, 300,
500 agents; `make test` runs a tenth). One round each, since a run takes seconds. Every
run must be solved and valid by both checkers; at full size the 500-agent warehouse must
reach a sum of costs ≤ 1.5 × the lower bound within 30 s. A table of agents, solved,
SoC/LB and seconds is printed at the end (run with -s to see it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from maps.movingai import read_map, read_scenario
from routing.mapf import MapfResult, solve, validate_solution
from routing.mapf.solution import check_with_plans

MAPF = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "mapf"
SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))
TIME_LIMIT_S = 60.0
RANDOM = "random-32-32-20"
WAREHOUSE = "warehouse-10-20-10-2-1"
CASES = [(RANDOM, 100), (RANDOM, 200), (RANDOM, 400),
         (WAREHOUSE, 100), (WAREHOUSE, 300), (WAREHOUSE, 500)]
ROWS: list[dict[str, object]] = []


def corpus(name: str) -> Path:
    """A file of ../shared/corpus/mapf, or skip where the corpus is absent."""
    path = MAPF / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/corpus/mapf is not laid out here)")
    return path


def ratio_at(result: MapfResult, seconds: float) -> float:
    """SoC/LB of the best solution found by `seconds` (nan if none by then)."""
    found = [soc for t, soc in result.history if t <= seconds]
    if not found or not result.lower_bound:
        return math.nan
    return found[-1] / result.lower_bound


@pytest.fixture(scope="module", autouse=True)
def table() -> Iterator[None]:
    """Print the table of every run once the module's benchmarks are done."""
    yield
    if not ROWS:
        return
    head = (
        f"{'instance':<26}{'agents':>7}{'solved':>8}{'SoC/LB':>8}{'first s':>9}"
        f"{'seconds':>9}{'@10 s':>7}{'@30 s':>7}"
    )
    limit = ROWS[0]["time_limit_s"]
    lines = ["", f"MAPF benchmarks (scale {SCALE:g}, time limit {limit} s per run)", head]
    for r in ROWS:
        lines.append(
            f"{r['instance']!s:<26}{r['agents']!s:>7}{r['solved']!s:>8}"
            f"{r['soc_over_lb']:>8.3f}{r['first_solution_seconds']:>9.2f}{r['seconds']:>9.2f}"
            f"{r['soc_over_lb_at_10s']:>7.3f}{r['soc_over_lb_at_30s']:>7.3f}"
        )
    print("\n".join(lines))


@pytest.mark.corpus
@pytest.mark.parametrize(("name", "full"), CASES, ids=[f"{m}-{n}" for m, n in CASES])
def test_bench_mapf(benchmark: BenchmarkFixture, name: str, full: int) -> None:
    """Solve the first N agents of scenario random-1 and check the solution."""
    grid = read_map(corpus(f"{name}.map"))
    agents = read_scenario(corpus(f"{name}-random-1.scen"))[: max(1, round(full * SCALE))]
    limit = TIME_LIMIT_S if SCALE >= 1 else max(5.0, TIME_LIMIT_S * SCALE)
    result: MapfResult = benchmark.pedantic(  # type: ignore[no-untyped-call]
        solve, args=(grid, agents, limit), rounds=1, iterations=1
    )
    assert result.solved, result.message
    assert validate_solution(grid, agents, result.paths) == []
    assert check_with_plans(result.paths) == []
    row: dict[str, object] = {
        "instance": name,
        "agents": len(agents),
        "solved": result.solved,
        "soc_over_lb": result.soc_over_lb,
        "sum_of_costs": result.sum_of_costs,
        "lower_bound": result.lower_bound,
        "makespan": result.makespan,
        "seconds": result.seconds,
        "first_solution_seconds": result.first_solution_seconds,
        "soc_over_lb_at_10s": ratio_at(result, 10.0),
        "soc_over_lb_at_30s": ratio_at(result, 30.0),
        "method": result.method,
        "time_limit_s": limit,
    }
    benchmark.extra_info.update(row)
    ROWS.append(row)
    if benchmark.stats is not None:  # timing on: the solver keeps to its time limit
        assert result.seconds <= limit + 1.0
    if name == WAREHOUSE and full == 500 and SCALE >= 1:
        assert ratio_at(result, 30.0) <= 1.5

"""MAPF on grids: handmade corridors, the validator's mutations, moves, the corpus, the CLI."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from click.testing import CliRunner

from maps.movingai import GridMap, ScenarioAgent, parse_map, read_map, read_scenario
from routing.mapf import (
    MapfResult,
    Progress,
    from_moves,
    lower_bound,
    solve,
    to_moves,
    to_plans,
    validate_solution,
)
from routing.mapf.cli import mapf_cmd
from routing.mapf.instance import Instance
from routing.mapf.lacam import lacam, paths_from_configs
from routing.mapf.lns import Lns
from routing.mapf.moves import MovesFormatError
from routing.mapf.pibt import pibt_only
from routing.mapf.reservations import Reservations
from routing.mapf.sipp import sipp_path
from routing.mapf.solution import check_with_plans, costs, pad

MAPF = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "mapf"
RANDOM = "random-32-32-20"
WAREHOUSE = "warehouse-10-20-10-2-1"
Cell = tuple[int, int]


def corpus(name: str) -> Path:
    """A file of ../shared/corpus/mapf, or skip where the corpus is absent."""
    path = MAPF / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/corpus/mapf is not laid out here)")
    return path


def grid_of(*rows: str) -> GridMap:
    """A map from rows of `.` (free) and `@` (blocked)."""
    text = f"type octile\nheight {len(rows)}\nwidth {len(rows[0])}\nmap\n" + "\n".join(rows)
    return parse_map(text, "test.map")


def agents_of(pairs: Sequence[tuple[Cell, Cell]]) -> list[ScenarioAgent]:
    """Agents from (start, goal) pairs."""
    return [ScenarioAgent(0, "test.map", s, g, 0.0) for s, g in pairs]


def assert_valid(grid: GridMap, agents: list[ScenarioAgent], result: MapfResult) -> None:
    """Solved, valid by both checkers, costs consistent with the paths."""
    assert result.solved, result.message
    assert validate_solution(grid, agents, result.paths) == []
    assert check_with_plans(result.paths) == []
    assert len({len(p) for p in result.paths}) <= 1  # padded to one length
    assert result.sum_of_costs == sum(costs(result.paths))
    assert result.makespan == max(costs(result.paths), default=0)
    assert result.sum_of_costs >= result.lower_bound == lower_bound(grid, agents)


# --- handmade instances ----------------------------------------------------------------


def test_corridor_swap_uses_the_side_pocket() -> None:
    """Two agents swap ends of a one-wide corridor: one must step into the pocket."""
    grid = grid_of("@@.@@", ".....")
    agents = agents_of([((0, 1), (4, 1)), ((4, 1), (0, 1))])
    result = solve(grid, agents, 10.0)
    assert_valid(grid, agents, result)
    assert any((2, 0) in path for path in result.paths)
    assert result.lower_bound == 8
    assert 11 <= result.sum_of_costs <= 13  # optimal: one waits, the other steps aside


CORRIDORS = [
    # (map rows, (start, goal) pairs): PIBT alone circles forever, LaCAM solves them.
    (("....." , "@@.@."), [((1, 0), (1, 0)), ((3, 0), (2, 1)), ((0, 0), (4, 0))]),
    (("..@.@@", "......"), [((1, 1), (1, 1)), ((3, 1), (4, 1)), ((3, 0), (3, 1)),
                             ((4, 1), (2, 1))]),
    (("@@.", "...", ".@.", "..."), [((2, 1), (0, 1)), ((0, 1), (2, 0)), ((2, 2), (1, 3)),
                                    ((2, 0), (2, 2))]),
]


@pytest.mark.parametrize(("rows", "pairs"), CORRIDORS)
def test_lacam_solves_where_pibt_alone_fails(
    rows: tuple[str, ...], pairs: list[tuple[Cell, Cell]]
) -> None:
    """Narrow corridors: PIBT alone never gets everybody home, LaCAM's search does."""
    grid = grid_of(*rows)
    agents = agents_of(pairs)
    instance = Instance(grid, agents)
    for seed in range(5):
        assert pibt_only(instance, 300, random.Random(seed)) is None
    assert lacam(instance, time.perf_counter() + 5, random.Random(0)) is not None
    assert_valid(grid, agents, solve(grid, agents, 10.0))


def test_no_solution_is_reported_unsolved() -> None:
    """Two agents swapping on a two-cell corridor: LaCAM exhausts the space, nothing returned."""
    grid = grid_of("..")
    agents = agents_of([((0, 0), (1, 0)), ((1, 0), (0, 0))])
    result = solve(grid, agents, 10.0)
    assert not result.solved
    assert result.paths == []
    assert "no solution" in result.message


def test_unreachable_goal_is_reported_unsolved() -> None:
    """A goal walled off from the start: unsolved at once, naming the agent."""
    grid = grid_of(".@.")
    result = solve(grid, agents_of([((0, 0), (2, 0))]), 10.0)
    assert not result.solved
    assert "agent #0" in result.message and "cannot be reached" in result.message


def test_malformed_instances_raise() -> None:
    """Shared starts or goals and blocked cells are errors naming the agents."""
    grid = grid_of("...", ".@.")
    with pytest.raises(ValueError, match="also the start of agent #0"):
        solve(grid, agents_of([((0, 0), (2, 0)), ((0, 0), (0, 1))]), 1.0)
    with pytest.raises(ValueError, match="also the goal"):
        solve(grid, agents_of([((0, 0), (2, 0)), ((1, 0), (2, 0))]), 1.0)
    with pytest.raises(ValueError, match=r"goal \(1, 1\) is blocked"):
        lower_bound(grid, agents_of([((0, 0), (1, 1))]))


def test_time_limit_reached_is_unsolved() -> None:
    """No time at all: unsolved, saying so, and no paths — never a partial solution."""
    grid = grid_of(*["......"] * 4)
    agents = agents_of([((0, 0), (5, 3)), ((5, 3), (0, 0))])
    result = solve(grid, agents, 1e-9)
    assert not result.solved and result.paths == []
    assert "not solved within" in result.message


def test_progress_and_first_solution_only() -> None:
    """Progress reports each phase and gain; improve=False stops at LaCAM's solution."""
    grid = grid_of(*["......"] * 6)
    agents = agents_of([((0, 0), (5, 5)), ((5, 5), (0, 0)), ((0, 5), (5, 0)), ((5, 0), (0, 5))])
    seen: list[Progress] = []
    result = solve(grid, agents, 10.0, progress=seen.append)
    assert_valid(grid, agents, result)
    assert seen[0].phase == "lacam" and seen[-1].phase == "done"
    assert seen[-1].sum_of_costs == result.sum_of_costs
    assert all(p.lower_bound == result.lower_bound for p in seen)
    assert result.history[0][1] == result.initial_sum_of_costs
    assert [soc for _, soc in result.history] == sorted(
        (soc for _, soc in result.history), reverse=True
    )
    first = solve(grid, agents, 10.0, improve=False)
    assert_valid(grid, agents, first)
    assert first.method == "lacam" and first.sum_of_costs == first.initial_sum_of_costs


def test_empty_and_trivial_instances() -> None:
    """No agents is solved with nothing; agents already home cost nothing."""
    grid = grid_of("...")
    assert solve(grid, [], 1.0).solved
    agents = agents_of([((0, 0), (0, 0)), ((2, 0), (2, 0))])
    result = solve(grid, agents, 1.0)
    assert_valid(grid, agents, result)
    assert result.sum_of_costs == 0 and result.paths == [[(0, 0)], [(2, 0)]]


def test_random_small_instances_are_solved_validly() -> None:
    """Random small grids and agents: whatever is solved passes both checkers."""
    rng = random.Random(7)
    solved = 0
    for _ in range(60):
        w, h = rng.randint(3, 6), rng.randint(2, 5)
        free = np.array([[rng.random() > 0.25 for _ in range(w)] for _ in range(h)])
        cells = [(x, y) for y in range(h) for x in range(w) if free[y, x]]
        if len(cells) < 3:
            continue
        k = rng.randint(2, min(len(cells) - 1, 6))
        agents = agents_of(list(zip(rng.sample(cells, k), rng.sample(cells, k), strict=True)))
        grid = GridMap("rand", w, h, free)
        result = solve(grid, agents, 5.0, seed=rng.randint(0, 99))
        if result.solved:
            solved += 1
            assert_valid(grid, agents, result)
        else:
            assert result.paths == [] and result.message
    assert solved > 20


# --- SIPP against a brute-force search ---------------------------------------------------


def brute_force(res: Reservations, instance: Instance, agent: int, horizon: int) -> int | None:
    """Earliest arrival by breadth-first search over (cell, t), written without SIPP's tricks."""
    start, goal = instance.starts[agent], instance.goals[agent]
    if res.park[goal] < horizon * 10 or res.holder(start, 0) != -1:
        return None
    free_after = res.last_visit(goal) + 1
    layer = {start}
    for t in range(horizon + 1):
        if goal in layer and t >= free_after:
            return t
        nxt = set()
        for v in layer:
            for u in (v, *instance.neighbours[v]):
                if res.holder(u, t + 1) != -1:
                    continue
                other = res.holder(u, t)
                if u != v and other != -1 and res.holder(v, t + 1) == other:
                    continue
                nxt.add(u)
        layer = nxt
    return None


def test_sipp_finds_the_earliest_arrival() -> None:
    """Agents planned one by one: SIPP's arrival equals a brute-force search's, always."""
    rng = random.Random(3)
    compared = 0
    for _ in range(150):
        w, h = rng.randint(2, 6), rng.randint(2, 6)
        free = np.array([[rng.random() > 0.25 for _ in range(w)] for _ in range(h)])
        cells = [(x, y) for y in range(h) for x in range(w) if free[y, x]]
        if len(cells) < 2:
            continue
        k = rng.randint(1, min(len(cells) - 1, 8))
        agents = agents_of(list(zip(rng.sample(cells, k), rng.sample(cells, k), strict=True)))
        instance = Instance(GridMap("rand", w, h, free), agents)
        dist = instance.tables()
        res = Reservations(instance.cells)
        for a in range(k):
            path = sipp_path(res, instance.neighbours, dist[a], instance.starts[a],
                             instance.goals[a], 40, 10**6)
            expected = brute_force(res, instance, a, 40)
            compared += 1
            assert (None if path is None else len(path) - 1) == expected
            if path is None:
                break
            res.add(a, path)
    assert compared > 200


def test_lns_never_worsens_and_stays_valid() -> None:
    """From LaCAM's solution on a crowded open grid: LNS only lowers the cost, stays valid."""
    grid = grid_of(*["......."] * 5)
    rng = random.Random(11)
    cells = [(x, y) for y in range(5) for x in range(7)]
    agents = agents_of(list(zip(rng.sample(cells, 14), rng.sample(cells, 14), strict=True)))
    instance = Instance(grid, agents)
    configs = lacam(instance, time.perf_counter() + 5, rng)
    assert configs is not None
    lns = Lns(instance, paths_from_configs(configs, instance.goals), rng)
    before = lns.sum_of_costs
    for _ in range(300):
        cost = lns.sum_of_costs
        lns.iterate()
        assert lns.sum_of_costs <= cost
        assert lns.sum_of_costs == sum(len(p) - 1 for p in lns.paths)
    assert lns.sum_of_costs <= before
    solution = pad([[instance.xy[v] for v in p] for p in lns.paths])
    assert validate_solution(grid, agents, solution) == []


# --- the validator catches broken solutions ----------------------------------------------


@pytest.fixture(scope="module")
def small_solution() -> tuple[GridMap, list[ScenarioAgent], list[list[Cell]]]:
    """A solved open 6×6 instance with six agents crossing."""
    grid = grid_of(*["......"] * 6)
    agents = agents_of([((0, 0), (5, 5)), ((5, 5), (0, 0)), ((0, 5), (5, 0)),
                        ((5, 0), (0, 5)), ((2, 0), (2, 5)), ((3, 5), (3, 0))])
    result = solve(grid, agents, 10.0)
    assert_valid(grid, agents, result)
    return grid, agents, result.paths


def test_validator_reports_a_collision(
    small_solution: tuple[GridMap, list[ScenarioAgent], list[list[Cell]]],
) -> None:
    """Agent 1 made to stand where agent 0 stands at one timestep: a vertex conflict."""
    grid, agents, paths = small_solution
    bad = [list(p) for p in paths]
    t = 2
    bad[1][t] = bad[0][t]
    problems = validate_solution(grid, agents, bad)
    assert any(f"vertex conflict at t={t}" in p and "agent 0" in p for p in problems)
    assert any(c.startswith("node") for c in check_with_plans(bad))


def test_validator_reports_a_swap(
    small_solution: tuple[GridMap, list[ScenarioAgent], list[list[Cell]]],
) -> None:
    """Agent 1 made to move against agent 0's move: a swap conflict, from both checkers."""
    grid, agents, paths = small_solution
    bad = [list(p) for p in paths]
    t = next(t for t in range(len(bad[0]) - 1) if bad[0][t] != bad[0][t + 1])
    bad[1][t], bad[1][t + 1] = bad[0][t + 1], bad[0][t]
    problems = validate_solution(grid, agents, bad)
    assert any(f"swap conflict at t={t}->{t + 1}" in p for p in problems)
    assert any(c.startswith("swap") for c in check_with_plans(bad))


def test_validator_reports_a_handmade_swap_and_diagonal() -> None:
    """The smallest cases: two agents exchanging cells; one agent moving diagonally."""
    grid = grid_of("..", "..")
    swap = validate_solution(grid, agents_of([((0, 0), (1, 0)), ((1, 0), (0, 0))]),
                             [[(0, 0), (1, 0)], [(1, 0), (0, 0)]])
    assert len(swap) == 1 and swap[0].startswith("swap conflict at t=0->1")
    diagonal = validate_solution(grid, agents_of([((0, 0), (1, 1))]), [[(0, 0), (1, 1)]])
    assert len(diagonal) == 1 and "not a unit 4-connected move" in diagonal[0]


def test_validator_reports_a_diagonal_move(
    small_solution: tuple[GridMap, list[ScenarioAgent], list[list[Cell]]],
) -> None:
    """A straight step of a real solution replaced by a diagonal one is reported."""
    grid, agents, paths = small_solution
    bad = [list(p) for p in paths]
    t = next(t for t in range(len(bad[0]) - 1) if bad[0][t] != bad[0][t + 1])
    (x0, y0), (x1, y1) = bad[0][t], bad[0][t + 1]
    dx, dy = x1 - x0, y1 - y0
    side = (x0 + dx + dy, y0 + dy + dx) if grid.is_free(x0 + dx + dy, y0 + dy + dx) else (
        x0 + dx - dy, y0 + dy - dx)
    bad[0][t + 1] = side
    problems = validate_solution(grid, agents, bad)
    assert any(f"t={t + 1}: jumps from ({x0}, {y0}) to {side}" in p for p in problems)


def test_validator_reports_bad_ends_and_cells() -> None:
    """Wrong start, wrong goal, a blocked cell, a missing path."""
    grid = grid_of("...", ".@.")
    agents = agents_of([((0, 0), (2, 0))])
    assert "not at its start" in validate_solution(grid, agents, [[(1, 0), (2, 0)]])[0]
    assert "not at its goal" in validate_solution(grid, agents, [[(0, 0), (1, 0)]])[0]
    blocked = validate_solution(grid, agents, [[(0, 0), (0, 1), (1, 1), (2, 1), (2, 0)]])
    assert any("(1, 1) is blocked" in p for p in blocked)
    assert validate_solution(grid, agents, []) == ["0 paths for 1 agents"]


# --- moves and plans ---------------------------------------------------------------------


def test_moves_letters_and_trailing_waits() -> None:
    """u is y−1, d y+1, l x−1, r x+1, w a wait; waits at the goal are dropped."""
    paths = [[(1, 1), (1, 0), (1, 0), (0, 0), (0, 1), (1, 1), (1, 1)], [(0, 0), (0, 0)]]
    assert to_moves(paths) == ["uwldr", ""]
    assert from_moves([(1, 1), (0, 0)], ["uwldr", ""]) == [paths[0][:-1], [(0, 0)]]
    with pytest.raises(ValueError, match="not a unit move"):
        to_moves([[(0, 0), (1, 1)]])
    with pytest.raises(MovesFormatError, match="agent 0: move 2 is 'x'"):
        from_moves([(0, 0)], ["rx"])
    with pytest.raises(MovesFormatError, match="2 move strings for 1 agents"):
        from_moves([(0, 0)], ["r", "l"])


def test_moves_round_trip(
    small_solution: tuple[GridMap, list[ScenarioAgent], list[list[Cell]]],
) -> None:
    """A solution written as moves and read back is the same solution."""
    grid, agents, paths = small_solution
    back = from_moves([a.start for a in agents], to_moves(paths))
    assert pad(back) == paths
    assert validate_solution(grid, agents, back) == []


def test_plans_hold_each_cell_from_arrival_to_departure() -> None:
    """One node step per stay; the goal is held until infinity."""
    (plan,) = to_plans([[(0, 0), (0, 0), (1, 0), (1, 0)]])
    steps = [(s.resource, s.t_enter, s.t_exit) for s in plan.steps]
    assert steps == [("0,0", 0.0, 2.0), ("1,0", 2.0, float("inf"))]


# --- the real benchmark maps ---------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("name", [RANDOM, WAREHOUSE])
def test_corpus_instances_with_50_agents(name: str) -> None:
    """The first 50 agents of scenario random-1 on each map: solved and valid."""
    grid = read_map(corpus(f"{name}.map"))
    agents = read_scenario(corpus(f"{name}-random-1.scen"))[:50]
    result = solve(grid, agents, 20.0)
    assert_valid(grid, agents, result)
    assert 0.0 <= result.first_solution_seconds <= result.seconds
    assert result.sum_of_costs <= 1.5 * result.lower_bound


@pytest.mark.corpus
def test_lower_bound_is_the_bfs_distance_sum() -> None:
    """LB is the sum of 4-connected shortest paths (networkx), not the octile column."""
    grid = read_map(corpus(f"{WAREHOUSE}.map"))
    agents = read_scenario(corpus(f"{WAREHOUSE}-random-1.scen"))[:20]
    graph = grid.graph()
    expected = [nx.shortest_path_length(graph, a.start, a.goal) for a in agents]
    assert lower_bound(grid, agents[:1]) == expected[0]
    assert lower_bound(grid, agents) == sum(expected)
    assert sum(expected) != round(sum(a.optimal_length for a in agents))


# --- the command -------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """The pocket corridor as a map and a two-agent scenario file."""
    map_file = tmp_path / "pocket.map"
    map_file.write_text("type octile\nheight 2\nwidth 5\nmap\n@@.@@\n.....\n")
    scen = tmp_path / "pocket.scen"
    scen.write_text(
        "version 1\n"
        "0\tpocket.map\t5\t2\t0\t1\t4\t1\t4\n"
        "0\tpocket.map\t5\t2\t4\t1\t0\t1\t4\n"
    )
    return map_file, scen


def test_cli_json_and_out(files: tuple[Path, Path], tmp_path: Path) -> None:
    """--json prints one object; --out writes tracker moves that replay to a valid solution."""
    map_file, scen = files
    out = tmp_path / "moves.txt"
    res = CliRunner().invoke(
        mapf_cmd, [str(map_file), str(scen), "--agents", "2", "--json", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["solved"] is True and data["agents"] == 2
    assert data["map"] == "pocket.map" and data["scen"] == "pocket.scen"
    assert data["lower_bound"] == 8 and 11 <= data["sum_of_costs"] <= 13
    assert data["soc_over_lb"] == round(data["sum_of_costs"] / 8, 4)
    assert data["makespan"] >= 5 and data["seconds"] >= 0
    lines = out.read_text().splitlines()
    assert len(lines) == 2 and all(set(line) <= set("udlrw") for line in lines)
    grid = read_map(map_file)
    agents = read_scenario(scen)
    assert validate_solution(grid, agents, from_moves([a.start for a in agents], lines)) == []


def test_cli_text_output(files: tuple[Path, Path]) -> None:
    """The default output names SoC, LB, the ratio, the makespan and the time."""
    map_file, scen = files
    res = CliRunner().invoke(mapf_cmd, [str(map_file), str(scen), "--agents", "1"])
    assert res.exit_code == 0, res.output
    assert "sum of costs 4" in res.output and "lower bound 4" in res.output
    assert "ratio 1.000" in res.output and "makespan" in res.output and " s " in res.output


def test_cli_unsolved_exits_2(tmp_path: Path) -> None:
    """An instance without a solution: says unsolved, exit status 2, no moves file."""
    map_file = tmp_path / "two.map"
    map_file.write_text("type octile\nheight 1\nwidth 2\nmap\n..\n")
    scen = tmp_path / "two.scen"
    scen.write_text("version 1\n0\ttwo.map\t2\t1\t0\t0\t1\t0\t1\n0\ttwo.map\t2\t1\t1\t0\t0\t0\t1\n")
    out = tmp_path / "moves.txt"
    res = CliRunner().invoke(
        mapf_cmd, [str(map_file), str(scen), "-n", "2", "--out", str(out)]
    )
    assert res.exit_code == 2
    assert "unsolved" in res.output
    assert not out.exists()
    res = CliRunner().invoke(mapf_cmd, [str(map_file), str(scen), "-n", "2", "--json"])
    assert res.exit_code == 2 and json.loads(res.output)["solved"] is False


def test_cli_time_limit_reached_exits_2(files: tuple[Path, Path]) -> None:
    """A time limit too short to solve anything: unsolved, exit status 2."""
    map_file, scen = files
    res = CliRunner().invoke(
        mapf_cmd, [str(map_file), str(scen), "-n", "2", "--time-limit", "1e-9"]
    )
    assert res.exit_code == 2
    assert "unsolved" in res.output and "not solved within" in res.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["missing.map", "SCEN", "-n", "1"], "does not exist"),
        (["MAP", "SCEN", "-n", "3"], "pocket.scen has 2 agents, fewer than 3"),
        (["MAP", "SCEN", "-n", "0"], "0 is not in the range x>=1"),
        (["MAP", "SCEN", "-n", "-2"], "is not in the range"),
        (["MAP", "SCEN"], "Missing option '--agents'"),
        (["BAD", "SCEN", "-n", "1"], "bad.map:5: row has 4 characters, expected 5"),
        (["MAP", "BADSCEN", "-n", "1"], "bad.scen:2: start x 'x' is not an integer"),
        (["MAP", "SCEN", "-n", "1", "--time-limit", "0"], "--time-limit"),
    ],
)
def test_cli_bad_input(
    files: tuple[Path, Path], tmp_path: Path, args: list[str], expected: str
) -> None:
    """Bad files and options: a clear message naming file and line, exit ≠ 0, no traceback."""
    map_file, scen = files
    bad_map = tmp_path / "bad.map"
    bad_map.write_text("type octile\nheight 2\nwidth 5\nmap\n@@.@\n.....\n")
    bad_scen = tmp_path / "bad.scen"
    bad_scen.write_text("version 1\n0\tpocket.map\t5\t2\tx\t1\t4\t1\t4\n")
    paths = {"MAP": map_file, "SCEN": scen, "BAD": bad_map, "BADSCEN": bad_scen,
             "missing.map": tmp_path / "missing.map"}
    argv = [str(paths.get(a, a)) for a in args]
    res = CliRunner().invoke(mapf_cmd, argv)
    assert res.exit_code != 0
    assert expected in res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_cli_scenario_that_does_not_fit_the_map(files: tuple[Path, Path], tmp_path: Path) -> None:
    """A scenario whose agent stands on a blocked cell: the error names file and line."""
    map_file, _ = files
    scen = tmp_path / "blocked.scen"
    scen.write_text("version 1\n0\tpocket.map\t5\t2\t0\t0\t4\t1\t4\n")
    res = CliRunner().invoke(mapf_cmd, [str(map_file), str(scen), "-n", "1"])
    assert res.exit_code == 1
    assert "blocked.scen:2: start (0, 0) is on a blocked cell" in res.output

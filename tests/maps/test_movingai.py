"""MovingAI maps and scenarios: the real MAPF benchmark files, then one broken file per error."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from maps.errors import MapFormatError
from maps.movingai import (
    GridMap,
    ScenarioAgent,
    check_scenario,
    parse_map,
    parse_scenario,
    read_map,
    read_scenario,
)

MAPF = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "mapf"
RANDOM = "random-32-32-20"
WAREHOUSE = "warehouse-10-20-10-2-1"
SCENARIOS = [f"{m}-random-{i}.scen" for m in (RANDOM, WAREHOUSE) for i in range(1, 6)]


def corpus(name: str) -> Path:
    """A file of ../shared/corpus/mapf, or skip the test where the corpus is absent."""
    path = MAPF / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/corpus/mapf is not laid out here)")
    return path


def map_of(scen: str) -> str:
    """The map file a `NAME-random-N.scen` belongs to."""
    return scen.rsplit("-random-", 1)[0] + ".map"


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write a small test file and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- the real benchmark maps


@pytest.mark.corpus
def test_random_map_is_32_by_32() -> None:
    grid = read_map(corpus(f"{RANDOM}.map"))
    assert (grid.name, grid.width, grid.height) == (f"{RANDOM}.map", 32, 32)
    assert grid.free.shape == (32, 32)
    assert grid.free.dtype == np.bool_


@pytest.mark.corpus
def test_warehouse_map_is_161_by_63() -> None:
    grid = read_map(corpus(f"{WAREHOUSE}.map"))
    assert (grid.width, grid.height) == (161, 63)


@pytest.mark.corpus
@pytest.mark.parametrize("name", [RANDOM, WAREHOUSE])
def test_free_cells_are_the_dots_of_the_file(name: str) -> None:
    path = corpus(f"{name}.map")
    text = path.read_text(encoding="utf-8")
    rows = text.splitlines()[4:]
    dots = sum(row.count(".") for row in rows)
    grid = read_map(path)
    assert grid.cell_count == dots
    assert int(grid.free.sum()) == dots
    # And cell by cell, with x the column and y the row.
    for y, row in enumerate(rows):
        for x, ch in enumerate(row):
            assert grid.is_free(x, y) == (ch == "."), (x, y, ch)


@pytest.mark.corpus
def test_tree_cell_in_random_map_is_blocked() -> None:
    """random-32-32-20 holds one 'T' (at x=30, y=17) among its '.' and '@'; trees block."""
    path = corpus(f"{RANDOM}.map")
    rows = path.read_text(encoding="utf-8").splitlines()[4:]
    trees = [(x, y) for y, row in enumerate(rows) for x, ch in enumerate(row) if ch == "T"]
    grid = read_map(path)
    assert trees, "expected the corpus map to hold a tree cell"
    for x, y in trees:
        assert not grid.is_free(x, y)
        assert (x, y) not in grid.graph()


@pytest.mark.corpus
@pytest.mark.parametrize("name", [RANDOM, WAREHOUSE])
def test_graph_is_4_connected_on_free_cells(name: str) -> None:
    grid = read_map(corpus(f"{name}.map"))
    g = grid.graph()
    assert not g.is_directed()
    assert g.number_of_nodes() == grid.cell_count
    assert all(grid.is_free(x, y) for x, y in g.nodes)
    for (x1, y1), (x2, y2) in g.edges:
        assert abs(x1 - x2) + abs(y1 - y2) == 1
        assert grid.is_free(x1, y1) and grid.is_free(x2, y2)
    assert max(d for _, d in g.degree) <= 4
    # Every pair of free 4-neighbours is joined: count the pairs independently.
    pairs = sum(
        1 for x, y in g.nodes for dx, dy in ((1, 0), (0, 1)) if grid.is_free(x + dx, y + dy)
    )
    assert g.number_of_edges() == pairs


@pytest.mark.corpus
def test_warehouse_graph_has_every_free_cell() -> None:
    grid = read_map(corpus(f"{WAREHOUSE}.map"))
    g = grid.graph()
    assert g.number_of_nodes() == grid.cell_count


@pytest.mark.corpus
@pytest.mark.parametrize("scen", SCENARIOS)
def test_every_scenario_agent_starts_and_ends_on_free_cells(scen: str) -> None:
    grid = read_map(corpus(map_of(scen)))
    agents = read_scenario(corpus(scen))
    assert len(agents) == (1000 if scen.startswith(WAREHOUSE) else 409)
    for agent in agents:
        assert agent.map_name == grid.name
        assert (agent.map_width, agent.map_height) == (grid.width, grid.height)
        assert grid.is_free(*agent.start), agent
        assert grid.is_free(*agent.goal), agent
    check_scenario(grid, agents)  # raises on any misfit


@pytest.mark.corpus
def test_last_column_is_octile_not_4_connected_distance() -> None:
    """BFS on our unit 4-grid is never shorter than the octile optimum, and often longer."""
    grid = read_map(corpus(f"{WAREHOUSE}.map"))
    g = grid.graph()
    agents = read_scenario(corpus(f"{WAREHOUSE}-random-1.scen"))[:20]
    assert len(agents) == 20
    longer = 0
    for agent in agents:
        bfs = nx.shortest_path_length(g, agent.start, agent.goal)
        assert bfs >= agent.optimal_length - 1e-6, agent
        longer += bfs > agent.optimal_length + 1e-6
    assert longer > 0, "some agent must need a diagonal, else the column could be ours"


@pytest.mark.corpus
def test_first_agent_of_warehouse_scenario() -> None:
    agents = read_scenario(corpus(f"{WAREHOUSE}-random-1.scen"))
    first = agents[0]
    assert first == ScenarioAgent(
        40, f"{WAREHOUSE}.map", (143, 57), (10, 16), 160.52691193, 161, 63
    )
    assert (first.source, first.line) == (f"{WAREHOUSE}-random-1.scen", 2)


# ---------------------------------------------------------------- parsing without the corpus

SMALL = "type octile\nheight 3\nwidth 4\nmap\n.G@.\nS.T.\nO.W.\n"


def test_parse_small_map_cell_by_cell() -> None:
    grid = parse_map(SMALL, "small.map")
    assert (grid.name, grid.width, grid.height) == ("small.map", 4, 3)
    expected = np.array(
        [[True, True, False, True], [True, True, False, True], [False, True, False, True]]
    )
    assert np.array_equal(grid.free, expected)
    assert grid.cell_count == 8
    assert grid.is_free(1, 0) and not grid.is_free(2, 0)  # x is the column
    assert not grid.is_free(0, 2)  # 'O' blocks
    assert not grid.is_free(-1, 0) and not grid.is_free(4, 0) and not grid.is_free(0, 3)


def test_small_graph_edges() -> None:
    g = parse_map(SMALL).graph()
    expected = {
        ((0, 0), (1, 0)),
        ((0, 0), (0, 1)),
        ((1, 0), (1, 1)),
        ((0, 1), (1, 1)),
        ((1, 1), (1, 2)),
        ((3, 0), (3, 1)),
        ((3, 1), (3, 2)),
    }
    assert {tuple(sorted(e)) for e in g.edges} == expected
    assert set(g.nodes) == {(0, 0), (1, 0), (3, 0), (0, 1), (1, 1), (3, 1), (1, 2), (3, 2)}


def test_grid_is_frozen_and_comparable() -> None:
    a = parse_map(SMALL, "small.map")
    b = parse_map(SMALL.replace("\n", "\r\n"), "small.map")  # CRLF reads the same
    assert a == b and hash(a) == hash(b)
    with pytest.raises(ValueError, match="read-only"):
        a.free[0, 0] = False
    assert a != parse_map(SMALL.replace(".G@.", ".G.."), "small.map")


def test_grid_checks_its_array() -> None:
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        GridMap("g", 3, 2, np.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="bool array"):
        GridMap("g", 3, 2, np.ones((2, 3), dtype=np.uint8))
    source = np.ones((2, 3), dtype=bool)
    grid = GridMap("g", 3, 2, source)
    source[0, 0] = False  # the caller's array stays writable; the grid's view does not
    assert not grid.free.flags.writeable


def test_width_and_height_may_come_in_either_order() -> None:
    grid = parse_map("type octile\nwidth 2\nheight 1\nmap\n.@\n", "swap.map")
    assert (grid.width, grid.height) == (2, 1)


def test_parse_scenario_accepts_version_1_0_and_blank_lines() -> None:
    text = "version 1.0\n0\ta.map\t4\t3\t0\t0\t3\t2\t4.41421356\n\n"
    (agent,) = parse_scenario(text, "a.scen")
    assert agent.start == (0, 0) and agent.goal == (3, 2)
    assert agent.optimal_length == pytest.approx(4.41421356)
    assert (agent.source, agent.line) == ("a.scen", 2)


def test_check_scenario_against_small_map() -> None:
    grid = parse_map(SMALL, "a.map")
    ok = parse_scenario("version 1\n0\ta.map\t4\t3\t0\t0\t3\t2\t4.4\n", "ok.scen")
    check_scenario(grid, ok)
    other_size = parse_scenario("version 1\n0\ta.map\t5\t3\t0\t0\t3\t2\t4.4\n", "w.scen")
    with pytest.raises(MapFormatError, match=r"^w\.scen:2: .*5×3 differs .*4×3"):
        check_scenario(grid, other_size)
    # Built by hand, with no file: the message names the agent instead.
    by_hand = [ScenarioAgent(0, "a.map", (0, 0), (2, 1), 3.0)]
    with pytest.raises(MapFormatError, match=r"agent #0: goal \(2, 1\) is on a blocked cell"):
        check_scenario(grid, by_hand)


# ---------------------------------------------------------------- one broken file per error

GOOD_MAP = "type octile\nheight 3\nwidth 4\nmap\n....\n.@@.\n....\n"
GOOD_LINE = "0\tbox.map\t4\t3\t0\t0\t3\t2\t4.41421356"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type grid\nheight 3\nwidth 4\nmap\n....\n", r"^bad\.map:1: expected 'type octile'"),
        ("type octile\nheigth 3\nwidth 4\nmap\n", r"^bad\.map:2: expected 'height N'"),
        ("type octile\nheight 3\nwidth four\nmap\n", r"^bad\.map:3: width 'four' is not a pos"),
        ("type octile\nheight 3\nwidth 4\nmop\n", r"^bad\.map:4: expected 'map', found 'mop'"),
        ("type octile\nheight 3\n", r"^bad\.map:3: file ends in the header"),
        ("", r"^bad\.map:1: file ends in the header"),
    ],
    ids=["type", "height-key", "width-value", "map-line", "short-header", "empty"],
)
def test_wrong_header(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(MapFormatError, match=message):
        read_map(write(tmp_path, "bad.map", text))


def test_short_row(tmp_path: Path) -> None:
    text = GOOD_MAP.replace(".@@.\n", ".@@\n")
    with pytest.raises(MapFormatError, match=r"^bad\.map:6: row has 3 characters, expected 4$"):
        read_map(write(tmp_path, "bad.map", text))


def test_long_row(tmp_path: Path) -> None:
    text = GOOD_MAP.replace("....\n", ".....\n", 1)
    with pytest.raises(MapFormatError, match=r"^bad\.map:5: row has 5 characters, expected 4$"):
        read_map(write(tmp_path, "bad.map", text))


def test_missing_and_extra_rows(tmp_path: Path) -> None:
    with pytest.raises(MapFormatError, match=r"^bad\.map:7: map has 2 rows, expected 3$"):
        read_map(write(tmp_path, "bad.map", GOOD_MAP.rsplit("....\n", 1)[0]))
    with pytest.raises(MapFormatError, match=r"^bad\.map:8: more rows than the height 3"):
        read_map(write(tmp_path, "bad.map", GOOD_MAP + "....\n"))


def test_trailing_blank_lines_are_not_rows(tmp_path: Path) -> None:
    assert read_map(write(tmp_path, "ok.map", GOOD_MAP + "\n\n")).height == 3


@pytest.mark.parametrize("char", ["x", "#", " ", "é"])
def test_unknown_character(tmp_path: Path, char: str) -> None:
    text = GOOD_MAP.replace(".@@.\n", f".@{char}.\n")
    message = rf"^bad\.map:6: unknown character '{char}' at column 3 \(cell \(2, 1\)\)"
    with pytest.raises(MapFormatError, match=message):
        read_map(write(tmp_path, "bad.map", text))


def test_every_spec_character_is_known(tmp_path: Path) -> None:
    grid = read_map(write(tmp_path, "all.map", "type octile\nheight 1\nwidth 7\nmap\n.GS@OTW\n"))
    assert grid.free.tolist() == [[True, True, True, False, False, False, False]]


def test_not_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.map"
    path.write_bytes(b"type octile\n\xff\xfe\n")
    with pytest.raises(MapFormatError, match=r"^bin\.map: not a UTF-8 text file"):
        read_map(path)


def test_wrong_scenario_header(tmp_path: Path) -> None:
    with pytest.raises(MapFormatError, match=r"^x\.scen:1: expected 'version 1', found 'versi"):
        read_scenario(write(tmp_path, "x.scen", f"version 2\n{GOOD_LINE}\n"))
    with pytest.raises(MapFormatError, match=r"^x\.scen:1: expected 'version 1', found an empty"):
        read_scenario(write(tmp_path, "x.scen", ""))


def test_start_outside(tmp_path: Path) -> None:
    line = "0\tbox.map\t32\t32\t40\t2\t3\t2\t4.0"
    path = write(tmp_path, "x.scen", f"version 1\n{GOOD_LINE}\n{line}\n")
    message = r"^x\.scen:3: start \(40, 2\) is outside the 32×32 map$"
    with pytest.raises(MapFormatError, match=message):
        read_scenario(path)


def test_goal_outside(tmp_path: Path) -> None:
    line = GOOD_LINE.replace("\t3\t2\t", "\t3\t-1\t")
    path = write(tmp_path, "x.scen", f"version 1\n{line}\n")
    with pytest.raises(MapFormatError, match=r"^x\.scen:2: goal \(3, -1\) is outside the 4×3 map$"):
        read_scenario(path)


def test_start_outside_map_smaller_than_scenario_says(tmp_path: Path) -> None:
    grid = read_map(write(tmp_path, "box.map", GOOD_MAP))
    line = "0\tbox.map\t8\t8\t6\t0\t3\t2\t4.0"
    agents = read_scenario(write(tmp_path, "x.scen", f"version 1\n{GOOD_LINE}\n{line}\n"))
    with pytest.raises(MapFormatError, match=r"^x\.scen:3: scenario map size 8×8 differs"):
        check_scenario(grid, agents)
    # An agent without a claimed size is still checked against the grid's bounds.
    loose = [ScenarioAgent(0, "box.map", (6, 0), (3, 2), 4.0, source="x.scen", line=3)]
    with pytest.raises(MapFormatError, match=r"^x\.scen:3: start \(6, 0\) is outside the 4×3"):
        check_scenario(grid, loose)


@pytest.mark.parametrize(
    ("where", "message"), [("start", r"start \(1, 1\)"), ("goal", r"goal \(2, 1\)")]
)
def test_start_or_goal_blocked(tmp_path: Path, where: str, message: str) -> None:
    grid = read_map(write(tmp_path, "box.map", GOOD_MAP))
    line = (
        "3\tbox.map\t4\t3\t1\t1\t3\t2\t3.4"
        if where == "start"
        else "3\tbox.map\t4\t3\t0\t0\t2\t1\t2.4"
    )
    agents = read_scenario(write(tmp_path, "x.scen", f"version 1\n{GOOD_LINE}\n\n{line}\n"))
    blocked = rf"^x\.scen:4: {message} is on a blocked cell of box\.map$"
    with pytest.raises(MapFormatError, match=blocked):
        check_scenario(grid, agents)


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        (0, "b", "bucket"),
        (2, "4.0", "map width"),
        (3, "", "map height"),
        (4, "x", "start x"),
        (5, "1e3", "start y"),
        (6, "two", "goal x"),
        (7, "2.5", "goal y"),
    ],
)
def test_non_integer_field(tmp_path: Path, field: int, value: str, what: str) -> None:
    fields = GOOD_LINE.split("\t")
    fields[field] = value
    path = write(tmp_path, "x.scen", "version 1\n" + "\t".join(fields) + "\n")
    with pytest.raises(MapFormatError, match=rf"^x\.scen:2: {what} '{value}' is not an integer$"):
        read_scenario(path)


@pytest.mark.parametrize("value", ["long", "nan", "-1", "inf"])
def test_bad_optimal_length(tmp_path: Path, value: str) -> None:
    line = GOOD_LINE.rsplit("\t", 1)[0] + f"\t{value}"
    path = write(tmp_path, "x.scen", f"version 1\n{line}\n")
    with pytest.raises(MapFormatError, match=rf"^x\.scen:2: optimal length '{value}' is not a"):
        read_scenario(path)


@pytest.mark.parametrize(
    ("line", "count"),
    [
        ("0\tbox.map\t4\t3\t0\t0\t3\t2", 8),
        (GOOD_LINE + "\t7", 10),
        (GOOD_LINE.replace("\t", " "), 1),
    ],
    ids=["eight", "ten", "spaces"],
)
def test_wrong_field_count(tmp_path: Path, line: str, count: int) -> None:
    path = write(tmp_path, "x.scen", f"version 1\n{GOOD_LINE}\n{line}\n")
    with pytest.raises(
        MapFormatError, match=rf"^x\.scen:3: expected 9 tab-separated fields .*, found {count}$"
    ):
        read_scenario(path)

"""Scenarios: the embedded default, TOML and JSON files laid over it, errors naming the key.

The command-line cases run `python -m sim.cli sim run` as a real subprocess (all of them
at once, so the module costs about one start-up): a bad file or option must exit non-zero
with one line per problem naming the file (or option) and the key, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleet.strategies import STRATEGIES
from sim.scenario import Fault, Scenario, ScenarioError, fleet_size_problems, load
from sim.sim_cli import run_command

ROOT = Path(__file__).resolve().parents[2]

MANY_PROBLEMS = """\
colour = "red"
[fleet]
trucks = "many"
trukcs = 3
[[vessels]]
call = "X1"
berth = "BERTH1"
cranes = []
[[faults]]
kind = "lane_closure"
at_s = 600.0
for_s = 60.0
"""

CLI_CASES: dict[str, tuple[str, str | bytes, list[str]]] = {
    # name: (file name, content, the error lines after "<file>: ", in order)
    "many-problems": (
        "many.toml",
        MANY_PROBLEMS,
        [
            "colour: unknown key (known: cranes, faults, fleet, gate, hours, name, seed, ",
            "[fleet] trucks: expected an integer, got 'many'",
            "[fleet] trukcs: unknown key (known: autonomous_share, ",
            "[[vessels]] #1 cranes: must not be empty",
            "[[faults]] #1 lane: missing (required)",
        ],
    ),
    "against-the-yard": (
        "yard.json",
        json.dumps(
            {
                "vessels": [{"call": "X1", "berth": "BERTH9", "cranes": ["QC01", "QC99"]}],
                "faults": [
                    {"kind": "lane_closure", "lane": "no-such-lane", "at_s": 1, "for_s": 1},
                    {"kind": "breakdown", "truck": "TT99", "at_s": 1, "for_s": 1},
                ],
            }
        ),
        [
            "[[vessels]] #1 berth: no berth 'BERTH9' (BERTH1, BERTH2)",
            "[[vessels]] #1 cranes: no quay crane 'QC99'",
            "[[faults]] #1 lane: no lane 'no-such-lane' in the yard",
            "[[faults]] #2 truck: no truck 'TT99' in a fleet of 32",
        ],
    ),
    "bad-toml": ("bad.toml", "hours = = 1\n", ["not valid TOML: Invalid value (at line 1, "]),
    "bad-json": ("bad.json", '{"hours": 1,}', ["not valid JSON: "]),
    "binary": (
        "photo.toml",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        ["cannot read the scenario: not UTF-8 text (byte 0x89 at offset 0; a binary file?)"],
    ),
}

OPTION_CASES: dict[str, tuple[list[str], str]] = {
    # name: (options, the one error line), each a usage error (exit 2)
    "too-many-trucks": (
        ["--trucks", "200"],
        "Error: Invalid value for '--trucks': 200 trucks but the yard has 112 spots to start "
        "from (parking and transfer points); raise terminal_spec.parking_spots",
    ),
    "negative-seed": (["--seed", "-3"], "Error: Invalid value for '--seed': -3 is not in the"),
}

SHIFT_CASES: dict[str, tuple[str, list[str]]] = {
    # Problems once found only by the shift itself, with a traceback.
    "unknown-strategy": ('strategy = "best"\n', ["strategy: no strategy 'best'"]),
    "more-trucks-than-spots": ("[fleet]\ntrucks = 200\n", ["[fleet] trucks: 200 trucks"]),
}


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "sim", "run", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def cli_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[int, str, str, Path]]]:
    """Every CLI case started at once; name -> (exit code, stdout, stderr, scenario file)."""
    tmp = tmp_path_factory.mktemp("bad-scenarios")
    procs = {}
    paths = {}
    for name, (file_name, content, _) in CLI_CASES.items():
        path = paths[name] = tmp / file_name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        procs[name] = _start([str(path), "--hours", "0.02", "--out", str(tmp / name)])
    for name, (options, _) in OPTION_CASES.items():
        procs[name] = _start(["--hours", "0.02", *options, "--out", str(tmp / name)])
    # the file: a fleet size and nothing else, which once ran without ships
    paths["fleet-only"] = tmp / "forty.toml"
    paths["fleet-only"].write_text("[fleet]\ntrucks = 40\n", encoding="utf-8")
    procs["fleet-only"] = _start(
        [str(paths["fleet-only"]), "--hours", "0.02", "--out", str(tmp / "forty")]
    )
    results = {}
    try:
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            results[name] = (proc.returncode, out, err, paths.get(name, tmp))
        yield results
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_a_bad_scenario_file_gets_a_line_per_problem_naming_file_and_key(
    case: str, cli_results: dict[str, tuple[int, str, str, Path]]
) -> None:
    code, out, err, path = cli_results[case]
    assert code == 1, err
    assert "Traceback" not in out + err
    lines = err.splitlines()
    expected = CLI_CASES[case][2]
    assert len(lines) == len(expected), err
    assert lines[0].startswith("Error: ")
    for line, words in zip(lines, expected, strict=True):
        assert line.removeprefix("Error: ").startswith(f"{path}: {words}"), line


@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_a_bad_option_is_one_usage_error_line(
    case: str, cli_results: dict[str, tuple[int, str, str, Path]]
) -> None:
    code, out, err, _ = cli_results[case]
    assert code == 2, err
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and errors[0].startswith(OPTION_CASES[case][1]), err


def test_a_file_naming_only_the_fleet_keeps_the_default_ships_and_its_own_name(
    cli_results: dict[str, tuple[int, str, str, Path]],
) -> None:
    code, _, err, path = cli_results["fleet-only"]
    assert code == 0, err
    report = json.loads((path.parent / "forty" / "report.json").read_text())
    assert report["scenario"] == "forty" and report["trucks"] == 40
    assert report["crane_wait_minutes"]["per_crane"]  # the default's vessels are worked


@pytest.mark.parametrize("speed", ["fast", "0", "-3"])
def test_a_bad_speed_is_refused(speed: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        run_command, ["--hours", "0.02", "--speed", speed, "--out", str(tmp_path)]
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output
    assert not (tmp_path / "report.json").exists()


def test_a_missing_scenario_file_is_named(tmp_path: Path) -> None:
    absent = tmp_path / "absent.toml"
    result = CliRunner().invoke(run_command, [str(absent), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"{absent}: cannot read the scenario: No such file" in result.output


@pytest.mark.parametrize("case", sorted(SHIFT_CASES))
def test_a_bad_strategy_or_too_many_trucks_is_named_without_a_traceback(
    case: str, tmp_path: Path
) -> None:
    content, names = SHIFT_CASES[case]
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(
        run_command, [str(path), "--hours", "0.02", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # no traceback
    for words in names:
        assert words in result.output


# -- in process --------------------------------------------------------------------------


def test_the_embedded_default_is_the_haiphong_shift() -> None:
    sc = load()
    assert (sc.terminal, sc.hours, sc.strategy) == ("haiphong", 8.0, "pooled-optimal")
    assert sc.fleet.trucks == 32
    assert [v.cranes for v in sc.vessels] == [("QC01", "QC02", "QC03"), ("QC04", "QC05", "QC06")]
    assert {f.kind for f in sc.faults} == {"breakdown", "gnss_loss", "lane_closure"}
    assert sc.strategy in STRATEGIES
    assert sc.start_time.utcoffset() is not None


def test_with_changes_seed_strategy_trucks_and_hours_only() -> None:
    sc = load()
    changed = sc.with_(seed=9, strategy="dual", trucks=12, hours=0.5)
    assert (changed.seed, changed.strategy, changed.fleet.trucks, changed.hours) == (
        9,
        "dual",
        12,
        0.5,
    )
    assert changed.vessels == sc.vessels and changed.fleet.tank_l == sc.fleet.tank_l
    assert sc.fleet.trucks == 32  # the original is untouched


def test_toml_and_json_files_give_the_same_scenario(tmp_path: Path) -> None:
    data = {
        "name": "small",
        "hours": 2,
        "fleet": {"trucks": 8},
        "vessels": [{"call": "V1", "berth": "BERTH2", "cranes": ["QC05"], "dsch": 10}],
        "faults": [{"kind": "breakdown", "truck": "TT02", "at_s": 60, "for_s": 30}],
    }
    (tmp_path / "s.json").write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "s.toml").write_text(
        'name = "small"\nhours = 2\n[fleet]\ntrucks = 8\n'
        '[[vessels]]\ncall = "V1"\nberth = "BERTH2"\ncranes = ["QC05"]\ndsch = 10\n'
        '[[faults]]\nkind = "breakdown"\ntruck = "TT02"\nat_s = 60\nfor_s = 30\n',
        encoding="utf-8",
    )
    a, b = load(tmp_path / "s.json"), load(tmp_path / "s.toml")
    assert a == b
    assert isinstance(a, Scenario) and a.hours == 2.0 and isinstance(a.hours, float)
    assert a.faults == (Fault("breakdown", 60.0, 30.0, truck="TT02"),)
    assert a.vessels[0].load == 150  # defaults fill what the file leaves out


DEFAULT = load()


def _load(tmp_path: Path, text: str, name: str = "rush.toml") -> Scenario:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load(path)


def test_a_file_overrides_the_default_key_by_key(tmp_path: Path) -> None:
    sc = _load(tmp_path, "hours = 2\n[fleet]\ntrucks = 40\n[cranes]\nqc_cycle_s = 110\n")
    assert (sc.name, sc.hours, sc.fleet.trucks, sc.cranes.qc_cycle_s) == ("rush", 2.0, 40, 110.0)
    assert sc.fleet.tank_l == DEFAULT.fleet.tank_l  # the rest of [fleet] is the default's
    assert sc.cranes.handover_s == DEFAULT.cranes.handover_s
    assert sc.vessels == DEFAULT.vessels and sc.faults == DEFAULT.faults  # sections left out
    assert (sc.seed, sc.strategy, sc.start) == (DEFAULT.seed, DEFAULT.strategy, DEFAULT.start)


def test_an_empty_file_is_the_default_under_its_own_name(tmp_path: Path) -> None:
    sc = _load(tmp_path, "", "empty.toml")
    assert sc.name == "empty" and sc == DEFAULT.with_(name="empty")
    named = _load(tmp_path, 'name = "night shift"\n')
    assert named.name == "night shift"  # a file that names itself keeps its name
    assert load(_json(tmp_path, {})).name == "s"


def _json(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_arrays_replace_the_default_whole(tmp_path: Path) -> None:
    sc = _load(tmp_path, "faults = []\n")
    assert sc.faults == () and sc.vessels == DEFAULT.vessels  # `faults = []`: none
    sc = _load(tmp_path, '[[vessels]]\ncall = "V1"\nberth = "BERTH1"\ncranes = ["QC02"]\n')
    assert [v.call for v in sc.vessels] == ["V1"]  # not appended to the default's two
    assert sc.vessels[0].cranes == ("QC02",) and sc.vessels[0].dsch == 150
    assert load(_json(tmp_path, {"vessels": []})).vessels == ()  # a gate-only shift, if asked


def test_a_byte_order_mark_is_no_problem(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbfhours = 1\n")
    assert load(path).hours == 1.0


def test_the_options_check_the_fleet_against_yard_and_faults() -> None:
    assert fleet_size_problems(DEFAULT, 32) == []
    assert fleet_size_problems(DEFAULT.with_(hours=0.05), 6) == []  # faults after the end
    assert fleet_size_problems(DEFAULT, 200) == [
        "200 trucks but the yard has 112 spots to start from (parking and transfer points); "
        "raise terminal_spec.parking_spots"
    ]
    problems = fleet_size_problems(DEFAULT.with_(hours=2), 4)
    assert len(problems) == 1 and problems[0].startswith("the scenario's fault #1 (breakdown")
    result = CliRunner().invoke(run_command, ["--trucks", "6", "--hours", "3"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert (
        "Invalid value for '--trucks': the scenario's fault #2 (gnss_loss at 7200 s) is for "
        "truck TT11, not in a fleet of 6" in result.output
    )


def test_faults_a_file_inherits_are_named_as_the_default_s(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        _load(tmp_path, "[fleet]\ntrucks = 4\n", "four.toml")
    assert caught.value.problems == [
        f"[[faults]] #{i} truck: no truck {t!r} in a fleet of 4 (the default's faults: "
        "write faults = [] for none, or your own)"
        for i, t in ((1, "TT05"), (2, "TT11"))
    ]
    assert str(caught.value).splitlines()[0].startswith(f"{tmp_path / 'four.toml'}: [[faults]]")
    assert _load(tmp_path, "faults = []\n[fleet]\ntrucks = 4\n").fleet.trucks == 4
    with pytest.raises(ScenarioError, match=r"\[fleet\] trucks: must be >= 1, got 0"):
        _load(tmp_path, "[fleet]\ntrucks = 0\n")


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("hours = 0\n", "hours: must be > 0, got 0"),
        ("hours = -1\n", "hours: must be > 0, got -1"),
        ('start = "2026-11-29T06:00:00"\n', "start: needs a UTC offset"),
        ('terminal = "rotterdam"\n', "terminal: no terminal 'rotterdam'"),
        ("terminal_spec = {quay_cranes = 0}\n", "[terminal_spec]: "),
        ("terminal_spec = {cranes = 8}\n", "[terminal_spec] cranes: unknown key"),
        ("fleet = 3\n", "fleet: expected a table, got 3"),
        ("[fleet]\nautonomous_share = 1.5\n", "[fleet] autonomous_share: must be within 0..1"),
        ("[gate]\nrecv_per_hour = true\n", "[gate] recv_per_hour: expected a number, got true"),
        (
            '[[vessels]]\ncall = "A"\ncranes = ["QC01"]\n',
            "[[vessels]] #1 berth: missing (required)",
        ),
        (
            '[[vessels]]\ncall = "A"\nberth = "BERTH1"\ncranes = "QC01"\n',
            "[[vessels]] #1 cranes: expected a list",
        ),
        (
            '[[faults]]\nkind = "fire"\nat_s = 1\nfor_s = 1\n',
            "[[faults]] #1 kind: 'fire': expected one of breakdown, gnss_loss, lane_closure",
        ),
        (
            '[[faults]]\nkind = "breakdown"\nat_s = 1\nfor_s = 1\n',
            "[[faults]] #1 truck: missing (required)",
        ),
        (
            '[[faults]]\nkind = "breakdown"\ntruck = "TT01"\nfor_s = 1\n',
            "[[faults]] #1 at_s: missing (required)",
        ),
    ],
)
def test_load_names_the_bad_field(tmp_path: Path, content: str, field: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load(path)
    assert caught.value.source == str(path)
    assert any(p.startswith(field) for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("seed = 1.5\n", "seed: expected an integer, got 1.5"),
        ("seed = -3\n", "seed: must be >= 0, got -3"),
        ("hours = inf\n", "hours: expected a finite number, got inf"),
        ("[fleet]\ntrucks = 2.5\n", "[fleet] trucks: expected an integer, got 2.5"),
        (
            '[[vessels]]\ncall = "A"\nberth = "BERTH1"\ncranes = ["QC01"]\ndsch = 1.5\n',
            "[[vessels]] #1 dsch: expected an integer, got 1.5",
        ),
        (
            '[[vessels]]\ncall = "A"\nberth = "BERTH1"\ncranes = ["QC01"]\nhatch = 0\n',
            "[[vessels]] #1 hatch: must be >= 1, got 0",
        ),
    ],
)
def test_load_refuses_numbers_the_shift_cannot_use(
    tmp_path: Path, content: str, field: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load(path)
    assert any(p.startswith(field) for p in caught.value.problems), caught.value.problems

"""Scenarios: the embedded default, TOML and JSON files, and errors that name the field.

The command-line cases run `python -m sim.cli sim run` as a real subprocess (all of them
at once, so the module costs about one start-up): a bad file must exit non-zero with a
message naming each bad field, never a traceback.
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
from sim.scenario import Fault, Scenario, ScenarioError, load
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

CLI_CASES: dict[str, tuple[str, str, list[str]]] = {
    # name: (file name, content, what the message must name)
    "many-problems": (
        "many.toml",
        MANY_PROBLEMS,
        [
            "scenario.colour: unknown field",
            "fleet.trucks: expected a number",
            "fleet.trukcs: unknown field",
            "vessels[0].cranes:",
            "faults[0].lane: required",
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
                "fleet": {"trucks": 0},
            }
        ),
        [
            "vessels[0].berth: no berth 'BERTH9'",
            "vessels[0].cranes: no quay crane 'QC99'",
            "faults[0].lane: no lane 'no-such-lane'",
            "faults[1].truck: no truck 'TT99'",
            "fleet.trucks: at least 1",
        ],
    ),
    "bad-toml": ("bad.toml", "hours = = 1\n", ["bad.toml", "not valid TOML", "line 1"]),
    "bad-json": ("bad.json", '{"hours": 1,}', ["bad.json", "not valid JSON"]),
}

SHIFT_CASES: dict[str, tuple[str, list[str]]] = {
    # Problems once found only by the shift itself, with a traceback.
    "unknown-strategy": ('strategy = "best"\n', ["scenario.strategy"]),
    "more-trucks-than-spots": ("[fleet]\ntrucks = 200\n", ["fleet.trucks"]),
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
) -> Iterator[dict[str, tuple[int, str]]]:
    """Every CLI case started at once; name -> (exit code, stdout + stderr)."""
    tmp = tmp_path_factory.mktemp("bad-scenarios")
    procs = {}
    for name, (file_name, content, _) in CLI_CASES.items():
        path = tmp / file_name
        path.write_text(content, encoding="utf-8")
        procs[name] = _start([str(path), "--hours", "0.02", "--out", str(tmp / name)])
    results = {}
    try:
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            results[name] = (proc.returncode, out + err)
        yield results
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_a_bad_scenario_file_gets_errors_naming_the_field(
    case: str, cli_results: dict[str, tuple[int, str]]
) -> None:
    code, output = cli_results[case]
    assert code != 0
    assert "Traceback" not in output
    assert "bad scenario" in output
    for words in CLI_CASES[case][2]:
        assert words in output


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
    assert "absent.toml" in result.output and "cannot read" in result.output


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


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("hours = 0\n", "scenario.hours"),
        ("hours = -1\n", "scenario.hours"),
        ('start = "2026-11-29T06:00:00"\n', "scenario.start"),
        ('terminal = "rotterdam"\n', "scenario.terminal"),
        ("terminal_spec = {quay_cranes = 0}\n", "scenario.terminal_spec"),
        ("terminal_spec = {cranes = 8}\n", "scenario.terminal_spec.cranes"),
        ("fleet = 3\n", "fleet"),
        ("[fleet]\nautonomous_share = 1.5\n", "fleet.autonomous_share"),
        ("[gate]\nrecv_per_hour = true\n", "gate.recv_per_hour"),
        ('[[vessels]]\ncall = "A"\ncranes = ["QC01"]\n', "vessels[0].berth"),
        ('[[vessels]]\ncall = "A"\nberth = "BERTH1"\ncranes = "QC01"\n', "vessels[0].cranes"),
        ('[[faults]]\nkind = "fire"\nat_s = 1\nfor_s = 1\n', "faults[0].kind"),
        ('[[faults]]\nkind = "breakdown"\nat_s = 1\nfor_s = 1\n', "faults[0].truck"),
        ('[[faults]]\nkind = "breakdown"\ntruck = "TT01"\nfor_s = 1\n', "faults[0].at_s"),
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
        ("seed = 1.5\n", "scenario.seed"),
        ("[fleet]\ntrucks = 2.5\n", "fleet.trucks"),
        (
            '[[vessels]]\ncall = "A"\nberth = "BERTH1"\ncranes = ["QC01"]\ndsch = 1.5\n',
            "vessels[0].dsch",
        ),
        (
            '[[vessels]]\ncall = "A"\nberth = "BERTH1"\ncranes = ["QC01"]\nhatch = 0\n',
            "vessels[0].hatch",
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

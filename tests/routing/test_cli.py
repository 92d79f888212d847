"""`yardfleet route path` and `yardfleet route plan`, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from sim.cli import main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim.cli", *args], capture_output=True,
                          text=True, check=False)


def test_route_path_prints_and_draws(tmp_path: Path) -> None:
    out = tmp_path / "route.png"
    result = run("route", "path", "QC01.SP", "J2.TP3", "--laden", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "QC01.SP → J2.TP3 (laden)" in result.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_route_path_json_and_closures() -> None:
    runner = CliRunner()
    plain = json.loads(runner.invoke(main, ["route", "path", "QC03.SP", "F1.TP2", "--json"]).output)
    closed_lane = plain["lanes"][len(plain["lanes"]) // 2]
    again = runner.invoke(main, ["route", "path", "QC03.SP", "F1.TP2", "--json",
                                 "--close", closed_lane])
    assert again.exit_code == 0
    assert closed_lane not in json.loads(again.output)["lanes"]


def test_route_path_errors_are_one_line_not_tracebacks() -> None:
    unreachable = run("route", "path", "QC01.SP", "J2.TP3", "--close", "apron-w-01")
    assert unreachable.returncode == 1
    assert "no route from 'QC01.SP' to 'J2.TP3'" in unreachable.stderr
    unknown = run("route", "path", "QC01.SP", "NOWHERE")
    assert unknown.returncode == 1 and "'NOWHERE'" in unknown.stderr
    bad_lane = run("route", "path", "QC01.SP", "J2.TP3", "--close", "no-lane")
    assert bad_lane.returncode == 1 and "no-lane" in bad_lane.stderr
    for r in (unreachable, unknown, bad_lane):
        assert "Traceback" not in r.stderr


def test_route_plan_from_csv(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.csv"
    tasks.write_text("truck,from,to,laden\nT1,QC01.SP,J2.TP3,true\nT2,J1.TP1,QC02.SP,\n"
                     "T3,FUEL.P1,A1.TP1,no\nT4,PARK.S03,FUEL.P2,\n")
    out = tmp_path / "plan.svg"
    result = run("route", "plan", str(tasks), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "planned 4 of 4 trucks" in result.stdout
    assert "conflicts found by the checker: 0" in result.stdout
    assert "<svg" in out.read_text()


def test_route_plan_json(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps([{"truck": "A", "from": "QC01.SP", "to": "A1.TP1"},
                                 {"truck": "B", "from": "A2.TP2", "to": "QC01.SP",
                                  "release_s": 30}]))
    result = CliRunner().invoke(main, ["route", "plan", str(tasks), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["planned"] == 2 and doc["conflicts"] == []
    first = doc["plans"]["B"][0]
    assert first["resource"] == "n" + first["resource"][1:] and first["t_enter"] == 30


def test_route_plan_reports_bad_lines(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.csv"
    tasks.write_text("truck,from,to,laden\nT1,QC01.SP,,true\nT2,J1.TP1,QC02.SP,maybe\n")
    result = run("route", "plan", str(tasks))
    assert result.returncode == 1
    assert f"{tasks}:2: missing to" in result.stderr
    assert f"{tasks}:3: laden must be true or false, got 'maybe'" in result.stderr
    assert "Traceback" not in result.stderr

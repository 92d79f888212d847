"""`yardfleet sim run` and `sim compare` as real subprocesses: report.json, pictures, bag, table.

The two commands of this module start together (one module fixture), so their start-up
and shifts overlap.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from rosbags.highlevel import AnyReader

from sim.scenario import load
from sim.sim_cli import run_command

ROOT = Path(__file__).resolve().parents[2]
REPORT_KEYS = {
    "moves",
    "gross_crane_rate",
    "crane_wait_minutes",
    "empty_km_share",
    "litres_per_move",
    "conflicts",
    "deadlocks",
    "min_separation_m",
    "simulated_seconds",
    "wall_seconds",
    "seed",
    "strategy",
}
PICTURES = ("crane_rate.png", "truck_states.png", "traffic.png")
HOURS = 0.25


def png_size(path: Path) -> tuple[int, int]:
    """A PNG's width and height (and that it is a PNG)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def assert_picture(path: Path) -> None:
    width, height = png_size(path)
    assert 300 <= width <= 5000 and 200 <= height <= 5000, (path, width, height)
    assert path.stat().st_size > 5_000  # something is drawn


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`sim run --json --record` and a small `sim compare`, side by side."""
    tmp = tmp_path_factory.mktemp("cli")
    commands = {
        "json": [
            "run",
            "--hours",
            str(HOURS),
            "--out",
            str(tmp / "json"),
            "--record",
            str(tmp / "bag"),
            "--json",
        ],
        "compare": [
            "compare",
            "--strategies",
            "dedicated,pooled-optimal",
            "--trucks",
            "12,18",
            "--seeds",
            "2",
            "--hours",
            str(HOURS),
            "--out",
            str(tmp / "compare"),
        ],
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "sim.cli", "sim", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    try:
        done = {}
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=300)
            done[name] = (proc.returncode, out, err)
        yield {"tmp": tmp, **done}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_sim_run_json_prints_the_report_it_writes(runs: dict[str, Any]) -> None:
    code, out, err = runs["json"]
    assert code == 0, err
    data = json.loads(out)  # stdout holds the JSON alone, the table goes to stderr
    folder = runs["tmp"] / "json"
    assert json.loads((folder / "report.json").read_text()) == data
    assert data.keys() >= REPORT_KEYS
    assert isinstance(data["moves"], int) and data["moves"] > 0
    assert data["gross_crane_rate"]["mean"] > 0
    assert data["crane_wait_minutes"]["total"] >= 0
    assert 0.0 < data["empty_km_share"] < 1.0
    assert data["litres_per_move"] > 0
    assert data["conflicts"] == 0 and data["deadlocks"] == 0
    assert data["min_separation_m"] is None or data["min_separation_m"] >= 20.0
    assert data["simulated_seconds"] == HOURS * 3600.0 and data["wall_seconds"] > 0
    assert (data["seed"], data["strategy"]) == (1, "pooled-optimal")
    assert not data["interrupted"]
    assert "conflicts (executed trajectories)" in err
    for name in ("report.json", *PICTURES):
        assert f"wrote {folder / name}" in err


def test_sim_run_draws_three_pictures(runs: dict[str, Any]) -> None:
    assert runs["json"][0] == 0
    for name in PICTURES:
        assert_picture(runs["tmp"] / "json" / name)


def test_sim_run_records_a_bag_of_fixes_at_two_hertz_and_the_classes(
    runs: dict[str, Any],
) -> None:
    assert runs["json"][0] == 0
    t0_ns = int(load().start_time.timestamp() * 1e9)
    with AnyReader([runs["tmp"] / "bag"]) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        assert types["/yardfleet/TT01/gnss/fix"] == "sensor_msgs/msg/NavSatFix"
        assert types["/yardfleet/TT32/gnss/fix"] == "sensor_msgs/msg/NavSatFix"
        assert types["/yardfleet/TT32/class"] == "yardfleet_msgs/msg/TruckClass"
        fix = [c for c in reader.connections if c.topic == "/yardfleet/TT01/gnss/fix"]
        stamps = [t_ns for _, t_ns, _ in reader.messages(connections=fix)]
        first: Any = reader.deserialize(
            next(raw for *_, raw in reader.messages(connections=fix)), fix[0].msgtype
        )
    seconds = (np.array(stamps) - t0_ns) / 1e9
    assert len(seconds) == HOURS * 3600.0 * 2 + 1  # the default --fix-hz 2
    assert np.allclose(np.diff(seconds), 0.5, atol=1e-3)
    assert 20.0 < first.latitude < 21.5 and 106.0 < first.longitude < 107.5


def test_sim_run_takes_seed_strategy_and_fleet_from_the_options(tmp_path: Path) -> None:
    args = ["--hours", "0.05", "--seed", "3", "--strategy", "dual", "--trucks", "20"]
    result = CliRunner().invoke(run_command, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "seed 3" in result.output and "moves" in result.output  # the KPI table
    data = json.loads((tmp_path / "report.json").read_text())
    assert (data["seed"], data["strategy"], data["trucks"]) == (3, "dual", 20)
    assert data["conflicts"] == 0 and data["deadlocks"] == 0


def test_sim_compare_prints_the_table_and_writes_json_and_picture(runs: dict[str, Any]) -> None:
    code, out, err = runs["compare"]
    assert code == 0, err
    assert "Dispatch strategies" in out
    assert "dedicated" in out and "pooled-optimal" in out and "±" in out
    folder = runs["tmp"] / "compare"
    rows = json.loads((folder / "compare.json").read_text())
    assert {(r["strategy"], r["trucks"]) for r in rows} == {
        (s, n) for s in ("dedicated", "pooled-optimal") for n in (12, 18)
    }
    for row in rows:
        assert row["seeds"] == 2
        for key in ("moves", "gross_crane_rate", "crane_wait_minutes", "empty_km_share"):
            cell = row[key]
            assert set(cell) == {"mean", "std"}, (key, cell)
            assert isinstance(cell["mean"], float) and cell["std"] >= 0.0
        assert row["moves"]["mean"] > 0
        assert row["conflicts"] == 0 and row["deadlocks"] == 0 and row["contacts"] == 0
        assert row["min_clearance_m"] is None or row["min_clearance_m"] >= 0.9
    assert_picture(folder / "compare.png")
    reports = sorted((folder / "runs").glob("*/report.json"))
    assert len(reports) == 8  # 2 strategies x 2 fleets x 2 seeds
    assert {json.loads(r.read_text())["seed"] for r in reports} == {1, 2}


def test_sim_run_will_not_record_over_an_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "bag").mkdir()
    result = CliRunner().invoke(
        run_command,
        ["--hours", "0.02", "--out", str(tmp_path / "out"), "--record", str(tmp_path / "bag")],
    )
    assert result.exit_code == 2
    assert "--record" in result.output and "exists" in result.output
    assert not (tmp_path / "out" / "report.json").exists()


def test_sim_run_speed_paces_the_shift(tmp_path: Path) -> None:
    """--speed 60: 36 simulated seconds take at least ~0.6 s (a generous bound)."""
    result = CliRunner().invoke(
        run_command, ["--hours", "0.01", "--speed", "60", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["simulated_seconds"] == 36.0
    assert data["wall_seconds"] >= 0.5


def test_the_kpi_table_shows_the_dispatchers_problems() -> None:
    """report.json's problems are in the table too, counted, with the commonest said."""
    from rich.console import Console

    from sim.sim_cli import kpi_table

    report: dict[str, object] = {
        "scenario": "s",
        "strategy": "dual",
        "seed": 1,
        "moves": 10,
        "gross_crane_rate": {},
        "crane_wait_minutes": {},
        "conflicts": 0,
        "deadlocks": 0,
        "simulated_seconds": 60.0,
        "wall_seconds": 1.0,
        "problem_count": 6,
        "problems": [
            f"t={t}s repair failed for TT0{k}: truck 'TT0{k}': no conflict-free path from "
            f"'v1s-0{k}' to 'QC01.SP' after t={t}.0s; it stands and retries"
            for k, t in enumerate((10, 20, 30, 40, 50), start=1)
        ]
        + ["t=60s TT01 silent for 16 s: lost"],
    }
    console = Console(width=160, record=True)
    console.print(kpi_table(report))
    text = console.export_text()
    assert "dispatcher problems" in text
    assert "6 (5× repair failed" in text

"""A recorded shift replayed into a dispatcher: every fix becomes a journaled truck state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fleet.journal import Journal
from fleet.state import load


def test_a_recorded_shift_replays_into_the_dispatcher(tmp_path: Path) -> None:
    bag, out = tmp_path / "bag", tmp_path / "replay"
    run = [sys.executable, "-m", "sim.cli"]
    subprocess.run(
        [
            *run,
            "sim",
            "run",
            "--hours",
            "0.05",
            "--trucks",
            "6",
            "--out",
            str(tmp_path / "s"),
            "--record",
            str(bag),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    done = subprocess.run(
        [*run, "sim", "replay", str(bag), "--speed", "max", "--out", str(out), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(done.stdout)
    assert report["fixes"] > 6 * 100
    assert report["matched"] == report["fixes"]  # our own trucks drive on the lanes
    assert report["dispatcher"]["states"] == report["fixes"]
    with Journal(out / "journal.db") as j:
        state = load(j)
    assert sorted(state.trucks) == [f"TT{k:02d}" for k in range(1, 7)]
    assert state.rejected == []
    assert all("status" in t for t in state.trucks.values())

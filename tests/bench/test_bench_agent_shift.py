"""The default shift with its trucks as onboard agents (`sim run --agents`), against the
same shift driving plans, same seed, in the same run.

Targets of the issue "Simulated trucks are onboard agents" (not met yet, so printed and
recorded, not asserted): the 8-hour shift in at most 20 s of wall time, its moves within
5% of the plans path's, and no conflict, contact or deadlock (asserted in
tests/sim/test_agent_shift.py for a short shift; longer ones still show some: recorded).
Asserted here: no drive problem. The shift lasts 8 h at full size, 0.35 h at reduced size.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_benchmark.fixture import BenchmarkFixture

from sim.run import run_shift
from sim.scenario import load

SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))
HOURS = 8.0 if SCALE >= 1.0 else 0.35
"""The default shift at full size; a short one at reduced size (CI: 0.1), where the
agents path takes about 25 s of wall time per simulated hour and 200 MB of journal."""


def test_agent_shift_against_plans(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    scenario = load().with_(hours=HOURS, seed=1)
    plans = run_shift(scenario, tmp_path / "plans", pictures=False).data
    agents = benchmark.pedantic(
        lambda: run_shift(scenario, tmp_path / "agents", pictures=False, agents=True).data,
        rounds=1,
        iterations=1,
    )
    assert agents["drive_problems"] == 0, agents["drive_problem_examples"]
    journal_mb = (tmp_path / "agents" / "journal.db").stat().st_size / 1e6
    share = agents["moves"] / max(plans["moves"], 1)
    benchmark.extra_info.update(
        hours=HOURS,
        moves_agents=agents["moves"],
        moves_plans=plans["moves"],
        moves_share=round(share, 3),
        wall_agents_s=agents["wall_seconds"],
        wall_plans_s=plans["wall_seconds"],
        journal_mb=round(journal_mb, 1),
        conflicts=agents["conflicts"],
        contacts=agents["contacts"],
        deadlocks=agents["deadlocks"],
    )
    print(
        f"\n{HOURS:.2f} h, seed 1: agents {agents['moves']} moves in {agents['wall_seconds']:.1f} s"
        f" ({journal_mb:.0f} MB journal), plans {plans['moves']} moves in "
        f"{plans['wall_seconds']:.1f} s: moves share {share:.2f}; agents: "
        f"{agents['conflicts']} conflicts, {agents['contacts']} contacts, "
        f"{agents['deadlocks']} deadlocks"
    )

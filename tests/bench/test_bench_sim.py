"""Whole simulated shifts: the default 8-hour shift, and 100 trucks on 8 cranes with 20,000 jobs.

Targets at full size: the default shift (32 trucks, 6 quay cranes, no recording) in at most
30 s of wall time (stretch: 10 s); 100 trucks, 8 quay cranes and 20,000 queued jobs for 8
hours in at most 120 s. The shift length scales with YARDFLEET_BENCH_SCALE (CI: 0.1, so
0.8 h), the queue does not. Every run must be safe (no conflict, no deadlock, never closer
than a truck and the gap on a lane); the simulated/wall ratio and the KPIs are printed
(run with -s to see them). Wall-time targets are asserted only at full size with timing on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pytest_benchmark.fixture import BenchmarkFixture

from maps import CraneKind, generate_terminal
from maps.validate import check_yard
from sim.run import ShiftReport, run_shift
from sim.scenario import Scenario, load

SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))
HOURS = 8.0 * min(1.0, SCALE)
DEFAULT_TARGET_S = 30.0
LARGE_TARGET_S = 120.0
LARGE_JOBS = 20_000

LARGE = """\
name = "bench-100-trucks-8-cranes"
terminal = "haiphong"
terminal_spec = {{ quay_cranes = 8, parking_spots = 100, quay_length_m = 1000, berths = 2 }}
hours = {hours}

[fleet]
trucks = 100

[[vessels]]
call = "BENCH1"
berth = "BERTH1"
cranes = ["QC01", "QC02", "QC03", "QC04"]
dsch = {per_crane}
load = {per_crane}

[[vessels]]
call = "BENCH2"
berth = "BERTH2"
cranes = ["QC05", "QC06", "QC07", "QC08"]
dsch = {per_crane}
load = {per_crane}
"""


def _shift(scenario: Scenario, out: Path) -> ShiftReport:
    return run_shift(scenario, out, pictures=False)


def _check_and_print(label: str, report: ShiftReport, benchmark: BenchmarkFixture) -> None:
    data: dict[str, Any] = report.data
    assert data["conflicts"] == 0, data["conflict_examples"]
    assert data["deadlocks"] == 0, data["deadlock_examples"]
    assert data["min_separation_m"] is None or data["min_separation_m"] >= 20.0
    assert not data["interrupted"]
    assert data["moves"] > 0
    sim_s, wall_s = data["simulated_seconds"], data["wall_seconds"]
    ratio = sim_s / max(wall_s, 1e-9)
    benchmark.extra_info.update(
        simulated_s=sim_s,
        wall_s=wall_s,
        ratio=round(ratio, 1),
        moves=data["moves"],
        trucks=data["trucks"],
    )
    rate = data["gross_crane_rate"]["mean"]
    print(
        f"\n{label}: {sim_s / 3600:.2f} h simulated in {wall_s:.1f} s wall "
        f"(simulated/wall {ratio:,.0f}x), {data['trucks']} trucks, {data['moves']} moves, "
        f"crane rate {rate or 0:.1f}/h, crane wait {data['crane_wait_minutes']['total']:.0f} min, "
        f"empty km share {data['empty_km_share'] or 0:.3f}, "
        f"litres/move {data['litres_per_move'] or 0:.2f}, conflicts {data['conflicts']}, "
        f"deadlocks {data['deadlocks']}, min separation {data['min_separation_m']} m, "
        f"dispatcher problems {data['problem_count']}"
    )


def test_bench_default_shift(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    """The embedded default shift (32 trucks, 6 quay cranes), no bag, no pictures."""
    scenario = load().with_(hours=HOURS)
    report: ShiftReport = benchmark.pedantic(  # type: ignore[no-untyped-call]
        _shift, args=(scenario, tmp_path / "default"), rounds=1, iterations=1
    )
    _check_and_print("default shift", report, benchmark)
    if benchmark.stats is not None and SCALE >= 1.0:  # the whole run: shift, checks, KPIs
        assert benchmark.stats.stats.max <= DEFAULT_TARGET_S


def test_bench_large_shift(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    """100 trucks, 8 quay cranes on a 1,000 m quay, 20,000 jobs queued from the start."""
    path = tmp_path / "large.toml"
    per_crane = LARGE_JOBS // 8 // 2
    path.write_text(LARGE.format(hours=HOURS, per_crane=per_crane), encoding="utf-8")
    scenario = load(path)
    yard = generate_terminal(scenario.spec())
    assert check_yard(yard) == []
    assert len(yard.cranes_of(CraneKind.QC)) == 8
    assert sum((v.dsch + v.load) * len(v.cranes) for v in scenario.vessels) == LARGE_JOBS
    report: ShiftReport = benchmark.pedantic(  # type: ignore[no-untyped-call]
        _shift, args=(scenario, tmp_path / "large"), rounds=1, iterations=1
    )
    _check_and_print("100 trucks, 8 cranes, 20,000 jobs", report, benchmark)
    if benchmark.stats is not None and SCALE >= 1.0:  # the whole run: shift, checks, KPIs
        assert benchmark.stats.stats.max <= LARGE_TARGET_S

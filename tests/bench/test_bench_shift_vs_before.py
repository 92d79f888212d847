"""The default shift, now with bodies in metres, against the commit before that work.

Issue "Traffic that is safe in metres" allows the default 8-hour shift (compiled yard,
junction grants, body check included) at most 1.35x the wall time of the commit before
it (c64e5c0: centre-line yard, resource checks only), measured in the same run. Both run
as the same script in their own process (the old one from a git worktree of that
commit), seed 1; the moves and held-up minutes of both are printed and kept in the
benchmark's extra info. The ratio is asserted only at full size (YARDFLEET_BENCH_SCALE=1)
with timing on; skipped where the clone has no history.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

BEFORE = "c64e5c0"
MAX_RATIO = 1.35
SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))
HOURS = 8.0 * min(1.0, SCALE)
ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys, time
from pathlib import Path
from sim.run import run_shift
from sim.scenario import load
scenario = load().with_(hours={hours}, seed=1)
t0 = time.perf_counter()
data = run_shift(scenario, Path(sys.argv[1]), pictures=False).data
wall = time.perf_counter() - t0
keep = ("moves", "held_up_minutes", "conflicts", "deadlocks", "contacts", "min_clearance_m")
print(json.dumps({{"wall_s": wall, **{{k: data.get(k) for k in keep}}}}))
"""


def _run(cwd: Path, out: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(hours=HOURS), str(out)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    where = tmp_path_factory.mktemp("before") / "tree"
    made = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), BEFORE],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"no commit {BEFORE} to compare with: {made.stderr.strip()}")
    yield where
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)], check=False
    )


def test_bench_default_shift_against_the_commit_before(
    benchmark: BenchmarkFixture, before: Path, tmp_path: Path
) -> None:
    old = _run(before, tmp_path / "old")
    new = benchmark.pedantic(lambda: _run(ROOT, tmp_path / "new"), rounds=1, iterations=1)
    ratio = new["wall_s"] / old["wall_s"]
    benchmark.extra_info.update({"before": old, "now": new, "ratio": round(ratio, 3)})
    print(
        f"\ndefault shift {HOURS:g} h, seed 1: now {new['wall_s']:.1f} s, {new['moves']} moves, "
        f"{new['held_up_minutes']} min held up, {new['contacts']} contacts, clearance "
        f"{new['min_clearance_m']} m; {BEFORE}: {old['wall_s']:.1f} s, {old['moves']} moves, "
        f"{old['held_up_minutes']} min held up; ratio {ratio:.2f} (at most {MAX_RATIO})"
    )
    assert new["conflicts"] == 0 and new["deadlocks"] == 0 and new["contacts"] == 0
    if SCALE >= 1.0 and not benchmark.disabled:
        assert ratio <= MAX_RATIO

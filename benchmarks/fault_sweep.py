"""The fault sweep: is traffic safe in metres under every strategy, fleet size and fault mix?

Runs every strategy × fleet size × seed as a 2-hour shift of the default scenario with
3 to 5 random faults (breakdowns, GNSS outages, lane closures; drawn from the seed), each
in its own process, and checks what the trucks drove: body contacts (16 x 2.5 m bodies,
`routing.bodies`), the planner-resource conflicts, deadlocks and drive problems must all
be 0, and no two bodies closer than 0.9 m. Writes `sweep.json`, a table and
`sweep.png` (the smallest clearance and the moves per cell); exits 1 if anything failed.

    .venv/bin/python benchmarks/fault_sweep.py --out out/fault_sweep

Not part of CI (48 shifts: a few minutes on two cores).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

STRATEGIES = ("dedicated", "pooled-nearest", "pooled-optimal", "dual")
SIZES = (16, 24, 32, 44)
SEEDS = (1, 2, 3)
HOURS = 2.0
MIN_CLEARANCE_M = 0.9


def faults_for(seed: int, trucks: int, lanes: list[str]) -> list[dict[str, Any]]:
    """3 to 5 faults drawn from the seed: who or what, when, for how long."""
    rng = random.Random(seed * 1000 + trucks)
    out: list[dict[str, Any]] = []
    for _ in range(rng.randint(3, 5)):
        kind = rng.choice(("breakdown", "gnss_loss", "lane_closure"))
        at_s = round(rng.uniform(600.0, HOURS * 3600.0 - 1200.0))
        fault: dict[str, Any] = {"kind": kind, "at_s": float(at_s)}
        if kind == "lane_closure":
            fault |= {"lane": rng.choice(lanes), "for_s": float(rng.randrange(600, 1800, 60))}
        else:
            fault |= {
                "truck": f"TT{rng.randrange(trucks) + 1:02d}",
                "for_s": float(rng.randrange(300, 1200, 60)),
            }
        out.append(fault)
    return out


def closable_lanes() -> list[str]:
    """Lanes a closure may hit: driving and block lanes outside junctions."""
    from maps import LaneKind, generate_terminal
    from sim.scenario import load

    yard = generate_terminal(load().spec())
    return sorted(
        lane.id
        for lane in yard.lanes.values()
        if lane.kind in (LaneKind.MAIN, LaneKind.BLOCK) and lane.conflict_group is None
    )


def one(strategy: str, trucks: int, seed: int, lanes: list[str], out: Path) -> dict[str, Any]:
    """One shift of the sweep; the safety numbers and the moves."""
    from sim.run import run_shift
    from sim.scenario import Fault, load

    faults = faults_for(seed, trucks, lanes)
    scenario = load().with_(
        strategy=strategy,
        trucks=trucks,
        seed=seed,
        hours=HOURS,
        faults=tuple(Fault(**f) for f in faults),
    )
    data = run_shift(scenario, out / "runs" / f"{strategy}-{trucks}-{seed}", pictures=False).data
    return {
        "strategy": strategy,
        "trucks": trucks,
        "seed": seed,
        "faults": faults,
        "moves": data["moves"],
        "contacts": data["contacts"],
        "contact_examples": data["contact_examples"][:3],
        "min_clearance_m": data["min_clearance_m"],
        "conflicts": data["conflicts"],
        "deadlocks": data["deadlocks"],
        "drive_problems": data["drive_problems"],
        "held_up_minutes": data["held_up_minutes"],
        "wall_seconds": data["wall_seconds"],
    }


def failed(row: dict[str, Any]) -> list[str]:
    """What in one shift breaks the safety bar."""
    out = [k for k in ("contacts", "conflicts", "deadlocks", "drive_problems") if row[k]]
    clearance = row["min_clearance_m"]
    if clearance is not None and clearance < MIN_CLEARANCE_M:
        out.append(f"clearance {clearance:.2f} m")
    return out


def picture(rows: list[dict[str, Any]], path: Path) -> Path:
    """Per strategy and fleet size: the smallest body clearance and the mean moves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, key, title, reduce in (
        (axes[0], "min_clearance_m", "smallest body clearance (m)", min),
        (axes[1], "moves", "moves per 2-h shift (mean of seeds)", lambda v: sum(v) / len(v)),
    ):
        grid = np.full((len(STRATEGIES), len(SIZES)), np.nan)
        for i, s in enumerate(STRATEGIES):
            for j, n in enumerate(SIZES):
                values = [
                    r[key]
                    for r in rows
                    if r["strategy"] == s and r["trucks"] == n and r[key] is not None
                ]
                if values:
                    grid[i, j] = reduce(values)
        image = ax.imshow(grid, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(SIZES)), [str(n) for n in SIZES])
        ax.set_yticks(range(len(STRATEGIES)), STRATEGIES)
        ax.set_xlabel("trucks")
        ax.set_title(title)
        for (i, j), v in np.ndenumerate(grid):
            if not np.isnan(v):
                ax.text(j, i, f"{v:.2f}" if key == "min_clearance_m" else f"{v:.0f}",
                        ha="center", va="center", color="white")
        fig.colorbar(image, ax=ax)
    fig.suptitle("Fault sweep: 2-h shifts with 3-5 faults, seeds 1-3")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/fault_sweep"))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--trucks", default=",".join(map(str, SIZES)))
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    args = parser.parse_args(argv)
    strategies = [s for s in args.strategies.split(",") if s]
    sizes = [int(n) for n in args.trucks.split(",") if n]
    seeds = [int(n) for n in args.seeds.split(",") if n]
    lanes = closable_lanes()
    runs = [(s, n, k) for s in strategies for n in sizes for k in seeds]
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(one, s, n, k, lanes, args.out): (s, n, k) for s, n, k in runs}
        for f in as_completed(futures):
            row = f.result()
            rows.append(row)
            bad = failed(row)
            print(
                f"[{len(rows):>2}/{len(runs)}] {row['strategy']:>14} {row['trucks']:>2} trucks "
                f"seed {row['seed']}: {row['moves']} moves, clearance {row['min_clearance_m']} m, "
                f"{len(row['faults'])} faults, {row['wall_seconds']:.1f} s"
                + (f"  FAILED: {', '.join(bad)}" if bad else ""),
                flush=True,
            )
    rows.sort(key=lambda r: (strategies.index(r["strategy"]), r["trucks"], r["seed"]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep.json").write_text(json.dumps(rows, indent=2))
    picture(rows, args.out / "sweep.png")
    bad_rows = [r for r in rows if failed(r)]
    clearances = [r["min_clearance_m"] for r in rows if r["min_clearance_m"] is not None]
    print(
        f"{len(rows)} shifts: {sum(r['contacts'] for r in rows)} contacts, "
        f"{sum(r['conflicts'] for r in rows)} conflicts, {sum(r['deadlocks'] for r in rows)} "
        f"deadlocks, {sum(r['drive_problems'] for r in rows)} drive problems; smallest "
        f"clearance {min(clearances) if clearances else None} m; "
        f"wrote {args.out / 'sweep.json'} and {args.out / 'sweep.png'}"
    )
    return 1 if bad_rows else 0


if __name__ == "__main__":
    sys.exit(main())

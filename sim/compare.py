"""Strategy comparisons: every strategy × fleet size × seed as its own shift, in parallel.

Each shift runs in a worker process with its own journal (`out/runs/<strategy>-<n>-<seed>`);
the table gives, per strategy and fleet size, the mean ± standard deviation over seeds of
the gross crane rate, crane minutes waiting, empty km share and litres per move — and the
safety totals, which must be zero (conflicts, deadlocks, body contacts), with the smallest
clearance between two truck bodies.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from sim.scenario import Scenario

METRICS = (
    ("gross_crane_rate", "crane rate (moves/h)"),
    ("crane_wait_minutes", "crane wait (min)"),
    ("empty_km_share", "empty km share"),
    ("litres_per_move", "litres per move"),
)


def _one(base: Scenario, strategy: str, trucks: int, seed: int, out: Path) -> dict[str, Any]:
    from sim.run import run_shift

    scenario = base.with_(strategy=strategy, trucks=trucks, seed=seed)
    data = run_shift(scenario, out / "runs" / f"{strategy}-{trucks}-{seed}", pictures=False).data
    return {
        "strategy": strategy,
        "trucks": trucks,
        "seed": seed,
        "moves": data["moves"],
        "gross_crane_rate": data["gross_crane_rate"]["mean"],
        "crane_wait_minutes": data["crane_wait_minutes"]["total"],
        "empty_km_share": data["empty_km_share"],
        "litres_per_move": data["litres_per_move"],
        "conflicts": data["conflicts"],
        "deadlocks": data["deadlocks"],
        "contacts": data["contacts"],
        "min_clearance_m": data["min_clearance_m"],
        "wall_seconds": data["wall_seconds"],
    }


def compare(
    base: Scenario,
    strategies: Sequence[str],
    sizes: Sequence[int],
    seeds: int,
    out: Path,
    *,
    workers: int | None = None,
    on_done: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per strategy and fleet size: each metric's mean and std over the seeds."""
    runs = [(s, n, base.seed + k) for s in strategies for n in sizes for k in range(seeds)]
    results: list[dict[str, Any]] = []
    workers = workers or max(1, min(len(runs), os.cpu_count() or 1))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_one, base, s, n, seed, out) for s, n, seed in runs]
        for f in as_completed(futures):
            results.append(f.result())
            if on_done:
                on_done()
    rows = []
    for s in strategies:
        for n in sizes:
            cell = [r for r in results if r["strategy"] == s and r["trucks"] == n]
            row: dict[str, Any] = {"strategy": s, "trucks": n, "seeds": len(cell)}
            for key, _ in (*METRICS, ("moves", "")):
                values = np.array([r[key] for r in cell if r[key] is not None], dtype=float)
                row[key] = {
                    "mean": float(values.mean()) if len(values) else None,
                    "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                }
            row["conflicts"] = sum(r["conflicts"] for r in cell)
            row["deadlocks"] = sum(r["deadlocks"] for r in cell)
            row["contacts"] = sum(r["contacts"] for r in cell)
            clearances = [r["min_clearance_m"] for r in cell if r["min_clearance_m"] is not None]
            row["min_clearance_m"] = min(clearances) if clearances else None
            rows.append(row)
    return rows


def _pm(cell: dict[str, Any], digits: int) -> str:
    if cell["mean"] is None:
        return "-"
    return f"{cell['mean']:.{digits}f} ± {cell['std']:.{digits}f}"


def compare_table(rows: Sequence[dict[str, Any]]) -> Table:
    """The table a paper would show."""
    table = Table(title="Dispatch strategies (mean ± std over seeds)")
    for col in (
        "strategy",
        "trucks",
        "moves",
        *(label for _, label in METRICS),
        "conflicts",
        "deadlocks",
        "contacts",
        "min clearance (m)",
    ):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for r in rows:
        table.add_row(
            r["strategy"],
            str(r["trucks"]),
            _pm(r["moves"], 0),
            _pm(r["gross_crane_rate"], 1),
            _pm(r["crane_wait_minutes"], 0),
            _pm(r["empty_km_share"], 3),
            _pm(r["litres_per_move"], 2),
            str(r["conflicts"]),
            str(r["deadlocks"]),
            str(r["contacts"]),
            "-" if r["min_clearance_m"] is None else f"{r['min_clearance_m']:.2f}",
        )
    return table


def compare_plot(rows: Sequence[dict[str, Any]], out: Path) -> Path:
    """Each metric against fleet size, one line per strategy, with ± std bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7), layout="constrained")
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    for ax, (key, label) in zip(axes.flat, METRICS, strict=True):
        for s in strategies:
            mine = [r for r in rows if r["strategy"] == s and r[key]["mean"] is not None]
            ax.errorbar(
                [r["trucks"] for r in mine],
                [r[key]["mean"] for r in mine],
                yerr=[r[key]["std"] for r in mine],
                marker="o",
                capsize=3,
                label=s,
            )
        ax.set_xlabel("trucks")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Dispatch strategies by fleet size")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out

"""Strategy comparisons: every strategy × fleet size × seed as its own shift, in parallel.

Each shift runs in a worker process with its own journal (`out/runs/<strategy>-<n>-<seed>`);
the table gives, per strategy and fleet size, the mean ± standard deviation over seeds of
the gross crane rate, crane minutes waiting, empty km share and litres per move — and the
safety totals, which must be zero (conflicts, deadlocks, body contacts), with the smallest
clearance between two truck bodies.

The workers ignore Ctrl-C; the main process takes it, stops the workers and returns the
rows of the shifts that finished (`Comparison.interrupted`). While the shifts run, the
workers tell the main process how far each has got (`on_status`, about once a second).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.table import Table

from sim.scenario import Scenario

if TYPE_CHECKING:
    from sim.run import ShiftProgress

METRICS = (
    ("gross_crane_rate", "crane rate (moves/h)"),
    ("crane_wait_minutes", "crane wait (min)"),
    ("empty_km_share", "empty km share"),
    ("litres_per_move", "litres per move"),
)


STATUS_EVERY_S = 1.0
"""How often a worker tells the main process where its shift is."""

_updates: Any = None
"""In a worker: the queue to the main process for (run, simulated s, horizon s, moves)."""


def _worker_init(updates: Any) -> None:
    """A worker ignores Ctrl-C (the main process stops it) and reports to `updates`."""
    global _updates  # noqa: PLW0603 - one per worker process, set once as it starts
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _updates = updates


def _run_key(strategy: str, trucks: int, seed: int) -> str:
    return f"{strategy}-{trucks}-{seed}"


def _one(base: Scenario, strategy: str, trucks: int, seed: int, out: Path) -> dict[str, Any]:
    from sim.run import run_shift

    key = _run_key(strategy, trucks, seed)
    last = [-math.inf]

    def status(at: ShiftProgress) -> None:
        now = time.monotonic()
        if _updates is not None and now - last[0] >= STATUS_EVERY_S:
            last[0] = now
            _updates.put((key, at.t_s, at.horizon_s, at.moves))

    scenario = base.with_(strategy=strategy, trucks=trucks, seed=seed)
    data = run_shift(
        scenario,
        out / "runs" / key,
        pictures=False,
        on_status=status if _updates is not None else None,
    ).data
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
        "simulated_seconds": data["simulated_seconds"],
    }


@dataclass
class CompareProgress:
    """How far a comparison is: shifts done of all, and the simulated time and moves of
    the finished shifts and of those under way."""

    done: int
    total: int
    simulated_s: float
    moves: int
    running: int
    finished_one: bool = False
    """Whether a shift has just finished (this report is about it)."""


@dataclass
class Comparison:
    """The rows of a comparison, and whether Ctrl-C cut it short (then `done` < `total`)."""

    rows: list[dict[str, Any]]
    done: int
    total: int
    interrupted: bool = False


def compare(
    base: Scenario,
    strategies: Sequence[str],
    sizes: Sequence[int],
    seeds: int,
    out: Path,
    *,
    workers: int | None = None,
    on_status: Callable[[CompareProgress], None] | None = None,
    status_every_s: float = 0.5,
) -> Comparison:
    """One row per strategy and fleet size: each metric's mean and std over the seeds
    (over the seeds that finished, after Ctrl-C). `on_status` hears every finished shift
    and, in between, every `status_every_s` seconds."""
    runs = [(s, n, base.seed + k) for s in strategies for n in sizes for k in range(seeds)]
    results: list[dict[str, Any]] = []
    workers = workers or max(1, min(len(runs), os.cpu_count() or 1))
    updates = multiprocessing.get_context().Queue()
    running: dict[str, tuple[float, int]] = {}  # run -> (simulated s, moves) so far
    interrupted = False
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(workers, initializer=_worker_init, initargs=(updates,))
    try:
        pending = {pool.submit(_one, base, s, n, seed, out) for s, n, seed in runs}
        while pending:
            finished, pending = wait(pending, status_every_s, FIRST_COMPLETED)
            _drain(updates, running)
            for future in finished:
                result = future.result()
                results.append(result)
                running.pop(_run_key(result["strategy"], result["trucks"], result["seed"]), None)
            if on_status is not None:
                on_status(_progress(results, running, len(runs), bool(finished)))
    except KeyboardInterrupt:
        interrupted = True
        _stop_workers(pool, before)
    except BaseException:
        _stop_workers(pool, before)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        updates.close()
        updates.cancel_join_thread()
    return Comparison(_rows(strategies, sizes, results), len(results), len(runs), interrupted)


def _stop_workers(
    pool: ProcessPoolExecutor, before: set[multiprocessing.process.BaseProcess]
) -> None:
    """Cancel the shifts not started and end the running ones: the pool's workers are the
    children not there `before` it (their folders under runs/ stay, without a report)."""
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in set(multiprocessing.active_children()) - before:
        worker.terminate()


def _drain(updates: Any, running: dict[str, tuple[float, int]]) -> None:
    while True:
        try:
            key, t_s, _, moves = updates.get_nowait()
        except (queue.Empty, OSError, EOFError, ValueError):  # or left unreadable by a worker
            return
        running[key] = (t_s, moves)


def _progress(
    results: list[dict[str, Any]], running: dict[str, tuple[float, int]], total: int, one: bool
) -> CompareProgress:
    return CompareProgress(
        done=len(results),
        total=total,
        simulated_s=sum(r["simulated_seconds"] for r in results)
        + sum(t for t, _ in running.values()),
        moves=sum(r["moves"] for r in results) + sum(m for _, m in running.values()),
        running=len(running),
        finished_one=one,
    )


def _rows(
    strategies: Sequence[str], sizes: Sequence[int], results: list[dict[str, Any]]
) -> list[dict[str, Any]]:
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

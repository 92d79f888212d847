"""The import rules of DESIGN.md, held by import-linter: maps <- routing <- fleet <- sim."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    run = subprocess.run(
        [lint, "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "broken" in run.stdout and " 0 broken." in run.stdout


def test_every_room_is_typed() -> None:
    for room in ("maps", "routing", "fleet", "drivers", "sim"):
        assert (ROOT / room / "py.typed").is_file(), room

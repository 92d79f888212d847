"""Fixtures shared by every room's tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

# Tests compile their yards themselves: none read or fill the user's cache of compiled
# yards (tests/maps/test_yard_cache.py uses a folder of its own).
os.environ["YARDFLEET_CACHE"] = "off"

from maps import Yard, terminal

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BENCH_SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))
"""`make test` runs benchmarks at a tenth of their size; `make bench` at full size."""


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test where it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is not laid out here)")
    return path


@pytest.fixture(scope="session")
def shared() -> Callable[..., Path]:
    """`shared("corpus", "mapf")`: a path under ../shared, or skip where it is absent."""
    return shared_path


@pytest.fixture(scope="session")
def bench_scale() -> float:
    """How much of its full size a benchmark runs at (YARDFLEET_BENCH_SCALE)."""
    return BENCH_SCALE


@pytest.fixture(scope="session")
def haiphong() -> Yard:
    """The embedded default terminal."""
    return terminal("haiphong")

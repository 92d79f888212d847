"""The console's fixtures: a pumped live dispatcher on the default terminal, operators."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_rig import Rig, operators_file
from fastapi.testclient import TestClient

from fleet.console.app import create_app
from fleet.console.operators import Operators
from maps import Yard


@pytest.fixture
def rig(haiphong: Yard, tmp_path: Path) -> Iterator[Rig]:
    with Rig(haiphong, tmp_path / "journal.db") as r:
        yield r


@pytest.fixture
def operators(tmp_path: Path) -> Operators:
    return operators_file(tmp_path / "operators.json")


@pytest.fixture
def client(rig: Rig, operators: Operators) -> Iterator[TestClient]:
    with TestClient(create_app(rig.bridge, operators), base_url="http://127.0.0.1:8080") as c:
        yield c

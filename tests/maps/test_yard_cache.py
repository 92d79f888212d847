"""Compiled yards kept between processes: the same yard back, rebuilt when the file is bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from maps import TerminalSpec, yard_differences
from maps.generator import _compile
from maps.yard_cache import cache_key, cached_yard

SMALL = TerminalSpec(id="cached", quay_cranes=2, block_rows=2, parking_spots=8)


def test_a_kept_yard_comes_back_the_same_and_is_not_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YARDFLEET_CACHE", str(tmp_path))
    built: list[int] = []

    def build() -> object:
        built.append(1)
        return _compile(SMALL)

    first = cached_yard(repr(SMALL), build)  # type: ignore[arg-type]
    again = cached_yard(repr(SMALL), build)  # type: ignore[arg-type]
    assert built == [1]
    assert yard_differences(first, again) == []
    assert [p.name for p in tmp_path.iterdir()] == [f"{cache_key(repr(SMALL))}.geojson"]


def test_a_damaged_file_is_rebuilt_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YARDFLEET_CACHE", str(tmp_path))
    (tmp_path / f"{cache_key(repr(SMALL))}.geojson").write_text("{not json")
    yard = cached_yard(repr(SMALL), lambda: _compile(SMALL))
    assert yard_differences(yard, _compile(SMALL)) == []
    again = cached_yard(repr(SMALL), lambda: pytest.fail("rebuilt a good file"))
    assert yard_differences(yard, again) == []


def test_other_parameters_or_code_give_another_name() -> None:
    assert cache_key(repr(SMALL)) != cache_key(repr(TerminalSpec(id="cached", quay_cranes=3)))

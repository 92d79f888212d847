"""`yardfleet sim replay`: the report, its JSON, its picture, its errors and Ctrl-C."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from maps import terminal
from sim.bags.recorder import BagRecorder
from sim.bags.replay import PacedClock
from sim.replay_cli import INTERRUPTED_EXIT, replay_command

T0 = 1_780_000_000.0


@pytest.fixture(scope="module")
def bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two trucks, 30 s each along one lane of the default yard."""
    yard = terminal()
    lanes = sorted(
        (lane for lane in yard.lanes.values() if lane.is_through), key=lambda lane: -lane.length_m
    )[:2]
    path = tmp_path_factory.mktemp("cli") / "two"
    with BagRecorder(path, trucks=["TT01", "TT02"]) as rec:
        for k in range(30):
            for truck, lane in zip(["TT01", "TT02"], lanes, strict=True):
                p = lane.geometry.interpolate(k / 30, normalized=True)
                lon, lat = yard.frame.point_to_wgs84(p.x, p.y)
                rec.fix(truck, T0 + k, lat, lon)
    return path


def test_replay_prints_json_and_writes_the_report_and_picture(bag: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        replay_command, [str(bag), "--speed", "max", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["fixes"], data["matched"], data["off_map"]) == (60, 60, 0)
    assert sorted(data["trucks"]) == ["TT01", "TT02"]
    assert json.loads((out / "replay.json").read_text()) == data
    assert (out / "replay.png").read_bytes()[:4] == b"\x89PNG"


def test_topic_map_and_text_report(bag: Path, tmp_path: Path) -> None:
    toml = tmp_path / "map.toml"
    toml.write_text('[topics]\n"/yardfleet/TT01/gnss/fix" = "ITV9"\n', encoding="utf-8")
    result = CliRunner().invoke(
        replay_command,
        [str(bag), "--speed", "0", "--topic-map", str(toml), "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert "60 fixes" in result.output
    assert "ITV9" in result.output and "TT02" in result.output


def test_corpus_ros1_bag_is_off_the_map(shared: Callable[..., Path], tmp_path: Path) -> None:
    bag = shared("corpus", "bags", "rviz_satellite_sample.bag")
    result = CliRunner().invoke(
        replay_command, [str(bag), "--speed", "max", "--json", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["fixes"], data["off_map"], data["matched"]) == (151, 151, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "fast"], "not a number"),
        (["--speed", "-2"], "≥ 0"),
        (["--max-distance", "0"], "> 0"),
        (["--topic-map", "{missing}"], "cannot read the topic map"),
    ],
)
def test_bad_options_say_what_is_wrong(
    bag: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    args = [a.format(missing=tmp_path / "none.toml") for a in args]
    result = CliRunner().invoke(replay_command, [str(bag), *args, "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert message in result.output


def test_not_a_bag(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bag"
    junk.write_bytes(b"nothing")
    result = CliRunner().invoke(replay_command, [str(junk), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "junk.bag: not a readable bag" in result.output


def test_ctrl_c_prints_and_writes_a_partial_report(
    bag: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = [0]

    def interrupt_later(self: PacedClock, t_s: float) -> None:
        calls[0] += 1
        if calls[0] > 25:
            raise KeyboardInterrupt

    monkeypatch.setattr(PacedClock, "wait_until", interrupt_later)
    result = CliRunner().invoke(replay_command, [str(bag), "--out", str(tmp_path), "--json"])
    assert result.exit_code == INTERRUPTED_EXIT, result.output
    data = json.loads((tmp_path / "replay.json").read_text())
    assert data["interrupted"] is True
    assert data["fixes"] == 25
    assert (tmp_path / "replay.png").exists()

"""The agent's TOML configuration: the shipped example loads; mistakes name their key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from drivers.agent.cli import agent_command
from drivers.agent.config import ConfigError, load_config, parse_config

EXAMPLE = Path(__file__).parents[2] / "drivers" / "agent" / "onboard.example.toml"


def minimal() -> dict[str, Any]:
    return {
        "truck": {"serial_number": "TT07"},
        "map": {"terminal": "haiphong"},
        "gnss": {"port": "/dev/ttyUSB0"},
        "dispatcher": {"endpoint": "tcp://127.0.0.1:5556"},
    }


def test_the_example_loads_with_every_key(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    assert config.truck.serial_number == "TT07"
    assert config.map.terminal == "haiphong" and config.map.map_version == "1"
    assert config.fuel is not None and config.fuel.protocol == "lls"
    assert config.fuel.calibration == EXAMPLE.parent / "tank.example.csv"  # relative to it
    from drivers.fuel.calibration import Calibration

    assert Calibration.from_csv(config.fuel.calibration).litres(2050).litres == 205.0
    assert config.spool.max_bytes == 1 << 30
    assert config.dispatcher.reconnect_max_s == 5.0


def test_defaults_fill_a_minimal_file(tmp_path: Path) -> None:
    config = parse_config(minimal(), base=tmp_path)
    assert config.fuel is None
    assert config.map.map_id == "haiphong"
    assert config.spool.path == tmp_path / "spool.sqlite"
    assert config.state_interval_s == 1.0


@pytest.mark.parametrize(
    ("table", "key", "value", "message"),
    [
        ("gnss", "baudrate", "fast", "[gnss] baudrate: expected an integer"),
        ("gnss", "baud", 9600, "[gnss] baud: unknown key"),
        ("truck", "serial_number", "TT 07", "[truck] serial_number: 'TT 07'"),
        ("dispatcher", "endpoint", "http://x", "[dispatcher] endpoint: 'http://x'"),
        ("dispatcher", "reconnect_s", -1, "[dispatcher] reconnect_s: must be > 0"),
        ("map", "file", "yard.geojson", "[map] terminal: give exactly one"),
        ("fuel", "protocol", "can", "[fuel] protocol: 'can'"),
    ],
)
def test_a_bad_value_names_its_key(
    tmp_path: Path, table: str, key: str, value: object, message: str
) -> None:
    doc = minimal()
    doc.setdefault(table, {"port": "/dev/ttyUSB1"} if table == "fuel" else {})[key] = value
    with pytest.raises(ConfigError, match="^cfg: " + message.replace("[", r"\[")):
        parse_config(doc, base=tmp_path, source="cfg")


def test_missing_tables_and_files_are_named(tmp_path: Path) -> None:
    doc = minimal()
    del doc["gnss"]
    with pytest.raises(ConfigError, match=r"\[gnss\]: missing table"):
        parse_config(doc, base=tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text("[truck\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
    assert tomllib.loads(EXAMPLE.read_text())["truck"]["manufacturer"] == "YardFleet"


def test_the_command_refuses_a_bad_file_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "onboard.toml"
    config.write_text(
        '[truck]\nserial_number = "TT07"\n[map]\nterminal = "haiphong"\n'
        '[gnss]\nport = "/dev/null"\nbaudrate = "fast"\n'
        '[dispatcher]\nendpoint = "tcp://127.0.0.1:1"\n'
    )
    result = CliRunner().invoke(agent_command, ["--config", str(config)])
    assert result.exit_code == 1
    assert "[gnss] baudrate: expected an integer, got 'fast'" in result.output
    config.write_text(config.read_text().replace('"fast"', "9600") + "[map]\nx = 1\n")
    result = CliRunner().invoke(agent_command, ["--config", str(config)])
    assert result.exit_code == 1 and "not TOML" in result.output  # [map] twice

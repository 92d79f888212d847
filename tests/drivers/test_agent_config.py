"""The agent's TOML configuration: the shipped example loads; mistakes name their key.

The command-line cases run `yardfleet agent` in a subprocess (all at once): a bad file
exits 1 with one error line per problem, naming the file and the key, never a traceback.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from drivers.agent.cli import agent_command
from drivers.agent.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "drivers" / "agent" / "onboard.example.toml"


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


def test_the_example_spools_inside_the_clone_where_git_ignores_it() -> None:
    spool = load_config(EXAMPLE).spool.path.resolve()
    assert spool == ROOT / "out" / "agent" / "spool.sqlite"  # not /var/lib on a laptop
    assert "out/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "/var/lib/yardfleet" in EXAMPLE.read_text()  # the comment says where on a truck


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
        ("fuel", "protocol", "can", "[fuel] protocol: 'can': expected one of lls, modbus, j1939"),
        ("fuel", "address", 300, "[fuel] address: must be within 0..255, got 300"),
        ("gnss", "baudrate", 9600.0, "[gnss] baudrate: expected an integer, got 9600.0"),
        ("gnss", "port", "", "[gnss] port: must not be empty"),
        ("state", "interval_s", float("nan"), "[state] interval_s: expected a finite number"),
        ("dispatcher", "link_lost_stop_s", True, "[dispatcher] link_lost_stop_s: expected a nu"),
        ("spool", "max_bytes", 10, "[spool] max_bytes: must be within 4096..1125899906842624"),
        ("truck", "driver", 1, "[truck] driver: expected a string, got 1"),
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
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML: .*line 1"):
        load_config(bad)
    with pytest.raises(ConfigError, match=r"absent\.toml: cannot read the agent configuration"):
        load_config(tmp_path / "absent.toml")
    doc = minimal()
    doc["map"] = {"file": "yard.geojson"}
    with pytest.raises(ConfigError, match=r"\[map\] map_id: missing \(required with a file\)"):
        parse_config(doc, base=tmp_path)
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
    assert result.exit_code == 1 and "not valid TOML" in result.output  # [map] twice


def test_every_problem_is_a_line_naming_file_and_key(tmp_path: Path) -> None:
    doc = minimal()
    doc["truck"]["driver"] = "robot"
    doc["gnss"]["baud"] = 9600
    doc["dispatcher"].update(reconnect_s=2.0, reconnect_max_s=1.0)
    doc["colour"] = {"cab": "red"}
    with pytest.raises(ConfigError) as caught:
        parse_config(doc, base=tmp_path, source="onboard.toml")
    assert str(caught.value).splitlines() == [
        "onboard.toml: [truck] driver: 'robot': expected one of human, autonomous",
        "onboard.toml: [gnss] baud: unknown key (known: baudrate, port)",
        "onboard.toml: [colour]: unknown table "
        "(known: dispatcher, fuel, gnss, map, spool, state, truck)",
    ]  # the types first; the cross-checks (reconnect_max_s) once the types are right
    del doc["colour"], doc["gnss"]["baud"]
    doc["truck"]["driver"] = "autonomous"
    with pytest.raises(ConfigError, match=r"^onboard.toml: \[dispatcher\] reconnect_max_s: must"):
        parse_config(doc, base=tmp_path, source="onboard.toml")


def test_a_byte_order_mark_is_no_problem(tmp_path: Path) -> None:
    path = tmp_path / "onboard.toml"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.read_bytes())
    assert load_config(path).truck.serial_number == "TT07"


def test_bad_files_through_the_real_command(tmp_path: Path) -> None:
    """`yardfleet agent --config X`: exit 1, one line naming the file (and key), no traceback."""
    binary = tmp_path / "photo.toml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    bad_key = tmp_path / "onboard.toml"
    bad_key.write_text(EXAMPLE.read_text().replace("baudrate = 115200", 'baudrate = "fast"'))
    cases = {
        binary: f"Error: {binary}: cannot read the agent configuration: not UTF-8 text",
        bad_key: f"Error: {bad_key}: [gnss] baudrate: expected an integer, got 'fast'",
        tmp_path / "absent.toml": f"Error: {tmp_path / 'absent.toml'}: cannot read",
    }
    procs = {
        path: subprocess.Popen(
            [sys.executable, "-m", "sim.cli", "agent", "--config", str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in cases
    }
    for path, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, err
        assert "Traceback" not in out + err
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(cases[path]), err

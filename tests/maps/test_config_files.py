"""Config-like files into typed values: one line per problem, naming the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
import pytest
from msgspec import Meta

from maps.config_files import ConfigFileError, convert, key_name, merge, read_document, read_toml


class Serial(msgspec.Struct, forbid_unknown_fields=True):
    port: Annotated[str, Meta(min_length=1)]
    baudrate: Annotated[int, Meta(ge=300, le=4_000_000)] = 115200
    parity: Literal["none", "even", "odd"] = "none"
    timeout_s: Annotated[float, Meta(gt=0)] | None = None


class Pump(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind", tag="pump"):
    rate_lpm: float


class Gate(msgspec.Struct, forbid_unknown_fields=True, tag_field="kind", tag="gate"):
    lanes: int


class Device(msgspec.Struct, forbid_unknown_fields=True):
    serial: Serial
    places: tuple[Pump | Gate, ...] = ()
    names: dict[str, Annotated[str, Meta(min_length=1)]] = {}
    cranes: Annotated[tuple[str, ...], Meta(min_length=1)] = ("QC01",)


def problems(data: object) -> list[str]:
    with pytest.raises(ConfigFileError) as caught:
        convert(data, Device, source="dev.toml")
    assert caught.value.source == "dev.toml"
    assert str(caught.value).splitlines() == [f"dev.toml: {p}" for p in caught.value.problems]
    return caught.value.problems


@pytest.mark.parametrize(
    ("parts", "table", "name"),
    [
        (("hours",), False, "hours"),
        (("gnss", "baudrate"), False, "[gnss] baudrate"),
        (("gnss",), True, "[gnss]"),
        (("a", "b", "c"), False, "[a.b] c"),
        (("vessels", 1, "cranes"), False, "[[vessels]] #2 cranes"),
        (("vessels", 0), True, "[[vessels]] #1"),
        (("vessels", 0, "cranes", 1), False, "[[vessels]] #1 cranes item 2"),
        (("vessels", 2), False, "vessels item 3"),
        (("topics", "/gps/fix"), False, '[topics] "/gps/fix"'),
        ((), False, ""),
    ],
)
def test_keys_are_written_as_the_file_writes_them(
    parts: tuple[str | int, ...], table: bool, name: str
) -> None:
    assert key_name(parts, table=table) == name


def test_a_good_document_converts() -> None:
    data = {
        "serial": {"port": "/dev/ttyUSB0", "timeout_s": 3},
        "places": [{"kind": "gate", "lanes": 4}],
    }
    device = convert(data, Device, source="dev.toml")
    assert device.serial.timeout_s == 3.0 and device.places == (Gate(lanes=4),)


@pytest.mark.parametrize(
    ("serial", "problem"),
    [
        ({"port": "x", "baudrate": "fast"}, "[serial] baudrate: expected an integer, got 'fast'"),
        ({"port": "x", "baudrate": True}, "[serial] baudrate: expected an integer, got true"),
        ({"port": "x", "baudrate": 9600.0}, "[serial] baudrate: expected an integer, got 9600.0"),
        ({"port": "x", "baudrate": 5}, "[serial] baudrate: must be within 300..4000000, got 5"),
        ({"port": "x", "timeout_s": 0}, "[serial] timeout_s: must be > 0, got 0"),
        ({"port": "x", "timeout_s": "1"}, "[serial] timeout_s: expected a number, got '1'"),
        (
            {"port": "x", "parity": "mark"},
            "[serial] parity: 'mark': expected one of none, even, odd",
        ),
        ({"port": ""}, "[serial] port: must not be empty"),
        ({}, "[serial] port: missing (required)"),
        ({"port": "x", "baud": 1}, "[serial] baud: unknown key (known: baudrate, parity, port, "),
        ({"port": "x", "timeout_s": float("nan")}, "[serial] timeout_s: expected a finite number"),
        ({"port": "x", "timeout_s": float("inf")}, "[serial] timeout_s: expected a finite number"),
    ],
)
def test_each_problem_names_key_and_reason(serial: dict[str, object], problem: str) -> None:
    got = problems({"serial": serial})
    assert len(got) == 1 and got[0].startswith(problem), got


def test_tables_lists_and_dict_keys_are_named() -> None:
    assert problems({}) == ["[serial]: missing table (required)"]
    assert problems({"serial": 3}) == ["serial: expected a table, got 3"]
    assert problems({"serial": {"baudrate": 1}, "extra": 1}) == [  # a required key missing,
        "[serial] baudrate: must be within 300..4000000, got 1",  # or taken out for being
        "[serial] port: missing (required)",  # wrong: a stand-in, and the rest is checked
        "extra: unknown key (known: cranes, names, places, serial)",
    ]
    assert problems({"serial": [], "extra": 1}) == [
        "serial: expected a table, got an empty list",
        "extra: unknown key (known: cranes, names, places, serial)",
    ]
    assert problems({"serial": {"port": "x"}, "colour": {}})[0].startswith(
        "[colour]: unknown table"
    )
    assert problems({"serial": {"port": "x"}, "cranes": []}) == ["cranes: must not be empty"]
    assert problems({"serial": {"port": "x"}, "cranes": ["QC01", 2]}) == [
        "cranes item 2: expected a string, got 2"
    ]
    assert problems({"serial": {"port": "x"}, "names": {"a": "b", "/c": ""}}) == [
        '[names] "/c": must not be empty'  # msgspec says `$.names[...]`: the key is found
    ]
    assert problems([]) == ["expected a table, got an empty list"]


def test_tagged_entries_are_checked_by_their_kind() -> None:
    places = [
        {"kind": "fire"},
        {"kind": "pump", "lanes": 2, "rate_lpm": 40},
        {"kind": "gate"},
        {"lanes": 3},
    ]
    assert problems({"serial": {"port": "x"}, "places": places}) == [
        "[[places]] #1 kind: 'fire': expected one of pump, gate",  # nothing more of #1
        "[[places]] #2 lanes: unknown key (known: kind, rate_lpm)",
        "[[places]] #3 lanes: missing (required)",
        "[[places]] #4 kind: missing (required)",
    ]


def test_every_problem_is_reported_once_in_file_order() -> None:
    data = {
        "places": [{"kind": "gate", "lanes": "four"}, {"kind": "gate", "lanes": 1}, {"kind": 1}],
        "serial": {"port": 7, "baudrate": "fast", "parity": "mark"},
        "extra": 1,
    }
    assert problems(data) == [
        "[[places]] #1 lanes: expected an integer, got 'four'",
        "[[places]] #3 kind: expected a string, got 1",  # counted as in the file
        "[serial] port: expected a string, got 7",
        "[serial] baudrate: expected an integer, got 'fast'",
        "[serial] parity: 'mark': expected one of none, even, odd",
        "extra: unknown key (known: cranes, names, places, serial)",
    ]


def test_a_fallback_stands_in_for_bad_values_so_the_rest_is_checked() -> None:
    class Shift(msgspec.Struct, forbid_unknown_fields=True):
        fleet: Fleet
        hours: float

    base = {"fleet": {"trucks": 32, "tank_l": 250.0}, "hours": 8.0}
    file = {"fleet": {"trucks": "many", "tank_l": "big"}, "hours": "long"}
    with pytest.raises(ConfigFileError) as caught:
        convert(merge(base, file), Shift, source="s.toml", fallback=base)
    assert caught.value.problems == [
        "[fleet] trucks: expected an integer, got 'many'",
        "[fleet] tank_l: expected a number, got 'big'",
        "hours: expected a number, got 'long'",
    ]


class Fleet(msgspec.Struct, forbid_unknown_fields=True):
    trucks: int
    tank_l: float


def test_merge_tables_key_by_key_arrays_whole() -> None:
    base = {"name": "d", "fleet": {"trucks": 32, "tank_l": 250.0}, "faults": [1, 2], "x": {}}
    assert merge(base, {"fleet": {"trucks": 40}, "faults": []}) == {
        "fleet": {"trucks": 40, "tank_l": 250.0},
        "faults": [],
        "name": "d",
        "x": {},
    }
    assert merge(base, {}) == base and merge(base, {"fleet": 3})["fleet"] == 3
    assert list(merge(base, {"z": 1, "name": "f"})) == ["z", "name", "fleet", "faults", "x"]


def test_reading_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "dev.toml"
    path.write_bytes(b'\xef\xbb\xbf[serial]\nport = "x"\n')  # a BOM is no problem
    assert read_toml(path, Device, what="the device file").serial.port == "x"
    path.write_bytes(b"[serial]\nport = \xff\n")
    with pytest.raises(ConfigFileError) as caught:
        read_document(path, what="the device file")
    assert str(caught.value) == (
        f"{path}: cannot read the device file: not UTF-8 text (byte 0xff at offset 16; "
        "a binary file?)"
    )
    path.write_text("[serial\n", encoding="utf-8")
    with pytest.raises(ConfigFileError, match=r"dev\.toml: not valid TOML: .*line 1"):
        read_document(path, what="the device file")
    with pytest.raises(ConfigFileError, match="cannot read the device file: No such file"):
        read_document(tmp_path / "absent.toml", what="the device file")
    with pytest.raises(ConfigFileError, match="cannot read the device file: Is a directory"):
        read_document(tmp_path, what="the device file")
    json_path = tmp_path / "dev.json"
    json_path.write_text('{"serial": {"port": "x"}}', encoding="utf-8")
    assert read_toml(json_path, Device, what="the device file").serial.port == "x"
    json_path.write_text('{"serial": ', encoding="utf-8")
    with pytest.raises(ConfigFileError, match=r"dev\.json: not valid JSON: "):
        read_document(json_path, what="the device file")
    with pytest.raises(ConfigFileError, match=r"^dev\.toml: \[serial\] baudrate: must be within"):
        convert({"serial": {"port": "x", "baudrate": 1}}, Device, source="dev.toml")


def test_at_places_a_part_of_a_file() -> None:
    with pytest.raises(ConfigFileError) as caught:
        convert({"trucks": "x"}, Fleet, source="s.toml", at=("terminal_spec",))
    assert caught.value.problems == [
        "[terminal_spec] trucks: expected an integer, got 'x'",
        "[terminal_spec] tank_l: missing (required)",
    ]

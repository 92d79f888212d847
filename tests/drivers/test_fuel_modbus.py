"""Modbus RTU: CRC-16/MODBUS, requests, checked responses, register maps, random streams."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.fuel.modbus import (
    DEFAULT_MAP,
    ModbusParser,
    ModbusResponse,
    RegisterField,
    RegisterMap,
    RegisterMapError,
    crc16_modbus,
    read_request,
)


def crc16_bitwise(data: bytes) -> int:
    """CRC-16/MODBUS one bit at a time, independent of the driver's table."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def answer(address: int, function: int, registers: list[int]) -> bytes:
    """A sensor's response carrying `registers`."""
    body = bytes((address, function, 2 * len(registers)))
    body += b"".join(r.to_bytes(2, "big") for r in registers)
    return body + crc16_bitwise(body).to_bytes(2, "little")


def exception(address: int, function: int, code: int) -> bytes:
    body = bytes((address, function | 0x80, code))
    return body + crc16_bitwise(body).to_bytes(2, "little")


def test_crc16_known_values() -> None:
    assert read_request(1, 3, 0, 1) == bytes.fromhex("010300000001840A")
    assert crc16_modbus(bytes.fromhex("010300000001")) == 0x0A84
    assert crc16_modbus(b"123456789") == 0x4B37
    assert crc16_bitwise(b"123456789") == 0x4B37
    # a textbook response: slave 1 read 2 registers → 0x0000 0x0001 ... CRC checked bitwise
    for data in (b"", b"\x00", bytes(range(40)), b"\xff" * 17):
        assert crc16_modbus(data) == crc16_bitwise(data)


def test_request_bytes_and_limits() -> None:
    assert read_request(17, 4, 0x006B, 3) == bytes.fromhex("1104006B0003") + crc16_bitwise(
        bytes.fromhex("1104006B0003")
    ).to_bytes(2, "little")
    for bad in ((0, 3, 0, 1), (248, 3, 0, 1), (1, 6, 0, 1), (1, 3, 0, 126), (1, 3, 0xFFFF, 2)):
        with pytest.raises(ValueError):
            read_request(*bad)


def test_parses_a_response_in_pieces_after_our_echo_and_noise() -> None:
    request = read_request(1, 3, 0, 2)
    parser = ModbusParser(1, 3, 2, request=request)
    stream = request + b"\x00\xff" + answer(1, 3, [0x0102, 0xFFFE])
    got: list[ModbusResponse] = []
    for i in range(len(stream)):
        got += parser.feed(stream[i : i + 1])
    assert [(r.registers, r.exception) for r in got] == [((0x0102, 0xFFFE), None)]
    assert parser.stats.frames == 1 and parser.stats.bad_crc == 0
    assert parser.stats.garbage_bytes == 2


def test_bad_crc_wrong_length_exception_and_short_answer_are_counted() -> None:
    parser = ModbusParser(1, 3, 1)
    bad = bytearray(answer(1, 3, [500]))
    bad[4] ^= 0x01
    assert parser.feed(bytes(bad)) == []
    assert parser.stats.bad_crc == 1
    assert parser.feed(answer(1, 3, [1, 2])) == []  # 4 data bytes where we asked for 2
    assert parser.stats.malformed >= 1
    got = parser.feed(exception(1, 3, 2))
    assert got[0].exception == 2 and "illegal data address" in got[0].exception_text
    assert parser.stats.exceptions == 1
    parser.feed(answer(1, 3, [700])[:4])
    parser.flush()
    assert parser.stats.short_frames == 1
    assert [r.registers for r in parser.feed(answer(1, 3, [700]))] == [(700,)]
    assert parser.stats.frames == 1


def test_answers_from_other_slaves_and_functions_are_not_taken() -> None:
    parser = ModbusParser(2, 4, 1)
    assert parser.feed(answer(1, 4, [9]) + answer(2, 3, [9])) == []
    assert [r.registers for r in parser.feed(answer(2, 4, [9]))] == [(9,)]


def test_register_fields_scale_sign_and_word_order() -> None:
    regs = (0x0001, 0x86A0, 0xFF9C, 0x86A0, 0x0001)  # 100000 big, -100, 100000 little
    assert RegisterField(0, 2).value(regs, 0) == 100000
    assert RegisterField(3, 2, word_order="little").value(regs, 0) == 100000
    assert RegisterField(2, signed=True, scale=0.1).value(regs, 0) == pytest.approx(-10.0)
    assert RegisterField(2).value(regs, 0) == 0xFF9C
    assert RegisterField(12, 2, signed=True).value((0xFFFF, 0xFFFE), 12) == -2


def test_a_register_map_reads_every_field_in_one_span() -> None:
    reg_map = RegisterMap(
        RegisterField(10, 2, scale=0.1), RegisterField(14, signed=True), function=4
    )
    assert (reg_map.start, reg_map.count) == (10, 5)
    assert reg_map.request(3) == read_request(3, 4, 10, 5)
    level, temp = reg_map.decode((0, 12345, 0, 0, 0xFFF6))
    assert level == pytest.approx(1234.5) and temp == -10
    assert DEFAULT_MAP.decode((42,)) == (42, None)


def test_register_map_from_toml_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "sensor.toml"
    path.write_text(
        "function = 4\n[level]\nregister = 2\ncount = 2\nscale = 0.01\nword_order = 'little'\n"
        "[temperature]\nregister = 1\nsigned = true\n",
        encoding="utf-8",
    )
    reg_map = RegisterMap.from_toml(path)
    assert reg_map.function == 4 and reg_map.level == RegisterField(2, 2, 0.01, False, "little")
    assert reg_map.temperature == RegisterField(1, signed=True)
    for text, message in [
        ("[level]\nregister = 1\ncount = 3\n", r"\[level\] count: 3: expected one of 1, 2$"),
        ("[level]\nregister = 1\nsigned = 1\n", r"\[level\] signed: expected true or false, got 1"),
        ("[level]\nscale = 2\n", r"\[level\] register: missing \(required\)"),
        ("function = 6\n[level]\nregister = 0\n", "function: 6: expected one of 3, 4"),
        ("[level]\nregister = 0\nword_order = 'middle'\n", r"\[level\] word_order: 'middle'"),
        (
            "[level]\nregister = 70000\n",
            r"\[level\] register: must be within 0\.\.65535, got 70000",
        ),
        ("[level]\nregister = 0\n[temperature]\nregister = 200\n", "span 201 registers"),
        ("[levl]\nregister = 0\n", r"\[levl\]: unknown table \(known: function, level, temp"),
        ("level = [", "sensor.toml: not valid TOML"),
    ]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(RegisterMapError, match=message) as caught:
            RegisterMap.from_toml(path)
        assert str(caught.value).startswith(f"{path}: ")  # every line names the file
    path.write_bytes("\ufeff[level]\nregister = 3\n".encode())  # a BOM is no problem
    assert RegisterMap.from_toml(path).level == RegisterField(3)
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    with pytest.raises(
        RegisterMapError, match=r"sensor\.toml: cannot read the register map: not UTF-8"
    ):
        RegisterMap.from_toml(path)
    with pytest.raises(RegisterMapError, match=r"absent\.toml: cannot read"):
        RegisterMap.from_toml(tmp_path / "absent.toml")


FUEL_READ = [sys.executable, "-m", "sim.cli", "fuel", "read", "--port", "loop://"]


def test_a_binary_register_map_is_one_usage_error_line(tmp_path: Path) -> None:
    """`yardfleet fuel read --register-map <binary>`: exit 2, one line naming the file."""
    binary = tmp_path / "sensor.toml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    run = subprocess.run(
        [*FUEL_READ, "--protocol", "modbus", "--register-map", str(binary), "--count", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2 and "Traceback" not in run.stdout + run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error")]
    assert errors == [
        f"Error: Invalid value for --register-map: {binary}: cannot read the register map: "
        "not UTF-8 text (byte 0x89 at offset 0; a binary file?)"
    ]


def check_accepted(got: list[ModbusResponse]) -> None:
    for response in got:
        raw = response.raw
        assert crc16_bitwise(raw[:-2]) == int.from_bytes(raw[-2:], "little")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(1, 40), max_size=30))
def test_random_streams_never_raise_or_accept_a_bad_crc(data: bytes, cuts: list[int]) -> None:
    parser = ModbusParser(1, 3, 1, request=read_request(1, 3, 0, 1))
    got: list[ModbusResponse] = []
    i = 0
    for n in [*cuts, len(data)]:
        got += parser.feed(data[i : i + n])
        i += n
    parser.flush()
    check_accepted(got)
    assert parser.stats.frames + parser.stats.exceptions == len(got)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=20),
    st.integers(0, 10_000),
    st.integers(1, 255),
)
def test_mutated_answers_are_never_taken_with_the_mutation(
    values: list[int], where: int, flip: int
) -> None:
    stream = bytearray(b"".join(answer(1, 3, [v]) for v in values))
    where %= len(stream)
    stream[where] ^= flip
    parser = ModbusParser(1, 3, 1)
    got = parser.feed(bytes(stream))
    check_accepted(got)
    hit = where // 7
    assert all(r.raw != bytes(stream[hit * 7 : hit * 7 + 7]) for r in got)
    # every other answer still comes through unless the broken one swallowed its start
    assert len(got) >= len(values) - 2

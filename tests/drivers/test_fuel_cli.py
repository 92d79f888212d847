"""`yardfleet fuel read` on pseudo-terminals: as a subprocess, and in process for JSON lines."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from drivers.fuel.cli import fuel_group
from drivers.fuel.j1939 import PGN_FUEL_LEVEL, PGN_SPEED, CanFrame, can_id, slcan_line
from drivers.fuel.modbus import crc16_modbus

ROOT = Path(__file__).resolve().parents[2]


def crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        for bit in range(8):
            mix = (crc ^ (byte >> bit)) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
    return crc


def lls_answer(address: int, level: int) -> bytes:
    body = bytes((0x3E, address, 0x06, 21)) + level.to_bytes(2, "little") + b"\x30\x75"
    return body + bytes((crc8(body),))


class Sensor(threading.Thread):
    """A polled sensor on the master end: answers each request with `answer(n)` (at most 30 s)."""

    def __init__(self, master: int, request_len: int, answer: dict[int, bytes]) -> None:
        super().__init__(daemon=True)
        self.master, self.request_len, self.answer = master, request_len, answer
        self.stop = threading.Event()
        self.requests = 0

    def run(self) -> None:
        buf = b""
        end = time.monotonic() + 30
        while not self.stop.is_set() and time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready:
                continue
            try:
                buf += os.read(self.master, 256)
            except OSError:
                return
            while len(buf) >= self.request_len:
                buf = buf[self.request_len :]
                self.requests += 1
                reply = self.answer.get(self.requests, b"")
                if reply:
                    os.write(self.master, reply)


def test_fuel_read_as_a_subprocess_on_a_pty(tmp_path: Path) -> None:
    table = tmp_path / "tank.csv"
    table.write_text("level,litres\n0,0\n4095,400\n", encoding="utf-8")
    master, slave = os.openpty()
    bad = bytearray(lls_answer(3, 1))
    bad[-1] ^= 1
    sensor = Sensor(
        master,
        4,
        {1: lls_answer(3, 4095), 2: bytes(bad), 3: lls_answer(3, 2048), 4: lls_answer(3, 0)},
    )
    sensor.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sim.cli", "fuel", "read", "--port", os.ttyname(slave),
             "--protocol", "lls", "--address", "3", "--calibration", str(table),
             "--poll", "0.05", "--timeout", "0.5", "--count", "4", "--seconds", "20"],
            cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    finally:
        sensor.stop.set()
        sensor.join(5)
        os.close(master)
        os.close(slave)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 5, done.stdout
    assert "lls:3  400.0 L  level 4095  21 °C  valid" in lines[0]
    assert "200.0 L  level 2048" in lines[1] and "0.0 L  level 0" in lines[2]
    assert "INVALID (no answer from LLS sensor 3 for 0.5 s)" in lines[3]
    assert lines[4].startswith("3 frames, 1 bad CRC, 0 short frames, 0 unknown")
    assert "1 timeouts" in lines[4] and "1 connect(s)" in lines[4]


@pytest.mark.parametrize(("thresholds", "events"), [([], 1), (["--drop-litres", "50"], 0)])
def test_fuel_read_j1939_json_lines_with_a_drop_event(
    tmp_path: Path, thresholds: list[str], events: int
) -> None:
    table = tmp_path / "tank.csv"
    table.write_text("level,litres\n0,0\n100,300\n", encoding="utf-8")
    master, slave = os.openpty()

    def level(raw: int) -> bytes:
        data = bytes((0xFF, raw)) + b"\xff" * 6
        return slcan_line(CanFrame(can_id(PGN_FUEL_LEVEL, 0x17), True, data))

    speed = slcan_line(CanFrame(can_id(PGN_SPEED, 0), True, b"\xff\x00\x00" + b"\xff" * 5))
    stop = threading.Event()

    def adapter() -> None:  # waits for the open sequence, then the bus talks
        got = b""
        while not got.endswith(b"O\r") and not stop.wait(0.01):
            if select.select([master], [], [], 0)[0]:
                got += os.read(master, 64)
        os.write(master, b"\r\r\r\r\r" + speed + b"T0CF004008F0FF7D1027FFFFFF\r")
        for raw in [125, 125, 125, 125, 100, 90, 90, 90]:
            os.write(master, level(raw))

    feeder = threading.Thread(target=adapter, daemon=True)
    feeder.start()
    try:
        result = CliRunner().invoke(
            fuel_group,
            ["read", "--port", os.ttyname(slave), "--protocol", "j1939", "--calibration",
             str(table), "--count", "8", "--seconds", "20", "--json", *thresholds],
        )  # fmt: skip
    finally:
        stop.set()
        feeder.join(5)
        os.close(master)
        os.close(slave)
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in result.output.splitlines()]
    fuel = [d for d in docs if d["class"] == "FUEL"]
    assert len(fuel) == 8
    assert fuel[0]["litres"] == 150.0 and fuel[0]["valid"] and fuel[0]["source"] == "j1939:23"
    assert fuel[0]["speed_kmh"] == 0.0 and fuel[0]["battery_v"] is None
    drops = [d for d in docs if d["class"] == "FUEL_DROP"]
    assert len(drops) == events
    assert all(abs(d["litres_lost"] - 42.0) < 1e-6 for d in drops)  # 14 % of 300 L
    stats = docs[-1]
    assert stats["class"] == "STATS" and stats["frames"] == 9 and stats["unknown"] == 1


def test_fuel_read_modbus_with_a_register_map(tmp_path: Path) -> None:
    regs = tmp_path / "sensor.toml"
    regs.write_text("function = 4\n[level]\nregister = 16\nscale = 0.5\n", encoding="utf-8")
    request = bytes((7, 4, 0, 16, 0, 1))
    request += crc16_modbus(request).to_bytes(2, "little")
    body = bytes((7, 4, 2, 0x03, 0xE8))  # 1000 * 0.5 = 500
    master, slave = os.openpty()
    sensor = Sensor(master, len(request), {1: body + crc16_modbus(body).to_bytes(2, "little")})
    sensor.start()
    try:
        result = CliRunner().invoke(
            fuel_group,
            ["read", "--port", os.ttyname(slave), "--protocol", "modbus", "--address", "7",
             "--register-map", str(regs), "--count", "1", "--seconds", "20"],
        )  # fmt: skip
    finally:
        sensor.stop.set()
        sensor.join(5)
        os.close(master)
        os.close(slave)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "modbus:7  -- L  level 500  valid (no calibration)" in lines[0]
    assert lines[1].startswith("1 frames, 0 bad CRC")


def test_bad_calibration_and_register_map_are_usage_errors(tmp_path: Path) -> None:
    table = tmp_path / "tank.csv"
    table.write_text("level,litres\n0,0\n", encoding="utf-8")
    result = CliRunner().invoke(
        fuel_group, ["read", "--port", "loop://", "--protocol", "lls", "--calibration", str(table)]
    )
    assert result.exit_code == 2 and "at least 2 points" in result.output
    regs = tmp_path / "bad.toml"
    regs.write_text("[level]\ncount = 2\n", encoding="utf-8")
    result = CliRunner().invoke(
        fuel_group,
        ["read", "--port", "loop://", "--protocol", "modbus", "--register-map", str(regs)],
    )
    assert result.exit_code == 2 and "[level] register: missing (required)" in result.output
    result = CliRunner().invoke(fuel_group, ["read", "--port", "loop://", "--protocol", "can"])
    assert result.exit_code == 2


def test_a_port_that_never_opens_reports_it(tmp_path: Path) -> None:
    """The port is blamed, with the OS's reason, not the sensor: nothing could be asked."""
    port = tmp_path / "nothing"
    result = CliRunner().invoke(
        fuel_group,
        ["read", "--port", str(port), "--protocol", "lls", "--seconds", "0.3", "--timeout", "0.1"],
    )
    assert result.exit_code == 0, result.output
    assert f"port {port}: cannot open: No such file or directory (attempt 1;" in result.stderr
    assert f"INVALID (port {port} not open: No such file or directory)" in result.stdout
    assert "no answer from LLS sensor" not in result.output
    assert "0 connect(s)" in result.output and "last error: open" in result.output

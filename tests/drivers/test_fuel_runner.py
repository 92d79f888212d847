"""FuelRunner on real pseudo-terminals: a fake sensor on the master end answers the driver."""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from drivers.fuel.calibration import Calibration
from drivers.fuel.j1939 import PGN_FUEL_LEVEL, PGN_SPEED, CanFrame, can_id, slcan_line
from drivers.fuel.modbus import RegisterField, RegisterMap, crc16_modbus, read_request
from drivers.fuel.reading import FuelReading
from drivers.fuel.runner import FuelRunner
from drivers.fuel.theft import FuelDropEvent, TheftConfig

CAL = Calibration([(0, 0), (1000, 400)])
PERCENT = Calibration([(0, 0), (100, 300)])


def until(what: Callable[[], bool], deadline_s: float = 10.0) -> None:
    """Poll a condition with a deadline (no sleeping as synchronisation)."""
    end = time.monotonic() + deadline_s
    while not what():
        assert time.monotonic() < end, "condition not reached before the deadline"
        time.sleep(0.005)


def crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        for bit in range(8):
            mix = (crc ^ (byte >> bit)) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
    return crc


def lls_answer(address: int, level: int, temperature: int = 20) -> bytes:
    body = bytes((0x3E, address, 0x06, temperature & 0xFF)) + level.to_bytes(2, "little")
    body += (30000).to_bytes(2, "little")
    return body + bytes((crc8(body),))


def modbus_answer(address: int, function: int, registers: list[int]) -> bytes:
    body = bytes((address, function, 2 * len(registers)))
    body += b"".join(r.to_bytes(2, "big") for r in registers)
    return body + crc16_modbus(body).to_bytes(2, "little")


def fuel_level_line(percent_raw: int, source: int = 0x17) -> bytes:
    data = bytes((0xFF, percent_raw)) + b"\xff" * 6
    return slcan_line(CanFrame(can_id(PGN_FUEL_LEVEL, source), True, data))


def speed_line(kmh: float) -> bytes:
    data = b"\xff" + round(kmh * 256).to_bytes(2, "little") + b"\xff" * 5
    return slcan_line(CanFrame(can_id(PGN_SPEED, 0), True, data))


class Sensor(threading.Thread):
    """A sensor on the master end: each `request_len` bytes read get `answer(n, request)`."""

    def __init__(self, master: int, request_len: int, answer: Callable[[int, bytes], bytes]):
        super().__init__(daemon=True)
        self.master = master
        self.request_len = request_len
        self.answer = answer
        self.requests: list[bytes] = []
        self.stop = threading.Event()

    def run(self) -> None:
        buf = b""
        while not self.stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready:
                continue
            try:
                buf += os.read(self.master, 256)
            except OSError:
                return
            while len(buf) >= self.request_len:
                request, buf = buf[: self.request_len], buf[self.request_len :]
                self.requests.append(request)
                reply = self.answer(len(self.requests), request)
                if reply:
                    os.write(self.master, reply)


@contextmanager
def pty() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def read_until(fd: int, end: bytes, deadline_s: float = 10.0) -> bytes:
    got = b""
    stop = time.monotonic() + deadline_s
    while not got.endswith(end):
        assert time.monotonic() < stop, f"the driver did not write {end!r}: {got!r}"
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            got += os.read(fd, 256)
    return got


def test_lls_polled_readings_then_a_silent_sensor_times_out() -> None:
    def answer(n: int, request: bytes) -> bytes:
        assert request == bytes((0x31, 0x05, 0x06, crc8(b"\x31\x05\x06")))
        if n == 2:
            bad = bytearray(lls_answer(5, 999))
            bad[5] ^= 0x40
            return bytes(bad)  # a bad CRC
        return lls_answer(5, 100 * n, temperature=-5) if n <= 4 else b""  # then silence

    readings: list[FuelReading] = []
    with pty() as (master, port):
        sensor = Sensor(master, 4, answer)
        sensor.start()
        runner = FuelRunner(
            port, "lls", address=5, calibration=CAL, poll_s=0.05, timeout_s=0.4,
            on_reading=readings.append,
        )  # fmt: skip
        with runner:
            until(lambda: runner.stats.timeouts == 1)
            latest = runner.latest
            assert latest is not None and not latest.valid
            assert "no answer from LLS sensor 5 for 0.4 s" in latest.reason
            assert latest.litres == pytest.approx(160.0)  # the last litres, kept as a guess
        sensor.stop.set()
        sensor.join(2)
    valid = [r for r in readings if r.valid]
    assert [r.level_raw for r in valid] == [100, 300, 400]
    assert valid[0].litres == pytest.approx(40.0) and valid[0].temperature_c == -5
    assert valid[0].source == "lls:5"
    assert runner.stats.bad_crc == 1 and runner.stats.frames == 3
    assert len(sensor.requests) > 5  # it kept polling the silent sensor


def test_lls_periodic_mode_listens_without_asking() -> None:
    with pty() as (master, port):
        runner = FuelRunner(port, "lls", address=1, calibration=CAL, poll_s=0)
        with runner:
            until(lambda: runner.link_stats.connected)
            os.write(master, lls_answer(1, 500)[:3])
            os.write(master, lls_answer(1, 500)[3:] + lls_answer(2, 1) + lls_answer(1, 2000))
            until(lambda: runner.stats.frames == 2)
            latest = runner.latest
            assert latest is not None and not latest.valid  # 2000 is beyond the table
            assert "outside the calibration table" in latest.reason and latest.litres == 400
            ready, _, _ = select.select([master], [], [], 0.1)
            assert not ready  # periodic mode: the driver never wrote a request
        assert runner.stats.unknown == 1  # sensor 2 on the same bus


def test_modbus_polled_with_echo_bad_crc_exception_and_silence() -> None:
    reg_map = RegisterMap(RegisterField(4, 2, scale=0.1), RegisterField(6, signed=True), 4)
    request = read_request(9, 4, 4, 3)

    def answer(n: int, got: bytes) -> bytes:
        assert got == request
        if n == 1:  # a half-duplex adapter echoes our request before the answer
            return request + modbus_answer(9, 4, [0, 5000, 0xFFF6])
        if n == 2:
            bad = bytearray(modbus_answer(9, 4, [0, 1, 2]))
            bad[-1] ^= 0xFF
            return bytes(bad)
        if n == 3:
            body = bytes((9, 0x84, 0x02))
            return body + crc16_modbus(body).to_bytes(2, "little")
        if n == 4:
            return modbus_answer(9, 4, [1, 0x0000, 25])  # 65536 * 0.1 = 6553.6: beyond the table
        if n == 5:
            return modbus_answer(9, 4, [0, 2500, 30])[:6]  # cut short
        return b""

    readings: list[FuelReading] = []
    with pty() as (master, port):
        sensor = Sensor(master, len(request), answer)
        sensor.start()
        runner = FuelRunner(
            port, "modbus", address=9, calibration=CAL, poll_s=0.05, timeout_s=0.5,
            register_map=reg_map, on_reading=readings.append,
        )  # fmt: skip
        with runner:
            until(lambda: runner.stats.timeouts == 1)
        sensor.stop.set()
        sensor.join(2)
    first = readings[0]
    assert first.valid and first.level_raw == pytest.approx(500.0) and first.temperature_c == -10
    assert first.litres == pytest.approx(200.0) and first.source == "modbus:9"
    assert not readings[1].valid and "exception 2 (illegal data address)" in readings[1].reason
    assert readings[1].litres == pytest.approx(200.0)
    assert not readings[2].valid and "outside the calibration" in readings[2].reason
    assert not readings[-1].valid and "no answer from Modbus sensor 9" in readings[-1].reason
    stats = runner.stats
    assert (stats.frames, stats.bad_crc, stats.exceptions, stats.short_frames) == (2, 1, 1, 1)


def test_j1939_opens_the_adapter_reads_the_bus_and_notices_silence() -> None:
    readings: list[FuelReading] = []
    with pty() as (master, port):
        runner = FuelRunner(
            port, "j1939", calibration=PERCENT, timeout_s=0.5, on_reading=readings.append
        )
        with runner:
            assert read_until(master, b"O\r") == b"\r\r\rC\rS5\rO\r"
            os.write(master, b"\r\a\r\r")  # the adapter's ok / refusal replies
            os.write(
                master,
                b"T0CF004008F0FF7D1027FFFFFF\r"  # engine speed: an unknown PGN
                + speed_line(12.5)
                + b"T18FEF7008FFFFFFFF2602FFFF\r"  # 27.5 V
                + b"T18FEF2008FFFFFFFFFFFFFFFF\r"  # fuel rate not available
                + b"T18FEE900800000000C4230100\r"  # 37346 L used
                + fuel_level_line(125)  # 50 % → 150 L
                + b"T18FEFC008FF7D\r"  # short
                + fuel_level_line(0xFF),  # not available
            )
            until(lambda: len(readings) >= 2)
            extra = runner.latest_j1939
            assert extra.speed_kmh == pytest.approx(12.5)
            assert extra.battery_v == pytest.approx(27.5)
            assert extra.fuel_rate_lph is None
            assert extra.total_fuel_used_l == pytest.approx(37346.0)
            assert extra.level_pct is None
            assert readings[0].valid and readings[0].litres == pytest.approx(150.0)
            assert readings[0].source == "j1939:23"
            assert not readings[1].valid and "not available (0xFF)" in readings[1].reason
            until(lambda: runner.stats.timeouts == 1)
            latest = runner.latest
            assert latest is not None and "no answer from J1939 fuel level" in latest.reason
        assert read_until(master, b"C\r", 2.0).endswith(b"C\r")  # closed on stop
    stats = runner.stats
    assert stats.unknown == 1 and stats.short_frames == 1 and stats.not_available == 2


def test_a_drop_while_standing_on_the_bus_raises_an_event() -> None:
    events: list[FuelDropEvent] = []
    readings: list[FuelReading] = []
    with pty() as (master, port):
        runner = FuelRunner(
            port, "j1939", calibration=PERCENT, timeout_s=5.0, on_reading=readings.append,
            theft=TheftConfig(min_drop_l=10.0, window_s=300.0), on_event=events.append,
        )  # fmt: skip
        with runner:
            read_until(master, b"O\r")
            os.write(master, speed_line(0.0))
            # 150 L, then 6 % (18 L) goes while standing: reported when the runner stops
            for raw in [125, 125, 125, 125, 120, 115, 110, 110, 110, 110]:
                os.write(master, fuel_level_line(raw))
            until(lambda: len(readings) == 10)
            assert events == []
        assert len(events) == 1
        assert events[0].litres_lost == pytest.approx(18.0)  # 15 steps of 0.4 % of 300 L


def test_a_consumer_that_fails_does_not_stop_the_runner() -> None:
    def broken(reading: FuelReading) -> None:
        raise RuntimeError("agent bug")

    with pty() as (master, port):
        runner = FuelRunner(port, "lls", poll_s=0, on_reading=broken)
        with runner:
            until(lambda: runner.link_stats.connected)
            os.write(master, lls_answer(1, 10) + lls_answer(1, 20))
            until(lambda: runner.stats.frames == 2 and runner.stats.errors == 2)
            latest = runner.latest
            assert latest is not None and latest.level_raw == 20
            assert latest.litres is None and latest.reason == "no calibration"


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="protocol 'can'"):
        FuelRunner("loop://", "can")
    with pytest.raises(ValueError, match="Modbus address"):
        FuelRunner("loop://", "modbus", address=0)
    FuelRunner("loop://", "lls").stop()  # stopping one never started is harmless


def test_an_slcan_adapter_unplugged_and_back_is_opened_again(tmp_path: Path) -> None:
    adapter = tmp_path / "can0"

    def plug() -> tuple[int, int]:
        master, slave = os.openpty()
        adapter.unlink(missing_ok=True)
        adapter.symlink_to(os.ttyname(slave))
        return master, slave

    fds = plug()
    readings: list[FuelReading] = []
    runner = FuelRunner(str(adapter), "j1939", timeout_s=30.0, on_reading=readings.append)
    with runner:
        assert read_until(fds[0], b"O\r").endswith(b"S5\rO\r")
        os.write(fds[0], fuel_level_line(100))
        until(lambda: len(readings) == 1)
        for fd in fds:  # pull the USB adapter out
            os.close(fd)
        adapter.unlink()
        until(lambda: runner.link_stats.disconnects == 1)
        fds = plug()  # and back in: the channel is opened again, no restart
        assert read_until(fds[0], b"O\r").endswith(b"C\rS5\rO\r")
        os.write(fds[0], fuel_level_line(50))
        until(lambda: len(readings) == 2)
    for fd in fds:
        os.close(fd)
    assert [r.level_raw for r in readings] == [40.0, 20.0]
    assert runner.link_stats.connects == 2

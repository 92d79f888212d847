"""Omnicomm LLS frames: CRC, chunking, resync, garbage, random streams, and a real pty."""

from __future__ import annotations

import os
import random
import select
import time
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.fuel.calibration import Calibration
from drivers.fuel.lls import LlsFrame, LlsParser, crc8_maxim, request
from drivers.serialport import SerialLink


def crc8_bitwise(data: bytes) -> int:
    """CRC-8/MAXIM one bit at a time, independent of the driver's table."""
    crc = 0
    for byte in data:
        for bit in range(8):
            mix = (crc ^ (byte >> bit)) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
    return crc


def response(address: int, temperature: int, level: int, frequency: int) -> bytes:
    body = (
        bytes((0x3E, address, 0x06, temperature & 0xFF))
        + level.to_bytes(2, "little")
        + frequency.to_bytes(2, "little")
    )
    return body + bytes((crc8_bitwise(body),))


def chunks(data: bytes, rng: random.Random) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        n = rng.randint(1, 7)
        out.append(data[i : i + n])
        i += n
    return out


def until(what: Callable[[], bool], deadline_s: float = 10.0) -> None:
    """Poll a condition with a deadline (no sleeping as synchronisation)."""
    end = time.monotonic() + deadline_s
    while not what():
        assert time.monotonic() < end, "condition not reached before the deadline"
        time.sleep(0.005)


def read_exactly(fd: int, n: int, deadline_s: float = 10.0) -> bytes:
    """What the driver wrote to the sensor's end of the pty, with a deadline."""
    got = b""
    end = time.monotonic() + deadline_s
    while len(got) < n:
        assert time.monotonic() < end, "the driver did not write in time"
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            got += os.read(fd, n - len(got))
    return got


def test_crc8_maxim_check_value_and_table_matches_bitwise() -> None:
    assert crc8_maxim(b"123456789") == 0xA1
    assert crc8_bitwise(b"123456789") == 0xA1
    rng = random.Random(1)
    for _ in range(200):
        data = rng.randbytes(rng.randint(0, 20))
        assert crc8_maxim(data) == crc8_bitwise(data)


def test_request_bytes() -> None:
    assert request(1) == bytes((0x31, 0x01, 0x06, crc8_bitwise(b"\x31\x01\x06")))
    assert request(255)[:3] == b"\x31\xff\x06"


def test_decodes_a_response_with_negative_temperature() -> None:
    frames = LlsParser().feed(response(7, -12, 0x0312, 0xABCD))
    assert frames == [LlsFrame(7, -12, 0x0312, 0xABCD, response(7, -12, 0x0312, 0xABCD))]
    reading = frames[0].reading(5.0, Calibration([(0, 0), (1023, 400)]))
    assert reading.valid and reading.source == "lls:7" and reading.temperature_c == -12
    assert abs((reading.litres or 0) - 0x312 * 400 / 1023) < 1e-9


def test_random_chunks_with_garbage_and_bad_crcs_interleaved() -> None:
    rng = random.Random(42)
    good = [response(1, 20, level, 30000 + level) for level in range(100, 4000, 97)]
    stream = b""
    bad_crc = 0
    for frame in good:
        stream += frame
        roll = rng.random()
        if roll < 0.3:
            corrupt = bytearray(response(1, 20, rng.randint(0, 4095), 1))
            corrupt[-1] ^= 0x5A
            stream += bytes(corrupt)
            bad_crc += 1
        elif roll < 0.5:
            stream += bytes(b for b in rng.randbytes(5) if b != 0x3E)  # noise without 0x3E
    parser = LlsParser()
    got: list[LlsFrame] = []
    for piece in chunks(stream, rng):
        got.extend(parser.feed(piece))
    assert [f.raw for f in got] == good
    assert parser.stats.frames == len(good)
    assert parser.stats.bad_crc == bad_crc
    assert parser.stats.garbage_bytes > 0


def test_a_stray_start_byte_and_other_commands_are_skipped() -> None:
    parser = LlsParser()
    frame = response(2, 25, 500, 600)
    got = parser.feed(b"\x3e\x3e" + frame + b"\x3e\x02\x17" + frame)
    assert [f.raw for f in got] == [frame, frame]
    assert parser.stats.unknown >= 2


def test_address_filter_counts_other_sensors_as_unknown() -> None:
    parser = LlsParser(address=3)
    got = parser.feed(response(2, 25, 500, 600) + response(3, 25, 700, 600))
    assert [f.address for f in got] == [3]
    assert parser.stats.unknown == 1


def test_a_truncated_frame_goes_stale_and_counts_as_short() -> None:
    parser = LlsParser(gap_s=0.1)
    frame = response(1, 20, 1000, 2000)
    assert parser.feed(frame[:5], now=10.0) == []
    got = parser.feed(frame, now=10.5)  # the rest never came; a new frame did
    assert [f.raw for f in got] == [frame]
    assert parser.stats.short_frames == 1
    parser.feed(frame[:4])
    parser.flush()
    assert parser.stats.short_frames == 2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(1, 50), max_size=40))
def test_random_streams_never_raise_or_accept_a_bad_crc(data: bytes, cuts: list[int]) -> None:
    parser = LlsParser()
    got: list[LlsFrame] = []
    i = 0
    for n in [*cuts, len(data)]:
        got.extend(parser.feed(data[i : i + n], now=i / 1000))
        i += n
    for frame in got:
        assert len(frame.raw) == 9 and frame.raw[0] == 0x3E and frame.raw[2] == 0x06
        assert crc8_bitwise(frame.raw[:8]) == frame.raw[8]
    assert parser.stats.frames == len(got)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(-128, 127), st.integers(0, 65535))))
def test_valid_frames_survive_any_split(fields: list[tuple[int, int, int]]) -> None:
    frames = [response(a, t, lv, lv ^ 0x5555) for a, t, lv in fields]
    stream = b"".join(frames)
    parser = LlsParser()
    got = [f for b in range(len(stream)) for f in parser.feed(stream[b : b + 1])]
    assert [f.raw for f in got] == frames
    assert parser.stats.bad_crc == 0


def test_polls_a_sensor_on_a_pseudo_terminal() -> None:
    master, slave = os.openpty()
    parser = LlsParser(address=1)
    frames: list[LlsFrame] = []
    link = SerialLink(os.ttyname(slave), lambda b: frames.extend(parser.feed(b)), baudrate=19200)
    try:
        with link:
            until(lambda: link.stats.connected)
            assert link.write(request(1))
            assert read_exactly(master, 4) == request(1)
            # the sensor answers, then in periodic mode keeps sending, in pieces and with noise
            os.write(master, response(1, 18, 1500, 31000)[:4])
            os.write(master, response(1, 18, 1500, 31000)[4:] + b"\x00\xff")
            bad = bytearray(response(1, 18, 1400, 31000))
            bad[4] ^= 1
            os.write(master, bytes(bad) + response(1, 19, 1490, 31010))
            until(lambda: len(frames) >= 2)
            assert [f.level for f in frames] == [1500, 1490]
            until(lambda: parser.stats.bad_crc == 1)
    finally:
        os.close(master)
        os.close(slave)

"""J1939 over SLCAN: PGNs from ids, hand-computed frames, "not available", bad lines, streams."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.fuel.j1939 import (
    PGN_BATTERY,
    PGN_FUEL_LEVEL,
    PGN_FUEL_RATE,
    PGN_FUEL_USED,
    PGN_SPEED,
    CanFrame,
    J1939Decoder,
    J1939Value,
    SlcanParser,
    can_id,
    open_commands,
    pgn_of,
    priority,
    slcan_line,
    source_address,
)


def values(text: bytes) -> list[J1939Value]:
    return J1939Decoder().feed(text)


def test_pgn_from_the_id_by_pdu1_and_pdu2_rules() -> None:
    assert pgn_of(0x18FEFC00) == 65276 == PGN_FUEL_LEVEL  # PDU2: PS is the group extension
    assert source_address(0x18FEFC17) == 0x17 and priority(0x18FEFC17) == 6
    assert pgn_of(0x0CF00400) == 61444  # EEC1, PDU2
    assert pgn_of(0x18EA00F9) == 59904  # request, PDU1: PS 00 is the destination
    assert pgn_of(0x18EAFFF9) == 59904  # same PGN sent to everybody
    assert pgn_of(0x19FEFC00) == 0x1FEFC  # data page 1
    assert can_id(PGN_FUEL_LEVEL, 0x17) == 0x18FEFC17
    assert can_id(59904, 0xF9, destination=0x21) == 0x18EA21F9


def test_hand_computed_frames() -> None:
    got = values(
        b"T18FEFC1787D7DFFFFFFFFFFFF\r"  # byte 2 = 0x7D = 125 → 50.0 %
        b"T18FEF20089001FFFFFFFFFFFF\r"  # bytes 1-2 = 0x0190 = 400 → 20.0 L/h
        b"T18FEE900800000000C4230100\r"  # bytes 5-8 = 0x000123C4 = 74692 → 37346.0 L
        b"T18FEF1008FF0014FFFFFFFFFF\r"  # bytes 2-3 = 0x1400 = 5120 → 20.0 km/h
        b"T18FEF7008FFFFFFFF2602FFFF\r"  # bytes 5-6 = 0x0226 = 550 → 27.5 V
    )
    by_name = {v.name: v for v in got}
    assert by_name["fuel_level"].value == pytest.approx(50.0)
    assert by_name["fuel_level"].source == 0x17 and by_name["fuel_level"].spn == 96
    assert by_name["fuel_rate"].raw == 0x0190
    assert by_name["fuel_rate"].value == pytest.approx(20.0)
    assert by_name["total_fuel_used"].value == pytest.approx(37346.0)
    assert by_name["wheel_speed"].value == pytest.approx(20.0)
    assert by_name["battery_potential"].value == pytest.approx(27.5)
    assert [v.pgn for v in got] == [
        PGN_FUEL_LEVEL,
        PGN_FUEL_RATE,
        PGN_FUEL_USED,
        PGN_SPEED,
        PGN_BATTERY,
    ]


def test_not_available_and_error_are_none_never_zero() -> None:
    decoder = J1939Decoder()
    got = decoder.feed(
        b"T18FEFC008FFFFFFFFFFFFFFFF\r"  # level 0xFF: not available
        b"T18FEFC008FFFEFFFFFFFFFFFF\r"  # level 0xFE: error
        b"T18FEF2008FFFFFFFFFFFFFFFF\r"  # rate 0xFFFF
        b"T18FEE9008FFFFFFFFFFFFFFFF\r"  # total used 0xFFFFFFFF
        b"T18FEF1008FF00FEFFFFFFFFFF\r"  # speed 0xFE00: error
        b"T18FEFC008FFFCFFFFFFFFFFFF\r"  # level 0xFC: reserved
        b"T18FEFC008FF00FFFFFFFFFFFF\r"  # level 0: a real empty tank
    )
    assert [v.value for v in got[:6]] == [None] * 6
    assert [v.status for v in got] == [
        "not available",
        "error",
        "not available",
        "not available",
        "error",
        "reserved",
        "ok",
    ]
    assert got[6].value == 0.0
    assert decoder.stats.not_available == 6 and decoder.stats.frames == 7


def test_unknown_pgns_standard_and_remote_frames_are_counted_not_decoded() -> None:
    decoder = J1939Decoder()
    got = decoder.feed(
        b"T0CF004008F0FF7D1027FFFFFF\r"  # EEC1 engine speed: not ours
        b"T18EA00F930CFE00\r"  # a request (PDU1)
        b"t1238DEADBEEF00112233\r"  # an 11-bit frame
        b"R18FEFC008\r"  # a remote frame
        b"T18FEFC008FF7DFFFFFFFFFFFF\r"
    )
    assert [v.value for v in got] == [pytest.approx(50.0)]
    assert decoder.stats.unknown == 4 and decoder.stats.frames == 1


def test_adapter_replies_timestamps_and_bad_lines() -> None:
    decoder = J1939Decoder()
    stream = (
        b"\r\r\a\rV1013\rN0042\rz\r"  # acks, a refusal, version, serial, transmit ack
        b"T18FEFC008FF7DFFFFFFFFFFFFABCD\r"  # with the adapter's 4-hex timestamp
        b"T18FEFC008FF7D\r"  # DLC 8 but 2 bytes: short
        b"T18FE\r"  # cut inside the id: short
        b"T18FEFC008FF7DFFFFFFFFFFFFAB\r"  # 2 extra chars: malformed
        b"T18FEFC0G8FF7DFFFFFFFFFFFF\r"  # not hex: malformed
        b"T18FEFC009FF7DFFFFFFFFFFFFFF\r"  # DLC 9 (CAN FD): malformed
        b"T38FEFC008FF7DFFFFFFFFFFFF\r"  # id beyond 29 bits: malformed
        b"hello\r"  # noise
        b"T18FEFC008FF7DFFFFFFFF"  # never ends
    )
    got = decoder.feed(stream, now=0.0)
    assert [v.value for v in got] == [pytest.approx(50.0)]
    stats = decoder.stats
    assert stats.short_frames == 2 and stats.malformed == 5
    assert decoder.slcan.acks == 3 and decoder.slcan.nacks == 1 and decoder.slcan.replies == 3
    decoder.feed(b"T18FEFC008FF7DFFFFFFFFFFFF\r", now=5.0)  # the stale partial line went short
    assert stats.short_frames == 3 and stats.frames == 2
    decoder.feed(b"T" + b"1" * 80)
    assert stats.malformed == 6


def test_open_commands() -> None:
    assert open_commands() == [b"\r\r\r", b"C\r", b"S5\r", b"O\r"]
    assert open_commands(500_000)[2] == b"S6\r"
    with pytest.raises(ValueError, match="bit rate"):
        open_commands(300_000)


frames = st.builds(
    CanFrame,
    st.integers(0, 0x1FFFFFFF),
    st.just(True),
    st.binary(max_size=8),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(frames, max_size=20), st.lists(st.integers(1, 30), max_size=30))
def test_slcan_lines_round_trip_in_any_chunks(sent: list[CanFrame], cuts: list[int]) -> None:
    sent = [
        CanFrame(f.can_id, True, bytes(len(f.data)) if f.remote else f.data, f.remote) for f in sent
    ]
    stream = b"".join(slcan_line(f) for f in sent)
    parser = SlcanParser()
    got: list[CanFrame] = []
    i = 0
    for n in [*cuts, len(stream)]:
        got += parser.feed(stream[i : i + n])
        i += n
    assert got == sent
    assert parser.stats.malformed == parser.stats.short_frames == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(1, 40), max_size=30))
def test_random_bytes_never_raise_and_frames_come_from_whole_lines(
    data: bytes, cuts: list[int]
) -> None:
    decoder = J1939Decoder()
    i = 0
    got: list[J1939Value] = []
    for n in [*cuts, len(data)]:
        got += decoder.feed(data[i : i + n], now=i / 100)
        i += n
    for value in got:
        assert value.value is None or value.value >= 0
        assert (value.value is None) == (value.status != "ok")


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 200),
    st.integers(0, 0x1FFFFFFF),
    st.integers(0, 255).filter(lambda b: chr(b) not in string.hexdigits),
)
def test_a_byte_mutated_to_non_hex_never_yields_a_frame_that_was_not_sent(
    levels: int, where: int, new: int
) -> None:
    """SLCAN has no checksum (the CAN controller checked the CRC), but a broken line is dropped."""
    sent = [
        CanFrame(can_id(PGN_FUEL_LEVEL, 0), True, bytes((0xFF, (levels + k) % 251)) + b"\xff" * 6)
        for k in range(5)
    ]
    stream = bytearray(b"".join(slcan_line(f) for f in sent))
    where %= len(stream)
    stream[where] = new
    got = SlcanParser().feed(bytes(stream))
    mutated_line = where // len(slcan_line(sent[0]))
    for frame in got:
        assert frame in sent
    others = [f for k, f in enumerate(sent) if k not in (mutated_line, mutated_line + 1)]
    assert all(f in got for f in others)

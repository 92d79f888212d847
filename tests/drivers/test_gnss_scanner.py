"""Framing by gpsd's rules: `$` restarts, non-printables reset, three line endings, checksums."""

from __future__ import annotations

from functools import reduce
from operator import xor

import pytest

from drivers.gnss import MAX_SENTENCE_CHARS, GnssStats, NmeaScanner, Reject, checksum


def nmea(body: str) -> bytes:
    """`$body*hh` with the right checksum."""
    return f"${body}*{reduce(xor, body.encode(), 0):02X}".encode()


GGA = nmea("GPGGA,123519,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,")
RMC = nmea("GPRMC,123519,A,4807.038,N,01131.324,E,022.4,084.4,230394,003.1,W")


def scan(data: bytes, **options: bool) -> tuple[list[bytes], GnssStats]:
    scanner = NmeaScanner(**options)
    return scanner.feed(data), scanner.stats


@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b"\r\r\n"])
def test_the_three_line_endings(ending: bytes) -> None:
    out, stats = scan(GGA + ending + RMC + ending)
    assert out == [GGA, RMC]
    assert (stats.sentences, sum(stats.rejected.values())) == (2, 0)


def test_a_dollar_restarts_the_sentence() -> None:
    out, stats = scan(b"$GPGGA,1235" + GGA + b"\r\n")
    assert out == [GGA]
    assert stats.rejected == {Reject.GARBLED: 1}
    assert stats.sentences == 2


def test_a_non_printable_byte_resets_the_scanner() -> None:
    broken = GGA[:20] + b"\x00" + GGA[20:]
    out, stats = scan(broken + b"\r\n" + b"\xff\xfe" + RMC + b"\r\n")
    assert out == [RMC]
    assert stats.rejected == {Reject.GARBLED: 1}


def test_a_lone_cr_inside_a_line_resets_too() -> None:
    out, stats = scan(GGA + b"\r" + b"junk\r\n")
    assert out == []
    assert stats.rejected == {Reject.GARBLED: 1}


def test_noise_between_sentences_is_not_a_sentence() -> None:
    out, stats = scan(b"# a comment\r\nnoise\r\n" + GGA + b"\r\n")
    assert out == [GGA]
    assert stats.sentences == 1


def test_checksum_required_unless_switched_off() -> None:
    bare = GGA[:-3]
    out, stats = scan(bare + b"\r\n")
    assert out == []
    assert stats.rejected == {Reject.NO_CHECKSUM: 1}
    out, _ = scan(bare + b"\r\n", require_checksum=False)
    assert out == [bare]


def test_bad_and_malformed_checksums_are_rejected() -> None:
    wrong = GGA[:-2] + (b"00" if GGA[-2:] != b"00" else b"01")
    out, stats = scan(wrong + b"\n" + GGA[:-2] + b"ZZ\n" + GGA[:-3] + b"*7\n")
    assert out == []
    assert stats.rejected == {Reject.BAD_CHECKSUM: 3}


def test_lowercase_checksum_digits_are_fine() -> None:
    sentence = nmea("GPHDT,274.07,T")
    out, _ = scan(sentence[:-2] + sentence[-2:].lower() + b"\n")
    assert len(out) == 1


def test_length_limit_tolerates_130_and_rejects_longer() -> None:
    body = "GPTXT," + "x" * (MAX_SENTENCE_CHARS - 10)
    ok = nmea(body)
    too_long = nmea(body + "y")
    assert len(ok) == MAX_SENTENCE_CHARS
    out, stats = scan(ok + b"\r\n" + too_long + b"\r\n")
    assert out == [ok]
    assert stats.rejected == {Reject.TOO_LONG: 1}


def test_an_endless_sentence_is_dropped_while_it_streams() -> None:
    scanner = NmeaScanner()
    assert scanner.feed(b"$GPGGA," + b"1" * 500) == []
    assert scanner.feed(b"2" * 500 + b"\r\n" + GGA + b"\r\n") == [GGA]
    assert scanner.stats.rejected == {Reject.TOO_LONG: 1}


@pytest.mark.parametrize("size", [1, 2, 3, 7, 80, 1000])
def test_any_chunking_gives_the_same_sentences_and_counts(size: int) -> None:
    stream = (GGA + b"\r\n" + b"$GPG\x01" + RMC + b"\n" + GGA[:-1] + b"0\r\r\n") * 3
    whole, whole_stats = scan(stream)
    scanner = NmeaScanner()
    parts = [scanner.feed(stream[i : i + size]) for i in range(0, len(stream), size)]
    assert [s for part in parts for s in part] == whole
    assert scanner.stats == whole_stats


def test_flush_counts_an_unterminated_sentence() -> None:
    scanner = NmeaScanner()
    scanner.feed(GGA)
    scanner.flush()
    assert scanner.stats.rejected == {Reject.GARBLED: 1}


def test_checksum_is_the_xor_of_the_body_at_any_length() -> None:
    for n in (0, 1, 7, 8, 63, 64, 127, 128, 129, 300):
        body = bytes((i * 37 + 11) % 256 for i in range(n))
        assert checksum(body) == reduce(xor, body, 0)

"""Property tests: random and mutated byte streams never raise and never pass a bad checksum.

The mutations work on real receiver sentences (the gpsd corpus when present, else a few kept
here): insertions, deletions, bit flips, truncations and splices, fed in random chunks.
"""

from __future__ import annotations

from functools import reduce
from itertools import pairwise
from operator import xor
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.gnss import (
    MAX_SENTENCE_CHARS,
    GnssDecoder,
    NmeaScanner,
    Reject,
    SentenceReader,
    parse_sentence,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "gnss" / "gpsd"
KEPT = [
    b"$GPGGA,123519,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,*42",
    b"$GPRMC,142216,A,3348.452,N,11821.143,W,000.0,353.6,081002,013.8,E*66",
    b"$GNGNS,213713.000,4111.59903,N,11156.54809,W,AANN,13,0.93,01482.5,-016.5,,*53",
    b"$GPGSA,A,3,03,,11,14,,,25,31,,,,,3.3,1.8,2.8*32",
    b"$GNVTG,000.0,T,348.3,M,000.0,N,000.1,K,A*30",
    b"$GPGLL,3348.452,N,11821.142,W,142214,A*3B",
    b"$GPZDA,143055.000,18,07,2008,,*54",
    b"$PGRME,19.2,M,28.7,M,34.6,M*18",
]


def real_sentences() -> list[bytes]:
    """Sentences real receivers sent: every line of the corpus that starts with `$`."""
    if not CORPUS.is_dir():
        return KEPT
    lines = {
        line.rstrip(b"\r")
        for log in sorted(CORPUS.glob("*.log"))
        for line in log.read_bytes().split(b"\n")
        if line.startswith(b"$")
    }
    return sorted(lines) or KEPT


SENTENCES = real_sentences()
ENDINGS = st.sampled_from([b"\r\n", b"\n", b"\r\r\n", b"", b"\r"])


def good_checksum(raw: bytes) -> bool:
    """Recomputed here, independently of the scanner: `$body*hh`, hh = XOR of body."""
    body, star, digits = raw[1:].partition(b"*")
    return star == b"*" and len(digits) == 2 and reduce(xor, body, 0) == int(digits, 16)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real sentence with a few random edits, plus a line ending."""
    data = bytearray(draw(st.sampled_from(SENTENCES)))
    for _ in range(draw(st.integers(0, 4))):
        edit = draw(st.sampled_from(["insert", "delete", "flip", "truncate", "splice"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=3))
        elif edit == "delete" and data:
            del data[at]
        elif edit == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "truncate":
            del data[at:]
        elif edit == "splice":
            data[at:] = draw(st.sampled_from(SENTENCES))
    return bytes(data) + draw(ENDINGS)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` cut at the given offsets (taken modulo its length)."""
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(points)]


STREAMS = st.one_of(
    st.lists(mutated(), min_size=1, max_size=30).map(b"".join),
    st.binary(max_size=600),
    st.lists(st.one_of(mutated(), st.binary(max_size=40)), max_size=20).map(b"".join),
)
CUTS = st.lists(st.integers(0, 10_000), max_size=12)
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(STREAMS, CUTS, st.booleans())
def test_no_exception_and_no_bad_checksum_accepted(
    stream: bytes, cuts: list[int], require_checksum: bool
) -> None:
    scanner = NmeaScanner(require_checksum=require_checksum)
    accepted = [s for chunk in chunked(stream, cuts) for s in scanner.feed(chunk)]
    scanner.flush()
    for raw in accepted:
        assert raw.startswith(b"$")
        assert len(raw) <= MAX_SENTENCE_CHARS
        assert all(0x20 <= c < 0x7F for c in raw)
        if require_checksum or b"*" in raw:
            assert good_checksum(raw), raw
        parse_sentence(raw)  # never raises
    stats = scanner.stats
    assert stats.bytes_seen == len(stream)
    assert stats.sentences == len(accepted) + sum(stats.rejected.values())


@SETTINGS
@given(STREAMS, CUTS)
def test_the_decoder_never_raises_and_chunking_does_not_matter(
    stream: bytes, cuts: list[int]
) -> None:
    whole = GnssDecoder()
    expected = whole.feed(stream) + whole.flush()
    pieces = GnssDecoder()
    got = [f for chunk in chunked(stream, cuts) for f in pieces.feed(chunk)] + pieces.flush()
    assert got == expected
    assert pieces.stats == whole.stats
    stats = pieces.stats
    assert stats.sentences == stats.accepted + stats.proprietary + sum(stats.rejected.values())
    for fix in got:
        assert fix.latitude is None or -90.0 <= fix.latitude <= 90.0
        assert fix.longitude is None or -180.0 <= fix.longitude <= 180.0


@SETTINGS
@given(st.lists(mutated(), min_size=1, max_size=30).map(b"".join))
def test_every_accepted_record_came_from_a_good_checksum(stream: bytes) -> None:
    reader = SentenceReader()
    records = reader.feed(stream)
    parsed = [(raw, parse_sentence(raw)) for raw in NmeaScanner().feed(stream)]
    checked = [raw for raw, r in parsed if r is not None and not isinstance(r, Reject)]
    assert len(records) == len(checked) == reader.stats.accepted
    assert all(good_checksum(raw) for raw in checked)

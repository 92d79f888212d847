"""NMEA decoding throughput on gpsd's receiver logs: our parser against pynmea2 in the same run.

The work measured is bytes → the decoded time, lat, lon, fix quality, speed and course of
every GGA and RMC in the corpus, every checksum verified on both sides (pynmea2.parse with
check=True, its fields read). Ours runs three ways: decoding just GGA and RMC (the same work as
pynmea2), decoding every supported sentence (what the agent runs), and all the way to fixes.
With timing on, the first must be at least TARGET × pynmea2, the second (which also decodes
GSA, VTG, GLL…, fields pynmea2 never reads here) at least 0.8 × TARGET.

YARDFLEET_BENCH_SCALE scales the bytes used (1.0: the whole corpus, about 600 kB; above 1 it
repeats); each benchmark also checks its result, so it still tests something when run with
--benchmark-disable.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from drivers.gnss import GGA, RMC, GnssDecoder, SentenceReader

try:
    import pynmea2
except ImportError:  # the peer is a test dependency; the decoder's own benchmark runs without
    pynmea2 = None

needs_pynmea2 = pytest.mark.skipif(pynmea2 is None, reason="pynmea2 (the peer) is not installed")
SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "gnss" / "gpsd"
TARGET = 3.0
"""Our parser must be at least this many times faster than pynmea2 on the same work."""

Decoded = list[tuple[Any, ...]]


@pytest.fixture(scope="module")
def stream() -> bytes:
    """The corpus logs end to end, cut (or repeated) to SCALE × their size at a line end."""
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is absent")
    whole = b"".join(log.read_bytes() for log in sorted(CORPUS.glob("*.log")))
    size = max(4096, round(len(whole) * SCALE))
    data = (whole * -(-size // len(whole)))[:size]
    return data[: data.rfind(b"\n") + 1]


def ours(data: bytes, kinds: tuple[str, ...] | None = ("GGA", "RMC")) -> Decoded:
    """GGA: time, lat, lon, quality; RMC: time and date, lat, lon, speed, course."""
    out: Decoded = []
    for s in SentenceReader(kinds=kinds).feed(data):
        if type(s) is GGA:
            out.append(("GGA", s.tod, s.latitude, s.longitude, s.quality))
        elif type(s) is RMC:
            row = (s.tod, s.date, s.latitude, s.longitude, s.speed_mps, s.track_deg)
            out.append(("RMC", *row, "A" if s.valid else "V"))
    return out


def theirs(data: bytes) -> Decoded:
    """The same fields through pynmea2, one line at a time, checksums checked."""
    out: Decoded = []
    for line in data.decode("latin-1").splitlines():
        try:
            msg = pynmea2.parse(line, check=True)
        except (pynmea2.ParseError, ValueError):
            continue
        try:
            if isinstance(msg, pynmea2.GGA):
                out.append(("GGA", msg.timestamp, msg.latitude, msg.longitude, msg.gps_qual))
            elif isinstance(msg, pynmea2.RMC):
                row = (msg.datetime, msg.latitude, msg.longitude, msg.spd_over_grnd)
                out.append(("RMC", *row, msg.true_course, msg.status))
        except (AttributeError, TypeError, ValueError):
            continue  # a field pynmea2 cannot read (an RMC with no date, say)
    return out


def fixed_latitudes(rows: Decoded, rmc_lat: int) -> list[tuple[str, float]]:
    """(kind, latitude to 1e-6) of the rows with a valid fix (GGA quality > 0, RMC status A/D)."""
    valid = [
        (row[0], row[2 if row[0] == "GGA" else rmc_lat])
        for row in rows
        if (row[0] == "GGA" and row[4]) or (row[0] == "RMC" and row[-1] in ("A", "D"))
    ]
    return [(kind, round(lat, 6)) for kind, lat in valid if lat is not None]


def check_same_sentences(mine: Decoded, reference: Decoded) -> None:
    """Both decoded about the same GGAs and RMCs, and the same positions where there is a fix."""
    kinds, ref_kinds = Counter(row[0] for row in mine), Counter(row[0] for row in reference)
    for kind in ("GGA", "RMC"):
        assert abs(kinds[kind] - ref_kinds[kind]) <= 0.15 * ref_kinds[kind] + 2, (kinds, ref_kinds)
    ours_at = set(fixed_latitudes(mine, rmc_lat=3))
    theirs_at = fixed_latitudes(reference, rmc_lat=2)
    assert sum(at in ours_at for at in theirs_at) >= 0.98 * len(theirs_at)


def test_bench_gnss_pynmea2(benchmark: BenchmarkFixture, stream: bytes) -> None:
    decoded = benchmark(theirs, stream)
    assert len(decoded) > 10


@needs_pynmea2
def test_bench_gnss_ours_same_work(
    benchmark: BenchmarkFixture, stream: bytes, peer_ratio: Callable[..., float]
) -> None:
    decoded = benchmark(ours, stream)
    check_same_sentences(decoded, theirs(stream))
    if not benchmark.disabled:
        ratio = peer_ratio(lambda: theirs(stream), lambda: ours(stream))
        benchmark.extra_info["times_pynmea2"] = round(ratio, 2)
        assert ratio >= TARGET, f"{ratio:.2f} × pynmea2"


@needs_pynmea2
def test_bench_gnss_ours_every_sentence(
    benchmark: BenchmarkFixture, stream: bytes, peer_ratio: Callable[..., float]
) -> None:
    decoded = benchmark(ours, stream, None)
    check_same_sentences(decoded, theirs(stream))
    if not benchmark.disabled:
        ratio = peer_ratio(lambda: theirs(stream), lambda: ours(stream, None))
        benchmark.extra_info["times_pynmea2"] = round(ratio, 2)
        assert ratio >= 0.8 * TARGET, f"{ratio:.2f} × pynmea2"


def test_bench_gnss_decoder_to_fixes(benchmark: BenchmarkFixture, stream: bytes) -> None:
    def run() -> int:
        decoder = GnssDecoder()
        return len(decoder.feed(stream) + decoder.flush())

    fixes = benchmark(run)
    benchmark.extra_info["fixes"] = fixes
    assert fixes > len(stream) // 1000

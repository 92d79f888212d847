"""Bag recording throughput: our recorder against rosbags' Writer alone, same messages.

Both write the same NavSatFix fixes (32 trucks at 1 Hz, so the rate limit drops none)
into a rosbag2 directory with MCAP storage and zstd chunk compression, building and
serializing each message with the same typestore. Sizes scale with YARDFLEET_BENCH_SCALE
(default 1.0: 40,000 fixes). The ratio of our throughput to rosbags' is printed; it must
be at least 0.8, asserted only when timing is on (CI runs with --benchmark-disable).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path

import numpy as np
from pytest_benchmark.fixture import BenchmarkFixture
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin

from sim.bags.reader import topics
from sim.bags.recorder import FIX_TOPIC, BagRecorder
from sim.bags.types import NAVSATFIX, typestore

SCALE = float(os.environ.get("YARDFLEET_BENCH_SCALE", "1.0"))
FIXES = max(320, round(40_000 * SCALE))
TRUCKS = [f"TT{i:02d}" for i in range(1, 33)]
T0 = 1_780_000_000.0
ROUNDS = 5
MIN_RATIO = 0.8
COV = [2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 5.0]

Fixes = list[tuple[str, float, float, float]]


def fixes() -> Fixes:
    """(truck, t, lat, lon) round-robin over the trucks, one fix per truck per second."""
    rng = np.random.default_rng(1)
    lat = 20.838 + rng.normal(0, 1e-3, FIXES)
    lon = 106.931 + rng.normal(0, 1e-3, FIXES)
    n = len(TRUCKS)
    return [(TRUCKS[i % n], T0 + i // n, float(lat[i]), float(lon[i])) for i in range(FIXES)]


def with_recorder(path: Path, data: Fixes) -> None:
    """Our recorder: throttle, topic per truck, message building and writing."""
    with BagRecorder(path, trucks=TRUCKS) as bag:
        for truck, t, lat, lon in data:
            bag.fix(truck, t, lat, lon, 1.0, 0, COV)


def with_rosbags(path: Path, data: Fixes) -> None:
    """rosbags alone: the same messages built by hand and written by its Writer."""
    store = typestore()
    types = store.types
    time_t, header_t = types["builtin_interfaces/msg/Time"], types["std_msgs/msg/Header"]
    status_t, fix_t = types["sensor_msgs/msg/NavSatStatus"], types[NAVSATFIX]
    cov = np.asarray(COV)
    writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    with writer:
        conns = {
            t: writer.add_connection(FIX_TOPIC.format(truck=t), NAVSATFIX, typestore=store)
            for t in TRUCKS
        }
        for truck, t, lat, lon in data:
            ns = round(t * 1e9)
            sec, nanosec = divmod(ns, 1_000_000_000)
            msg = fix_t(
                header=header_t(stamp=time_t(sec=sec, nanosec=nanosec), frame_id="gnss"),
                status=status_t(status=0, service=1),
                latitude=lat,
                longitude=lon,
                altitude=1.0,
                position_covariance=cov,
                position_covariance_type=2,
            )
            writer.write(conns[truck], ns, store.serialize_cdr(msg, NAVSATFIX))


_serial = count()


def timed(write: Callable[[Path, Fixes], None], data: Fixes, folder: Path) -> tuple[float, Path]:
    """Seconds one run takes, into a new bag, and that bag."""
    path = folder / f"bag{next(_serial)}"
    start = time.perf_counter()
    write(path, data)
    return time.perf_counter() - start, path


def test_bench_recorder_vs_rosbags(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    """Our recorder's fixes per second ≥ 0.8 × rosbags' Writer alone on the same fixes."""
    data = fixes()
    typestore()  # built once, outside the timing

    def setup() -> tuple[tuple[Path, Fixes], dict[str, object]]:
        return (tmp_path / f"bench{next(_serial)}", data), {}

    benchmark.pedantic(with_recorder, setup=setup, rounds=ROUNDS, iterations=1)  # type: ignore[no-untyped-call]
    # Interleave the two writers so that both see the same machine state.
    ours, theirs = float("inf"), float("inf")
    for _ in range(ROUNDS if benchmark.stats is not None else 1):
        seconds, ours_bag = timed(with_recorder, data, tmp_path)
        ours = min(ours, seconds)
        seconds, theirs_bag = timed(with_rosbags, data, tmp_path)
        theirs = min(theirs, seconds)
    ratio = theirs / ours
    benchmark.extra_info.update(
        fixes=FIXES,
        recorder_fixes_per_s=round(FIXES / ours),
        rosbags_fixes_per_s=round(FIXES / theirs),
        ratio=round(ratio, 3),
    )
    print(
        f"\nbag recording, {FIXES} fixes: recorder {FIXES / ours:,.0f} fixes/s, "
        f"rosbags alone {FIXES / theirs:,.0f} fixes/s, ratio {ratio:.3f} (target ≥ {MIN_RATIO})"
    )
    ours_topics, theirs_topics = topics(ours_bag), topics(theirs_bag)
    assert ours_topics == theirs_topics  # the same topics, types and counts
    assert sum(t.count for t in ours_topics) == FIXES
    assert len(ours_topics) == len(TRUCKS)
    if benchmark.stats is not None:
        assert ratio >= MIN_RATIO

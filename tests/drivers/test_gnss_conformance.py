"""Conformance with gpsd on its regression logs of real receivers (../shared/corpus/gnss/gpsd).

Each `NAME.log` is fed through the decoder; `NAME.log.chk` is gpsd's decoding of it: the
sentences gpsd accepted, each followed by its JSON reports. gpsd reports a TPV whenever a
sentence changes the fix, so one time of fix has several TPVs; the last one is its report of
the completed epoch. We check that no log raises, that every sentence we accept has a good
checksum (recomputed here) and was accepted by gpsd too, and that our fix of each epoch
agrees with gpsd: lat/lon of every TPV with a time and mode >= 2, and the mode, speed and
track of the epoch's last TPV; where gpsd reported no fix at all for a time, neither may we.
gpsd fills in a speed from successive positions when the receiver sent none; we leave it None
("not sent"), so speed and track are compared where the receiver sent them in that epoch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from operator import xor
from pathlib import Path
from typing import Any

import pytest

from drivers.gnss import MAX_SENTENCE_CHARS, Fix, GnssDecoder, Mode, NmeaScanner

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "gnss" / "gpsd"
LOGS = sorted(CORPUS.glob("*.log")) if CORPUS.is_dir() else []

pytestmark = pytest.mark.corpus


@dataclass(frozen=True)
class GpsdOwn:
    """Why a log cannot agree with gpsd for a reason of gpsd's own, and how far that goes."""

    reason: str
    times: frozenset[str] = frozenset()
    """TPV times excused (all others are still compared)."""
    shift: timedelta = timedelta(0)
    """gpsd's time minus the receiver's, where gpsd moves the receiver's dates."""


GPSD_OWN: dict[str, GpsdOwn] = {
    "ericsson-gru04-02-70sec": GpsdOwn(
        "gpsd's Ericsson driver decodes the proprietary $PERC,GPavp (the receiver's long-term "
        "averaged position) into the fix just before the minute's last report; we pass "
        "proprietary sentences over, so those two epochs keep the GNS/GLL position",
        times=frozenset({"2026-02-12T21:37:13.000Z", "2026-02-12T21:38:13.000Z"}),
    ),
    "unicore-um621": GpsdOwn(
        "gpsd ignores the time of an RMC marked V (its workaround for MTK receivers, which send "
        "bogus times then), so the no-fix RMC of 00:07:06 ends gpsd's 00:07:05 epoch as mode 1; "
        "we keep 00:07:05 as the fix it was and report 00:07:06 as its own no-fix epoch",
        times=frozenset({"2024-06-09T00:07:05.000Z"}),
    ),
    "rst39": GpsdOwn(
        "gpsd moves this receiver's RMC date 2014-02-19 forward 1024 weeks to 2033-10-05 (its "
        "GPS week-rollover guard, judged against gpsd's own clock); compared with that shift",
        shift=timedelta(weeks=1024),
    ),
}


@dataclass
class Epoch:
    """gpsd's reports for one time of fix, and the sentences it read before them."""

    tpvs: list[dict[str, Any]] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)


def gpsd_epochs(chk: Path) -> dict[str, Epoch]:
    """gpsd's TPVs grouped by time; each sentence goes with the next TPV that has a time."""
    epochs: dict[str, Epoch] = {}
    pending: list[str] = []
    for line in chk.read_text(encoding="latin-1").splitlines():
        if line.startswith("$"):
            pending.append(line)
        elif line.startswith("{"):
            report = json.loads(line)
            if report.get("class") == "TPV" and "time" in report:
                epoch = epochs.setdefault(report["time"], Epoch())
                epoch.tpvs.append(report)
                epoch.sentences += pending
                pending = []
    return epochs


TIME_FIELD = {"GGA": 1, "RMC": 1, "GNS": 1, "ZDA": 1, "GLL": 5}
"""Where the time of fix is in each timed sentence."""


def seconds_of_day(hhmmss: str) -> float | None:
    """`hhmmss.ss` → seconds of the day, None if it is not a time."""
    try:
        return int(hhmmss[:2]) * 3600 + int(hhmmss[2:4]) * 60 + float(hhmmss[4:])
    except ValueError:
        return None


def sent_speed_and_track(sentences: list[str], when: str) -> tuple[bool, bool]:
    """Whether the receiver sent a usable speed, and a track, for the epoch at `when`.

    A sentence belongs to the epoch when its time, or that of the last timed sentence
    before it, is the epoch's time of day.
    """
    tod = seconds_of_day(when[11:23].replace(":", ""))
    assert tod is not None
    speed = track = False
    current: float | None = None
    for sentence in sentences:
        fields = sentence.split("*")[0].split(",")
        kind = fields[0][3:]
        if kind in TIME_FIELD and len(fields) > TIME_FIELD[kind] and fields[TIME_FIELD[kind]]:
            current = seconds_of_day(fields[TIME_FIELD[kind]])
        if current is None or abs(current - tod) > 0.005:
            continue
        if kind == "RMC" and len(fields) > 8 and fields[2] in ("A", "D"):
            speed |= fields[7] != ""
            track |= fields[8] != ""
        elif kind == "VTG" and len(fields) > 7 and (len(fields) < 10 or fields[9] not in "NE"):
            speed |= fields[5] != "" or fields[7] != ""
            track |= fields[1] != ""
    return speed, track


def decode(log: Path, chunk: int = 4096) -> list[Fix]:
    """Every fix of a log, fed in chunks as a serial port would deliver it."""
    data = log.read_bytes()
    decoder = GnssDecoder()
    fixes: list[Fix] = []
    for start in range(0, len(data), chunk):
        fixes += decoder.feed(data[start : start + chunk])
    return fixes + decoder.flush()


def iso(t: datetime) -> str:
    """gpsd's time format."""
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture(params=LOGS, ids=[log.stem for log in LOGS])
def log(request: pytest.FixtureRequest) -> Path:
    """One receiver log of the corpus."""
    path: Path = request.param
    return path


def test_corpus_is_present() -> None:
    if not LOGS:
        pytest.skip(f"{CORPUS} is absent")
    assert len(LOGS) >= 40


def test_chunking_never_changes_the_result(log: Path) -> None:
    whole = decode(log, chunk=1 << 30)
    assert decode(log, chunk=1) == whole
    assert decode(log, chunk=61) == whole


def test_accepted_sentences_have_good_checksums_and_gpsd_accepted_them(log: Path) -> None:
    scanner = NmeaScanner()
    accepted = scanner.feed(log.read_bytes())
    scanner.flush()
    for raw in accepted:
        body, _, digits = raw[1:].partition(b"*")
        assert len(digits) == 2
        assert reduce(xor, body, 0) == int(digits, 16), raw
    chk = log.with_name(log.name + ".chk").read_text(encoding="latin-1").splitlines()
    by_gpsd = {line.encode("latin-1") for line in chk if line.startswith("$")}
    ours = set(accepted)
    assert ours <= by_gpsd, sorted(ours - by_gpsd)[:5]
    assert all(len(s) > MAX_SENTENCE_CHARS for s in by_gpsd - ours), sorted(by_gpsd - ours)[:5]


def test_fixes_agree_with_gpsd(log: Path) -> None:
    own = GPSD_OWN.get(log.stem, GpsdOwn(""))
    ours: dict[str, Fix] = {iso(f.time + own.shift): f for f in decode(log) if f.time}
    for when, epoch in gpsd_epochs(log.with_name(log.name + ".chk")).items():
        fixed = [tpv for tpv in epoch.tpvs if tpv.get("mode", 0) >= 2]
        if when in own.times:
            continue
        fix = ours.get(when)
        if not fixed:  # gpsd withheld a fix here: so must we
            assert fix is None or (fix.mode <= Mode.NO_FIX and fix.status < 0), (when, fix)
            continue
        assert fix is not None, f"no fix at {when}"
        assert fix.latitude is not None and fix.longitude is not None, when
        for tpv in fixed:
            assert abs(fix.latitude - tpv["lat"]) <= 1e-7, (when, fix.latitude, tpv["lat"])
            assert abs(fix.longitude - tpv["lon"]) <= 1e-7, (when, fix.longitude, tpv["lon"])
        final = epoch.tpvs[-1]  # gpsd's report of the completed epoch
        assert int(fix.mode) == final.get("mode", 0), (when, fix.mode, final)
        sent_speed, sent_track = sent_speed_and_track(epoch.sentences, when)
        if sent_speed and "speed" in final:
            assert fix.speed_mps is not None, when
            assert abs(fix.speed_mps - final["speed"]) <= 1e-3, (when, fix.speed_mps, final)
        if sent_track and "track" in final:
            assert fix.track_deg is not None, when
            assert abs(fix.track_deg - final["track"]) <= 0.01, (when, fix.track_deg, final)


def test_the_comparison_is_not_vacuous() -> None:
    if not LOGS:
        pytest.skip(f"{CORPUS} is absent")
    epochs = [gpsd_epochs(log.with_name(log.name + ".chk")) for log in LOGS]
    finals = [e.tpvs[-1] for es in epochs for e in es.values() if e.tpvs[-1].get("mode", 0) >= 2]
    with_speed = [
        e for es in epochs for t, e in es.items() if sent_speed_and_track(e.sentences, t)[0]
    ]
    assert len(finals) > 900
    withheld = [
        e for es in epochs for e in es.values() if all(t.get("mode", 0) < 2 for t in e.tpvs)
    ]
    assert len(withheld) > 40
    assert len(with_speed) > 700
    assert len(GPSD_OWN) <= 3
    assert sum(len(own.times) for own in GPSD_OWN.values()) <= 3

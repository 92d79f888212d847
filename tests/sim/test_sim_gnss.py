"""GNSS in a recorded shift: fixes where the antenna is, at the chosen rate, classes in the bag.

A short shift of the default scenario is recorded as a real bag and read back. Every
fix is checked against what the truck drove (the executed trace): the antenna lies
`antenna_m` behind the front along the driven lanes, or, before a truck has driven that
far, back along the siding it started from.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from mcap.reader import make_reader
from rosbags.highlevel import AnyReader

from maps import Yard, generate_terminal
from routing.plan import Plan, ResourceKind
from routing.vehicle import TERMINAL_TRACTOR
from sim.bags import read_fixes
from sim.bags.reader import messages
from sim.bags.types import TRUCK_CLASS, TRUCK_STATE, typestore
from sim.run import ShiftReport, run_shift
from sim.scenario import load
from sim.sim_cli import run_command
from sim.world import AntennaFix, Shift

HOURS = 0.05
ANTENNA_M = TERMINAL_TRACTOR.antenna_m


@dataclass
class Driven:
    """What one truck's front drove, as lane stretches in order with their distances."""

    yard: Yard
    start: str
    lanes: list[tuple[str, float, float, float, float, float]]
    """(lane, from_m, to_m, t_enter, t_exit, speed) of every lane stretch."""
    cum: list[float]
    """Metres driven before each stretch."""

    @classmethod
    def of(cls, yard: Yard, plan: Plan) -> Driven:
        lanes, cum, total = [], [], 0.0
        for s in plan.steps:
            if s.kind is ResourceKind.LANE and s.to_m is not None and s.to_m > s.from_m:
                lanes.append((s.resource, s.from_m, s.to_m, s.t_enter, s.t_exit, s.speed_mps or 0))
                cum.append(total)
                total += s.to_m - s.from_m
        return cls(yard, plan.steps[0].resource, lanes, cum)

    def front(self, t: float) -> tuple[float, bool]:
        """Metres the front had driven at t, and whether it stood (exactly known) then."""
        k = bisect.bisect_right([ln[3] for ln in self.lanes], t) - 1
        if k < 0:
            return 0.0, True
        _, a, b, t0, _, v = self.lanes[k]
        moved = v * (t - t0)
        if moved >= b - a - 1e-9:  # at the end of the stretch: standing, or past it
            return self.cum[k] + b - a, t >= t0 + (b - a) / v + 1e-6
        return self.cum[k] + moved, False

    def point(self, d: float) -> tuple[float, float]:
        """Where the front was with `d` metres driven; before the start, back along the
        siding into the start node."""
        if d < 0.0:
            (siding,) = [
                ln
                for ln in self.yard.lanes.values()
                if ln.end == self.start and ln.id.endswith("-in")
            ]
            p = siding.geometry.interpolate(siding.length_m + d)
            return p.x, p.y
        k = max(0, bisect.bisect_right(self.cum, d) - 1)
        lane, a, b, *_ = self.lanes[k]
        p = self.yard.lane(lane).geometry.interpolate(a + min(d - self.cum[k], b - a))
        return p.x, p.y


@pytest.fixture(scope="module")
def shift(tmp_path_factory: pytest.TempPathFactory) -> tuple[ShiftReport, Path, Yard]:
    """Three minutes of the default shift, recorded at the default fix rate."""
    tmp = tmp_path_factory.mktemp("gnss")
    scenario = load().with_(hours=HOURS)
    report = run_shift(scenario, tmp / "out", record=tmp / "bag", pictures=False)
    return report, tmp / "bag", generate_terminal(scenario.spec())


def fixes_by_truck(bag: Path, yard: Yard) -> dict[str, list[tuple[float, float, float]]]:
    """(seconds into the shift, x, y) of every fix, per truck."""
    t0 = load().start_time.timestamp()
    out: dict[str, list[tuple[float, float, float]]] = {}
    for fix in read_fixes(bag):
        x, y = yard.frame.point_to_local(fix.lon, fix.lat)
        out.setdefault(fix.topic.split("/")[2], []).append((fix.t_ns / 1e9 - t0, x, y))
    return out


def test_fixes_are_the_antenna_behind_the_front_along_the_driven_lanes(
    shift: tuple[ShiftReport, Path, Yard],
) -> None:
    report, bag, yard = shift
    assert report.data["conflicts"] == 0 and report.data["drive_problems"] == 0
    driven = {p.truck: Driven.of(yard, p) for p in report.result.executed}
    fixes = fixes_by_truck(bag, yard)
    assert sorted(fixes) == sorted(driven) and len(fixes) == 32
    worst = {True: 0.0, False: 0.0}
    counts = {True: 0, False: 0}
    for truck, track in fixes.items():
        d = driven[truck]
        # At the start it stands at its spot: the antenna back along the siding's "-in" lane.
        t, x, y = track[0]
        assert t == pytest.approx(0.0, abs=1e-6)
        siding = yard.lane(f"{yard.service_point_by_node[d.start].id}-in")
        assert siding.end == d.start
        p = siding.geometry.interpolate(siding.length_m - ANTENNA_M)
        assert math.hypot(x - p.x, y - p.y) < 0.05, (truck, x, y, p)
        for t, x, y in track:
            s, standing = d.front(t)
            ex, ey = d.point(s - ANTENNA_M)
            off = math.hypot(x - ex, y - ey)
            worst[standing] = max(worst[standing], off)
            counts[standing] += 1
    # Standing, the front is known exactly; moving, the trace is linear within ≤ 1 s pieces.
    assert worst[True] < 0.05, worst
    assert worst[False] < 0.25, worst
    assert counts[False] > 1000  # plenty of fixes on the move


def test_fixes_come_at_two_hertz_and_the_rate_is_in_the_bag(
    shift: tuple[ShiftReport, Path, Yard],
) -> None:
    _, bag, yard = shift
    for truck, track in fixes_by_truck(bag, yard).items():
        t = np.array([f[0] for f in track])
        assert len(t) == HOURS * 3600 * 2 + 1, truck
        assert np.allclose(np.diff(t), 0.5, atol=1e-6), truck
    assert "yardfleet.fix_rate_hz: '2.0'" in (bag / "metadata.yaml").read_text()


def test_the_class_of_every_truck_is_in_the_bag(shift: tuple[ShiftReport, Path, Yard]) -> None:
    _, bag, _ = shift
    t0_ns = round(load().start_time.timestamp() * 1e9)
    expected = ("terminal-tractor", 16.0, 2.5, 3.0)
    with AnyReader([bag]) as reader:
        conns = [c for c in reader.connections if c.msgtype == TRUCK_CLASS]
        assert sorted(c.topic for c in conns) == [
            f"/yardfleet/TT{k:02d}/class" for k in range(1, 33)
        ]
        for conn, t_ns, raw in reader.messages(connections=conns):
            msg: Any = reader.deserialize(raw, conn.msgtype)
            assert t_ns == t0_ns and conn.topic == f"/yardfleet/{msg.truck_id}/class"
            assert (msg.class_name, msg.length_m, msg.width_m, msg.antenna_m) == expected
    (mcap_file,) = bag.glob("*.mcap")
    store = typestore()
    with mcap_file.open("rb") as f:
        seen = {}
        for schema, channel, message in make_reader(f).iter_messages(
            topics=["/yardfleet/TT07/class"]
        ):
            assert schema is not None and schema.name == TRUCK_CLASS
            data: Any = store.deserialize_cdr(message.data, schema.name)
            seen[channel.topic] = (data.class_name, data.length_m, data.width_m, data.antenna_m)
    assert seen == {"/yardfleet/TT07/class": expected}


def test_every_fix_comes_with_a_truck_state_carrying_its_heading(
    shift: tuple[ShiftReport, Path, Yard],
) -> None:
    """The bag alone gives position and heading: a TruckState with each NavSatFix."""
    _, bag, yard = shift
    fixes = fixes_by_truck(bag, yard)
    t0 = load().start_time.timestamp()
    states: dict[str, list[Any]] = {}
    for topic, t_ns, msg in messages(bag, TRUCK_STATE):
        assert topic == f"/yardfleet/{msg.truck_id}/state"
        states.setdefault(msg.truck_id, []).append((t_ns / 1e9 - t0, msg))
    assert sorted(states) == sorted(fixes)
    moving = 0
    for truck, track in fixes.items():
        assert len(states[truck]) == len(track), truck
        for (t, x, y), (ts, msg) in zip(track, states[truck], strict=True):
            assert ts == pytest.approx(t, abs=1e-6)
            assert math.hypot(msg.x_m - x, msg.y_m - y) < 0.01
            if msg.activity == "moving":
                moving += 1
                assert msg.speed_mps > 0 and 0.0 <= msg.heading_deg < 360.0
    assert moving > 100


def test_fix_hz_is_threaded_through_and_checked(tmp_path: Path) -> None:
    args = ["--hours", "0.01", "--out", str(tmp_path / "out"), "--record", str(tmp_path / "bag")]
    result = CliRunner().invoke(run_command, [*args, "--fix-hz", "4"])
    assert result.exit_code == 0, result.output
    track = fixes_by_truck(tmp_path / "bag", generate_terminal(load().spec()))["TT01"]
    t = np.array([f[0] for f in track])
    assert len(t) == 36 * 4 + 1 and np.allclose(np.diff(t), 0.25, atol=1e-6)
    for bad in ("0", "-2", "20.5", "nan"):
        refused = CliRunner().invoke(run_command, [*args, "--fix-hz", bad])
        assert refused.exit_code == 2, bad
        assert "--fix-hz" in refused.output, refused.output
        assert "must be above 0 and at most 20" in refused.output, refused.output
    with pytest.raises(ValueError, match="fix_hz"):
        run_shift(load().with_(hours=0.01), tmp_path / "x", fix_hz=0.0, pictures=False)


def test_each_fix_carries_the_heading_and_speed_of_travel_at_the_antenna(tmp_path: Path) -> None:
    """The world's fixes (before the bag): compass heading the way the antenna moves, speed."""
    fixes: list[AntennaFix] = []
    shift = Shift(load().with_(hours=0.02), tmp_path / "journal.db", on_fix=fixes.append)
    shift.run()
    assert len(fixes) == 32 * (72 * 2 + 1)
    assert all(0.0 <= f.heading_deg < 360.0 and f.speed_mps >= 0.0 for f in fixes)
    tracks: dict[str, list[AntennaFix]] = {}
    for f in fixes:
        tracks.setdefault(f.truck, []).append(f)
    checked = 0
    for track in tracks.values():
        for a, b in itertools.pairwise(track):
            assert b.t_s - a.t_s == pytest.approx(0.5)
            moved = math.hypot(b.x_m - a.x_m, b.y_m - a.y_m)
            same_way = abs((a.heading_deg - b.heading_deg + 180.0) % 360.0 - 180.0) < 0.5
            if moved > 1.0 and same_way:  # straight on: it moved the way it heads
                bearing = math.degrees(math.atan2(b.x_m - a.x_m, b.y_m - a.y_m)) % 360.0
                assert abs((bearing - a.heading_deg + 180.0) % 360.0 - 180.0) < 1.0
                assert (a.speed_mps + b.speed_mps) / 2 == pytest.approx(moved / 0.5, rel=0.2)
                checked += 1
    assert checked > 100

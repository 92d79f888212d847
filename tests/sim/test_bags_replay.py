"""Replaying bags onto the yard: our own recordings, a ROS 2 bag of another kind, a ROS 1 bag."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import Writer
from shapely.geometry import Point

from maps import Yard, terminal
from sim.bags.picture import draw_replay
from sim.bags.recorder import STATUS_NO_FIX, BagRecorder
from sim.bags.replay import PacedClock, ReplayedFix, replay
from sim.bags.topicmap import TopicMap, TopicMapError, default_truck
from sim.bags.types import NAVSATFIX, typestore

T0 = 1_780_000_000.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class Drive:
    """Fixes of trucks driving the yard's lanes, with the lane each fix was on."""

    truck: list[str] = field(default_factory=list)
    t_s: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    lane: list[str] = field(default_factory=list)


def drive_lanes(yard: Yard, trucks: int, seconds: int, speed_mps: float = 5.0) -> Drive:
    """Each truck starts on a random through lane and drives on from lane to lane at 1 Hz."""
    rng = np.random.default_rng(7)
    through = [lane for lane in yard.lanes.values() if lane.is_through]
    leaving: dict[str, list[str]] = {}
    for lane in through:
        leaving.setdefault(lane.start, []).append(lane.id)
    names = [f"TT{i + 1:02d}" for i in range(trucks)]
    on = [through[int(rng.integers(len(through)))] for _ in names]
    along = [0.0] * trucks
    out = Drive()
    for step in range(seconds):
        xs, ys = [], []
        for i, name in enumerate(names):
            while along[i] > on[i].length_m:
                along[i] -= on[i].length_m
                ahead = leaving.get(on[i].end) or [through[0].id]
                forward = [k for k in ahead if yard.lanes[k].end != on[i].start] or ahead
                on[i] = yard.lanes[forward[int(rng.integers(len(forward)))]]
            p = on[i].geometry.interpolate(along[i])
            xs.append(p.x)
            ys.append(p.y)
            out.truck.append(name)
            out.t_s.append(T0 + step)
            out.lane.append(on[i].id)
            along[i] += speed_mps
        lon, lat = yard.frame.to_wgs84(xs, ys)
        out.lon.extend(lon.tolist())
        out.lat.extend(lat.tolist())
    return out


@pytest.fixture(scope="module")
def drive() -> Drive:
    """Six trucks, two minutes."""
    return drive_lanes(terminal(), 6, 120)


@pytest.fixture(scope="module")
def our_bag(tmp_path_factory: pytest.TempPathFactory, drive: Drive) -> Path:
    """The drive recorded as one of our bags."""
    path = tmp_path_factory.mktemp("bags") / "drive"
    with BagRecorder(path, trucks=sorted(set(drive.truck))) as bag:
        for truck, t, lon, lat in zip(drive.truck, drive.t_s, drive.lon, drive.lat, strict=True):
            bag.fix(truck, t, lat, lon)
    return path


def test_our_bag_matches_every_fix_to_the_right_truck_and_mostly_the_right_lane(
    our_bag: Path, drive: Drive
) -> None:
    fed: list[ReplayedFix] = []
    report = replay(our_bag, speed=0, on_fix=fed.append)
    assert (report.fixes, report.matched, report.off_map, report.no_fix) == (720, 720, 0, 0)
    assert not report.interrupted
    assert sorted(report.trucks) == [f"TT{i:02d}" for i in range(1, 7)]
    assert all(t.fixes == 120 and t.matched == 120 for t in report.trucks.values())
    truth = {(tr, t): lane for tr, t, lane in zip(drive.truck, drive.t_s, drive.lane, strict=True)}
    assert len(fed) == 720
    assert all(f.topic == f"/yardfleet/{f.truck}/gnss/fix" for f in fed)
    right = sum(truth[f.truck, round(f.t_s)] == f.lane_id for f in fed)
    # Misses are where lanes meet: at stop lines and on a junction's movements, which
    # overlap where they leave one stop line.
    assert right >= 0.85 * len(fed)
    assert sum(report.lanes.values()) == 720
    assert set(report.lanes) <= set(terminal().lanes)
    assert [f.t_s for f in fed] == sorted(f.t_s for f in fed)
    data = report.to_dict()
    assert data["trucks"]["TT01"]["matched"] == 120
    assert data["topics"]["/yardfleet/TT03/gnss/fix"] == "TT03"


def test_picture_is_a_png(our_bag: Path, tmp_path: Path) -> None:
    report = replay(our_bag, speed=0)
    path = draw_replay(terminal(), report, tmp_path / "pic" / "replay.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="png"):
        draw_replay(terminal(), report, tmp_path / "replay.jpg")


def test_ros1_bag_from_elsewhere_is_all_off_the_map(
    shared: Callable[..., Path], tmp_path: Path
) -> None:
    bag = shared("corpus", "bags", "rviz_satellite_sample.bag")
    fed: list[ReplayedFix] = []
    report = replay(bag, speed=0, on_fix=fed.append)
    assert report.fixes == 151
    assert report.off_map == 151
    assert report.matched == 0
    assert not report.lanes
    assert report.topics == {"/gps/fix": "gps"}
    assert all(f.lane_id is None and f.truck == "gps" for f in fed)
    assert fed[0].lat == pytest.approx(39.951, abs=1e-3)
    assert fed[0].lon == pytest.approx(-75.190, abs=1e-3)
    # The picture still shows the yard, and says the fixes are too far away to draw.
    assert draw_replay(terminal(), report, tmp_path / "r.png").read_bytes()[:8] == PNG_MAGIC


def test_topic_map_names_the_trucks_of_a_foreign_ros2_bag(tmp_path: Path, drive: Drive) -> None:
    """A rosbag2 bag of another kind (SQLite storage, its own topic names)."""
    bag = tmp_path / "foreign"
    store = typestore()
    types = store.types
    with Writer(bag, version=8) as writer:
        conns = {
            "TT01": writer.add_connection("/truck_a/navsat/fix", NAVSATFIX, typestore=store),
            "TT02": writer.add_connection("/truck_b/fix", NAVSATFIX, typestore=store),
        }
        for truck, t, lon, lat in zip(drive.truck, drive.t_s, drive.lon, drive.lat, strict=True):
            if truck not in conns:
                continue
            ns = round(t * 1e9)
            msg = types[NAVSATFIX](
                header=types["std_msgs/msg/Header"](
                    stamp=types["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=0),
                    frame_id="gps",
                ),
                status=types["sensor_msgs/msg/NavSatStatus"](status=0, service=1),
                latitude=lat,
                longitude=lon,
                altitude=0.0,
                position_covariance=np.zeros(9),
                position_covariance_type=0,
            )
            writer.write(conns[truck], ns, store.serialize_cdr(msg, NAVSATFIX))
    toml = tmp_path / "trucks.toml"
    toml.write_text('# foreign bag\n[topics]\n"/truck_a/navsat/fix" = "TT01"\n', encoding="utf-8")
    report = replay(bag, speed=0, topic_map=TopicMap.load(toml))
    assert report.topics == {"/truck_a/navsat/fix": "TT01", "/truck_b/fix": "truck_b"}
    assert {t: (n.fixes, n.matched) for t, n in report.trucks.items()} == {
        "TT01": (120, 120),
        "truck_b": (120, 120),
    }


def test_default_truck_names() -> None:
    assert default_truck("/yardfleet/TT07/gnss/fix") == "TT07"
    assert default_truck("/gps/fix") == "gps"
    assert default_truck("fix") == "fix"
    assert TopicMap({"/gps/fix": "TT01"}).truck("/gps/fix") == "TT01"
    assert TopicMap({"/gps/fix": "TT01"}).truck("/yardfleet/TT02/gnss/fix") == "TT02"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[topics\n", "not valid TOML"),
        ("trucks = 1\n", r"trucks: unknown key \(known: topics\)"),
        ('topics = "x"\n', "topics: expected a table, got 'x'"),
        ('[topics]\n"gps/fix" = "TT01"\n', r'\[topics\] "gps/fix": a topic name starts with \'/\''),
        ('[topics]\n"/gps/fix" = 3\n', r'\[topics\] "/gps/fix": expected a string, got 3'),
        ('[topics]\n"/gps/fix" = " "\n', r'\[topics\] "/gps/fix": no truck'),
        ("\x89PNG\x00", "cannot read the topic map: not UTF-8 text"),
    ],
)
def test_bad_topic_maps_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "map.toml"
    path.write_bytes(text.encode("latin-1" if text.startswith("\x89") else "utf-8"))
    with pytest.raises(TopicMapError, match=message) as err:
        TopicMap.load(path)
    assert str(err.value).startswith(f"{path}: ")
    with pytest.raises(TopicMapError, match="cannot read"):
        TopicMap.load(tmp_path / "absent.toml")


REPLAY = [sys.executable, "-m", "sim.cli", "sim", "replay"]


def test_a_binary_topic_map_is_one_error_line(tmp_path: Path) -> None:
    """`yardfleet sim replay BAG --topic-map <binary>`: exit 1, one line naming the file."""
    binary = tmp_path / "topics.toml"
    binary.write_bytes(PNG_MAGIC + b"\x00\x00\x00\rIHDR")
    run = subprocess.run(
        [*REPLAY, str(tmp_path), "--topic-map", str(binary), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    assert run.stderr.splitlines() == [
        f"Error: {binary}: cannot read the topic map: not UTF-8 text "
        "(byte 0x89 at offset 0; a binary file?)"
    ]


def test_paced_clock_scales_bag_time_to_wall_time() -> None:
    wall = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        wall[0] += s

    clock = PacedClock(4.0, now=lambda: wall[0], sleep=sleep)
    for t in (T0, T0 + 1, T0 + 3, T0 + 3):
        clock.wait_until(t)
    assert slept == pytest.approx([0.25, 0.5])
    fast = PacedClock(0.0, now=lambda: 0.0, sleep=lambda s: pytest.fail("slept at max speed"))
    fast.wait_until(T0)
    fast.wait_until(T0 + 100)
    with pytest.raises(ValueError, match="speed"):
        PacedClock(-1.0)


def test_no_fix_and_far_fixes_are_never_forced_onto_a_lane(tmp_path: Path) -> None:
    yard = terminal()
    lane = next(iter(yard.lanes.values()))
    mid = lane.geometry.interpolate(0.5, normalized=True)
    lon, lat = yard.frame.point_to_wgs84(mid.x, mid.y)
    far_lon, far_lat = yard.frame.point_to_wgs84(mid.x, mid.y - 2000.0)  # out at sea
    # Near the yard but more than 5 m from every lane (a bay or a junction may lie close).
    lines = [ln.geometry for ln in yard.lanes.values()]
    off = next(
        dy
        for dy in range(15, 200, 5)
        if min(Point(mid.x, mid.y + dy).distance(g) for g in lines) > 8.0
    )
    near_lon, near_lat = yard.frame.point_to_wgs84(mid.x, mid.y + off)
    with BagRecorder(tmp_path / "b", fix_rate_hz=None) as bag:
        bag.fix("TT01", T0, lat, lon)
        bag.fix("TT01", T0 + 1, math.nan, math.nan, status=STATUS_NO_FIX)
        bag.fix("TT01", T0 + 2, lat, lon, status=STATUS_NO_FIX)
        bag.fix("TT01", T0 + 3, far_lat, far_lon)
        bag.fix("TT01", T0 + 4, near_lat, near_lon)
    fed: list[ReplayedFix] = []
    report = replay(tmp_path / "b", speed=0, on_fix=fed.append, max_distance_m=5.0)
    assert (report.fixes, report.matched, report.no_fix, report.off_map) == (5, 1, 2, 2)
    assert [f.matched for f in fed] == [True, False, False, False, False]
    assert [f.valid for f in fed] == [True, False, False, True, True]
    assert fed[3].distance_m > 1000.0


def test_ctrl_c_gives_a_partial_report(our_bag: Path) -> None:
    seen = Counter[str]()

    def feed(fix: ReplayedFix) -> None:
        seen[fix.truck] += 1
        if sum(seen.values()) == 100:
            raise KeyboardInterrupt

    report = replay(our_bag, speed=0, on_fix=feed)
    assert report.interrupted
    assert report.fixes == 99  # the fix being fed when Ctrl-C came is not counted
    assert report.to_dict()["interrupted"] is True

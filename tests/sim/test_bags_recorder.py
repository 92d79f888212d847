"""Recording bags: read back with rosbags and with the independent `mcap` reader."""

from __future__ import annotations

import math
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zstandard
from mcap.reader import make_reader
from mcap.records import Chunk
from mcap.stream_reader import StreamReader
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.errors import WriterError

from sim.bags.reader import BagError, fix_topics, messages, read_fixes, topics
from sim.bags.recorder import DEFAULT_FIX_RATE_HZ, BagRecorder
from sim.bags.types import JOB_EVENT, NAVSATFIX, TRUCK_CLASS, TRUCK_STATE, msg_files, typestore

T0 = 1_780_000_000.0
TRUCKS = ["TT01", "TT02", "ITV_03"]
COV = [1.5, 0.0, 0.0, 0.0, 1.5, 0.0, 0.0, 0.0, 4.0]


def record(path: Path, seconds: int = 20, step_s: float = 0.1) -> BagRecorder:
    """Three trucks sending fixes at 10 Hz (kept at 1 Hz), states at 1 Hz and two job events."""
    with BagRecorder(path, trucks=TRUCKS, fix_rate_hz=1.0, yard_id="haiphong") as bag:
        for k in range(round(seconds / step_s)):
            t = T0 + k * step_s
            for i, truck in enumerate(TRUCKS):
                bag.fix(truck, t, 20.84 + i * 1e-3 + k * 1e-6, 106.93, 3.0, 0, COV)
            if k % 10 == 0:
                bag.truck_state(
                    "TT01",
                    t,
                    activity="EMPTY",
                    x_m=10.0 + k,
                    y_m=-5.0,
                    lat=20.84,
                    lon=106.93,
                    speed_mps=5.0,
                    heading_deg=90.0,
                    fuel_l=180.5,
                    laden=False,
                    job_id="J1",
                    lane_id="main-01",
                )
        bag.job_event("J1", T0 + 1, state="assigned", truck="TT01")
        bag.job_event("J1", T0 + 2, state="to_pickup", truck="TT01", cause="")
    return bag


def test_rosbags_reads_back_every_topic_and_type(tmp_path: Path) -> None:
    bag = record(tmp_path / "shift")
    assert bag.written == 3 * 20 + 20 + 2
    assert bag.throttled == 3 * 200 - 3 * 20
    with AnyReader([tmp_path / "shift"]) as reader:
        counts = {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}
        assert counts == {
            "/yardfleet/TT01/gnss/fix": (NAVSATFIX, 20),
            "/yardfleet/TT02/gnss/fix": (NAVSATFIX, 20),
            "/yardfleet/ITV_03/gnss/fix": (NAVSATFIX, 20),
            "/yardfleet/TT01/state": (TRUCK_STATE, 20),
            "/yardfleet/jobs/events": (JOB_EVENT, 2),
        }
        stamps: dict[str, list[int]] = {}
        for conn, t_ns, raw in reader.messages():
            msg: Any = reader.deserialize(raw, conn.msgtype)
            assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == t_ns
            stamps.setdefault(conn.topic, []).append(t_ns)
            if conn.msgtype == NAVSATFIX:
                assert msg.status.status == 0
                assert msg.altitude == 3.0
                assert msg.position_covariance.tolist() == COV
                assert msg.position_covariance_type == 2
                assert msg.header.frame_id == "gnss"
            elif conn.msgtype == TRUCK_STATE:
                assert (msg.truck_id, msg.activity, msg.job_id, msg.lane_id) == (
                    "TT01",
                    "EMPTY",
                    "J1",
                    "main-01",
                )
                assert msg.fuel_l == pytest.approx(180.5)
                assert msg.header.frame_id == "haiphong"
            else:
                assert (msg.job_id, msg.truck_id) == ("J1", "TT01")
        # 1 Hz: one fix per truck per second, on the second.
        assert stamps["/yardfleet/TT02/gnss/fix"] == [round((T0 + s) * 1e9) for s in range(20)]


def test_our_reader_yields_fixes_and_our_messages(tmp_path: Path) -> None:
    record(tmp_path / "shift")
    fixes = list(read_fixes(tmp_path / "shift", topics={"/yardfleet/TT02/gnss/fix"}))
    assert len(fixes) == 20
    assert fixes[0].lat == pytest.approx(20.841)
    assert fixes[0].covariance == tuple(COV)
    assert [f.t_ns for f in fixes] == sorted(f.t_ns for f in fixes)
    assert [t.topic for t in fix_topics(tmp_path / "shift")] == [
        "/yardfleet/ITV_03/gnss/fix",
        "/yardfleet/TT01/gnss/fix",
        "/yardfleet/TT02/gnss/fix",
    ]
    events = [m.state for _, _, m in messages(tmp_path / "shift", JOB_EVENT)]
    assert events == ["assigned", "to_pickup"]


def test_mcap_reader_sees_zstd_chunks_schemas_channels_and_counts(tmp_path: Path) -> None:
    record(tmp_path / "shift")
    (mcap_file,) = (tmp_path / "shift").glob("*.mcap")
    with mcap_file.open("rb") as f:
        reader = make_reader(f)
        assert reader.get_header().profile == "ros2"
        summary = reader.get_summary()
        assert summary is not None
        assert summary.chunk_indexes
        assert {c.compression for c in summary.chunk_indexes} == {"zstd"}
        schemas = {s.name: s for s in summary.schemas.values()}
        assert set(schemas) == {NAVSATFIX, TRUCK_STATE, JOB_EVENT}
        assert {s.encoding for s in schemas.values()} == {"ros2msg"}
        assert "float64 latitude" in schemas[NAVSATFIX].data.decode()
        assert "string truck_id" in schemas[TRUCK_STATE].data.decode()
        channels = {c.topic: c for c in summary.channels.values()}
        assert {c.message_encoding for c in channels.values()} == {"cdr"}
        assert summary.statistics is not None
        counts = summary.statistics.channel_message_counts
        assert {topic: counts[c.id] for topic, c in channels.items()} == {
            "/yardfleet/TT01/gnss/fix": 20,
            "/yardfleet/TT02/gnss/fix": 20,
            "/yardfleet/ITV_03/gnss/fix": 20,
            "/yardfleet/TT01/state": 20,
            "/yardfleet/jobs/events": 2,
        }
        store = typestore()
        seen = 0
        for schema, _channel, message in reader.iter_messages():
            assert schema is not None
            data: Any = store.deserialize_cdr(message.data, schema.name)
            if schema.name == NAVSATFIX:
                assert math.isclose(data.longitude, 106.93)
            seen += 1
        assert seen == 82
    # The chunks themselves are plain zstd frames that any zstd library opens.
    with mcap_file.open("rb") as f:
        chunks = [r for r in StreamReader(f, emit_chunks=True).records if isinstance(r, Chunk)]
    assert chunks
    for chunk in chunks:
        assert chunk.compression == "zstd"
        raw = zstandard.ZstdDecompressor().decompress(
            chunk.data, max_output_size=chunk.uncompressed_size
        )
        assert len(raw) == chunk.uncompressed_size
        assert len(chunk.data) < chunk.uncompressed_size


def test_ctrl_c_mid_recording_leaves_a_readable_bag(tmp_path: Path) -> None:
    path = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt), BagRecorder(path, trucks=["TT01"]) as bag:
        for k in range(100):
            bag.fix("TT01", T0 + k, 20.84, 106.93)
            if k == 41:
                raise KeyboardInterrupt
    assert (path / "metadata.yaml").exists()
    assert len(list(read_fixes(path))) == 42
    with next(path.glob("*.mcap")).open("rb") as f:
        assert sum(1 for _ in make_reader(f).iter_messages()) == 42


def test_rate_and_truck_names(tmp_path: Path) -> None:
    with BagRecorder(tmp_path / "b", fix_rate_hz=None) as bag:
        assert all(bag.fix("TT09", T0 + k * 0.1, 20.84, 106.93) for k in range(10))
        with pytest.raises(ValueError, match="topic segment"):
            bag.fix("ITV-3", T0, 20.84, 106.93)
        with pytest.raises(ValueError, match="9 values"):
            bag.fix("TT09", T0 + 5, 20.84, 106.93, covariance=[1.0, 2.0])
        with pytest.raises(ValueError, match="UTC time"):
            bag.fix("TT09", math.nan, 20.84, 106.93)
        bag.fix("TT09", T0 + 6, 20.84, 106.93, covariance=np.arange(9.0).tolist())
    fixes = list(read_fixes(tmp_path / "b"))
    assert len(fixes) == 11
    assert fixes[-1].covariance_type == 3  # off-diagonal terms: KNOWN
    assert fixes[0].covariance_type == 0
    with pytest.raises(ValueError, match="fix_rate_hz"):
        BagRecorder(tmp_path / "c", fix_rate_hz=0.0)
    with pytest.raises(WriterError, match="exists"), BagRecorder(tmp_path / "b"):
        pass


CLASSES = {"TT01": ("terminal-tractor", 16.0, 2.5, 3.0), "ITV_03": ("itv", 12.5, 2.6, 0.0)}


def record_classes(path: Path) -> None:
    """Two trucks' classes at the start, then 10 Hz fixes for 2 s at the default rate."""
    with BagRecorder(path, trucks=list(CLASSES), yard_id="haiphong") as bag:
        for truck, (name, length, width, antenna) in CLASSES.items():
            bag.truck_class(
                truck, T0, class_name=name, length_m=length, width_m=width, antenna_m=antenna
            )
        with pytest.raises(ValueError, match="once per truck"):
            bag.truck_class("TT01", T0, class_name="x", length_m=16.0, width_m=2.5, antenna_m=3.0)
        with pytest.raises(ValueError, match="antenna_m"):
            bag.truck_class("TT02", T0, class_name="x", length_m=16.0, width_m=2.5, antenna_m=16.5)
        for k in range(20):
            for truck in CLASSES:
                bag.fix(truck, T0 + k * 0.1, 20.84, 106.93)


def test_the_class_of_each_truck_reads_back_with_rosbags_and_mcap(tmp_path: Path) -> None:
    path = tmp_path / "classes"
    record_classes(path)
    assert DEFAULT_FIX_RATE_HZ == 2.0
    with AnyReader([path]) as reader:
        conns = {c.topic: c for c in reader.connections}
        assert conns["/yardfleet/TT01/class"].msgtype == TRUCK_CLASS
        assert conns["/yardfleet/TT01/gnss/fix"].msgcount == 4  # 2 s at the default 2 Hz
        qos = conns["/yardfleet/TT01/class"].ext.offered_qos_profiles  # type: ignore[union-attr]
        assert [q.durability.name for q in qos] == ["TRANSIENT_LOCAL"]  # latched
        found = {}
        for conn, t_ns, raw in reader.messages(
            connections=[c for c in reader.connections if c.msgtype == TRUCK_CLASS]
        ):
            msg: Any = reader.deserialize(raw, conn.msgtype)
            assert conn.topic == f"/yardfleet/{msg.truck_id}/class"
            assert t_ns == round(T0 * 1e9) and msg.header.frame_id == "haiphong"
            found[msg.truck_id] = (msg.class_name, msg.length_m, msg.width_m, msg.antenna_m)
    assert found == CLASSES
    assert [m.truck_id for _, _, m in messages(path, TRUCK_CLASS)] == ["TT01", "ITV_03"]
    (mcap_file,) = path.glob("*.mcap")
    with mcap_file.open("rb") as f:
        reader_ = make_reader(f)
        summary = reader_.get_summary()
        assert summary is not None
        schemas = {s.name: s for s in summary.schemas.values()}
        assert schemas[TRUCK_CLASS].encoding == "ros2msg"
        text = schemas[TRUCK_CLASS].data.decode()
        for field in ("string class_name", "float64 length_m", "float64 width_m", "antenna_m"):
            assert field in text
        store = typestore()
        read = {}
        for schema, channel, message in reader_.iter_messages(
            topics=["/yardfleet/TT01/class", "/yardfleet/ITV_03/class"]
        ):
            assert schema is not None and schema.name == TRUCK_CLASS
            data: Any = store.deserialize_cdr(message.data, schema.name)
            assert channel.topic == f"/yardfleet/{data.truck_id}/class"
            read[data.truck_id] = (data.class_name, data.length_m, data.width_m, data.antenna_m)
    assert read == CLASSES


def test_reader_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="no such bag"):
        topics(tmp_path / "missing")
    junk = tmp_path / "junk.bag"
    junk.write_bytes(b"not a bag")
    with pytest.raises(BagError, match=r"junk\.bag"):
        list(read_fixes(junk))


def test_message_definitions_are_shipped_and_documented() -> None:
    defs = msg_files()
    assert set(defs) == {TRUCK_STATE, JOB_EVENT, TRUCK_CLASS}
    for name, text in defs.items():
        fields = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert fields[0].startswith("std_msgs/Header header"), name
        assert all("#" in line for line in fields), f"{name}: a field without a comment"
        assert name in typestore().types


def test_ctrl_c_inside_a_write_waits_for_the_record_to_be_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Writer.write
    calls = [0]

    def write(self: Writer, conn: Any, t_ns: int, data: Any) -> None:
        calls[0] += 1
        if calls[0] == 5:
            signal.raise_signal(signal.SIGINT)  # as if Ctrl-C came in the middle of it
            calls.append(-1)  # still running: the interrupt was held
        original(self, conn, t_ns, data)

    monkeypatch.setattr(Writer, "write", write)
    path = tmp_path / "held"
    with pytest.raises(KeyboardInterrupt), BagRecorder(path, trucks=["TT01"]) as bag:
        for k in range(10):
            bag.fix("TT01", T0 + k, 20.84, 106.93)
    assert calls == [5, -1]
    assert len(list(read_fixes(path))) == 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_between_writes_interrupts_at_once(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), BagRecorder(tmp_path / "b", trucks=["TT01"]) as bag:
        bag.fix("TT01", T0, 20.84, 106.93)
        signal.raise_signal(signal.SIGINT)
        pytest.fail("Ctrl-C was not raised")
    assert len(list(read_fixes(tmp_path / "b"))) == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

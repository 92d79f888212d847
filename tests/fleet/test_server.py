"""The dispatcher's ROUTER with real sockets on 127.0.0.1: journal first, then ack."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zmq

from fleet.journal import Journal
from fleet.kpi import from_journal
from fleet.protocol import link
from fleet.protocol.battery import starter_battery
from fleet.protocol.builders import (
    make_action,
    make_connection,
    make_crane_event,
    make_instant_actions,
    make_state,
    make_visualization,
)
from fleet.protocol.codec import Message, decode, encode, message_topic
from fleet.protocol.connection import ConnectionState
from fleet.protocol.crane import CraneEventKind, CraneKind
from fleet.protocol.extensions import TruckTelemetry
from fleet.protocol.geometry import AgvPosition
from fleet.protocol.instant_actions import InstantActions
from fleet.protocol.state import State
from fleet.server import Handler, Server

MAKER = "Kalmar"
ROOT = Path(__file__).resolve().parents[2]


def wait_for(check: Callable[[], object], deadline_s: float = 5.0) -> object:
    """Poll `check` until it returns something truthy, or fail at the deadline."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        threading.Event().wait(0.01)  # a poll interval, not a synchronisation
    raise AssertionError(f"not true within {deadline_s} s: {check}")


def stored(db: Path) -> dict[str, tuple[str, str]]:
    """event id → (kind, body) as another process would read them."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT event_id, kind, body FROM events")
        return {i: (k, b.decode() if isinstance(b, bytes) else b) for i, k, b in rows}
    finally:
        con.close()


class Truck:
    """A truck's DEALER: routing id = serial; sends messages, reads acks and orders."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, serial: str) -> None:
        self.serial = serial
        self.boot = link.new_boot_id()
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.ROUTING_ID, serial.encode())
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.nacks: list[link.Nack] = []

    def state(self, header_id: int) -> State:
        telemetry = TruckTelemetry(boot_id=self.boot)
        return make_state(
            MAKER, self.serial, starter_battery(25.0), header_id=header_id, telemetry=telemetry
        )

    def online(self, header_id: int = 0) -> Message:
        return make_connection(MAKER, self.serial, header_id=header_id, boot_id=self.boot)

    def send(self, message: Message) -> None:
        self.send_raw(message_topic(message).encode(), encode(message))

    def send_raw(self, *frames: bytes) -> None:
        self.sock.send_multipart(list(frames))

    def recv(self, deadline_s: float = 5.0) -> list[bytes]:
        if not self.sock.poll(int(deadline_s * 1000)):
            raise AssertionError(f"{self.serial}: nothing received within {deadline_s} s")
        return self.sock.recv_multipart()

    def ack(self, deadline_s: float = 5.0) -> link.Ack:
        """The next ack (nacks that come first are kept in `nacks`)."""
        frames = self.recv(deadline_s)
        while frames[0] == link.NACK:
            self.nacks.append(link.decode_nack(frames[1]))
            frames = self.recv(deadline_s)
        assert frames[0] == link.ACK, frames
        return link.decode_ack(frames[1])

    def close(self) -> None:
        self.sock.close()


def state_id(truck: Truck, header_id: int, topic: str = "state") -> str:
    return f"msg:{truck.serial}:{topic}:{header_id}:{truck.boot}"


class Served:
    """A server in a thread over a journal in tmp_path, and a way to make trucks."""

    def __init__(self, tmp_path: Path, broken_after_s: float, handler: Handler | None) -> None:
        self.db = tmp_path / "journal.db"
        self.journal = Journal(self.db)
        self.lines: list[str] = []
        self.server = Server(
            self.journal,
            "tcp://127.0.0.1:*",
            broken_after_s=broken_after_s,
            handler=handler,
            echo=self.lines.append,
        )
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self.trucks: list[Truck] = []

    def truck(self, serial: str = "TT07") -> Truck:
        truck = Truck(self.ctx, self.server.endpoint, serial)
        self.trucks.append(truck)
        return truck

    def close(self) -> None:
        self.server.stop()
        self.thread.join(5)
        assert not self.thread.is_alive()
        for truck in self.trucks:
            truck.close()
        self.ctx.term()
        self.journal.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    made: list[Served] = []

    def start(broken_after_s: float = 60.0, handler: Handler | None = None) -> Served:
        made.append(Served(tmp_path, broken_after_s, handler))
        return made[-1]

    yield start
    for served in made:
        served.close()


def test_an_ack_comes_only_once_the_message_is_in_the_journal(serve: Callable[..., Served]) -> None:
    s = serve()
    truck = s.truck()
    truck.send(truck.online())
    ack = truck.ack()
    assert ack == link.Ack("connection", [0], truck.boot)
    assert stored(s.db)[state_id(truck, 0, "connection")][0] == "truck.connection"
    for n in range(1, 6):
        truck.send(truck.state(n))
    acked: set[int] = set()
    while len(acked) < 5:
        ack = truck.ack()
        assert ack.topic == "state" and ack.boot_id == truck.boot
        events = stored(s.db)  # read right after the ack: already there
        for header_id in ack.header_ids:
            kind, body = events[state_id(truck, header_id)]
            assert kind == "msg.state" and f'"headerId":{header_id}' in body
        acked |= set(ack.header_ids)
    assert acked == {1, 2, 3, 4, 5}
    assert s.lines[0].startswith(f"TT07 connected (boot {truck.boot[:8]}")


def test_a_resend_is_stored_once_and_acked_again(serve: Callable[..., Served]) -> None:
    s = serve()
    truck = s.truck()
    message = truck.state(0)
    truck.send(message)
    assert truck.ack().header_ids == [0]
    truck.send(message)
    assert truck.ack().header_ids == [0]
    assert s.server.stats.duplicates == 1 and s.server.stats.stored == 1
    restarted = s.truck("TT07")  # a new boot: headerId 0 again is a new message
    restarted.send(restarted.state(0))
    assert restarted.ack() == link.Ack("state", [0], restarted.boot)
    ids = [i for i in stored(s.db) if i.startswith("msg:TT07:state:0:")]
    assert sorted(ids) == sorted([state_id(truck, 0), state_id(restarted, 0)])


def test_bad_messages_are_named_counted_and_the_next_good_one_served(
    serve: Callable[..., Served], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="fleet.server")
    s = serve()
    truck = s.truck()
    topic = f"uagv/v2/{MAKER}/TT07/state".encode()
    good = encode(truck.state(1))
    bad = [
        ((topic, b'{"headerId": 1, "timest'), "malformed JSON"),
        ((f"uagv/v2/{MAKER}/TT99/state".encode(), good), "serialNumber"),  # not the sender's
        ((topic, good.replace(b'"TT07"', b'"TT08"')), "$.serialNumber"),  # not the topic's
        ((f"uagv/v2/{MAKER}/TT07/telemetry".encode(), good), "unknown topic 'telemetry'"),
        ((topic,), "frames"),
        ((topic, encode(truck.state(2))[:-1] + b',"batteryState":7}'), "$.batteryState"),
        (
            (
                f"uagv/v2/{MAKER}/TT07/instantActions".encode(),
                encode(make_instant_actions(MAKER, "TT07", [make_action("startPause")])),
            ),
            "not from them",
        ),
    ]
    for frames, _ in bad:
        truck.send_raw(*frames)
    truck.send_raw(topic, good)
    assert truck.ack().header_ids == [1]  # nothing bad was acked, the good one is
    assert s.server.stats.errors == len(bad)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == len(bad)
    for text, (frames, field) in zip(errors, bad, strict=True):
        assert "'TT07'" in text and frames[0].decode() in text and field in text, text
    assert list(stored(s.db)) == [state_id(truck, 1)]

    def all_nacked() -> bool:  # every bad one nacked, some maybe after the good one's ack
        while truck.sock.poll(10):
            frames = truck.sock.recv_multipart()
            if frames[0] == link.NACK:
                truck.nacks.append(link.decode_nack(frames[1]))
        return len(truck.nacks) == len(bad)

    wait_for(all_nacked)
    assert {n.reason for n in truck.nacks} == {"not-json", "invalid", "frames"}


def test_a_silent_truck_is_recorded_as_broken_once_per_silence(
    serve: Callable[..., Served],
) -> None:
    s = serve(broken_after_s=0.3)
    truck = s.truck()
    truck.send(truck.online())
    truck.send(truck.state(0))
    truck.ack()

    def broken() -> list[str]:
        return [i for i, (k, b) in stored(s.db).items() if "CONNECTIONBROKEN" in b]

    first = wait_for(broken)
    assert first == [f"broken:TT07:{state_id(truck, 0)}"]
    assert stored(s.db)[first[0]][0] == "truck.connection"  # type: ignore[index]
    assert any(line.startswith("TT07 connection broken: silent for") for line in s.lines)
    truck.send(truck.state(1))  # back; silent again: a second, distinct event
    truck.ack()
    second = wait_for(lambda: len(broken()) == 2 and broken())
    assert f"broken:TT07:{state_id(truck, 1)}" in second  # type: ignore[operator]
    assert [line.split(" (")[0] for line in s.lines].count("TT07 connected") == 2
    assert s.server.stats.broken == 2


def test_visualization_keeps_the_pose_in_memory_only(serve: Callable[..., Served]) -> None:
    s = serve()
    truck = s.truck()
    pose = AgvPosition(x=12.5, y=-3.0, theta=0.5, map_id="yard", position_initialized=True)
    truck.send(
        make_visualization(
            MAKER, "TT07", pose, header_id=9, telemetry=TruckTelemetry(boot_id=truck.boot)
        )
    )
    assert truck.ack() == link.Ack("visualization", [9], truck.boot)
    assert s.server.poses["TT07"][:4] == (12.5, -3.0, 0.5, "yard")
    assert stored(s.db) == {}


def test_crane_events_are_journalled_and_feed_the_kpis(serve: Callable[..., Served]) -> None:
    s = serve()
    tos = s.truck("TOS")  # a crane adapter is a DEALER like any other
    t0 = time.time() - 240  # within the server's clock skew (300 s) of now
    for n, minute in enumerate((0, 2, 4)):
        event = make_crane_event(
            "QC03",
            CraneKind.QC,
            CraneEventKind.MOVEDONE,
            job_id=f"J{n}",
            truck_id="TT07",
            header_id=n,
            timestamp=datetime.fromtimestamp(t0 + 60 * minute, UTC),
        )
        tos.send(event)
    acked: set[int] = set()
    while len(acked) < 3:
        ack = tos.ack()
        assert ack.topic == "craneEvent"
        acked |= set(ack.header_ids)
    kinds = {k for k, _ in stored(s.db).values()}
    assert kinds == {"crane.event"}
    assert from_journal(s.db).gross_crane_rate == {"QC03": pytest.approx(3 / (4 / 60))}


class Pauser:
    """A handler that pauses a truck on each state it sends."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []

    def on_message(
        self, truck: str, topic: str, message: Message, at: float
    ) -> list[tuple[str, Message]]:
        self.seen.append((truck, topic, getattr(message, "header_id", -1)))
        if isinstance(message, State):
            pause = make_instant_actions(MAKER, truck, [make_action("startPause")])
            return [(truck, pause), ("TT-NOWHERE", pause)]
        return []


def test_the_handler_gets_new_messages_and_its_orders_are_sent(
    serve: Callable[..., Served],
) -> None:
    handler = Pauser()
    s = serve(handler=handler)
    truck = s.truck()
    first = truck.state(0)
    truck.send(first)
    frames = [truck.recv(), truck.recv()]
    acks = [f for f in frames if f[0] == link.ACK]
    orders = [f for f in frames if f[0] != link.ACK]
    assert len(acks) == 1 and len(orders) == 1
    topic, body = orders[0]
    assert topic == f"uagv/v2/{MAKER}/TT07/instantActions".encode()
    sent = decode(topic.decode(), body)
    assert isinstance(sent, InstantActions) and sent.actions[0].action_type == "startPause"
    truck.send(first)  # a resend (the same bytes): acked, not handed over again
    truck.ack()
    assert handler.seen == [("TT07", "state", 0)]
    assert s.server.stats.sent == 1 and s.server.stats.undeliverable == 1


def test_cli_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    out = tmp_path / "serve.log"
    db = tmp_path / "journal.db"
    with out.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", "dispatcher", "serve", "--journal", str(db),
             "--bind", "tcp://127.0.0.1:*", "--broken-after", "30"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        first = str(  # a loaded machine may take its time to import and load the yard
            wait_for(lambda: out.read_text().partition("\n")[1] and out.read_text(), 30.0)
        )
        assert first.startswith("listening on tcp://127.0.0.1:")
        endpoint = first.split()[2].rstrip(",")
        truck = Truck(ctx, endpoint, "TT07")
        truck.send(truck.online())
        truck.send(truck.state(0))
        acked = set(truck.ack().header_ids) | set(truck.ack().header_ids)
        assert acked == {0}
        truck.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ctx.term()
    text = out.read_text()
    assert "TT07 connected" in text
    assert "stopped: received 2, stored 2, duplicates 0, errors 0, acked 2" in text
    assert ConnectionState.ONLINE.value in "".join(b for _, b in stored(db).values())


def test_cli_serve_names_a_bad_endpoint_or_journal(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sim.cli import main

    runner = CliRunner()
    db = str(tmp_path / "j.db")
    bad_bind = runner.invoke(
        main, ["dispatcher", "serve", "--journal", db, "--bind", "tcp://127.0.0.1:port"]
    )
    assert bad_bind.exit_code == 1
    assert "cannot bind tcp://127.0.0.1:port" in bad_bind.output
    assert "Traceback" not in bad_bind.output
    bad_journal = runner.invoke(main, ["dispatcher", "serve", "--journal", str(tmp_path)])
    assert bad_journal.exit_code != 0 and "Traceback" not in bad_journal.output


def test_a_canonical_intake_journals_the_same_bytes(tmp_path: Path) -> None:
    """`Intake(canonical=True)` (the simulator's) stores a state's bytes as they came,
    which are what the default intake stores after decoding and encoding them again."""
    from fleet.protocol.geometry import NodePosition
    from fleet.protocol.state import EdgeState, NodeState
    from fleet.server import Intake

    node = NodeState(
        node_id="X1",
        sequence_id=2,
        released=True,
        node_position=NodePosition(x=311.0, y=748.25, map_id="m"),
    )
    message = make_state(
        MAKER,
        "TT07",
        starter_battery(25.2),
        header_id=7,
        timestamp=datetime(2026, 11, 29, 6, 0, 1, 250000, tzinfo=UTC),
        order_id="TT07-1",
        last_node_id="X0",
        distance_since_last_node=1.25,
        node_states=[node],
        edge_states=[EdgeState(edge_id="e", sequence_id=1, released=True)],
        telemetry=TruckTelemetry(boot_id="b-1"),
    )
    frames = [b"TT07", message_topic(message).encode(), encode(message)]
    bodies = []
    for canonical in (False, True):
        with Journal(tmp_path / f"{canonical}.db") as journal:
            intake = Intake(journal, canonical=canonical)
            intake.take([frames], 1_700_000_000.0, 0.0)
            bodies.append(stored(tmp_path / f"{canonical}.db"))
    assert bodies[0] == bodies[1]
    assert len(bodies[0]) == 1

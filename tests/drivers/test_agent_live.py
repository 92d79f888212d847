"""The onboard agent with real parts: pseudo-terminals fed real NMEA and LLS bytes, a real
ZeroMQ ROUTER on 127.0.0.1 that stores, dedupes and acknowledges as the dispatcher does.

Nothing sleeps to synchronise: every wait polls a condition with a deadline.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import queue
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from jsonschema.validators import validator_for

from drivers.agent.agent import Agent
from drivers.agent.config import AgentConfig, parse_config
from drivers.fuel.lls import crc8_maxim
from fleet.protocol.builders import Waypoint, make_action, make_instant_actions, make_order
from fleet.protocol.codec import Message, decode, encode
from fleet.protocol.connection import Connection, ConnectionState
from fleet.protocol.extensions import FuelLoss
from fleet.protocol.factsheet import Factsheet
from fleet.protocol.link import Ack, DedupeKey, dedupe_key, encode_ack
from fleet.protocol.state import State
from fleet.protocol.topics import parse_topic, topic
from fleet.protocol.visualization import Visualization
from maps.terminals import terminal

REPO = Path(__file__).parents[2]
SCHEMAS = REPO.resolve().parent / "shared" / "vda5050" / "2.1"
TRUCK, MAKER = "TT07", "YardFleet"
LANE_Y = 90.0
"""Lane drive01-01 of the default terminal runs east along y = 90 m from n0047 (x = 91 m)
to n0069 (x = 375 m); drive01-02 goes on to n0091 (x = 659 m)."""


def until(what: Callable[[], bool], deadline_s: float = 10.0, why: str = "") -> None:
    """Poll a condition with a deadline (no sleeping as synchronisation)."""
    end = time.monotonic() + deadline_s
    while not what():
        assert time.monotonic() < end, f"not reached before the deadline: {why}"
        time.sleep(0.005)


# -- the dispatcher's side


class Dispatcher:
    """A ROUTER bound on 127.0.0.1 that stores each message once and acknowledges it."""

    def __init__(self) -> None:
        self.port = 0
        self.received: list[tuple[str, Message]] = []
        """Every message as it arrived, resends included."""
        self.applied: dict[DedupeKey, Message] = {}
        """Messages applied once each, in the order they were first seen."""
        self.bodies: dict[str, bytes] = {}
        """The last JSON received per topic name, as it came."""
        self.ack = True
        self.restarts = 0
        self._outbox: queue.Queue[list[bytes]] = queue.Queue()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._context = zmq.Context()

    def start(self) -> Dispatcher:
        sock = self._context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        if self.port == 0:
            self.port = sock.bind_to_random_port("tcp://127.0.0.1")
        else:  # the same port again; the old listener may take a moment to go
            until(lambda: _try_bind(sock, self.port), 5.0, "rebinding the port")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        self.restarts += 1

    def close(self) -> None:
        self.stop()
        self._context.term()

    @property
    def endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def send(self, message: Message, name: str) -> None:
        """An order or instant actions to the truck (sent from the ROUTER's thread)."""
        self._outbox.put([TRUCK.encode(), topic(MAKER, TRUCK, name).encode(), encode(message)])

    def of(self, cls: type[Any]) -> list[Any]:
        with self._lock:
            return [m for m in self.applied.values() if isinstance(m, cls)]

    def applications(self) -> Counter[tuple[str, object]]:
        """How often each distinct message (topic, timestamp) was applied: once, if resends
        keep their header id and boot id so that the dedupe key catches them."""
        with self._lock:
            return Counter((key.topic, m.timestamp) for key, m in self.applied.items())

    def _run(self, sock: zmq.Socket[bytes]) -> None:
        try:
            while not self._stop.is_set():
                while not self._outbox.empty():
                    sock.send_multipart(self._outbox.get())
                if not sock.poll(10):
                    continue
                identity, address, body = sock.recv_multipart()
                assert identity == TRUCK.encode()
                name = parse_topic(address.decode()).topic.value
                message = decode(address.decode(), body)
                assert isinstance(message, State | Visualization | Connection | Factsheet)
                key = dedupe_key(name, message)
                with self._lock:
                    self.bodies[name] = body
                    self.received.append((name, message))
                    self.applied.setdefault(key, message)
                if self.ack:
                    ack = Ack(name, [key.header_id], key.boot_id)
                    sock.send_multipart([identity, *encode_ack(ack)])
        finally:
            sock.close(0)


def check_schema(name: str, body: bytes) -> None:
    """A message as sent validates against the official VDA 5050 2.1 schema."""
    path = SCHEMAS / f"{name}.schema"
    if not path.is_file():
        return  # ../shared is not laid out here; tests/fleet checks the builders anyway
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = validator_for(schema)
    errors = list(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(json.loads(body)))
    assert not errors, "\n".join(f"{name} {e.json_path}: {e.message}" for e in errors)


def _try_bind(sock: zmq.Socket[bytes], port: int) -> bool:
    try:
        sock.bind(f"tcp://127.0.0.1:{port}")
    except zmq.ZMQError:
        return False
    return True


# -- the truck's sensors


def nmea(body: str) -> bytes:
    check = functools.reduce(lambda a, c: a ^ ord(c), body, 0)
    return f"${body}*{check:02X}\r\n".encode()


def _dm(value: float, width: int) -> str:
    degrees = int(abs(value))
    return f"{degrees:0{width}d}{(abs(value) - degrees) * 60:09.6f}"


class Receiver:
    """A GNSS receiver on a pseudo-terminal at `path`: RMC + GGA per epoch, 1 s apart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.frame = terminal().frame
        self.second = 0
        self._last_tick = 0.0
        self.fds = self.plug()

    def plug(self) -> tuple[int, int]:
        master, slave = os.openpty()
        self.path.unlink(missing_ok=True)
        self.path.symlink_to(os.ttyname(slave))
        self.fds = (master, slave)
        return self.fds

    def unplug(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.path.unlink()

    def epoch(
        self, x: float, y: float = LANE_Y, *, speed_mps: float = 5.0, track: float = 90.0
    ) -> None:
        lon, lat = self.frame.point_to_wgs84(x, y)
        k = self.second
        self.second += 1
        t = f"08{k // 60 % 60:02d}{k % 60:02d}.00"
        where = f"{_dm(lat, 2)},N,{_dm(lon, 3)},E"
        knots = speed_mps / 0.514444
        data = nmea(f"GPRMC,{t},A,{where},{knots:.2f},{track:.1f},291126,,,A") + nmea(
            f"GPGGA,{t},{where},4,14,0.7,5.0,M,-20.0,M,1.0,0001"
        )
        os.write(self.fds[0], data)

    def tick(self, x: float) -> None:
        """An epoch at `x` if the last one is 50 ms old: a receiver streaming while someone
        else opens the port (opening it flushes what came before)."""
        now = time.monotonic()
        if now - self._last_tick >= 0.05:
            self._last_tick = now
            self.epoch(x)

    def drive(self, xs: Iterator[float] | list[float] | range, **kw: Any) -> None:
        for x in xs:
            self.epoch(float(x), **kw)


class FuelSensor:
    """An Omnicomm LLS sensor on a pseudo-terminal: answers each read request with `level`."""

    def __init__(self, path: Path, level: int = 2048, address: int = 1) -> None:
        self.level = level
        self.address = address
        self.requests = 0
        self.silent = False
        self.master, self.slave = os.openpty()
        path.symlink_to(os.ttyname(self.slave))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        buf = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.02)
            if not ready:
                continue
            try:
                buf += os.read(self.master, 64)
            except OSError:
                return
            while len(buf) >= 4:
                request, buf = buf[:4], buf[4:]
                if request[:3] != bytes((0x31, self.address, 0x06)):
                    buf = request[1:] + buf
                    continue
                if self.silent:
                    continue
                self.requests += 1
                level = self.level
                body = bytes((0x3E, self.address, 0x06, 27, level & 0xFF, level >> 8, 0x10, 0x27))
                os.write(self.master, body + bytes((crc8_maxim(body),)))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        os.close(self.master)
        os.close(self.slave)


# -- the agent


def agent_config(
    tmp: Path, endpoint: str, *, fuel: bool = False, max_bytes: int = 1 << 30
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "truck": {"serial_number": TRUCK, "manufacturer": MAKER, "tank_litres": 300.0},
        "map": {"terminal": "haiphong", "map_id": "haiphong", "map_version": "1"},
        "gnss": {"port": str(tmp / "gps"), "baudrate": 115200},
        "dispatcher": {
            "endpoint": endpoint,
            "heartbeat_s": 0.2,
            "heartbeat_timeout_s": 0.6,
            "heartbeat_ttl_s": 0.6,
            "reconnect_s": 0.02,
            "reconnect_max_s": 0.1,
            "ack_timeout_s": 0.5,
            "flush_timeout_s": 5.0,
        },
        "state": {"interval_s": 0.2},
        "spool": {"path": str(tmp / "spool.sqlite"), "max_bytes": max_bytes},
    }
    if fuel:
        (tmp / "tank.csv").write_text("level,litres\n0,0\n4096,300\n")
        doc["fuel"] = {
            "port": str(tmp / "fuel"),
            "protocol": "lls",
            "address": 1,
            "calibration": "tank.csv",
            "poll_s": 0.05,
            "timeout_s": 0.3,
        }
    return doc


def make_config(tmp: Path, endpoint: str, **kw: Any) -> AgentConfig:
    return parse_config(agent_config(tmp, endpoint, **kw), base=tmp)


@pytest.fixture
def dispatcher() -> Iterator[Dispatcher]:
    d = Dispatcher().start()
    yield d
    d.close()


@contextlib.contextmanager
def running(config: AgentConfig) -> Iterator[Agent]:
    agent = Agent(config).start()
    try:
        yield agent
    finally:
        if agent.link._thread.is_alive():
            agent.stop(flush_timeout_s=0.0)


def header_ids(messages: list[Any]) -> list[int]:
    return [m.header_id for m in messages]


def _near(agent: Agent, x: float) -> bool:
    where = agent._where
    return where is not None and abs(where.x - x) < 0.5


def spool_rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])


# -- the scenarios


def test_online_state_with_gnss_and_fuel_visualization_orders_and_offline(
    tmp_path: Path, dispatcher: Dispatcher
) -> None:
    gps = Receiver(tmp_path / "gps")
    tank = FuelSensor(tmp_path / "fuel", level=2048)
    config = make_config(tmp_path, dispatcher.endpoint, fuel=True)
    try:
        with running(config) as agent:
            until(lambda: agent.gnss_port.stats.connected, why="GNSS port open")
            until(lambda: bool(dispatcher.of(Connection)), why="ONLINE")
            online = dispatcher.of(Connection)
            assert online[0].connection_state is ConnectionState.ONLINE
            assert online[0].yardfleet is not None
            assert online[0].yardfleet.boot_id == agent.boot_id
            gps.drive([91.0, 95.0, 100.0, 105.0])
            until(lambda: len(dispatcher.of(Visualization)) >= 4, why="visualization")
            vis = dispatcher.of(Visualization)[-1]
            assert vis.agv_position is not None and vis.agv_position.map_id == "haiphong"
            assert abs(vis.agv_position.x - 105.0) < 0.5 and abs(vis.agv_position.y - LANE_Y) < 0.5
            assert abs(vis.agv_position.theta) < 0.01  # heading east
            assert vis.yardfleet is not None and vis.yardfleet.gnss is not None

            def full_state() -> bool:
                s = dispatcher.of(State)
                return bool(s) and s[-1].yardfleet is not None and s[-1].yardfleet.fuel is not None

            until(full_state, why="a state with fuel and GNSS")
            state = dispatcher.of(State)[-1]
            assert state.yardfleet is not None and state.yardfleet.fuel is not None
            assert state.yardfleet.fuel.litres == pytest.approx(150.0, abs=0.1)
            assert state.yardfleet.fuel.level_percent == pytest.approx(50.0, abs=0.1)
            assert state.yardfleet.gnss is not None
            assert state.yardfleet.gnss.fix_type is not None
            assert state.yardfleet.gnss.fix_type.value == "RTKFIXED"
            assert state.agv_position is not None and state.maps is not None
            assert state.maps[0].map_version == "1"
            assert state.yardfleet.boot_id == agent.boot_id

            # A silent sensor is reported; the last good litres stay.
            tank.silent = True

            def fault() -> bool:
                return any(
                    e.error_type == "fuelSensorFault" for e in dispatcher.of(State)[-1].errors
                )

            until(fault, why="fuelSensorFault")
            state = dispatcher.of(State)[-1]
            assert state.yardfleet is not None and state.yardfleet.fuel is not None
            assert state.yardfleet.fuel.litres == pytest.approx(150.0, abs=0.1)
            tank.silent = False
            until(lambda: not fault(), why="the sensor answers again")

            # An order from where the truck stands: n0047 → n0069 released, n0091 horizon.
            route = [
                Waypoint("n0047", 91.0, LANE_Y),
                Waypoint("n0069", 375.0, LANE_Y, lane_id="drive01-01"),
                Waypoint("n0091", 659.0, LANE_Y, lane_id="drive01-02"),
            ]
            order = make_order(MAKER, TRUCK, "job-1", route, released=2, map_id="haiphong")
            gps.epoch(92.0)  # back at n0047 (within 5 m)
            until(lambda: agent.book.last_node_id == "" and _near(agent, 92.0), why="at n0047")
            dispatcher.send(order, "order")
            until(lambda: any(s.order_id == "job-1" for s in dispatcher.of(State)), why="order")
            accepted = next(s for s in dispatcher.of(State) if s.order_id == "job-1")
            assert accepted.last_node_id == "n0047" and accepted.errors == []
            assert [n.node_id for n in accepted.node_states] == ["n0069", "n0091"]
            gps.drive(range(120, 376, 40))
            gps.epoch(375.0)
            until(
                lambda: dispatcher.of(State)[-1].last_node_id == "n0069",
                why="progress to n0069",
            )
            state = dispatcher.of(State)[-1]
            assert state.last_node_sequence_id == 2 and state.driving
            assert [(n.node_id, n.released) for n in state.node_states] == [("n0091", False)]
            assert [e.edge_id for e in state.edge_states] == ["drive01-02"]
            # Instant actions: a factsheet on request, and the actions' states in state.
            request = make_action("factsheetRequest", action_id="fs-1")
            dispatcher.send(make_instant_actions(MAKER, TRUCK, [request]), "instantActions")
            until(lambda: bool(dispatcher.of(Factsheet)), why="factsheet")
            sheet = dispatcher.of(Factsheet)[0]
            assert sheet.yardfleet is not None and sheet.yardfleet.boot_id == agent.boot_id
            until(lambda: "fs-1" in {a.action_id for a in dispatcher.of(State)[-1].action_states})
            for name in ("state", "visualization", "connection", "factsheet"):
                check_schema(name, dispatcher.bodies[name])
            assert agent.stop() is True
        last = dispatcher.of(Connection)[-1]
        assert last.connection_state is ConnectionState.OFFLINE
        assert spool_rows(tmp_path / "spool.sqlite") == 0
        assert max(dispatcher.applications().values()) == 1
        assert tank.requests > 0
    finally:
        tank.close()


def test_fuel_gone_while_standing_is_reported_as_theft(
    tmp_path: Path, dispatcher: Dispatcher
) -> None:
    """The fuel runner's watch, fed the GNSS speed by the agent, raises `loss` THEFT."""
    gps = Receiver(tmp_path / "gps")
    tank = FuelSensor(tmp_path / "fuel", level=2048)
    config = make_config(tmp_path, dispatcher.endpoint, fuel=True)
    try:
        with running(config) as agent:
            until(lambda: agent.gnss_port.stats.connected, why="GNSS port open")

            def litres() -> float | None:
                reading = agent.fuel.latest if agent.fuel is not None else None
                return None if reading is None else reading.litres

            for _ in range(3):
                gps.epoch(100.0, speed_mps=0.0)  # standing
            until(lambda: agent.fixes >= 3, why="standing fixes read (the watch needs a speed)")
            assert agent.fuel is not None
            before = agent.fuel.stats.frames
            until(lambda: agent.fuel is not None and agent.fuel.stats.frames >= before + 5)
            assert litres() == pytest.approx(150.0, abs=0.1)
            tank.level = 1024  # half of it gone while the truck stands
            until(lambda: litres() == pytest.approx(75.0, abs=0.1), why="75 L")
            seen = agent.fuel.stats.frames
            for _ in range(3):
                gps.epoch(100.0, speed_mps=0.0)
            # a few more readings, so the watch's median has seen the drop too
            until(lambda: agent.fuel is not None and agent.fuel.stats.frames >= seen + 5)
            gps.drive([105.0, 110.0, 115.0])  # it drives off: the drop is reported

            def theft() -> bool:
                s = dispatcher.of(State)
                fuel = s[-1].yardfleet.fuel if s and s[-1].yardfleet is not None else None
                return fuel is not None and fuel.loss is FuelLoss.THEFT

            until(theft, why="loss THEFT in state")
            agent.stop(flush_timeout_s=0.0)
    finally:
        tank.close()


def test_a_dispatcher_outage_loses_nothing_and_the_backlog_comes_in_order(
    tmp_path: Path, dispatcher: Dispatcher
) -> None:
    gps = Receiver(tmp_path / "gps")
    with running(make_config(tmp_path, dispatcher.endpoint)) as agent:
        until(lambda: agent.link.connected.is_set() and agent.gnss_port.stats.connected)
        gps.drive(range(100, 120, 4))
        until(lambda: len(dispatcher.of(Visualization)) >= 4 and not len(agent.spool))
        dispatcher.stop()
        until(lambda: not agent.link.connected.is_set(), why="link down")
        mark = len(dispatcher.received)
        gps.drive(range(120, 240, 4))
        until(lambda: len(agent.spool) >= 30, why="a backlog")
        dispatcher.start()  # on the same port
        until(lambda: agent.link.connected.is_set() and not len(agent.spool), why="drained")
        assert agent.link.stats.disconnects >= 1 and agent.link.stats.connects >= 2
        agent.stop()
    # Nothing lost: every visualization and every state, by header id without a gap.
    fixes = agent.fixes
    assert header_ids(dispatcher.of(Visualization)) == list(range(fixes))
    states = header_ids(dispatcher.of(State))
    assert states == list(range(len(states)))
    # Applied once each, however often sent.
    assert max(dispatcher.applications().values()) == 1
    # After the reconnect the backlog came oldest first (the spool's order is time order).
    backlog = [m for _, m in dispatcher.received[mark:]]
    stamps = [m.timestamp for m in backlog if m.timestamp is not None]
    assert len(backlog) >= 30 and stamps == sorted(stamps)


def test_lost_acks_make_the_agent_resend_and_the_dispatcher_applies_once(
    tmp_path: Path, dispatcher: Dispatcher
) -> None:
    gps = Receiver(tmp_path / "gps")
    dispatcher.ack = False
    with running(make_config(tmp_path, dispatcher.endpoint)) as agent:
        until(lambda: agent.gnss_port.stats.connected)
        gps.drive([100.0, 104.0, 108.0])
        until(lambda: agent.link.stats.ack_timeouts >= 1, why="an ack timeout")
        until(lambda: len(dispatcher.received) > len(dispatcher.applied), why="a resend")
        dispatcher.ack = True
        until(lambda: not len(agent.spool), why="all acknowledged")
        assert agent.link.stats.resent > 0
        agent.stop()
    assert max(dispatcher.applications().values()) == 1
    assert header_ids(dispatcher.of(Visualization)) == list(range(agent.fixes))


def test_an_unplugged_receiver_is_reported_and_resumes_when_plugged_back(
    tmp_path: Path, dispatcher: Dispatcher
) -> None:
    gps = Receiver(tmp_path / "gps")
    with running(make_config(tmp_path, dispatcher.endpoint)) as agent:
        until(lambda: agent.gnss_port.stats.connected)
        gps.drive([100.0, 104.0, 108.0])
        until(lambda: len(dispatcher.of(Visualization)) >= 2)
        gps.unplug()  # pull the plug: the pty's master goes away
        until(lambda: agent.gnss_port.stats.disconnects >= 1, why="the agent noticed")

        def reported() -> bool:
            return any(e.error_type == "gnssPortDown" for e in dispatcher.of(State)[-1].errors)

        until(reported, why="gnssPortDown in state")
        seen = len(dispatcher.of(Visualization))
        gps.plug()
        until(lambda: agent.gnss_port.stats.connected, why="reopened")
        gps.drive([112.0, 116.0, 120.0])
        until(lambda: len(dispatcher.of(Visualization)) >= seen + 2, why="fixes again")
        until(lambda: not reported(), why="the warning cleared")
        assert agent.link.connected.is_set()
        assert agent.stop()
    assert header_ids(dispatcher.of(Visualization)) == list(range(agent.fixes))


def test_a_full_spool_drops_old_visualization_never_state_and_says_so(
    tmp_path: Path, dispatcher: Dispatcher
) -> None:
    dispatcher.stop()  # the dispatcher is away from the start
    gps = Receiver(tmp_path / "gps")
    config = make_config(tmp_path, dispatcher.endpoint, max_bytes=16 * 1024)
    with running(config) as agent:
        until(lambda: agent.gnss_port.stats.connected)
        gps.drive(range(100, 300, 2))
        until(lambda: agent.spool.stats.dropped > 0, why="the bound hit")
        until(lambda: agent.fixes >= 99, why="every fix decoded")

        def warned() -> bool:
            return any(
                e.error_type == "spoolFull"
                for s in agent.spool.pending()
                if s.topic == "state"
                for e in decode("state", s.body).errors  # type: ignore[union-attr]
            )

        until(warned, why="spoolFull in a spooled state")
        dispatcher.start()
        until(lambda: not len(agent.spool), why="drained")
        agent.stop()
    states = header_ids(dispatcher.of(State))
    assert states == list(range(len(states)))  # every state arrived
    shown = header_ids(dispatcher.of(Visualization))
    dropped = agent.spool.stats.dropped_by_topic or {}
    assert dropped.get("visualization", 0) == agent.fixes - len(shown) > 0
    assert shown == sorted(shown) and shown[0] > 0  # the oldest went first
    assert set(dropped) == {"visualization"}


def test_the_cli_goes_offline_and_flushes_on_sigterm(
    tmp_path: Path, dispatcher: Dispatcher
) -> None:
    gps = Receiver(tmp_path / "gps")
    doc = agent_config(tmp_path, dispatcher.endpoint)
    lines = []
    for table, values in doc.items():
        lines.append(f"[{table}]")
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in values.items()]
    config = tmp_path / "onboard.toml"
    config.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "agent", "--config", str(config)],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        until(lambda: bool(dispatcher.of(Connection)), 30.0, "ONLINE from the CLI")

        def shown() -> bool:
            gps.tick(100.0)
            return len(dispatcher.of(Visualization)) >= 2

        until(shown, why="visualization")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    connections = dispatcher.of(Connection)
    assert [c.connection_state for c in connections] == [
        ConnectionState.ONLINE,
        ConnectionState.OFFLINE,
    ]
    assert "spool flushed" in err
    assert spool_rows(tmp_path / "spool.sqlite") == 0

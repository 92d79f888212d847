"""The dispatcher with CURVE keys, and hostile input beside a good truck: real ZeroMQ sockets
on 127.0.0.1, the server on its own thread. Nothing sleeps to synchronise: every wait polls
with a deadline; a wait for something that must not come is a bounded poll of the socket."""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zmq

from fleet.guard import Limits
from fleet.journal import Journal
from fleet.keys import Role, new_key
from fleet.protocol import link
from fleet.protocol.battery import starter_battery
from fleet.protocol.builders import (
    make_action,
    make_connection,
    make_crane_event,
    make_instant_actions,
    make_state,
)
from fleet.protocol.codec import Message, encode, message_topic
from fleet.protocol.crane import CraneEventKind, CraneKind
from fleet.protocol.extensions import TruckTelemetry
from fleet.server import Server

MAKER = "Kalmar"
KIB = 1024


def until(check: Callable[[], object], deadline_s: float = 5.0, why: str = "") -> None:
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, f"not within {deadline_s} s: {why or check}"
        threading.Event().wait(0.005)  # a poll interval, not a synchronisation


def kinds(db: Path) -> list[tuple[str, str]]:
    con = sqlite3.connect(db)
    try:
        return list(con.execute("SELECT event_id, kind FROM events ORDER BY seq"))
    finally:
        con.close()


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A keys folder: the dispatcher, trucks TT01 and TT02, crane adapter TOS (QC01),
    an observer; and outside it (not enrolled) a key named TT01 and another dispatcher."""
    root = tmp_path_factory.mktemp("keys")
    enrolled = root / "enrolled"
    new_key(enrolled, "dispatcher", Role.DISPATCHER)
    for truck in ("TT01", "TT02", "TT03"):
        new_key(enrolled, truck, Role.TRUCK)
    new_key(enrolled, "TOS", Role.CRANE, ("QC01",))
    new_key(enrolled, "console", Role.OBSERVER)
    new_key(root / "outside", "TT01", Role.TRUCK)
    new_key(root / "outside", "dispatcher", Role.DISPATCHER)
    return root


def keys_copy(keyring: Path, into: Path) -> Path:
    """A folder of its own (a test may revoke keys in it)."""
    folder = into / "keys"
    folder.mkdir()
    for path in (keyring / "enrolled").iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


class Party:
    """A DEALER with its own CURVE key (or none), pinning a dispatcher's public key."""

    def __init__(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        endpoint: str,
        routing_id: str,
        key: Path | None,
        server_key: bytes | None,
    ) -> None:
        self.serial = routing_id
        self.boot = link.new_boot_id()
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.ROUTING_ID, routing_id.encode())
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, 100_000)
        if key is not None and server_key is not None:
            public, secret = zmq.auth.load_certificate(key)
            assert secret is not None
            self.sock.curve_publickey = public
            self.sock.curve_secretkey = secret
            self.sock.curve_serverkey = server_key
        self.sock.connect(endpoint)
        self.acked: set[tuple[str, int]] = set()
        self.nacks: list[link.Nack] = []
        self.other: list[list[bytes]] = []

    def state(self, header_id: int, serial: str | None = None, **kw: object) -> Message:
        telemetry = TruckTelemetry(boot_id=self.boot)
        return make_state(
            MAKER,
            serial or self.serial,
            starter_battery(25.0),
            header_id=header_id,
            telemetry=telemetry,
            **kw,  # type: ignore[arg-type]
        )

    def send(self, message: Message) -> None:
        self.sock.send_multipart([message_topic(message).encode(), encode(message)])

    def pump(self, timeout_ms: int = 0) -> int:
        """Read what has come (waiting up to `timeout_ms` for the first); how many frames."""
        n = 0
        while self.sock.poll(timeout_ms):
            frames = self.sock.recv_multipart()
            n += 1
            timeout_ms = 0
            if frames[0] == link.ACK:
                ack = link.decode_ack(frames[1])
                self.acked |= {(ack.topic, h) for h in ack.header_ids}
            elif frames[0] == link.NACK:
                self.nacks.append(link.decode_nack(frames[1]))
            else:
                self.other.append(frames)
        return n

    def reasons(self) -> list[str]:
        return [n.reason for n in self.nacks]


class Served:
    """A server with keys (or without) in a thread, over a journal in `tmp`."""

    def __init__(
        self, tmp: Path, keys: Path | None, limits: Limits | None, clock: Callable[[], float]
    ) -> None:
        self.db = tmp / "journal.db"
        self.journal = Journal(self.db)
        self.lines: list[str] = []
        self.keys = keys
        self.server = Server(
            self.journal,
            "tcp://127.0.0.1:*",
            broken_after_s=60.0,
            echo=self.lines.append,
            keys=keys,
            limits=limits,
            clock=clock,
        )
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self.parties: list[Party] = []

    def party(self, routing_id: str, key: Path | None = None, pin: bytes | None = None) -> Party:
        if key is None and self.keys is not None:
            key = self.keys / f"{routing_id}.key_secret"
        p = Party(self.ctx, self.server.endpoint, routing_id, key, pin or self.server.public_key)
        self.parties.append(p)
        return p

    def close(self) -> None:
        self.server.stop()
        self.thread.join(5)
        assert not self.thread.is_alive()
        for p in self.parties:
            p.sock.close()
        self.ctx.term()
        self.journal.close()


@pytest.fixture
def serve(tmp_path: Path, keyring: Path) -> Iterator[Callable[..., Served]]:
    made: list[Served] = []

    def start(
        keys: bool = True, limits: Limits | None = None, clock: Callable[[], float] = time.time
    ) -> Served:
        folder = keys_copy(keyring, tmp_path) if keys else None
        made.append(Served(tmp_path, folder, limits, clock))
        return made[-1]

    yield start
    for served in made:
        served.close()


def acked_soon(p: Party, want: set[tuple[str, int]], deadline_s: float = 5.0) -> None:
    until(lambda: p.pump(5) >= 0 and want <= p.acked, deadline_s, f"{p.serial}: acks {want}")


# -- keys


def test_an_unenrolled_key_gets_nothing_acked_and_receives_nothing(
    serve: Callable[..., Served], keyring: Path
) -> None:
    s = serve()
    good = s.party("TT01")
    stranger = s.party("TT01", key=keyring / "outside" / "TT01.key_secret")  # its name, not its key
    for n in range(3):  # (never blocking: its failed handshake may leave no pipe)
        message = stranger.state(n)
        with contextlib.suppress(zmq.Again):
            stranger.sock.send_multipart(
                [message_topic(message).encode(), encode(message)], flags=zmq.NOBLOCK
            )
    good.send(good.state(0))
    acked_soon(good, {("state", 0)})
    s.server.send("TT01", make_instant_actions(MAKER, "TT01", [make_action("startPause")]))
    until(lambda: good.pump(5) >= 0 and good.other, why="the good truck's instant actions")
    assert stranger.pump(300) == 0  # ZAP refused its handshake: nothing came in or out
    assert [i for i, _ in kinds(s.db)] == [f"msg:TT01:state:0:{good.boot}"]
    assert s.server.stats.received == 1


def test_a_truck_key_cannot_speak_as_another_truck(serve: Callable[..., Served]) -> None:
    s = serve()
    tt01 = s.party("TT01")
    as_tt01 = s.party("TT01", key=s.keys / "TT02.key_secret")  # type: ignore[operator]
    as_tt01.send(as_tt01.state(1))  # TT02's key, TT01's routing id: refused, not answered
    tt02 = s.party("TT02")
    tt02.send(tt02.state(2, serial="TT01"))  # its own routing id, another's serial: nacked
    tt02.send(tt02.state(3))  # itself: acked
    acked_soon(tt02, {("state", 3)})
    until(lambda: tt02.pump(5) >= 0 and len(tt02.nacks) == 1, why="TT02's nack")
    assert tt02.nacks[0].reason == "invalid" and "routing id" in tt02.nacks[0].detail
    assert tt02.nacks[0].header_id == 2
    # With ROUTER_HANDOVER the impostor's connection took TT01's route for a moment (its
    # messages are refused, nothing is sent over it once it spoke): TT01, like an agent,
    # resends until acked, and its reconnection takes the route back.
    end = time.monotonic() + 10
    first = tt01.state(0)
    while ("state", 0) not in tt01.acked:
        assert time.monotonic() < end, "TT01 never acked"
        tt01.send(first)  # the same bytes again, as a spool resends
        tt01.pump(200)
    assert not tt01.nacks and not as_tt01.nacks
    ids = [i for i, _ in kinds(s.db)]
    assert ids == [f"msg:TT02:state:3:{tt02.boot}", f"msg:TT01:state:0:{tt01.boot}"]
    assert s.server.intake.refusals.total == {"identity": 1, "invalid": 1}


def crane(job: str, crane_id: str, header_id: int, truck: str = "TT01") -> Message:
    return make_crane_event(
        crane_id,
        CraneKind.QC,
        CraneEventKind.MOVEDONE,
        job_id=job,
        truck_id=truck,
        header_id=header_id,
        timestamp=datetime.now(UTC),
    )


def test_a_crane_key_cannot_finish_a_job_at_another_crane(serve: Callable[..., Served]) -> None:
    s = serve()
    tos = s.party("TOS")
    tos.send(crane("J1", "QC02", 1))  # QC02 is not its crane
    tos.send(crane("J2", "QC01", 2))
    tos.send(tos.state(3, serial="TOS"))  # a crane adapter sends crane events only
    acked_soon(tos, {("craneEvent", 2)})
    until(lambda: tos.pump(5) >= 0 and len(tos.nacks) == 2, why="two nacks")
    assert sorted(tos.reasons()) == ["identity", "not-allowed"]
    assert "reports for QC01, not QC02" in next(n.detail for n in tos.nacks if n.header_id == 1)
    truck = s.party("TT01")
    truck.send(crane("J3", "QC01", 4))  # a truck's key sends no crane events
    console = s.party("console")
    console.send(console.state(5, serial="console"))  # an observer sends nothing
    until(lambda: truck.pump(5) >= 0 and truck.nacks, why="the truck's nack")
    until(lambda: console.pump(5) >= 0 and console.nacks, why="the observer's nack")
    assert truck.reasons() == ["not-allowed"] and console.reasons() == ["not-allowed"]
    events = kinds(s.db)
    assert [k for _, k in events] == ["crane.event"] and events[0][0].startswith("crane:QC01:2:")


# -- revocation


def test_a_revoked_key_is_refused_after_reload_within_a_second(
    serve: Callable[..., Served],
) -> None:
    s = serve()
    tt01, tt02 = s.party("TT01"), s.party("TT02")
    tt02.send(tt02.state(0))
    acked_soon(tt02, {("state", 0)})
    assert s.keys is not None
    (s.keys / "TT02.key").unlink()
    asked = time.monotonic()
    s.server.reload()
    until(lambda: s.server.reloads == 1, 1.0, "the keys re-read")
    assert time.monotonic() - asked < 1.0
    assert any("revoked: TT02" in line for line in s.lines)
    tt02.send(tt02.state(1))  # its session is still up, but its key is no longer enrolled
    tt01.send(tt01.state(0))
    acked_soon(tt01, {("state", 0)})
    order = make_instant_actions(MAKER, "TT02", [make_action("startPause")])
    assert not s.server.send("TT02", order)
    assert tt02.pump(300) == 0  # nothing acked, nacked or sent to it
    assert not any(i.startswith("msg:TT02:state:1") for i, _ in kinds(s.db))


# -- agents pin the dispatcher


def test_an_agent_refuses_a_dispatcher_whose_key_it_has_not_pinned(
    serve: Callable[..., Served], keyring: Path, tmp_path: Path
) -> None:
    from drivers.agent.link import Link, LinkSettings, curve_keys
    from drivers.agent.spool import Spool

    s = serve()
    assert s.keys is not None
    got: list[str] = []

    def agent(pin: Path, name: str) -> Link:
        spool = Spool(tmp_path / f"{name}.sqlite")
        boot = TruckTelemetry(boot_id=f"{name}-boot")  # (no other socket under TT03's id)
        message = make_state(MAKER, "TT03", starter_battery(25.0), header_id=7, telemetry=boot)
        spool.append("state", message_topic(message), 7, link.boot_id_of(message), encode(message))
        settings = LinkSettings(
            s.server.endpoint,
            "TT03",
            reconnect_s=0.05,
            reconnect_max_s=0.1,
            curve=curve_keys(s.keys / "TT03.key_secret", pin),  # type: ignore[operator]
        )
        return Link(spool, settings, lambda topic, body: got.append(topic)).start()

    wrong = agent(keyring / "outside" / "dispatcher.key", "wrong")
    try:
        until(lambda: wrong.stats.handshake_failures >= 2, 5.0, "handshakes refused")
        assert not wrong.connected.is_set() and len(wrong.spool) == 1
        assert "not the pinned dispatcher key" in wrong.stats.last_error
    finally:
        wrong.stop()
    right = agent(s.keys / "dispatcher.key", "right")  # type: ignore[operator]
    try:
        assert right.wait_empty(5.0)  # the pinned one: connected, sent, acked
    finally:
        right.stop()
    assert [k for _, k in kinds(s.db)] == ["msg.state"]


def test_the_agent_drops_a_nacked_message_and_logs_why(
    serve: Callable[..., Served], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from drivers.agent.link import Link, LinkSettings
    from drivers.agent.spool import Spool

    caplog.set_level(logging.ERROR, logger="drivers.agent.link")
    s = serve(keys=False)
    spool = Spool(tmp_path / "spool.sqlite")
    maker = s.party("TT05")
    future = maker.state(1, timestamp=datetime.now(UTC) + timedelta(hours=2))
    for message in (maker.state(0), future, maker.state(2)):
        header = message.header_id  # type: ignore[union-attr]
        spool.append("state", message_topic(message), header, maker.boot, encode(message))
    lk = Link(spool, LinkSettings(s.server.endpoint, "TT05", ack_timeout_s=0.2), lambda *_: None)
    lk.start()
    try:
        assert lk.wait_empty(5.0)
    finally:
        lk.stop()
    assert lk.stats.nacks == 1 and spool.stats.refused == 1 and spool.stats.acked == 2
    assert lk.stats.resent == 0  # refused for good: not sent again
    assert any("refused state 1 (clock-skew)" in r.getMessage() for r in caplog.records)
    assert [i.split(":")[3] for i, _ in kinds(s.db)] == ["0", "2"]


# -- hostile input beside a good truck


def test_hostile_input_is_refused_by_name_while_a_good_truck_loses_nothing(
    serve: Callable[..., Served], keyring: Path
) -> None:
    limits = Limits(max_frame_bytes=512 * KIB, topic_bytes={"state": 256 * KIB})
    s = serve(limits=limits)
    good, bad = s.party("TT01"), s.party("TT02")
    strangers = [s.party(f"FAKE{n}", key=keyring / "outside" / "TT01.key_secret") for n in range(3)]
    topic = f"uagv/v2/{MAKER}/TT02/state".encode()
    big = encode(bad.state(1, order_id="x" * 300 * KIB))
    original = bad.state(3)
    hostile: list[tuple[list[bytes], str | None]] = [
        ([topic, big], "too-large"),
        (
            [topic, encode(bad.state(2, timestamp=datetime.now(UTC) + timedelta(hours=1)))],
            "clock-skew",
        ),
        ([topic, encode(original)], None),  # stored and acked ...
        ([topic, encode(bad.state(3, driving=True))], "content-differs"),  # ... then changed
        ([topic, encode(original)], None),  # the true resend: acked again
        ([topic, b"\xff\xfe not JSON"], "not-json"),
        ([topic], "frames"),
        ([topic, b"{}", b"{}"], "frames"),
    ]
    huge = s.party("TT03")  # over ZMQ_MAXMSGSIZE: ZeroMQ drops the peer before it is read
    huge.sock.send_multipart([f"uagv/v2/{MAKER}/TT03/state".encode(), b"x" * (600 * KIB)])
    n_good = 400
    sent = 0
    for frames, _ in hostile:
        for _ in range(n_good // len(hostile)):
            good.send(good.state(sent))
            sent += 1
        bad.sock.send_multipart(frames)
        for stranger in strangers:
            # Their handshakes fail: ZeroMQ may have no pipe to queue on (then a send
            # would block for ever); what cannot even be queued is refused all the same.
            with contextlib.suppress(zmq.Again):
                stranger.sock.send_multipart([topic, b"junk"], flags=zmq.NOBLOCK)
        good.pump()
    while sent < n_good:
        good.send(good.state(sent))
        sent += 1
    want = {("state", n) for n in range(n_good)}
    acked_soon(good, want, 15.0)
    until(lambda: bad.pump(5) >= 0 and len(bad.nacks) == 6, 5.0, "six nacks")
    assert sorted(bad.reasons()) == sorted(r for _, r in hostile if r)
    assert bad.acked == {("state", 3)}
    assert not good.nacks and all(st.pump(0) == 0 for st in strangers) and not huge.nacks
    ids = [i for i, _ in kinds(s.db)]
    assert len(ids) == len(set(ids)) == n_good + 1  # every good message once, and TT02's one
    assert sum(i.startswith("msg:TT01:state:") for i in ids) == n_good
    assert not any("truck.joined" in i or "FAKE" in i for i in ids)
    assert s.server.stats.duplicates == 1


def test_repeated_refusals_are_logged_once_per_interval(
    serve: Callable[..., Served], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="fleet.server")
    s = serve(limits=Limits(log_every_s=0.2))
    bad, good = s.party("TT02"), s.party("TT01")
    topic = f"uagv/v2/{MAKER}/TT02/state".encode()
    for _ in range(2000):
        bad.sock.send_multipart([topic, b"not JSON"])
    bad.sock.send_multipart([topic])
    good.send(good.state(0))
    acked_soon(good, {("state", 0)})
    until(lambda: bad.pump(5) >= 0 and len(bad.nacks) == 2001, 10.0, "every refusal nacked")
    summary = re.compile(r"refused (\d+) messages in \d+ s: (.*) \(the first")

    def summaries() -> list[re.Match[str]]:
        found = (summary.match(r.getMessage()) for r in caplog.records)
        return [m for m in found if m]

    until(lambda: sum(int(m[1]) for m in summaries()) == 2001, 5.0, "summed up")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) < 20, lines  # not one line per message
    assert any("not-json" in m[2] for m in summaries())
    assert sum(1 for line in lines if line.startswith("refused a message from")) >= 2


# -- without keys


def test_fake_identities_that_send_nothing_valid_leave_no_trace(
    serve: Callable[..., Served],
) -> None:
    s = serve(keys=False)
    fakes = [s.party(f"GHOST{n}") for n in range(20)]
    for fake in fakes:
        fake.sock.send_multipart([b"uagv/v2/X/TT01/state", b"{"])
        fake.sock.send_multipart([b"nonsense"])
    good = s.party("TT01")
    good.send(make_connection(MAKER, "TT01", boot_id=good.boot))
    good.send(good.state(0))
    acked_soon(good, {("connection", 0), ("state", 0)})
    until(lambda: sum(f.pump(5) for f in fakes) >= 0 and all(len(f.nacks) for f in fakes))
    assert {i.split(":")[1] for i, _ in kinds(s.db)} == {"TT01"}
    assert set(s.server.intake._links) == {"TT01"}


def test_a_message_off_the_injected_clock_is_refused_and_one_on_it_taken(
    serve: Callable[..., Served],
) -> None:
    clock = [time.time() + 3600.0]  # the server's clock is an hour ahead of the truck's
    s = serve(keys=False, clock=lambda: clock[0])
    truck = s.party("TT01")
    truck.send(truck.state(0))
    until(lambda: truck.pump(5) >= 0 and truck.nacks, why="a nack")
    assert truck.nacks[0].reason == "clock-skew" and "3600 s behind" in truck.nacks[0].detail
    clock[0] = time.time()
    truck.send(truck.state(1))
    acked_soon(truck, {("state", 1)})


# -- the commands


def test_keys_new_and_list_and_serve_refuses_an_open_bind_without_keys(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sim.cli import main

    runner = CliRunner()
    keys = tmp_path / "keys"
    made = runner.invoke(main, ["keys", "new", "TOS", "--role", "crane", "--dir", str(keys),
                                "--cranes", "QC01,QC02"])  # fmt: skip
    assert made.exit_code == 0, made.output
    assert (keys / "TOS.key").is_file() and (keys / "TOS.key_secret").stat().st_mode & 0o077 == 0
    again = runner.invoke(main, ["keys", "new", "TOS", "--role", "crane", "--dir", str(keys),
                                 "--cranes", "QC01"])  # fmt: skip
    assert again.exit_code == 1 and "already there" in again.output
    craneless = runner.invoke(main, ["keys", "new", "X", "--role", "crane", "--dir", str(keys)])
    assert craneless.exit_code == 1 and "--cranes" in craneless.output
    runner.invoke(main, ["keys", "new", "TT01", "--role", "truck", "--dir", str(keys)])
    listed = runner.invoke(main, ["keys", "list", "--dir", str(keys)])
    assert listed.exit_code == 0
    rows = [line.split("\t") for line in listed.output.splitlines()[1:]]
    assert [r[:3] for r in rows] == [["TOS", "crane", "QC01,QC02"], ["TT01", "truck", "-"]]
    assert all(len(r[3]) == 40 for r in rows)
    db = str(tmp_path / "j.db")
    for bind in ("tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://10.1.2.3:5555"):
        refused = runner.invoke(main, ["dispatcher", "serve", "--journal", db, "--bind", bind])
        assert refused.exit_code == 2, refused.output
        assert "--keys" in refused.output and "--insecure" in refused.output
    no_own_key = runner.invoke(
        main, ["dispatcher", "serve", "--journal", db, "--keys", str(keys), "--seconds", "0"]
    )
    assert no_own_key.exit_code == 1 and "dispatcher.key_secret" in no_own_key.output


def test_sighup_revokes_a_key_of_a_running_dispatcher(keyring: Path, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    keys = keys_copy(keyring, tmp_path)
    out = tmp_path / "serve.log"
    with out.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", "dispatcher", "serve", "--journal",
             str(tmp_path / "j.db"), "--bind", "tcp://127.0.0.1:*", "--keys", str(keys),
             "--no-dispatch"],
            stdout=log, stderr=subprocess.STDOUT, cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )  # fmt: skip
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        until(lambda: "CURVE:" in out.read_text(), 60.0, "the server listening")
        endpoint = out.read_text().split()[2].rstrip(",")
        pin = zmq.auth.load_certificate(keys / "dispatcher.key")[0]
        assert pin.decode() in out.read_text()
        tt01 = Party(ctx, endpoint, "TT01", keys / "TT01.key_secret", pin)
        tt02 = Party(ctx, endpoint, "TT02", keys / "TT02.key_secret", pin)
        tt02.send(tt02.state(0))
        acked_soon(tt02, {("state", 0)}, 10.0)
        (keys / "TT02.key").unlink()
        proc.send_signal(signal.SIGHUP)
        until(lambda: "revoked: TT02" in out.read_text(), 1.0, "the keys re-read")
        tt02.send(tt02.state(1))
        tt01.send(tt01.state(0))
        acked_soon(tt01, {("state", 0)})
        assert tt02.pump(300) == 0
        for p in (tt01, tt02):
            p.sock.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ctx.term()
    assert "received 3, stored 2" in out.read_text()

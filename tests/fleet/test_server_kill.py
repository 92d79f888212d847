"""SIGKILL the dispatcher's server again and again while a truck streams: nothing acked is
lost, nothing is stored twice, and every message sent is stored in the end."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import zmq

from fleet.protocol import link
from fleet.protocol.battery import starter_battery
from fleet.protocol.builders import make_state
from fleet.protocol.codec import encode, message_topic
from fleet.protocol.extensions import TruckTelemetry

ROOT = Path(__file__).resolve().parents[2]
KILLS = 22
RESEND_AFTER_S = 0.3
MAX_IN_FLIGHT = 300


def start(db: Path, bind: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A `yardfleet dispatcher serve` process, and its endpoint once it listens."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", "dispatcher", "serve", "--journal", str(db),
             "--bind", bind],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
    end = time.monotonic() + 60  # a loaded machine may take its time to import and load
    while time.monotonic() < end:
        first, newline, _ = log.read_text().partition("\n")
        if newline:
            assert first.startswith("listening on "), first
            return proc, first.split()[2].rstrip(",")
        assert proc.poll() is None, log.read_text()
        zmq.Poller().poll(5)  # a poll interval while the log is empty
    proc.kill()
    proc.wait()
    raise AssertionError(f"the server did not start: {log.read_text()}")


def stored_ids(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [r[0] for r in con.execute("SELECT event_id FROM events WHERE kind='msg.state'")]
    finally:
        con.close()


class Spool:
    """The truck's side: every message sent stays spooled until acked, resent meanwhile."""

    def __init__(self, sock: zmq.Socket[bytes], serial: str) -> None:
        self.sock = sock
        self.serial = serial
        self.boot = link.new_boot_id()
        self.frames: dict[int, list[bytes]] = {}
        self.sent_at: dict[int, float] = {}  # unacked: when last sent
        self.acked: set[int] = set()
        self.next_id = 0

    def event_id(self, header_id: int) -> str:
        return f"msg:{self.serial}:state:{header_id}:{self.boot}"

    def _send(self, header_id: int) -> None:
        with contextlib.suppress(zmq.Again):  # a full queue: it stays spooled, goes later
            self.sock.send_multipart(self.frames[header_id], zmq.NOBLOCK)
        self.sent_at[header_id] = time.monotonic()

    def new(self) -> None:
        state = make_state(
            "Kalmar",
            self.serial,
            starter_battery(25.0),
            header_id=self.next_id,
            telemetry=TruckTelemetry(boot_id=self.boot),
        )
        self.frames[self.next_id] = [message_topic(state).encode(), encode(state)]
        self._send(self.next_id)
        self.next_id += 1

    def resend(self, older_than_s: float = 0.0) -> None:
        now = time.monotonic()
        for header_id, at in list(self.sent_at.items()):
            if now - at >= older_than_s:
                self._send(header_id)

    def pump(self, timeout_ms: int) -> None:
        """Read the acks that arrive within the timeout (and all those already waiting)."""
        while self.sock.poll(timeout_ms):
            frames = self.sock.recv_multipart()
            if frames[0] != link.ACK:  # the dispatcher's word to the truck (a factsheet request)
                assert frames[0].startswith(b"uagv/v2/"), frames[0]
                timeout_ms = 0
                continue
            ack = link.decode_ack(frames[1])
            assert ack.topic == "state" and ack.boot_id == self.boot
            for header_id in ack.header_ids:
                self.acked.add(header_id)
                self.sent_at.pop(header_id, None)
            timeout_ms = 0

    def stream_until(self, end: float) -> None:
        while time.monotonic() < end:
            for _ in range(5):
                if len(self.sent_at) < MAX_IN_FLIGHT:
                    self.new()
            self.pump(2)
            self.resend(RESEND_AFTER_S)


def test_twenty_kills_lose_nothing_acked_and_store_everything_once(tmp_path: Path) -> None:
    db = tmp_path / "journal.db"
    rng = random.Random(5050)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.ROUTING_ID, b"TT07")
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RECONNECT_IVL, 20)
    spool = Spool(sock, "TT07")
    bind = "tcp://127.0.0.1:*"
    acked_per_round: list[int] = []
    try:
        for round_ in range(KILLS):
            proc, endpoint = start(db, bind, tmp_path / f"serve-{round_}.log")
            if round_ == 0:
                bind = endpoint  # the same port after every restart
                sock.connect(endpoint)
            try:
                spool.resend()  # everything unacked goes again after a restart
                before = len(spool.acked)
                spool.stream_until(time.monotonic() + rng.uniform(0.0, 0.3))
                acked_per_round.append(len(spool.acked) - before)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
            spool.pump(0)  # acks already on their way were sent before the kill
            ids = stored_ids(db)
            missing = {spool.event_id(h) for h in spool.acked} - set(ids)
            assert not missing, f"round {round_}: acked but lost: {sorted(missing)[:5]}"
        # the last start: the truck resends until everything it ever sent is acked
        proc, _ = start(db, bind, tmp_path / "serve-last.log")
        try:
            end = time.monotonic() + 15
            spool.resend()
            while spool.sent_at and time.monotonic() < end:
                spool.pump(10)
                spool.resend(RESEND_AFTER_S)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        sock.close()
        ctx.term()
    assert not spool.sent_at, f"{len(spool.sent_at)} message(s) never acked"
    ids = stored_ids(db)
    # a resend stored under another id would show here as one too many
    assert set(ids) == {spool.event_id(h) for h in range(spool.next_id)}
    assert spool.acked == set(range(spool.next_id))
    print(f"{spool.next_id} messages, acks per round {acked_per_round}")
    assert spool.next_id > 500 and sum(1 for n in acked_per_round if n) >= KILLS // 2

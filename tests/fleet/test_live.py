"""The live dispatcher end to end: `yardfleet dispatcher serve` with the core, over real
ZeroMQ on 127.0.0.1, a truck and a crane adapter as DEALERs, and a restart in the middle."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from fleet.jobs import Job, JobState, JobType, Place, PlaceKind
from fleet.journal import Journal
from fleet.protocol import (
    CraneEventKind,
    CraneKind,
    Order,
    TruckTelemetry,
    decode,
    encode,
    link,
    make_crane_event,
    make_state,
    message_topic,
    starter_battery,
)
from fleet.state import job_added, load
from maps import Yard

JOB = Job(
    "J1",
    JobType.DSCH,
    "MSKU1234565",
    40,
    20_000.0,
    Place(PlaceKind.QUAY_CRANE, "QC01"),
    Place(PlaceKind.YARD, "A1", 10, 2, 1),
    qc_seq=1,
)


class Serve:
    """`python -m sim.cli dispatcher serve` on a free port; stopped by SIGTERM."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sim.cli",
                "dispatcher",
                "serve",
                "--journal",
                str(db),
                "--bind",
                "tcp://127.0.0.1:*",
                "--seconds",
                "120",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        assert first.startswith("listening on tcp://127.0.0.1:"), first
        self.endpoint = first.split()[2].rstrip(",")

    def stop(self) -> str:
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, err
        return out


class Dealer:
    """A truck's or crane adapter's DEALER socket."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, ident: str) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.ROUTING_ID, ident.encode())
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.boot = link.new_boot_id()
        self.header = 0
        self.acks = 0
        self.orders: list[Order] = []

    def send(self, message: object) -> None:
        self.sock.send_multipart([message_topic(message).encode(), encode(message)])  # type: ignore[arg-type]

    def state(self, serial: str, node: str, driving: bool) -> None:
        self.header += 1
        self.send(
            make_state(
                "YardFleet",
                serial,
                starter_battery(25.0),
                header_id=self.header,
                last_node_id=node,
                driving=driving,
                telemetry=TruckTelemetry(boot_id=self.boot),
            )
        )

    def _receive(self) -> None:
        frames = self.sock.recv_multipart()
        if frames[0] == link.ACK:
            self.acks += len(link.decode_ack(frames[1]).header_ids)  # one ack may cover many
            return
        message = decode(frames[0].decode(), frames[1])
        if isinstance(message, Order):
            self.orders.append(message)

    def order(self, deadline_s: float = 20.0) -> Order:
        """The next order sent to it (acks counted)."""
        end = time.monotonic() + deadline_s
        while not self.orders and time.monotonic() < end:
            if self.sock.poll(100):
                self._receive()
        if self.orders:
            return self.orders.pop(0)
        raise AssertionError(f"no order within {deadline_s} s")

    def acked(self, count: int, deadline_s: float = 20.0) -> None:
        """Wait until `count` of its messages are acked (stored by the dispatcher)."""
        end = time.monotonic() + deadline_s
        while self.acks < count and time.monotonic() < end:
            if self.sock.poll(100):
                self._receive()
        assert self.acks >= count, f"{self.acks} of {count} messages acked"


@pytest.fixture
def ctx() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield context
    context.destroy(linger=0)


def test_a_truck_is_sent_to_work_moved_on_by_a_crane_and_taken_up_after_a_restart(
    tmp_path: Path, haiphong: Yard, ctx: zmq.Context[zmq.Socket[bytes]]
) -> None:
    db = tmp_path / "dispatch.db"
    with Journal(db) as j:
        j.append(job_added(JOB, "2026-11-29T06:00:00+07:00"))
    park, crane = haiphong.node_of("PARK.S01"), haiphong.node_of("QC01.SP")

    serve = Serve(db)
    try:
        truck = Dealer(ctx, serve.endpoint, "TT01")
        truck.state("TT01", park, driving=False)
        order = truck.order()
        assert order.nodes[0].node_id == park
        assert order.nodes[-1].node_id == crane
        assert [a.action_type for a in order.nodes[-1].actions] == ["pick"]
        truck.state("TT01", park, driving=True)
        truck.state("TT01", crane, driving=False)
        # The crane's move follows the truck's arrival (two sockets: wait for it to land).
        truck.acked(3)
        qc = Dealer(ctx, serve.endpoint, "QC01")
        qc.send(
            make_crane_event(
                "QC01",
                CraneKind.QC,
                CraneEventKind.MOVEDONE,
                truck_id="TT01",
                job_id="J1",
                header_id=1,
            )
        )
        to_block = truck.order()
        assert to_block.nodes[0].node_id == crane
        last = to_block.nodes[-1]
        assert haiphong.service_point_by_node[last.node_id].area == "A1"
        assert [a.action_type for a in last.actions] == ["drop"]
        truck.sock.close()
        qc.sock.close()
    finally:
        first_run = serve.stop()
    assert "TT01" in first_run

    with Journal(db) as j:
        state = load(j)
    assert state.jobs["J1"].state is JobState.TO_DROP
    assert state.truck_of == {"J1": "TT01"}

    # Restarted, the dispatcher takes the story up: the truck with the box is sent on.
    serve = Serve(db)
    try:
        truck = Dealer(ctx, serve.endpoint, "TT01")
        truck.state("TT01", crane, driving=False)
        again = truck.order()
        assert haiphong.service_point_by_node[again.nodes[-1].node_id].area == "A1"
        truck.sock.close()
    finally:
        serve.stop()
    kpi = subprocess.run(
        [sys.executable, "-m", "sim.cli", "dispatcher", "kpi", str(db), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(kpi.stdout)["moves"] == 0  # the box is not down yet

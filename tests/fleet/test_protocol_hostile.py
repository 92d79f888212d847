"""Hostile payloads at the live dispatcher: each refused with the decoder's one-line reason, the
next good message still served. Real sockets on 127.0.0.1, the server on its own thread."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from fleet.journal import Journal
from fleet.protocol import link
from fleet.protocol.battery import starter_battery
from fleet.protocol.builders import make_state
from fleet.protocol.codec import encode
from fleet.protocol.extensions import TruckTelemetry
from fleet.server import Server

MAKER, TRUCK = "Kalmar", "TT07"
DEEP = 100_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    journal = Journal(tmp_path / "journal.db")
    served = Server(journal, "tcp://127.0.0.1:*", broken_after_s=60.0, echo=lambda _: None)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    yield served
    served.stop()
    thread.join(5)
    assert not thread.is_alive()
    journal.close()


def test_hostile_payloads_are_refused_by_name_and_the_server_goes_on(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="fleet.server")
    boot = link.new_boot_id()
    topic = f"uagv/v2/{MAKER}/{TRUCK}/state".encode()

    def state(header_id: int) -> dict[str, object]:
        message = make_state(
            MAKER,
            TRUCK,
            starter_battery(25.0),
            header_id=header_id,
            telemetry=TruckTelemetry(boot_id=boot),
        )
        document: dict[str, object] = json.loads(encode(message))
        return document

    year_zero = {**state(1), "timestamp": "0001-01-01T00:00:00+01:00"}
    deep = json.dumps({**state(2), "vendorData": "HERE"}).replace('"HERE"', "[" * DEEP + "]" * DEEP)
    fraction = {**state(3), "headerId": 3.5}
    hostile = [
        (json.dumps(year_zero).encode(), "$.timestamp: 0001-01-01T00:00:00+01:00 is outside"),
        (deep.encode(), "$.vendorData[0][0][0][0][0][0][0]…: malformed JSON: nested more than"),
        (json.dumps(fraction).encode(), "$.headerId: Expected `int`, got `float`"),
    ]
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.ROUTING_ID, TRUCK.encode())
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.endpoint)
    try:
        for payload, _ in hostile:
            sock.send_multipart([topic, payload])
        sock.send_multipart([topic, json.dumps({**state(4), "headerId": 4.0}).encode()])
        nacks: list[link.Nack] = []
        acks: list[list[bytes]] = []
        while not acks or len(nacks) < len(hostile):  # a nack for each hostile one, an ack
            assert sock.poll(10_000), "no ack or nack within 10 s"
            frames = sock.recv_multipart()
            if frames[0] == link.NACK:
                nacks.append(link.decode_nack(frames[1]))
            else:
                acks.append(frames)
        frames = acks[0]
    finally:
        sock.close()
        ctx.term()
    assert [(n.topic, n.reason) for n in nacks] == [
        ("state", "invalid"),
        ("state", "not-json"),
        ("state", "invalid"),
    ]
    assert [n.header_id for n in nacks] == [1, None, None]  # as far as they could be read
    assert all(n.boot_id == boot for n in nacks[:1])
    assert frames[0] == link.ACK
    assert link.decode_ack(frames[1]).header_ids == [4]  # the whole float was taken as 4
    assert server.stats.errors == len(hostile)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == len(hostile)
    for text, (_, reason) in zip(errors, hostile, strict=True):
        assert text.startswith(f"refused a message from '{TRUCK}'"), text
        assert f"state: {reason}" in text, text
        assert "\n" not in text and "Traceback" not in text

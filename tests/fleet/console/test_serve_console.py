"""`yardfleet dispatcher serve --console`: the console from the dispatcher's own process, over
real HTTP on 127.0.0.1, a truck over real ZeroMQ, actions journalled in its SQLite file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import zmq
from console_rig import PASSWORDS, operators_file, wait_for

from fleet.journal import Journal
from fleet.protocol import TruckTelemetry, encode, make_state, message_topic, starter_battery
from fleet.protocol.geometry import AgvPosition
from fleet.state import load
from maps import ServicePointKind, Yard


def test_serve_with_the_console(tmp_path: Path, haiphong: Yard) -> None:
    ops = operators_file(tmp_path / "ops.json")
    db = tmp_path / "journal.db"
    proc = subprocess.Popen(
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
            "--console",
            "127.0.0.1:0",
            "--operators",
            str(ops.path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        console_line = proc.stdout.readline()
        assert console_line.startswith("fleet console on http://127.0.0.1:"), console_line
        url = console_line.split()[3]
        endpoint = proc.stdout.readline().split()[2].rstrip(",")
        park = haiphong.service_points_of(ServicePointKind.PARKING)[0].node
        node = haiphong.node(park)
        ctx = zmq.Context()
        truck = ctx.socket(zmq.DEALER)
        truck.setsockopt(zmq.ROUTING_ID, b"TT07")
        truck.setsockopt(zmq.LINGER, 0)
        truck.connect(endpoint)
        state = make_state(
            "YardFleet",
            "TT07",
            starter_battery(25.0),
            header_id=1,
            last_node_id=park,
            position=AgvPosition(
                x=node.x, y=node.y, theta=0.5, map_id="haiphong", position_initialized=True
            ),
            telemetry=TruckTelemetry(boot_id="b1"),
        )
        truck.send_multipart([message_topic(state).encode(), encode(state)])
        with httpx.Client(base_url=url, timeout=10.0) as web:
            assert web.get("/").status_code == 200
            assert web.get("/api/snapshot").status_code == 401
            who = web.post("/api/login", json={"name": "dana", "password": PASSWORDS["dana"]})
            csrf = who.json()["csrf"]

            def seen() -> bool:
                trucks = web.get("/api/snapshot").json()["trucks"]
                return any(t["id"] == "TT07" and t["heading"] == 0.5 for t in trucks)

            wait_for(seen)
            r = web.post(
                "/api/actions/close_lane",
                json={"lane": "apron-u-02", "reason": "spill"},
                headers={"X-CSRF-Token": csrf},
            )
            assert r.status_code == 200, r.text
        truck.close()
        ctx.term()
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    with Journal(db) as journal:
        assert load(journal).closed_lanes == {"apron-u-02": "spill (by dana)"}

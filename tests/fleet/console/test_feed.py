"""The console's WebSocket feed in process: snapshots at least once a second, signed in only."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from console_rig import PASSWORDS, Rig
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

WS = "ws://127.0.0.1:8080/ws"
"""The feed, at the host the client signs in at (its cookie goes there)."""


def test_the_feed_pushes_snapshots_as_trucks_move(client: TestClient, rig: Rig) -> None:
    client.post("/api/login", json={"name": "vic", "password": PASSWORDS["vic"]})
    node = rig.parking(0)
    n = rig.yard.node(node)
    rig.report("TT01", node)
    with client.websocket_connect(WS) as ws:
        first: dict[str, Any] = json.loads(ws.receive_text())
        t0 = time.monotonic()
        second: dict[str, Any] = json.loads(ws.receive_text())
        assert time.monotonic() - t0 < 1.0  # at least once a second
        assert second["version"] > first["version"]
        rig.report("TT01", node, driving=True, xy=(n.x + 25.0, n.y), speed=5.0)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            snap = json.loads(ws.receive_text())
            t = next((t for t in snap["trucks"] if t["id"] == "TT01"), None)
            if t is not None and t["x"] == pytest.approx(n.x + 25.0, abs=0.01):
                assert t["speed_kmh"] == 18.0
                break
        else:
            raise AssertionError("the feed never showed TT01 moved")


def test_the_feed_needs_a_session(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect(WS) as ws:
        ws.receive_text()
    assert info.value.code == 1008


def test_the_feed_refuses_another_sites_page(client: TestClient) -> None:
    client.post("/api/login", json={"name": "vic", "password": PASSWORDS["vic"]})
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect(WS, headers={"Origin": "http://evil.example"}) as ws,
    ):
        ws.receive_text()

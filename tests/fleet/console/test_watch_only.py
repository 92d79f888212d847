"""Without an operators file: anyone on the machine watches, nobody acts; never beyond loopback."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from console_rig import Rig
from fastapi.testclient import TestClient

from fleet.console.app import create_app
from sim.cli import main


def test_watch_only_without_operators(rig: Rig) -> None:
    with TestClient(create_app(rig.bridge, None), base_url="http://127.0.0.1:8080") as c:
        assert c.get("/api/yard").status_code == 200
        assert c.get("/api/snapshot").status_code == 200
        with c.websocket_connect("ws://127.0.0.1:8080/ws") as ws:
            assert '"trucks"' in ws.receive_text()
        login = c.post("/api/login", json={"name": "dana", "password": "whatever-pw"})
        assert login.status_code == 403 and "watch-only" in login.json()["detail"]
        act = c.post("/api/actions/close_lane", json={"lane": "apron-u-02"})
        assert act.status_code == 401


def test_serve_refuses_a_console_beyond_loopback_without_operators(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        main,
        [
            "dispatcher", "serve", "--journal", str(tmp_path / "j.db"), "--bind",
            "tcp://127.0.0.1:*", "--seconds", "1", "--console", "0.0.0.0:0",
        ],
    )  # fmt: skip
    assert r.exit_code == 1
    assert "beyond loopback" in r.output and "--operators" in r.output

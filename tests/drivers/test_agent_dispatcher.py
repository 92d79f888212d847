"""The agent against the real dispatcher transport (`fleet.server`): journalled, acked,
an order sent back by the dispatcher's handler accepted and reported in state."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from drivers.agent.agent import Agent
from drivers.agent.config import parse_config
from fleet.journal import Journal
from fleet.protocol.builders import Waypoint, make_order
from fleet.protocol.codec import Message
from fleet.protocol.state import State
from fleet.server import Server
from maps.terminals import terminal

TRUCK = "TT07"


def until(what: Callable[[], bool], deadline_s: float = 10.0, why: str = "") -> None:
    """Poll a condition with a deadline (no sleeping as synchronisation)."""
    end = time.monotonic() + deadline_s
    while not what():
        assert time.monotonic() < end, f"not reached before the deadline: {why}"
        time.sleep(0.005)


def nmea(body: str) -> bytes:
    check = functools.reduce(lambda a, c: a ^ ord(c), body, 0)
    return f"${body}*{check:02X}\r\n".encode()


def epoch(k: int, x: float, y: float) -> bytes:
    lon, lat = terminal().frame.point_to_wgs84(x, y)
    dm = [f"{int(v):0{w}d}{(v - int(v)) * 60:09.6f}" for v, w in ((lat, 2), (lon, 3))]
    where, t = f"{dm[0]},N,{dm[1]},E", f"0800{k:02d}.00"
    return nmea(f"GPRMC,{t},A,{where},1.0,90.0,291126,,,A") + nmea(
        f"GPGGA,{t},{where},4,14,0.7,5.0,M,-20.0,M,1.0,0001"
    )


class Dispatch:
    """A dispatcher core that sends one order, from n0047, on the first state it sees."""

    def __init__(self) -> None:
        self.states: list[State] = []
        self.sent = False

    def on_message(
        self, truck: str, topic: str, message: Message, at: float
    ) -> list[tuple[str, Message]]:
        if not isinstance(message, State):
            return []
        self.states.append(message)
        if self.sent or message.agv_position is None:
            return []
        self.sent = True
        route = [Waypoint("n0047", 91.0, 90.0), Waypoint("n0069", 375.0, 90.0, "drive01-01")]
        return [(truck, make_order(message.manufacturer, truck, "job-7", route, map_id="haiphong"))]


def test_the_dispatcher_journals_acks_and_its_order_is_accepted(tmp_path: Path) -> None:
    dispatch = Dispatch()
    server = Server(Journal(tmp_path / "journal.sqlite"), "tcp://127.0.0.1:*", handler=dispatch)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    master, slave = os.openpty()
    (tmp_path / "gps").symlink_to(os.ttyname(slave))
    doc = {
        "truck": {"serial_number": TRUCK},
        "map": {"terminal": "haiphong"},
        "gnss": {"port": str(tmp_path / "gps")},
        "dispatcher": {"endpoint": server.endpoint, "reconnect_s": 0.02, "reconnect_max_s": 0.1},
        "state": {"interval_s": 0.2},
    }
    agent = Agent(parse_config(doc, base=tmp_path)).start()
    try:
        until(lambda: agent.gnss_port.stats.connected, why="GNSS port open")
        for k in range(4):
            os.write(master, epoch(k, 91.0 + k, 90.0))
        until(lambda: any(s.order_id == "job-7" for s in dispatch.states), why="order accepted")
        accepted = next(s for s in dispatch.states if s.order_id == "job-7")
        assert accepted.last_node_id == "n0047" and accepted.errors == []
        assert [n.node_id for n in accepted.node_states] == ["n0069"]
        until(lambda: server.poses.get(TRUCK) is not None, why="pose from visualization")
        assert agent.stop() is True  # OFFLINE sent, spool acknowledged
        assert server.stats.duplicates == 0 and server.stats.errors == 0
        assert server.stats.acked == server.stats.received
    finally:
        server.stop()
        serving.join(5.0)
        os.close(master)
        os.close(slave)

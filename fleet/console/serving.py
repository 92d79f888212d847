"""Serving the console: uvicorn in a thread of the dispatcher's process.

`ConsoleServer` runs uvicorn's own loop in a daemon thread; the dispatcher's loop stays
where it is and calls `Bridge.pump`. Binding beyond loopback requires an operators file
(`check_bind`): a yard's console is never open to the network unauthenticated.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import uvicorn

from fleet.console.app import create_app
from fleet.console.bridge import Bridge
from fleet.console.operators import Operators
from fleet.console.watch import Watch
from fleet.live import LiveDispatcher
from fleet.protocol.codec import Message
from fleet.server import Intake

__all__ = ["ConsoleServer", "attach", "check_bind", "parse_address"]

START_TIMEOUT_S = 10.0


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (an IPv6 host in brackets) → (host, port); ValueError naming what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, operators: Operators | None) -> None:
    """ValueError unless `host` is loopback or there is an operators file with operators."""
    if not _loopback(host) and (operators is None or len(operators) == 0):
        raise ValueError(
            f"binding the console to {host} (beyond loopback) needs --operators FILE "
            "with at least one operator (yardfleet operators add)"
        )


class ConsoleServer:
    """The console's uvicorn, in a daemon thread; `start` returns once it listens."""

    def __init__(
        self, bridge: Bridge, host: str, port: int, operators: Operators | None = None
    ) -> None:
        check_bind(host, operators)
        self.app = create_app(bridge, operators)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))  # bound now: a port in use fails here, port 0 is known
        self.host, self.port = host, self._sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, ws_ping_interval=20.0
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="console", daemon=True)

    @property
    def url(self) -> str:
        """Where to open the console."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def _run(self) -> None:
        self._server.run(sockets=[self._sock])

    def start(self) -> ConsoleServer:
        """Serve in the background; returns when uvicorn has started."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the console did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout=5.0)
        self._sock.close()


class _Hosting(Protocol):
    """What the console needs of the live server: its intake and a turn of its loop."""

    @property
    def intake(self) -> Intake: ...

    @property
    def on_loop(self) -> list[Callable[[float], list[tuple[str, Message]]]]: ...


def attach(
    server: _Hosting, live: LiveDispatcher, address: str, operators_file: Path | None
) -> ConsoleServer:
    """Serve the console of `server`'s live dispatcher at `address` (HOST:PORT): the
    handler gets a `Watch` in front, the server's loop pumps the bridge. Started."""
    host, port = parse_address(address)
    operators = Operators.load(operators_file) if operators_file is not None else None
    watch = Watch(live)
    server.intake.handler = watch
    bridge = Bridge(live, watch, server.intake)
    console = ConsoleServer(bridge, host, port, operators)
    server.on_loop.append(bridge.pump)
    return console.start()

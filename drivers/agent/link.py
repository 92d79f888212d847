"""The agent's ZeroMQ link to the dispatcher: a DEALER that drains the spool, in order.

One thread owns the socket (ZeroMQ sockets are not thread-safe). It connects a DEALER,
routing id = the truck id, to the dispatcher's ROUTER with ZMTP heartbeats and a
bounded reconnect interval, and watches a socket monitor to know when the session is
up. While it is up, it sends every spooled message not yet sent, oldest first, as
`[topic, JSON]` frames; acknowledgements (`fleet.protocol.link`) remove messages from
the spool. After a reconnect, or when the oldest message sent waits longer than
`ack_timeout_s` for its ack, everything still in the spool goes out again in order:
the dispatcher dedupes, so a resend is applied once. Orders and instant actions that
arrive are handed to `on_message(topic, body)` on this thread; `on_status(up)`, when
given, hears there each time the session comes up or goes (and a last False on stop).

With `LinkSettings.curve` the socket is a CURVE client with the truck's own key pair that
pins the dispatcher's public key: a dispatcher with another key fails the handshake (logged,
counted in `LinkStats.handshake_failures`), and nothing is sent to it or taken from it. A
nack (`fleet.protocol.link`) is final: the message leaves the spool unsent again, and the
reason is logged.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import zmq
from zmq.utils.monitor import recv_monitor_message

from drivers.agent.spool import Spool
from fleet.keys import load_pair, load_public
from fleet.protocol.errors import ProtocolError
from fleet.protocol.link import ACK, NACK, decode_ack, decode_nack

__all__ = ["CurveKeys", "Link", "LinkSettings", "LinkStats", "curve_keys"]

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], None]
OnStatus = Callable[[bool], None]
_UP = zmq.EVENT_HANDSHAKE_SUCCEEDED
_DOWN = zmq.EVENT_DISCONNECTED
_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
_BATCH = 500
"""Messages sent per turn of the loop, so acks and orders are read in between."""


@dataclass(frozen=True, slots=True)
class CurveKeys:
    """CURVE: the truck's own pair and the dispatcher's public key it pins (Z85 bytes)."""

    public: bytes
    secret: bytes
    server: bytes


def curve_keys(key: Path | None, dispatcher_key: Path | None) -> CurveKeys | None:
    """The keys from the truck's secret certificate and the dispatcher's public one
    (None without them); `fleet.keys.KeyFileError` names a file that cannot be read."""
    if key is None or dispatcher_key is None:
        return None
    public, secret = load_pair(key)
    return CurveKeys(public, secret, load_public(dispatcher_key))


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Where to connect and how to keep the session alive (seconds)."""

    endpoint: str
    routing_id: str
    heartbeat_s: float = 1.0
    heartbeat_timeout_s: float = 3.0
    heartbeat_ttl_s: float = 3.0
    reconnect_s: float = 0.1
    reconnect_max_s: float = 5.0
    ack_timeout_s: float = 5.0
    poll_s: float = 0.02
    curve: CurveKeys | None = None
    """None: no encryption, any dispatcher at the endpoint is obeyed."""


@dataclass
class LinkStats:
    """Counts of the link: sessions, messages sent and resent, acks, inbound messages."""

    connects: int = 0
    disconnects: int = 0
    sent: int = 0
    resent: int = 0
    acks: int = 0
    ack_timeouts: int = 0
    received: int = 0
    bad_frames: int = 0
    nacks: int = 0
    """Messages the dispatcher refused for good (dropped from the spool)."""
    handshake_failures: int = 0
    """Handshakes that failed (with CURVE: not the pinned dispatcher, or our key refused)."""
    last_error: str = ""


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class Link:
    """Drains a `Spool` to the dispatcher over a DEALER socket; start() it, stop() it."""

    def __init__(
        self,
        spool: Spool,
        settings: LinkSettings,
        on_message: OnMessage,
        on_status: OnStatus | None = None,
    ) -> None:
        self.spool = spool
        self.settings = settings
        self.on_message = on_message
        self.on_status = on_status
        self.stats = LinkStats()
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._context = zmq.Context()
        self._thread = threading.Thread(target=self._run, name="dispatcher link", daemon=True)
        self._cursor = 0  # seq of the last message sent in this session
        self._in_flight: collections.deque[tuple[int, float]] = collections.deque()
        self._ever_sent = 0  # highest seq ever sent, to tell resends from first sends

    def start(self) -> Link:
        """Connect and start draining (returns at once; the dispatcher may come later)."""
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        """Close the socket (unsent messages stay in the spool) and end the thread."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
        if not self._thread.is_alive():  # term() would wait for a socket still open
            self._context.term()

    def wait_empty(self, timeout_s: float) -> bool:
        """Wait until every spooled message is acknowledged, at most `timeout_s`."""
        end = time.monotonic() + timeout_s
        while len(self.spool):
            if time.monotonic() >= end or not self._thread.is_alive():
                return False
            time.sleep(0.01)  # polling the spool; the link thread does the work
        return True

    def _socket(self) -> zmq.Socket[bytes]:
        s = self.settings
        sock: zmq.Socket[bytes] = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.ROUTING_ID, s.routing_id.encode())
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)  # queue only to a live session: the spool holds the rest
        sock.setsockopt(zmq.HEARTBEAT_IVL, _ms(s.heartbeat_s))
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, _ms(s.heartbeat_timeout_s))
        sock.setsockopt(zmq.HEARTBEAT_TTL, _ms(s.heartbeat_ttl_s))
        sock.setsockopt(zmq.RECONNECT_IVL, _ms(s.reconnect_s))
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, _ms(s.reconnect_max_s))
        if s.curve is not None:
            sock.curve_publickey = s.curve.public
            sock.curve_secretkey = s.curve.secret
            sock.curve_serverkey = s.curve.server  # the pinned dispatcher, no other
        return sock

    def _run(self) -> None:
        sock = self._socket()
        monitor = sock.get_monitor_socket(_UP | _DOWN | _FAILED)
        sock.connect(self.settings.endpoint)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        timeout = _ms(self.settings.poll_s)
        try:
            while not self._stop.is_set():
                ready = dict(poller.poll(timeout))
                if monitor in ready:
                    self._on_monitor(monitor)
                if sock in ready:
                    self._receive(sock)
                if self.connected.is_set():
                    self._check_acks()
                    self._send(sock)
        except Exception as exc:  # keep the reason; the agent's health report shows it
            self.stats.last_error = repr(exc)
            log.exception("dispatcher link failed")
            raise
        finally:
            if self.connected.is_set():
                self.connected.clear()
                self._status(False)
            sock.disable_monitor()
            monitor.close(0)
            sock.close(0)

    def _on_monitor(self, monitor: zmq.Socket[bytes]) -> None:
        while monitor.poll(0):
            event = recv_monitor_message(monitor)["event"]
            if event == _UP:
                self.stats.connects += 1
                self._restart_from_oldest()
                self.connected.set()
                log.info("connected to %s", self.settings.endpoint)
                self._status(True)
            elif event == _DOWN and self.connected.is_set():
                self.stats.disconnects += 1
                self.connected.clear()
                log.warning("lost the dispatcher at %s; spooling", self.settings.endpoint)
                self._status(False)
            elif event & _FAILED:
                self._handshake_failed(event)

    def _handshake_failed(self, event: int) -> None:
        """A handshake failed: logged the first time and every 100th, counted."""
        self.stats.handshake_failures += 1
        n = self.stats.handshake_failures
        why = (
            "CURVE: not the pinned dispatcher key, or ours not enrolled"
            if self.settings.curve
            else "protocol"
        )
        self.stats.last_error = f"handshake with {self.settings.endpoint} failed ({why})"
        if n == 1 or n % 100 == 0:
            log.error("%s; %d time(s) so far, spooling", self.stats.last_error, n)

    def _status(self, up: bool) -> None:
        """Tell `on_status` that the session came up or went."""
        if self.on_status is None:
            return
        try:
            self.on_status(up)
        except Exception as exc:  # a handler's bug must not take the link down
            self.stats.last_error = repr(exc)
            log.exception("handling the link's status failed")

    def _restart_from_oldest(self) -> None:
        """Send again everything the spool holds, oldest first."""
        self._cursor = 0
        self._in_flight.clear()

    def _receive(self, sock: zmq.Socket[bytes]) -> None:
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) != 2:
                self.stats.bad_frames += 1
                continue
            head, body = frames
            if head == NACK:
                self._nacked(body)
                continue
            if head == ACK:
                try:
                    ack = decode_ack(body)
                except ProtocolError as exc:
                    self._bad_frame(exc)
                    continue
                self.stats.acks += 1
                self.spool.ack(ack.topic, ack.header_ids, ack.boot_id)
                continue
            self.stats.received += 1
            try:
                self.on_message(head.decode("utf-8", "replace"), body)
            except Exception as exc:  # a handler's bug must not take the link down
                self.stats.last_error = repr(exc)
                log.exception("handling a message from the dispatcher failed")

    def _bad_frame(self, exc: ProtocolError) -> None:
        self.stats.bad_frames += 1
        self.stats.last_error = str(exc)

    def _nacked(self, body: bytes) -> None:
        """The dispatcher refused a message for good: out of the spool, and why."""
        try:
            nack = decode_nack(body)
        except ProtocolError as exc:
            self._bad_frame(exc)
            return
        self.stats.nacks += 1
        self.stats.last_error = f"refused by the dispatcher: {nack.reason}: {nack.detail}"
        removed = 0
        if nack.header_id is not None:
            removed = self.spool.refuse(nack.topic, nack.header_id, nack.boot_id)
        log.error(
            "the dispatcher refused %s %s (%s): %s%s",
            nack.topic,
            nack.header_id,
            nack.reason,
            nack.detail,
            "; dropped from the spool" if removed else "",
        )

    def _check_acks(self) -> None:
        """Resend from the oldest unacknowledged message once it has waited too long."""
        if not self._in_flight:
            return
        oldest = self.spool.oldest_seq()
        flight = self._in_flight
        while flight and (oldest is None or flight[0][0] < oldest):
            flight.popleft()
        if flight and time.monotonic() - flight[0][1] > self.settings.ack_timeout_s:
            self.stats.ack_timeouts += 1
            log.warning("no ack for %.1f s: resending the spool", self.settings.ack_timeout_s)
            self._restart_from_oldest()

    def _send(self, sock: zmq.Socket[bytes]) -> None:
        tail = self.spool.last_seq
        if tail <= self._cursor:
            return
        entries = self.spool.pending(after=self._cursor, limit=_BATCH)
        now = time.monotonic()
        for entry in entries:
            try:
                sock.send_multipart([entry.address.encode(), entry.body], zmq.NOBLOCK)
            except zmq.Again:  # high-water mark or the session just went: next turn
                return
            self._cursor = entry.seq
            self._in_flight.append((entry.seq, now))
            if entry.seq <= self._ever_sent:
                self.stats.resent += 1
            else:
                self.stats.sent += 1
                self._ever_sent = entry.seq
        if not entries:  # everything up to the tail was acknowledged meanwhile
            self._cursor = max(self._cursor, tail)

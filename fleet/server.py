"""The live dispatcher's transport: a ZeroMQ ROUTER that journals what trucks send, then acks.

The wire is `fleet.protocol.link`'s: a truck's DEALER (routing id = its serialNumber)
sends `[full topic, JSON]`; crane adapters send CraneEvents on
`yardfleet/v1/crane/<craneId>/craneEvent` the same way. For every message the server

1. decodes it with `fleet.protocol.codec.decode` (the topic's serialNumber must be the
   sender's routing id and the payload's); a bad one is logged with the sender, the topic
   and the field, counted, and dropped: the server keeps serving;
2. appends it to the journal under its dedupe key (`msg:<serial>:<topic>:<headerId>:<boot>`,
   `crane:<craneId>:<headerId>:<timestamp>`), so a resend is stored once: state and
   factsheet as `msg.state` / `msg.factsheet`, connection as `truck.connection`, crane
   events as `crane.event` (see `fleet.events`); visualization is not journalled, only
   the latest pose is kept in memory;
3. only then acknowledges (`link.encode_ack`, headerIds batched per topic and boot): an
   ack means the message is durable, and a resend is acked again;
4. passes each new message (not a resend) to the `Handler`, and sends what it returns.

A truck not heard for `broken_after_s` gets a `truck.connection` CONNECTIONBROKEN event
recorded by the server (at the server's clock), as a broker's last will would. The server
holds no dispatch logic: that is the handler's.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import msgspec
import zmq

from fleet.events import crane_event, truck_connection
from fleet.journal import Event, Journal
from fleet.protocol import link
from fleet.protocol.builders import make_connection
from fleet.protocol.codec import Message, decode, encode, message_topic
from fleet.protocol.connection import Connection, ConnectionState
from fleet.protocol.crane import CraneEvent
from fleet.protocol.errors import ProtocolError
from fleet.protocol.factsheet import Factsheet
from fleet.protocol.instant_actions import InstantActions
from fleet.protocol.order import Order
from fleet.protocol.state import State
from fleet.protocol.topics import CRANE_EVENT_TOPIC, parse_topic
from fleet.protocol.visualization import Visualization

__all__ = [
    "DEFAULT_BIND",
    "DEFAULT_BROKEN_AFTER_S",
    "Delivery",
    "Handler",
    "Intake",
    "NullHandler",
    "Pose",
    "Server",
    "ServerStats",
]

log = logging.getLogger(__name__)

DEFAULT_BIND = "tcp://127.0.0.1:5555"
DEFAULT_BROKEN_AFTER_S = 15.0
"""Three times the expected state interval (5 s) of silence: the link is broken."""
HEARTBEAT_MS = 1000
"""ZMTP heartbeats: a PING every second; a peer silent for 5 s is disconnected."""
HEARTBEAT_TIMEOUT_MS = 5000
BATCH = 256
"""At most this many messages per journal transaction (one commit, then their acks)."""
SEND_QUEUE = 100_000
"""Messages (acks, orders) queued per truck before sending to it fails (ZMQ_SNDHWM)."""
TICK_S = 0.1
"""How often the server looks for silent trucks and for a stop request."""
HANDLER_TICK_S = 5.0
"""How often a handler that has a `tick` is asked to look again."""


class Handler(Protocol):
    """What the dispatcher core does with each new message: orders to send back."""

    def on_message(
        self, truck: str, topic: str, message: Message, at: float
    ) -> list[tuple[str, Message]]:
        """`truck` (for a crane event: the crane) sent `message` on topic name `topic`,
        received at POSIX time `at`; return (truck, order or instantActions) to send."""
        ...


class NullHandler:
    """The default handler: takes note of nothing, sends nothing."""

    def on_message(
        self, truck: str, topic: str, message: Message, at: float
    ) -> list[tuple[str, Message]]:
        """Nothing to send."""
        return []


@dataclass
class ServerStats:
    """What the server has done so far."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    errors: int = 0
    acked: int = 0
    acks_dropped: int = 0
    visualizations: int = 0
    sent: int = 0
    undeliverable: int = 0
    broken: int = 0

    def line(self) -> str:
        """The counts on one line."""
        return ", ".join(f"{f.name} {getattr(self, f.name)}" for f in fields(self))


class Pose(NamedTuple):
    """A truck's latest pose from visualization (or state), for the console."""

    x: float
    y: float
    theta: float
    map_id: str
    at: float


@dataclass(slots=True)
class _Link:
    """What the server knows of one truck's link."""

    manufacturer: str
    boot: str
    last_heard: float
    last_id: str
    state: ConnectionState = ConnectionState.ONLINE


class _Taken(NamedTuple):
    """One decoded message, with its journal event (None: not journalled) and ack."""

    sender: bytes
    subject: str
    topic: str
    message: Message
    event: Event | None
    header_id: int | None
    boot: str


def _iso(posix: float) -> str:
    return datetime.fromtimestamp(posix, UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one batch of messages gave: the acks to send and the handler's messages."""

    acks: list[tuple[bytes, link.Ack]]
    """(sender, ack) for every stored or resent message with a headerId."""
    outgoing: list[tuple[str, Message]]
    """(truck, order or instant actions) the handler returned for the new messages."""


class Intake:
    """The server without its socket: decode, check, journal, dedupe, ack, hand over.

    `dispatcher serve` runs it behind its ROUTER; the simulator feeds it the bytes its
    trucks and cranes send, in simulated time. `now` is POSIX time (the journal's and the
    handler's clock), `mono` a monotonic clock for silences (the simulator passes its
    own).
    """

    def __init__(
        self,
        journal: Journal,
        handler: Handler | None = None,
        *,
        broken_after_s: float = DEFAULT_BROKEN_AFTER_S,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.journal = journal
        self.handler: Handler = handler or NullHandler()
        self.broken_after_s = broken_after_s
        self.stats = ServerStats()
        self.poses: dict[str, Pose] = {}
        self.last_error = ""
        self._echo = echo or (lambda _line: None)
        self._links: dict[str, _Link] = {}
        self._last_tick = -math.inf

    def take(self, batch: list[list[bytes]], now: float, mono: float) -> Delivery:
        """One batch of messages as received (`[sender, topic, JSON]` each): journalled in
        one transaction, then acked, then new ones handed over."""
        taken: list[_Taken] = []
        for frames in batch:
            self.stats.received += 1
            item = self._take(frames, now)
            if item is not None:
                taken.append(item)
        if not taken:
            return Delivery([], [])
        events = [t.event for t in taken if t.event is not None]
        try:
            seqs = iter(self.journal.append_all(events))
        except Exception as exc:  # a journal that cannot write: ack nothing, keep serving
            self.stats.errors += len(taken)
            self._error(f"journal write failed, {len(events)} message(s) not acked: {exc}")
            return Delivery([], [])
        new: list[_Taken] = []
        for item in taken:
            if item.event is None or next(seqs) is not None:
                new.append(item)
                self.stats.stored += item.event is not None
            else:
                self.stats.duplicates += 1
        acks = self._acks(taken)
        for item in taken:
            if not isinstance(item.message, CraneEvent):
                self._heard(item, now, mono)
        outgoing: list[tuple[str, Message]] = []
        for item in new:
            outgoing += self.hand_over(item.subject, item.topic, item.message, now)
        return Delivery(acks, outgoing)

    def _take(self, frames: list[bytes], now: float) -> _Taken | None:
        """Decode and check one message; None (logged, counted) if it is refused."""
        sender = frames[0]
        who = sender.decode("utf-8", "backslashreplace")
        topic_text = frames[1].decode("utf-8", "backslashreplace") if len(frames) > 1 else "?"
        try:
            if len(frames) != 3:
                raise ProtocolError("frames", f"expected [topic, JSON], got {len(frames) - 1}")
            message = decode(topic_text, frames[2])
            if isinstance(message, CraneEvent):
                return self._crane(sender, message)
            serial = parse_topic(topic_text).serial_number
            if serial != who:
                raise ProtocolError(
                    "serialNumber",
                    f"{serial!r} in the topic is not the sender's routing id {who!r}",
                    context="topic",
                )
            return self._truck(sender, who, topic_text, message, now)
        except ProtocolError as exc:
            self.stats.errors += 1
            self._error(f"refused a message from {who!r} on topic {topic_text!r}: {exc}")
            return None
        except Exception as exc:  # whatever else a message does to us, the server goes on
            self.stats.errors += 1
            self._error(f"could not take a message from {who!r} on {topic_text!r}: {exc!r}")
            return None

    def _truck(
        self, sender: bytes, truck: str, topic_text: str, message: Message, now: float
    ) -> _Taken:
        """A truck's message and its journal event."""
        if isinstance(message, Order | InstantActions | CraneEvent):  # (crane: for the types)
            raise ProtocolError(
                "topic", "orders and instant actions go to trucks, not from them", context="topic"
            )
        name = parse_topic(topic_text).topic.value
        key = link.dedupe_key(name, message)
        event_id = f"msg:{key.serial_number}:{key.topic}:{key.header_id}:{key.boot_id}"
        at = _iso(now) if message.timestamp is None else message.timestamp.isoformat()
        event: Event | None = None
        if isinstance(message, Visualization):
            self.stats.visualizations += 1
            if message.agv_position is not None:
                p = message.agv_position
                self.poses[truck] = Pose(p.x, p.y, p.theta, p.map_id, now)
        elif isinstance(message, Connection):
            event = truck_connection(
                event_id, truck, at, state=message.connection_state.value, boot=key.boot_id
            )
        else:
            assert isinstance(message, State | Factsheet)
            if isinstance(message, State) and message.agv_position is not None:
                p = message.agv_position
                self.poses[truck] = Pose(p.x, p.y, p.theta, p.map_id, now)
            body = {"truck": truck, "boot": key.boot_id, "message": msgspec.to_builtins(message)}
            event = Event(event_id, f"msg.{name}", at, body)
        return _Taken(sender, truck, name, message, event, message.header_id, key.boot_id)

    def _crane(self, sender: bytes, message: CraneEvent) -> _Taken:
        """A crane event and its journal event."""
        at = message.timestamp.isoformat()
        event = crane_event(
            f"crane:{message.crane_id}:{message.header_id}:{at}",
            message.crane_id,
            at,
            crane_kind=message.crane_kind.value,
            event=message.event.value,
            job=message.job_id,
            truck=message.truck_id,
            seq=message.sequence,
        )
        name = CRANE_EVENT_TOPIC
        return _Taken(sender, message.crane_id, name, message, event, message.header_id, "")

    @staticmethod
    def _acks(taken: list[_Taken]) -> list[tuple[bytes, link.Ack]]:
        """What is now stored, acknowledged: one ack per sender, topic and boot."""
        groups: dict[tuple[bytes, str, str], list[int]] = {}
        for item in taken:
            if item.header_id is None:
                continue
            ids = groups.setdefault((item.sender, item.topic, item.boot), [])
            if item.header_id not in ids:
                ids.append(item.header_id)
        return [(sender, link.Ack(name, ids, boot)) for (sender, name, boot), ids in groups.items()]

    # --- links -----------------------------------------------------------------------

    def _heard(self, item: _Taken, now: float, mono: float) -> None:
        """A truck spoke: it is online (or, by its own connection message, not)."""
        truck, message = item.subject, item.message
        current = self._links.get(truck)
        manufacturer = getattr(message, "manufacturer", None) or (
            current.manufacturer if current else ""
        )
        event_id = item.event.event_id if item.event is not None else f"vis:{truck}:{now}"
        state = (
            message.connection_state if isinstance(message, Connection) else ConnectionState.ONLINE
        )
        boot = item.boot or (current.boot if current else "")
        if current is None or current.state != state or (item.boot and current.boot != boot):
            if state is ConnectionState.ONLINE:
                self._echo(f"{truck} connected (boot {boot[:8] or '-'})")
            else:
                self._echo(f"{truck} {state.value.lower()} (said so itself)")
        if current is None:
            self._links[truck] = _Link(manufacturer, boot, mono, event_id, state)
        else:
            current.manufacturer, current.boot, current.last_heard = manufacturer, boot, mono
            current.last_id, current.state = event_id, state

    def check_silence(self, now: float, mono: float) -> list[tuple[str, Message]]:
        """Record CONNECTIONBROKEN for every online truck silent for `broken_after_s`;
        what the handler sends on hearing it."""
        out: list[tuple[str, Message]] = []
        for truck, lk in list(self._links.items()):
            silent = mono - lk.last_heard
            if lk.state is not ConnectionState.ONLINE or silent < self.broken_after_s:
                continue
            event = truck_connection(
                f"broken:{truck}:{lk.last_id}",
                truck,
                _iso(now),
                state=ConnectionState.CONNECTIONBROKEN.value,
                boot=lk.boot,
            )
            try:
                self.journal.append(event)
            except Exception as exc:  # try again at the next tick
                self._error(f"journal write failed for {truck}'s CONNECTIONBROKEN: {exc}")
                continue
            lk.state = ConnectionState.CONNECTIONBROKEN
            self.stats.broken += 1
            self._echo(f"{truck} connection broken: silent for {silent:.1f} s")
            if lk.manufacturer:
                will = make_connection(
                    lk.manufacturer,
                    truck,
                    ConnectionState.CONNECTIONBROKEN,
                    boot_id=lk.boot or None,
                )
                out += self.hand_over(truck, "connection", will, now)
        return out

    def tick(self, now: float, every_s: float = HANDLER_TICK_S) -> list[tuple[str, Message]]:
        """Let a handler with a `tick(at)` look again, at most every `every_s` seconds."""
        tick = getattr(self.handler, "tick", None)
        if tick is None or now - self._last_tick < every_s:
            return []
        self._last_tick = now
        try:
            return list(tick(now))
        except Exception:
            self.stats.errors += 1
            log.exception("the handler's tick failed")
            return []

    def hand_over(
        self, subject: str, topic: str, message: Message, now: float
    ) -> list[tuple[str, Message]]:
        """Give the handler a new message; what it returns to send."""
        try:
            return self.handler.on_message(subject, topic, message, now)
        except Exception:
            self.stats.errors += 1
            log.exception("the handler failed on %s from %s", topic, subject)
            return []

    def _error(self, text: str) -> None:
        self.last_error = text
        log.error("%s", text)


class Server:
    """The dispatcher's ROUTER: receive, journal, ack, hand over, send; until stopped."""

    def __init__(
        self,
        journal: Journal,
        bind: str = DEFAULT_BIND,
        *,
        handler: Handler | None = None,
        broken_after_s: float = DEFAULT_BROKEN_AFTER_S,
        echo: Callable[[str], None] | None = None,
        context: zmq.Context[Any] | None = None,
    ) -> None:
        """Bind now (so a port in use fails here); `tcp://127.0.0.1:*` takes a free port."""
        self.intake = Intake(journal, handler, broken_after_s=broken_after_s, echo=echo)
        self._stop = threading.Event()
        self._context = context or zmq.Context.instance()
        sock = self._context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # sending to an absent truck is an error
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a truck reconnecting takes over its id
        sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_MS)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
        sock.setsockopt(zmq.HEARTBEAT_TTL, HEARTBEAT_TIMEOUT_MS)
        sock.setsockopt(zmq.SNDHWM, SEND_QUEUE)
        sock.setsockopt(zmq.LINGER, 1000)
        try:
            sock.bind(bind)
        except zmq.ZMQError:
            sock.close(linger=0)
            raise
        self._socket = sock
        self.endpoint: str = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.on_loop: list[Callable[[float], list[tuple[str, Message]]]] = []
        """Called with the POSIX time on every turn of the loop (the console's bridge);
        what they return is sent. Run on the server's thread: the handler's thread."""

    @property
    def journal(self) -> Journal:
        return self.intake.journal

    @property
    def handler(self) -> Handler:
        return self.intake.handler

    @property
    def stats(self) -> ServerStats:
        return self.intake.stats

    @property
    def poses(self) -> dict[str, Pose]:
        return self.intake.poses

    @property
    def last_error(self) -> str:
        return self.intake.last_error

    def stop(self) -> None:
        """Ask `run` to return after the current batch (thread- and signal-safe)."""
        self._stop.set()

    def run(self, seconds: float | None = None) -> ServerStats:
        """Serve until `stop` (or for `seconds`), then close the socket."""
        end = None if seconds is None else time.monotonic() + seconds
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        intake = self.intake
        try:
            while not self._stop.is_set():
                timeout = TICK_S
                if end is not None:
                    timeout = min(timeout, end - time.monotonic())
                    if timeout <= 0:
                        break
                if poller.poll(max(1, int(timeout * 1000))):
                    self._serve_batch()
                self._send_all(intake.check_silence(time.time(), time.monotonic()))
                self._send_all(intake.tick(time.time()))
                for hook in self.on_loop:
                    self._send_all(hook(time.time()))
        finally:
            self._socket.close()
        return self.stats

    def _serve_batch(self) -> None:
        """Read what is waiting (up to BATCH), take it, ack, send what the handler says."""
        batch: list[list[bytes]] = []
        for _ in range(BATCH):
            try:
                batch.append(self._socket.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                break
        if not batch:
            return
        delivery = self.intake.take(batch, time.time(), time.monotonic())
        for sender, ack in delivery.acks:
            try:
                self._socket.send_multipart([sender, *link.encode_ack(ack)], zmq.NOBLOCK)
                self.stats.acked += len(ack.header_ids)
            except zmq.ZMQError as exc:  # gone, or not reading: it resends, is acked then
                self.stats.acks_dropped += len(ack.header_ids)
                log.warning("ack to %r not sent: %s", sender, exc)
        self._send_all(delivery.outgoing)

    def _send_all(self, outgoing: list[tuple[str, Message]]) -> None:
        for truck, reply in outgoing:
            self.send(truck, reply)

    # --- sending ---------------------------------------------------------------------

    def send(self, truck: str, message: Message) -> bool:
        """Send an order or instant actions to a connected truck (from the server's thread)."""
        try:
            frames = [truck.encode(), message_topic(message).encode(), encode(message)]
            self._socket.send_multipart(frames, zmq.NOBLOCK)
        except (zmq.ZMQError, ProtocolError) as exc:
            self.stats.undeliverable += 1
            log.warning("could not send %s to %s: %s", type(message).__name__, truck, exc)
            return False
        self.stats.sent += 1
        return True

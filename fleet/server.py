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

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import msgspec
import zmq
from zmq.auth.thread import ThreadAuthenticator

from fleet.events import crane_event, truck_connection
from fleet.guard import Guard, Limits, Refusals, Refused, header_of, topic_name
from fleet.journal import Event, Journal
from fleet.keys import DISPATCHER, SECRET, Badge, KeyFileError, Roster, load_pair
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
    nacked: int = 0

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
    joined: bool = False
    """Whether it ever sent a state or factsheet (a link that never did is forgotten
    once it breaks)."""


class _Taken(NamedTuple):
    """One decoded message, with its journal event (None: not journalled) and ack."""

    sender: bytes
    subject: str
    topic: str
    message: Message
    event: Event | None
    header_id: int | None
    boot: str
    digest: str | None = None


Vet = Callable[[Message], None]
"""A check of one decoded message that raises `fleet.guard.Refused` (the socket server's)."""


def _iso(posix: float) -> str:
    return datetime.fromtimestamp(posix, UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one batch of messages gave: the acks to send and the handler's messages."""

    acks: list[tuple[bytes, link.Ack]]
    """(sender, ack) for every stored or resent message with a headerId."""
    outgoing: list[tuple[str, Message]]
    """(truck, order or instant actions) the handler returned for the new messages."""
    nacks: list[tuple[bytes, link.Nack]] = field(default_factory=list)
    """(sender, nack) for every message refused for good."""


class Intake:
    """The server without its socket: decode, check, journal, dedupe, ack, hand over.

    `dispatcher serve` runs it behind its ROUTER; the simulator feeds it the bytes its
    trucks and cranes send, in simulated time. `now` is POSIX time (the journal's and the
    handler's clock), `mono` a monotonic clock for silences (the simulator passes its
    own).

    `canonical` (the simulator's): every sender encodes with `fleet.protocol.codec.encode`,
    so a message's bytes are what encoding the decoded message again gives; the journal
    stores them as they came instead of encoding the message a second time. A live
    server's senders are other programs: it re-encodes what it decoded (the default).
    """

    def __init__(
        self,
        journal: Journal,
        handler: Handler | None = None,
        *,
        broken_after_s: float = DEFAULT_BROKEN_AFTER_S,
        echo: Callable[[str], None] | None = None,
        canonical: bool = False,
    ) -> None:
        self.journal = journal
        self.canonical = canonical
        self.handler: Handler = handler or NullHandler()
        self.broken_after_s = broken_after_s
        self.stats = ServerStats()
        self.poses: dict[str, Pose] = {}
        self.refusals = Refusals(log)
        self._echo = echo or (lambda _line: None)
        self._links: dict[str, _Link] = {}
        self._last_tick = -math.inf

    @property
    def last_error(self) -> str:
        """The last refusal or failure, in words."""
        return self.refusals.last

    def take(
        self,
        batch: list[list[bytes]],
        now: float,
        mono: float,
        *,
        vet: Callable[[int], Vet] | None = None,
    ) -> Delivery:
        """One batch of messages as received (`[sender, topic, JSON]` each): journalled in
        one transaction, then acked, then new ones handed over. `vet(i)`, when given, is
        a further check of the i-th message once decoded (the socket server's keys and
        clock); a message it refuses is nacked like one that does not decode."""
        taken: list[_Taken] = []
        nacks: list[tuple[bytes, link.Nack]] = []
        for i, frames in enumerate(batch):
            self.stats.received += 1
            item = self._take(frames, now, mono, nacks, None if vet is None else vet(i))
            if item is not None:
                taken.append(item)
        if not taken:
            return Delivery([], [], nacks)
        events = [t.event for t in taken if t.event is not None]
        try:
            seqs = self.journal.append_all(events)
        except Exception as exc:  # a journal that cannot write: ack nothing, keep serving
            self.stats.errors += len(taken)
            self._error(f"journal write failed, {len(events)} message(s) not acked: {exc}")
            return Delivery([], [], nacks)
        kept, new = self._sort(taken, seqs, mono, nacks)
        acks = self._acks(kept)
        for item in kept:
            if not isinstance(item.message, CraneEvent):
                self._heard(item, now, mono)
        outgoing: list[tuple[str, Message]] = []
        for item in new:
            outgoing += self.hand_over(item.subject, item.topic, item.message, now)
        return Delivery(acks, outgoing, nacks)

    def _sort(
        self,
        taken: list[_Taken],
        seqs: list[int | None],
        mono: float,
        nacks: list[tuple[bytes, link.Nack]],
    ) -> tuple[list[_Taken], list[_Taken]]:
        """(kept, new): stored now or a true resend (kept; new: stored now); a resend whose
        content differs from what is stored under its id is refused."""
        stored = iter(seqs)
        new: list[_Taken] = []
        again: list[_Taken] = []
        for item in taken:
            if item.event is None or next(stored) is not None:
                new.append(item)
                self.stats.stored += item.event is not None
            else:
                again.append(item)
        if not again:
            return taken, new
        digests = self.journal.digests(t.event.event_id for t in again if t.event is not None)
        differs: set[int] = set()
        for item in again:
            assert item.event is not None
            was = digests.get(item.event.event_id)
            if was is not None and item.digest is not None and was != item.digest:
                differs.add(id(item))
                self._refuse_differing(item, mono, nacks)
            else:
                self.stats.duplicates += 1
        return [t for t in taken if id(t) not in differs], new

    def _refuse_differing(
        self, item: _Taken, mono: float, nacks: list[tuple[bytes, link.Nack]]
    ) -> None:
        assert item.event is not None
        text = (
            f"refused a message from {item.sender.decode('utf-8', 'replace')!r} on topic "
            f"{item.topic!r}: content-differs: headerId {item.header_id} is stored "
            f"({item.event.event_id}) with other content"
        )
        self.stats.errors += 1
        self.refusals.note("content-differs", item.topic, text, mono)
        nack = link.Nack(item.topic, item.header_id, item.boot, "content-differs", text)
        nacks.append((item.sender, nack))

    def _take(
        self,
        frames: list[bytes],
        now: float,
        mono: float,
        nacks: list[tuple[bytes, link.Nack]],
        vet: Vet | None,
    ) -> _Taken | None:
        """Decode and check one message; None (logged, counted, nacked) if it is refused."""
        sender = frames[0]
        who = sender.decode("utf-8", "backslashreplace")
        topic_text = frames[1].decode("utf-8", "backslashreplace") if len(frames) > 1 else "?"
        try:
            if len(frames) != 3:
                raise ProtocolError("frames", f"expected [topic, JSON], got {len(frames) - 1}")
            message = decode(topic_text, frames[2])
            if vet is not None:
                vet(message)
            digest = hashlib.blake2b(frames[2], digest_size=16).hexdigest()
            if isinstance(message, CraneEvent):
                return _digested(self._crane(sender, message), digest)
            serial = parse_topic(topic_text).serial_number
            if serial != who:
                raise ProtocolError(
                    "serialNumber",
                    f"{serial!r} in the topic is not the sender's routing id {who!r}",
                    context="topic",
                )
            raw = msgspec.Raw(frames[2]) if self.canonical else None
            return _digested(self._truck(sender, who, topic_text, message, now, raw), digest)
        except ProtocolError as exc:
            text = f"refused a message from {who!r} on topic {topic_text!r}: {exc}"
            self.refuse(
                frames, _reason(exc), f"{exc.path[:60]} {exc.reason[:30]}", text, mono, nacks
            )
        except Refused as exc:
            text = f"refused a message from {who!r} on topic {topic_text!r}: {exc.reason}: {exc}"
            self.refuse(frames, exc.reason, exc.reason, text, mono, nacks if exc.answer else None)
        except Exception as exc:  # whatever else a message does to us, the server goes on
            self.stats.errors += 1
            self._error(f"could not take a message from {who!r} on {topic_text!r}: {exc!r}")
        return None

    def refuse(
        self,
        frames: list[bytes],
        reason: str,
        kind: str,
        text: str,
        mono: float,
        nacks: list[tuple[bytes, link.Nack]] | None,
    ) -> None:
        """Count and log a refused message; nack it (into `nacks`, when given)."""
        self.stats.errors += 1
        self.refusals.note(reason, kind, text, mono)
        if nacks is None or len(frames) < 2:
            return
        header_id, boot = header_of(frames[2]) if len(frames) == 3 else (None, "")
        nacks.append((frames[0], link.Nack(topic_name(frames[1]), header_id, boot, reason, text)))

    def _truck(
        self,
        sender: bytes,
        truck: str,
        topic_text: str,
        message: Message,
        now: float,
        raw: msgspec.Raw | None = None,
    ) -> _Taken:
        """A truck's message and its journal event (`raw`: its bytes, see `canonical`)."""
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
            # The struct itself: the journal encodes it as to_builtins would, in one pass.
            body = {"truck": truck, "boot": key.boot_id, "message": message if raw is None else raw}
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
        joined = isinstance(message, State | Factsheet)
        if current is None:
            self._links[truck] = _Link(manufacturer, boot, mono, event_id, state, joined)
        else:
            current.manufacturer, current.boot, current.last_heard = manufacturer, boot, mono
            current.last_id, current.state = event_id, state
            current.joined = current.joined or joined

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
            if not lk.joined:  # never a state or factsheet: nothing to keep of it
                del self._links[truck]
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
        self.refusals.last = text
        log.error("%s", text)


def _digested(item: _Taken, digest: str) -> _Taken:
    """The message with the digest of its bytes, kept in the journal with its event."""
    event = item.event
    if event is not None:
        event = Event(event.event_id, event.kind, event.at, event.body, digest)
    return item._replace(event=event, digest=digest)


def _reason(exc: ProtocolError) -> str:
    """The nack reason of a message that does not decode."""
    if exc.path == "frames":
        return "frames"
    if exc.reason.startswith("malformed JSON") or "not valid UTF-8" in exc.reason:
        return "not-json"
    return "invalid"


class Server:
    """The dispatcher's ROUTER: receive, journal, ack, hand over, send; until stopped.

    With `keys` (a folder of `fleet.keys` certificates) the socket is a CURVE server with
    the folder's `dispatcher.key_secret`, a ZAP handler admits only the public keys
    enrolled there, and `fleet.guard.Guard` holds each key to its name and role;
    `reload()` (SIGHUP) re-reads the folder: a key taken out of it is refused from then
    on. `limits` bound sizes and clock skew (against `clock`, POSIX seconds).
    """

    def __init__(
        self,
        journal: Journal,
        bind: str = DEFAULT_BIND,
        *,
        handler: Handler | None = None,
        broken_after_s: float = DEFAULT_BROKEN_AFTER_S,
        echo: Callable[[str], None] | None = None,
        context: zmq.Context[Any] | None = None,
        keys: Path | None = None,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Bind now (so a port in use fails here); `tcp://127.0.0.1:*` takes a free port.
        KeyFileError when `keys` is given but holds no usable dispatcher key."""
        self.intake = Intake(journal, handler, broken_after_s=broken_after_s, echo=echo)
        self.keys = keys
        roster = None if keys is None else Roster.load(keys)
        self.guard = Guard(limits, roster, clock)
        self.intake.refusals.every_s = self.guard.limits.log_every_s
        self.reloads = 0
        self._reload = threading.Event()
        self._routes: dict[bytes, str] = {}
        """Per routing id, the User-Id (public key) of the last message accepted from it."""
        self._stop = threading.Event()
        self.public_key: bytes | None = None
        """With keys: the dispatcher's public key (Z85), the one agents pin."""
        self._auth: ThreadAuthenticator | None = None
        self._own_context = keys is not None and context is None
        self._context = context or (zmq.Context() if keys else zmq.Context.instance())
        sock = self._context.socket(zmq.ROUTER)
        try:
            if keys is not None:
                self._curve(sock, keys)
            self._configure(sock)
            sock.bind(bind)
        except (zmq.ZMQError, KeyFileError):
            self._close(sock)
            raise
        self._socket = sock
        self.endpoint: str = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.on_loop: list[Callable[[float], list[tuple[str, Message]]]] = []
        """Called with the POSIX time on every turn of the loop (the console's bridge);
        what they return is sent. Run on the server's thread: the handler's thread."""

    def _configure(self, sock: zmq.Socket[Any]) -> None:
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # sending to an absent truck is an error
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a truck reconnecting takes over its id
        sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_MS)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
        sock.setsockopt(zmq.HEARTBEAT_TTL, HEARTBEAT_TIMEOUT_MS)
        sock.setsockopt(zmq.SNDHWM, SEND_QUEUE)
        sock.setsockopt(zmq.MAXMSGSIZE, self.guard.limits.max_frame_bytes)
        sock.setsockopt(zmq.LINGER, 1000)

    def _curve(self, sock: zmq.Socket[Any], keys: Path) -> None:
        """CURVE with the dispatcher's own pair; a ZAP handler that asks the roster."""
        public, secret = load_pair(keys / f"{DISPATCHER}{SECRET}")
        for problem in self.guard.roster.problems if self.guard.roster else ():
            log.warning("keys: %s (not enrolled)", problem)
        self._auth = ThreadAuthenticator(self._context, log=logging.getLogger("fleet.zap"))
        self._auth.start()
        self._auth.configure_curve_callback("*", credentials_provider=self)
        sock.curve_server = True
        sock.curve_secretkey = secret
        sock.curve_publickey = public
        self.public_key = public

    def callback(self, domain: str, key: bytes) -> bool:
        """The ZAP handler's question (on its thread): is this public key (Z85) enrolled?"""
        roster = self.guard.roster
        return roster is not None and roster.admits(key)

    def reload(self) -> None:
        """Re-read the keys folder at the next turn of the loop (thread- and signal-safe)."""
        self._reload.set()

    def _reload_keys(self) -> None:
        self._reload.clear()
        if self.keys is None:
            return
        try:
            roster = Roster.load(self.keys)
        except KeyFileError as exc:
            log.error("keys not re-read, the old ones stay: %s", exc)
            return
        old = self.guard.roster
        gone = (
            [] if old is None else [b.name for k, b in old.by_key.items() if k not in roster.by_key]
        )
        self.guard.roster = roster
        for sender, user in list(self._routes.items()):
            if roster.badge(user) is None:
                del self._routes[sender]
        self.reloads += 1
        for problem in roster.problems:
            log.warning("keys: %s (not enrolled)", problem)
        revoked = f"; revoked: {', '.join(sorted(gone))}" if gone else ""
        self._echo(f"keys re-read from {self.keys}: {len(roster)} enrolled{revoked}")

    def _echo(self, line: str) -> None:
        self.intake._echo(line)

    def _close(self, sock: zmq.Socket[Any]) -> None:
        sock.close(linger=0)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        if self._own_context:
            self._context.term()

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
                if self._reload.is_set():
                    self._reload_keys()
                if poller.poll(max(1, int(timeout * 1000))):
                    self._serve_batch()
                self._send_all(intake.check_silence(time.time(), time.monotonic()))
                self._send_all(intake.tick(time.time()))
                intake.refusals.flush(time.monotonic())
                for hook in self.on_loop:
                    self._send_all(hook(time.time()))
        finally:
            self._socket.setsockopt(zmq.LINGER, 1000)
            self._close(self._socket)
        return self.stats

    def _serve_batch(self) -> None:
        """Read what is waiting (up to BATCH), check it, take it, ack and nack, send what
        the handler says."""
        batch: list[list[bytes]] = []
        badges: list[Badge | None] = []
        nacks: list[tuple[bytes, link.Nack]] = []
        mono = time.monotonic()
        for _ in range(BATCH):
            try:
                frames, user = self._recv()
            except zmq.Again:
                break
            self._admit(frames, user, mono, batch, badges, nacks)
        delivery = Delivery([], [], [])
        if batch:
            guard = self.guard

            def vet(i: int) -> Vet:
                return lambda message: guard.after(badges[i], message)

            delivery = self.intake.take(batch, time.time(), mono, vet=vet)
        for sender, ack in delivery.acks:
            self._answer(sender, link.encode_ack(ack), len(ack.header_ids), "ack")
        for sender, nack in nacks + delivery.nacks:
            self._answer(sender, link.encode_nack(nack), 1, "nack")
        self._send_all(delivery.outgoing)

    def _recv(self) -> tuple[list[bytes], str | None]:
        """One message's frames and, with keys, its connection's User-Id (public key)."""
        if self.guard.roster is None:
            return self._socket.recv_multipart(zmq.NOBLOCK), None
        parts = self._socket.recv_multipart(zmq.NOBLOCK, copy=False)
        return [p.bytes for p in parts], str(parts[0].get("User-Id"))

    def _admit(
        self,
        frames: list[bytes],
        user: str | None,
        mono: float,
        batch: list[list[bytes]],
        badges: list[Badge | None],
        nacks: list[tuple[bytes, link.Nack]],
    ) -> None:
        """The guard's word before decoding: into the batch, or refused (and nacked)."""
        try:
            badge = self.guard.before(frames, user)
        except Refused as exc:
            self.stats.received += 1
            if not exc.answer:  # not who it says: its route may be taken, send it nothing
                self._routes.pop(frames[0], None)
            who = frames[0].decode("utf-8", "backslashreplace")
            topic = frames[1].decode("utf-8", "backslashreplace") if len(frames) > 1 else "?"
            text = f"refused a message from {who!r} on topic {topic!r}: {exc.reason}: {exc}"
            answer = nacks if exc.answer else None
            self.intake.refuse(frames, exc.reason, exc.reason, text, mono, answer)
            return
        if user is not None:
            self._routes[frames[0]] = user
        batch.append(frames)
        badges.append(badge)

    def _answer(self, sender: bytes, frames: list[bytes], count: int, what: str) -> None:
        """Send an ack or a nack (dropped, counted, when the sender is gone or not reading)."""
        try:
            self._socket.send_multipart([sender, *frames], zmq.NOBLOCK)
        except zmq.ZMQError as exc:  # gone, or not reading: it resends, is answered then
            self.stats.acks_dropped += count
            log.warning("%s to %r not sent: %s", what, sender, exc)
            return
        if what == "ack":
            self.stats.acked += count
        else:
            self.stats.nacked += count

    def _send_all(self, outgoing: list[tuple[str, Message]]) -> None:
        for truck, reply in outgoing:
            self.send(truck, reply)

    # --- sending ---------------------------------------------------------------------

    def send(self, truck: str, message: Message) -> bool:
        """Send an order or instant actions to a connected truck (from the server's thread);
        with keys, only over a route its own key last spoke on."""
        if not self._trusted(truck):
            self.stats.undeliverable += 1
            log.warning(
                "not sending %s to %s: no session of its key", type(message).__name__, truck
            )
            return False
        try:
            frames = [truck.encode(), message_topic(message).encode(), encode(message)]
            self._socket.send_multipart(frames, zmq.NOBLOCK)
        except (zmq.ZMQError, ProtocolError) as exc:
            self.stats.undeliverable += 1
            log.warning("could not send %s to %s: %s", type(message).__name__, truck, exc)
            return False
        self.stats.sent += 1
        return True

    def _trusted(self, truck: str) -> bool:
        """Whether the route to `truck` is its own key's (always, without keys)."""
        roster = self.guard.roster
        if roster is None:
            return True
        user = self._routes.get(truck.encode())
        badge = None if user is None else roster.badge(user)
        return badge is not None and badge.name == truck

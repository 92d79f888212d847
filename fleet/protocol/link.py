"""How messages travel between an onboard agent and the dispatcher over ZeroMQ.

- The agent has a DEALER socket whose routing id is the truck id (its VDA 5050
  `serialNumber`); the dispatcher has a ROUTER. Every message is two frames:
  `[topic, JSON]`, the topic being the full VDA 5050 topic
  (`uagv/v2/<manufacturer>/<serialNumber>/<topic>`) and the JSON the message.
- The dispatcher acknowledges what it has stored with `["ack", {"topic": <topic name>,
  "headerIds": [...], "bootId": <boot id>}]`; the agent drops acknowledged messages
  from its spool and resends the rest, in order, after a reconnect.
- A resend is applied once: the receiver dedupes on `DedupeKey` = (serialNumber, topic,
  headerId, bootId). The boot id is a fresh id per start of the agent, carried in the
  `yardfleet` extension (`bootId`) of state, visualization and connection, so a
  restarted agent whose headerIds start again at 0 is never mistaken for a resend.
- Orders and instant actions go the other way as `[topic, JSON]` on the same socket.

Standard library and msgspec only, like the rest of `fleet.protocol`.
"""

from __future__ import annotations

import json
import uuid
from typing import NamedTuple

from fleet.protocol.codec import Message
from fleet.protocol.connection import Connection
from fleet.protocol.errors import ProtocolError
from fleet.protocol.factsheet import Factsheet
from fleet.protocol.state import State
from fleet.protocol.visualization import Visualization

__all__ = [
    "ACK",
    "Ack",
    "DedupeKey",
    "boot_id_of",
    "decode_ack",
    "dedupe_key",
    "encode_ack",
    "new_boot_id",
]

ACK = b"ack"
"""The first frame of an acknowledgement."""


class DedupeKey(NamedTuple):
    """What makes a message unique across resends and restarts."""

    serial_number: str
    topic: str
    header_id: int
    boot_id: str


class Ack(NamedTuple):
    """The dispatcher has stored these headerIds of one topic from one boot."""

    topic: str
    header_ids: list[int]
    boot_id: str


def new_boot_id() -> str:
    """A fresh boot id (random, 32 hex digits)."""
    return uuid.uuid4().hex


def boot_id_of(message: Message) -> str:
    """The sender's boot id carried in a message ("" when it carries none)."""
    if isinstance(message, State | Visualization | Factsheet) and message.yardfleet is not None:
        return message.yardfleet.boot_id or ""
    if isinstance(message, Connection) and message.yardfleet is not None:
        return message.yardfleet.boot_id
    return ""


def dedupe_key(topic: str, message: State | Visualization | Connection | Factsheet) -> DedupeKey:
    """The key a receiver dedupes `message` (sent on topic name `topic`) on."""
    return DedupeKey(
        message.serial_number or "", topic, message.header_id or 0, boot_id_of(message)
    )


def encode_ack(ack: Ack) -> list[bytes]:
    """The frames of an acknowledgement."""
    body = {"topic": ack.topic, "headerIds": ack.header_ids, "bootId": ack.boot_id}
    return [ACK, json.dumps(body, separators=(",", ":")).encode()]


def decode_ack(body: bytes) -> Ack:
    """An acknowledgement's body, checked; ProtocolError naming the field otherwise.

    As in the messages, a whole float is an integer (`5.0` is 5).
    """
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ProtocolError("$", f"not JSON ({exc})", context="ack") from None
    except RecursionError:
        raise ProtocolError("$", "not JSON (nested too deep to decode)", context="ack") from None
    if not isinstance(data, dict):
        raise ProtocolError("$", "expected an object", context="ack")
    topic = data.get("topic")
    ids = data.get("headerIds")
    boot = data.get("bootId", "")
    if not isinstance(topic, str):
        raise ProtocolError("$.topic", "expected a string", context="ack")
    if isinstance(ids, list):
        ids = [int(i) if isinstance(i, float) and i.is_integer() else i for i in ids]
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids
    ):
        raise ProtocolError(
            "$.headerIds", "expected a list of non-negative integers", context="ack"
        )
    if not isinstance(boot, str):
        raise ProtocolError("$.bootId", "expected a string", context="ack")
    return Ack(topic, ids, boot)

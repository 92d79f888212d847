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
- A message the dispatcher refuses (and will refuse again, however often it is resent)
  gets a negative acknowledgement, `["nack", {"topic": <topic name>, "headerId": <id or
  null>, "bootId": <boot id>, "reason": <code>, "detail": <text>}]`: the agent drops it
  from its spool and logs why, instead of resending it for ever. `reason` is one of
  `REASONS`.
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
    "NACK",
    "REASONS",
    "Ack",
    "DedupeKey",
    "Nack",
    "boot_id_of",
    "decode_ack",
    "decode_nack",
    "dedupe_key",
    "encode_ack",
    "encode_nack",
    "new_boot_id",
]

ACK = b"ack"
"""The first frame of an acknowledgement."""
NACK = b"nack"
"""The first frame of a negative acknowledgement: refused, do not resend."""
REASONS: dict[str, str] = {
    "frames": "not the two frames [topic, JSON]",
    "not-json": "the body is not JSON (or not valid UTF-8)",
    "invalid": "a field or the topic does not follow the protocol",
    "too-large": "larger than the dispatcher takes for this topic",
    "clock-skew": "the timestamp is too far from the dispatcher's clock",
    "content-differs": "a resend under a stored headerId whose content differs",
    "identity": "the sender's key does not stand for this truck or crane",
    "not-allowed": "the sender's role may not send this",
}
"""The `reason` codes of a nack, and what each means."""


class DedupeKey(NamedTuple):
    """What makes a message unique across resends and restarts."""

    serial_number: str
    topic: str
    header_id: int
    boot_id: str


class Nack(NamedTuple):
    """The dispatcher refused this message for good: drop it, do not resend."""

    topic: str
    header_id: int | None
    boot_id: str
    reason: str
    detail: str = ""


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


def encode_nack(nack: Nack) -> list[bytes]:
    """The frames of a negative acknowledgement."""
    body = {
        "topic": nack.topic,
        "headerId": nack.header_id,
        "bootId": nack.boot_id,
        "reason": nack.reason,
        "detail": nack.detail,
    }
    return [NACK, json.dumps(body, separators=(",", ":")).encode()]


def decode_nack(body: bytes) -> Nack:
    """A negative acknowledgement's body, checked; ProtocolError naming the field otherwise."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ProtocolError("$", "not JSON", context="nack") from None
    if not isinstance(data, dict):
        raise ProtocolError("$", "expected an object", context="nack")
    header_id = data.get("headerId")
    if isinstance(header_id, float) and header_id.is_integer():
        header_id = int(header_id)
    if header_id is not None and (
        not isinstance(header_id, int) or isinstance(header_id, bool) or header_id < 0
    ):
        raise ProtocolError("$.headerId", "expected a non-negative integer or null", context="nack")
    texts = {k: data.get(k, "") for k in ("topic", "bootId", "reason", "detail")}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise ProtocolError(f"$.{key}", "expected a string", context="nack")
    return Nack(texts["topic"], header_id, texts["bootId"], texts["reason"], texts["detail"])

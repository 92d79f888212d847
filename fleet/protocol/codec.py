"""Encode messages to JSON bytes and decode them back, validated, with errors that say where.

`decode` takes a topic name ("state"), a full topic (`uagv/v2/Kalmar/TT07/state`, whose
manufacturer and serialNumber must then match the payload's) or a message class. Unknown
fields are ignored (other vendors' extensions); a wrong type, a missing required field, a
bad enum value, a number out of range, a timestamp without an offset (or one whose UTC time
falls outside years 1 to 9999) and JSON nested too deep to decode raise ProtocolError with
the JSON path (`$.nodes[0].sequenceId`) and the reason. As JSON Schema's "integer" does, an
integer field takes a whole float (`"headerId": 5.0` decodes as 5); `5.5` is refused.

Floats must be finite: JSON has no NaN or infinity, msgspec writes them as null, and the
receiver refuses that.
"""

from __future__ import annotations

from typing import Any, TypeVar, overload

import msgspec

from fleet.protocol.connection import Connection
from fleet.protocol.crane import CraneEvent
from fleet.protocol.errors import ProtocolError
from fleet.protocol.factsheet import Factsheet
from fleet.protocol.guards import is_float_for_int, too_deep, whole_floats_as_ints
from fleet.protocol.instant_actions import InstantActions
from fleet.protocol.order import Order
from fleet.protocol.state import State
from fleet.protocol.topics import (
    CRANE_EVENT_TOPIC,
    Topic,
    crane_topic,
    is_crane_topic,
    parse_crane_topic,
    parse_topic,
    topic,
)
from fleet.protocol.visualization import Visualization

__all__ = ["MESSAGE_TYPES", "Message", "decode", "encode", "message_topic", "topic_name"]

Message = Order | InstantActions | State | Visualization | Connection | Factsheet | CraneEvent
"""Every message YardFleet sends or receives."""

M = TypeVar("M", Order, InstantActions, State, Visualization, Connection, Factsheet, CraneEvent)

MESSAGE_TYPES: dict[str, type[Message]] = {
    Topic.ORDER.value: Order,
    Topic.INSTANT_ACTIONS.value: InstantActions,
    Topic.STATE.value: State,
    Topic.VISUALIZATION.value: Visualization,
    Topic.CONNECTION.value: Connection,
    Topic.FACTSHEET.value: Factsheet,
    CRANE_EVENT_TOPIC: CraneEvent,
}
"""Topic name → message class."""

_NAMES: dict[type[Any], str] = {cls: name for name, cls in MESSAGE_TYPES.items()}
_ENCODER = msgspec.json.Encoder()
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {
    cls: msgspec.json.Decoder(cls) for cls in MESSAGE_TYPES.values()
}


def encode(message: Message) -> bytes:
    """The message as compact UTF-8 JSON, camelCase keys, optional fields left out."""
    return _ENCODER.encode(message)


def topic_name(message: Message | type[Message]) -> str:
    """The topic name of a message or message class: "order", "state", "craneEvent", ..."""
    cls = message if isinstance(message, type) else type(message)
    return _NAMES[cls]


def message_topic(message: Message) -> str:
    """The full topic a message is published on, from its own header."""
    if isinstance(message, CraneEvent):
        return crane_topic(message.crane_id)
    if message.manufacturer is None or message.serial_number is None:
        raise ProtocolError(
            "$.serialNumber", "a visualization without manufacturer and serialNumber has no topic"
        )
    return topic(message.manufacturer, message.serial_number, topic_name(message))


@overload
def decode(topic_or_type: type[M], data: bytes | str) -> M: ...
@overload
def decode(topic_or_type: str, data: bytes | str) -> Message: ...
def decode(topic_or_type: str | type[Any], data: bytes | str) -> Message:
    """A validated message from JSON; ProtocolError names the field path and the reason."""
    address: tuple[str, str] | None = None
    crane_id: str | None = None
    if isinstance(topic_or_type, type):
        if topic_or_type not in _DECODERS:
            raise ProtocolError("type", f"{topic_or_type.__name__} is not a message type")
        cls: type[Any] = topic_or_type
    else:
        name = topic_or_type
        if is_crane_topic(topic_or_type):
            crane_id, name = parse_crane_topic(topic_or_type), CRANE_EVENT_TOPIC
        elif "/" in topic_or_type:
            parsed = parse_topic(topic_or_type)
            name, address = parsed.topic.value, (parsed.manufacturer, parsed.serial_number)
        if name not in MESSAGE_TYPES:
            known = ", ".join(MESSAGE_TYPES)
            raise ProtocolError("topic", f"unknown message type {name!r} (known: {known})")
        cls = MESSAGE_TYPES[name]
    try:
        message: Message = _DECODERS[cls].decode(data)
    except msgspec.DecodeError as error:
        message = _decode_again(cls, data, error)
    except RecursionError:
        raise too_deep(data, context=_NAMES[cls]) from None
    if address is not None and not isinstance(message, CraneEvent):
        _check_address(message, address, _NAMES[cls])
    if crane_id is not None and isinstance(message, CraneEvent) and message.crane_id != crane_id:
        raise ProtocolError(
            "$.craneId",
            f"{message.crane_id!r} does not match the topic's {crane_id!r}",
            context=CRANE_EVENT_TOPIC,
        )
    return message


def _decode_again(cls: type[Any], data: bytes | str, error: msgspec.DecodeError) -> Message:
    """After msgspec refused a whole float for an integer: decode with those made ints."""
    context = _NAMES[cls]
    if not is_float_for_int(error):
        raise ProtocolError.from_msgspec(error, context=context) from None
    try:
        message: Message = _DECODERS[cls].decode(whole_floats_as_ints(cls, data))
    except msgspec.DecodeError as again:
        raise ProtocolError.from_msgspec(again, context=context) from None
    except RecursionError:
        raise too_deep(data, context=context) from None
    return message


def _check_address(message: Message, address: tuple[str, str], context: str) -> None:
    """The payload's manufacturer and serialNumber must be the topic's, where it has them."""
    manufacturer, serial = address
    got_manufacturer = getattr(message, "manufacturer", None)
    got_serial = getattr(message, "serial_number", None)
    if got_manufacturer is not None and got_manufacturer != manufacturer:
        raise ProtocolError(
            "$.manufacturer",
            f"{got_manufacturer!r} does not match the topic's {manufacturer!r}",
            context=context,
        )
    if got_serial is not None and got_serial != serial:
        raise ProtocolError(
            "$.serialNumber",
            f"{got_serial!r} does not match the topic's {serial!r}",
            context=context,
        )

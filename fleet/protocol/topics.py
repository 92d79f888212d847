"""Topic names: `uagv/v2/<manufacturer>/<serialNumber>/<topic>` (VDA 5050 §6.3), and ours.

VDA 5050's levels are interfaceName/majorVersion/manufacturer/serialNumber/topic; a
serialNumber uses only A-Z a-z 0-9 _ . : - and no level may hold `/` or `$` (nor MQTT's
wildcards `+` and `#`). Crane events, not being VDA 5050, have their own tree:
`yardfleet/v1/crane/<craneId>/craneEvent`.
"""

from __future__ import annotations

import enum
import functools
import re
from typing import NamedTuple

from fleet.protocol.errors import ProtocolError

__all__ = [
    "CRANE_EVENT_TOPIC",
    "INTERFACE_NAME",
    "MAJOR_VERSION",
    "Topic",
    "TopicAddress",
    "crane_topic",
    "is_crane_topic",
    "parse_crane_topic",
    "parse_topic",
    "topic",
]

INTERFACE_NAME = "uagv"
MAJOR_VERSION = "v2"
CRANE_EVENT_TOPIC = "craneEvent"
_CRANE_PREFIX = ("yardfleet", "v1", "crane")
_SERIAL = re.compile(r"^[A-Za-z0-9_.:\-]+$")
_FORBIDDEN = frozenset("/$+#")


class Topic(enum.StrEnum):
    """The six VDA 5050 topics, named as the spec names them."""

    ORDER = "order"
    INSTANT_ACTIONS = "instantActions"
    STATE = "state"
    VISUALIZATION = "visualization"
    CONNECTION = "connection"
    FACTSHEET = "factsheet"


class TopicAddress(NamedTuple):
    """The five levels of a VDA 5050 topic; `str()` joins them back."""

    interface_name: str
    major_version: str
    manufacturer: str
    serial_number: str
    topic: Topic

    def __str__(self) -> str:
        """The topic string, levels joined with `/`."""
        return "/".join(
            (
                self.interface_name,
                self.major_version,
                self.manufacturer,
                self.serial_number,
                str(self.topic),
            )
        )


def _check_level(level: str, value: str, context: str) -> None:
    """Refuse an empty level or one holding `/`, `$`, `+` or `#`."""
    if not value:
        raise ProtocolError(level, "is empty", context=context)
    bad = sorted(_FORBIDDEN.intersection(value))
    if bad:
        raise ProtocolError(level, f"{value!r} contains {''.join(bad)!r}", context=context)


def _check_serial(level: str, value: str, context: str) -> None:
    """A serial number (or crane id) uses only A-Z a-z 0-9 _ . : -."""
    _check_level(level, value, context)
    if not _SERIAL.match(value):
        raise ProtocolError(
            level, f"{value!r} has characters outside A-Z a-z 0-9 _ . : -", context=context
        )


@functools.lru_cache(maxsize=4096)
def topic(
    manufacturer: str,
    serial_number: str,
    name: Topic | str,
    *,
    interface_name: str = INTERFACE_NAME,
    major_version: str = MAJOR_VERSION,
) -> str:
    """The topic a vehicle's message travels on, e.g. `uagv/v2/Kalmar/TT07/state`.

    Cached: every message sent asks for its topic, and a fleet has a few hundred."""
    context = "topic"
    _check_level("interfaceName", interface_name, context)
    _check_level("majorVersion", major_version, context)
    _check_level("manufacturer", manufacturer, context)
    _check_serial("serialNumber", serial_number, context)
    try:
        kind = Topic(name)
    except ValueError:
        raise ProtocolError("topic", f"unknown topic {name!r}", context=context) from None
    return str(TopicAddress(interface_name, major_version, manufacturer, serial_number, kind))


@functools.lru_cache(maxsize=4096)
def parse_topic(
    text: str, *, interface_name: str = INTERFACE_NAME, major_version: str = MAJOR_VERSION
) -> TopicAddress:
    """The levels of a VDA 5050 topic; a ProtocolError names the level that is wrong.

    Cached: a fleet has a few hundred topics, and each message's decode parses one.
    """
    context = f"topic {text!r}"
    levels = text.split("/")
    if len(levels) != 5:
        raise ProtocolError(
            "levels",
            f"has {len(levels)} levels, expected 5: "
            "interfaceName/majorVersion/manufacturer/serialNumber/topic",
            context=context,
        )
    interface, version, manufacturer, serial, name = levels
    if interface != interface_name:
        raise ProtocolError(
            "interfaceName", f"{interface!r}, expected {interface_name!r}", context=context
        )
    if version != major_version:
        raise ProtocolError(
            "majorVersion", f"{version!r}, expected {major_version!r}", context=context
        )
    _check_level("manufacturer", manufacturer, context)
    _check_serial("serialNumber", serial, context)
    try:
        kind = Topic(name)
    except ValueError:
        known = ", ".join(t.value for t in Topic)
        raise ProtocolError(
            "topic", f"unknown topic {name!r} (known: {known})", context=context
        ) from None
    return TopicAddress(interface, version, manufacturer, serial, kind)


def crane_topic(crane_id: str) -> str:
    """The topic of a crane's events, e.g. `yardfleet/v1/crane/QC03/craneEvent`."""
    _check_serial("craneId", crane_id, "crane topic")
    return "/".join((*_CRANE_PREFIX, crane_id, CRANE_EVENT_TOPIC))


@functools.lru_cache(maxsize=1024)
def parse_crane_topic(text: str) -> str:
    """The crane id of a crane-event topic; a ProtocolError names the level that is wrong."""
    context = f"topic {text!r}"
    levels = text.split("/")
    expected = "/".join((*_CRANE_PREFIX, "<craneId>", CRANE_EVENT_TOPIC))
    if len(levels) != 5:
        raise ProtocolError(
            "levels", f"has {len(levels)} levels, expected {expected}", context=context
        )
    for index, (got, want) in enumerate(zip(levels[:3], _CRANE_PREFIX, strict=True)):
        if got != want:
            raise ProtocolError(f"level {index}", f"{got!r}, expected {want!r}", context=context)
    _check_serial("craneId", levels[3], context)
    if levels[4] != CRANE_EVENT_TOPIC:
        raise ProtocolError(
            "topic", f"{levels[4]!r}, expected {CRANE_EVENT_TOPIC!r}", context=context
        )
    return levels[3]


def is_crane_topic(text: str) -> bool:
    """Whether a topic string belongs to our tree (crane events), not to VDA 5050's."""
    return text.split("/", 1)[0] == _CRANE_PREFIX[0]

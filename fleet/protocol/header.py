"""The protocol header every VDA 5050 message starts with, and per-topic header ids."""

from __future__ import annotations

from fleet.protocol.base import UINT32_MAX, UInt32, Version, Wire
from fleet.protocol.timestamps import Timestamp, to_utc

__all__ = ["VERSION", "Header", "HeaderIds"]

VERSION = "2.1.0"
"""The VDA 5050 version we speak, sent in every header's `version`."""


class Header(Wire, kw_only=True):
    """headerId, timestamp, version, manufacturer, serialNumber: required in most messages."""

    header_id: UInt32
    timestamp: Timestamp
    version: Version
    manufacturer: str
    serial_number: str

    def __post_init__(self) -> None:
        """Hold the timestamp in UTC, as the spec demands, whatever offset it came with."""
        self.timestamp = to_utc(self.timestamp)


class HeaderIds:
    """Header ids per topic: each sent message gets the next, wrapping at uint32's end."""

    def __init__(self) -> None:
        """Start every topic at 0."""
        self._next: dict[str, int] = {}

    def next(self, topic: str) -> int:
        """The header id for the next message on `topic` (order, state, ...)."""
        value = self._next.get(topic, 0)
        self._next[topic] = 0 if value == UINT32_MAX else value + 1
        return value

"""Timestamps as VDA 5050 wants them: ISO 8601 in UTC, e.g. "2017-04-15T11:40:03.12Z".

Inside the code a timestamp is a timezone-aware `datetime` in UTC. On the wire msgspec
writes RFC 3339 (a profile of ISO 8601) with microseconds and a `Z`. On decode any offset
is accepted (a reader is lenient) and turned into UTC; a timestamp without an offset is
refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec

from fleet.protocol.errors import ProtocolError

__all__ = ["Timestamp", "format_timestamp", "parse_timestamp", "to_utc", "utc_now"]

Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]
"""A message timestamp: a datetime that must carry a UTC offset."""

_DECODE = msgspec.json.Decoder(Timestamp)


def utc_now() -> datetime:
    """The current time as an aware UTC datetime, for message headers."""
    return datetime.now(UTC)


def to_utc(moment: datetime, *, field: str = "timestamp") -> datetime:
    """The same instant in UTC; a naive datetime is refused (its zone is a guess), and so is one
    whose UTC time falls outside datetime's years 1 to 9999."""
    offset = moment.utcoffset()
    if offset is None:
        raise ProtocolError(f"$.{field}", "datetime has no UTC offset (naive)")
    if moment.tzinfo is UTC:
        return moment
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise ProtocolError(
            f"$.{field}", f"{moment.isoformat()} is outside years 1 to 9999 in UTC"
        ) from None


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and `Z`, e.g. "2017-04-15T11:40:03.120Z"."""
    return to_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 / RFC 3339 timestamp with an offset, as an aware UTC datetime."""
    try:
        moment = _DECODE.decode(msgspec.json.encode(text))
    except msgspec.ValidationError as error:
        raise ProtocolError("$", f"bad timestamp {text!r}: {error}") from None
    return to_utc(moment)

"""What a GNSS stream held: bytes, sentences, and why the rejected ones were rejected."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Reject(StrEnum):
    """Why a sentence was not used; a receiver is debugged from these counts."""

    BAD_CHECKSUM = "bad_checksum"
    NO_CHECKSUM = "no_checksum"
    TOO_LONG = "too_long"
    BAD_TALKER = "bad_talker"
    GARBLED = "garbled"
    MALFORMED = "malformed"
    UNSUPPORTED = "unsupported"


@dataclass(slots=True)
class GnssStats:
    """Running counts for one stream; sentences = accepted + proprietary + rejected."""

    bytes_seen: int = 0
    sentences: int = 0
    accepted: int = 0
    proprietary: int = 0
    rejected: Counter[Reject] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """The counts as a JSON-ready dict, every reason present (zero when it never happened)."""
        return {
            "bytes": self.bytes_seen,
            "sentences": self.sentences,
            "accepted": self.accepted,
            "proprietary": self.proprietary,
            "rejected": {reason.value: self.rejected[reason] for reason in Reject},
        }

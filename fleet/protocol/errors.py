"""The one error of the wire protocol: what was wrong with a message or topic, and where."""

from __future__ import annotations

import re

import msgspec

__all__ = ["ProtocolError"]

_AT = re.compile(r"^(?P<reason>.*) - at `(?P<path>\$[^`]*)`$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")


class ProtocolError(ValueError):
    """A malformed message or topic: `path` says where (`$.nodes[0].sequenceId`, a topic level)."""

    def __init__(self, path: str, reason: str, *, context: str | None = None) -> None:
        """Keep the parts apart so that callers can log or match them without parsing text."""
        self.path = path
        self.reason = reason
        self.context = context
        prefix = f"{context}: " if context else ""
        super().__init__(f"{prefix}{path}: {reason}")

    @classmethod
    def from_msgspec(
        cls, error: msgspec.MsgspecError, *, context: str | None = None
    ) -> ProtocolError:
        """Split msgspec's "reason - at `$.path`" into path and reason, missing fields too.

        A ProtocolError that a struct's `__post_init__` raised (msgspec wraps it, keeping it as
        the cause) keeps its own reason, its path put under the struct's.
        """
        text = str(error)
        path, reason = "$", text
        if (at := _AT.match(text)) is not None:
            path, reason = at["path"], at["reason"]
        cause = error.__cause__
        if isinstance(cause, ProtocolError) and cause.path.startswith("$"):
            return cls(path + cause.path[1:], cause.reason, context=context)
        if (missing := _MISSING.match(reason)) is not None:
            path, reason = f"{path}.{missing['field']}", "missing required field"
        malformed = not isinstance(error, msgspec.ValidationError)
        if malformed:
            reason = f"malformed JSON: {reason}"
        return cls(path, reason, context=context)

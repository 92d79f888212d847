"""The dispatcher's gate: what the socket server checks before a message counts.

`fleet.server.Intake` decodes and journals; what only a socket can know is checked here,
by the `Server` around it, so the simulator's in-process path (which has no keys, and
whose clock is simulated) is neither refused nor slowed:

- sizes (`Limits`): ZeroMQ's ZMQ_MAXMSGSIZE drops a peer that sends a frame larger than
  `max_frame_bytes` before it is read; below that, each topic has its own limit;
- who speaks (`Guard.before`, `Guard.after`): with keys, the connection's ZAP User-Id
  (its public key) must be enrolled, a truck's key speaks only as its truck (routing id
  = key name, and `Intake` then holds topic and payload serialNumber to the routing id),
  a crane adapter's key only for its own cranes, an observer's key not at all;
- when (`Guard.after`): a message's timestamp more than `max_skew_s` from the server's
  clock (injectable) is refused.

A refusal is a `Refused` with a reason code (`fleet.protocol.link.REASONS`) and a text;
the server answers it with a nack. `Refusals` counts them and logs once per interval.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import msgspec

from fleet.keys import Badge, Role, Roster
from fleet.protocol.codec import Message
from fleet.protocol.crane import CraneEvent
from fleet.protocol.topics import CRANE_EVENT_TOPIC

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "DEFAULT_MAX_SKEW_S",
    "DEFAULT_TOPIC_BYTES",
    "Guard",
    "Limits",
    "Refusals",
    "Refused",
    "header_of",
    "topic_name",
]

KIB = 1024
DEFAULT_MAX_FRAME_BYTES = 1024 * KIB
"""ZMQ_MAXMSGSIZE: a peer sending a larger frame is disconnected by ZeroMQ itself."""
DEFAULT_TOPIC_BYTES: Mapping[str, int] = {
    "state": 256 * KIB,
    "factsheet": 256 * KIB,
    "visualization": 64 * KIB,
    "connection": 16 * KIB,
    CRANE_EVENT_TOPIC: 16 * KIB,
}
"""The largest JSON body taken per topic name; other topics: `max_frame_bytes`."""
DEFAULT_MAX_SKEW_S = 300.0
DEFAULT_LOG_EVERY_S = 10.0
FULL_LINES = 20
"""At most this many refusals logged in full per interval (the first of each kind)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How large and how far off in time a message may be; how often refusals are logged."""

    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    topic_bytes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_TOPIC_BYTES))
    max_skew_s: float | None = DEFAULT_MAX_SKEW_S
    """None: timestamps are not checked."""
    log_every_s: float = DEFAULT_LOG_EVERY_S

    def topic_limit(self, topic: str) -> int:
        return min(self.topic_bytes.get(topic, self.max_frame_bytes), self.max_frame_bytes)


class Refused(Exception):  # noqa: N818 (a refusal is not an error of the server's)
    """A message refused for good: `reason` is a code of `link.REASONS`, `text` says why."""

    def __init__(self, reason: str, text: str, *, answer: bool = True) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text
        self.answer = answer
        """Whether the sender gets a nack (not when it is not who it says it is)."""


class _Header(msgspec.Struct):
    headerId: int | None = None  # noqa: N815 (the wire's name)
    yardfleet: dict[str, object] | None = None


_header = msgspec.json.Decoder(_Header)


def header_of(body: bytes) -> tuple[int | None, str]:
    """A refused message's headerId and bootId, as far as they can be read (None, "")."""
    try:
        head = _header.decode(body)
    except (msgspec.MsgspecError, RecursionError):
        return None, ""
    boot = head.yardfleet.get("bootId", "") if head.yardfleet else ""
    header_id = head.headerId if head.headerId is not None and head.headerId >= 0 else None
    return header_id, boot if isinstance(boot, str) else ""


def topic_name(topic: bytes) -> str:
    """The topic name (last level) of a full topic, as text."""
    return topic.rpartition(b"/")[2].decode("utf-8", "replace")


class Refusals:
    """Refused messages, counted; logged in full the first time of each kind per interval,
    then as one summary line per interval: `refused 20000 messages in 10 s: 19998 not-json,
    2 identity`."""

    def __init__(
        self,
        log: logging.Logger,
        every_s: float = DEFAULT_LOG_EVERY_S,
        full_lines: int = FULL_LINES,
    ) -> None:
        self.log = log
        self.every_s = every_s
        self.full_lines = full_lines
        self.total: Counter[str] = Counter()
        """Every refusal so far, by reason."""
        self.last = ""
        self._counts: Counter[str] = Counter()
        self._kinds: set[tuple[str, str]] = set()
        self._quiet = 0
        self._start: float | None = None

    def note(self, reason: str, kind: str, text: str, mono: float) -> None:
        """One refusal; `kind` (e.g. the field) tells refusals of one reason apart."""
        self.flush(mono)
        if self._start is None:
            self._start = mono
        self.total[reason] += 1
        self._counts[reason] += 1
        self.last = text
        if (reason, kind) not in self._kinds and len(self._kinds) < self.full_lines:
            self._kinds.add((reason, kind))
            self.log.error("%s", text)
        else:
            self._quiet += 1

    def flush(self, mono: float) -> None:
        """At the end of an interval: the summary, if some refusals were not logged."""
        if self._start is None or mono - self._start < self.every_s:
            return
        if self._quiet:
            n = sum(self._counts.values())
            kinds = ", ".join(f"{c} {r}" for r, c in self._counts.most_common())
            self.log.error(
                "refused %d messages in %.0f s: %s (the first of each kind logged in full)",
                n,
                mono - self._start,
                kinds,
            )
        self._counts.clear()
        self._kinds.clear()
        self._quiet = 0
        self._start = None


class Guard:
    """The checks the socket server makes around `Intake`: sizes, keys, clock."""

    def __init__(
        self,
        limits: Limits | None = None,
        roster: Roster | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits or Limits()
        self.roster = roster
        self.clock = clock

    def before(self, frames: list[bytes], user_id: str | None) -> Badge | None:
        """Before decoding `[sender, topic, JSON]`: the sender's badge (None without
        keys); Refused if the key is not enrolled, may not send, is not the routing id,
        or the body is too large for its topic."""
        badge = self._badge(frames[0], user_id)
        if len(frames) == 3:
            name = topic_name(frames[1])
            limit = self.limits.topic_limit(name)
            if len(frames[2]) > limit:
                raise Refused(
                    "too-large", f"{len(frames[2])} bytes on {name}, more than its {limit}"
                )
        return badge

    def _badge(self, sender: bytes, user_id: str | None) -> Badge | None:
        if self.roster is None:
            return None
        badge = self.roster.badge(user_id or "")
        if badge is None:
            raise Refused("identity", "its key is not (or no longer) enrolled", answer=False)
        if badge.name.encode() != sender:
            raise Refused(
                "identity",
                f"the key of {badge.name!r} ({badge.role.value}) speaks only as itself",
                answer=False,
            )
        if badge.role not in (Role.TRUCK, Role.CRANE):
            raise Refused("not-allowed", f"a {badge.role.value} key may not send")
        return badge

    def after(self, badge: Badge | None, message: Message) -> None:
        """After decoding: a key's role and cranes, and the message's timestamp."""
        if badge is not None:
            self._may_send(badge, message)
        skew = self.limits.max_skew_s
        stamp = getattr(message, "timestamp", None)
        if skew is None or stamp is None:
            return
        off = stamp.timestamp() - self.clock()
        if abs(off) > skew:
            way = "ahead of" if off > 0 else "behind"
            raise Refused(
                "clock-skew",
                f"$.timestamp {stamp.isoformat()} is {abs(off):.0f} s {way} the dispatcher's "
                f"clock (limit {skew:.0f} s)",
            )

    @staticmethod
    def _may_send(badge: Badge, message: Message) -> None:
        if not isinstance(message, CraneEvent):
            if badge.role is Role.CRANE:
                raise Refused(
                    "not-allowed", f"a crane adapter's key ({badge.name}) sends crane events only"
                )
            return
        if badge.role is Role.TRUCK:
            raise Refused("not-allowed", f"a truck's key ({badge.name}) sends no crane events")
        if message.crane_id not in badge.cranes:
            cranes = ", ".join(sorted(badge.cranes))
            raise Refused(
                "identity",
                f"the key of {badge.name!r} reports for {cranes}, not {message.crane_id}",
            )

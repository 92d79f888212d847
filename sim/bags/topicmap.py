"""Which truck a bag topic belongs to: a small TOML file, else the topic's own name.

The file has one table, `[topics]`, mapping topic names to truck ids:

    # trucks of a bag recorded at another terminal
    [topics]
    "/gps/fix" = "TT07"
    "/itv3/navsat/fix" = "ITV03"

A topic not in the file keeps the default: the truck segment of our own topics
(`/yardfleet/<truck>/gnss/fix` → `<truck>`), else the topic's first segment
(`/gps/fix` → `gps`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class TopicMapError(ValueError):
    """A topic map file that cannot be used; the message names the file and the key."""


def default_truck(topic: str) -> str:
    """The truck a topic names by itself: `/yardfleet/<truck>/...` → truck, else segment 1."""
    parts = [p for p in topic.split("/") if p]
    if len(parts) >= 2 and parts[0] == "yardfleet":
        return parts[1]
    return parts[0] if parts else topic


@dataclass(frozen=True)
class TopicMap:
    """Topic → truck, from an explicit table with the default naming rule behind it."""

    topics: Mapping[str, str] = field(default_factory=dict)

    def truck(self, topic: str) -> str:
        """The truck of `topic`."""
        return self.topics.get(topic) or default_truck(topic)

    @classmethod
    def load(cls, path: str | Path) -> TopicMap:
        """Read a topic map file, or raise TopicMapError naming what is wrong where."""
        path = Path(path)
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise TopicMapError(f"{path}: cannot read the topic map: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise TopicMapError(f"{path}: not valid TOML: {exc}") from None
        unknown = sorted(set(doc) - {"topics"})
        if unknown:
            raise TopicMapError(f"{path}: unknown key(s) {', '.join(unknown)} (only [topics])")
        table = doc.get("topics", {})
        if not isinstance(table, dict):
            raise TopicMapError(f"{path}: `topics` must be a table of topic = truck")
        topics: dict[str, str] = {}
        for topic, truck in table.items():
            if not topic.startswith("/"):
                raise TopicMapError(f"{path}: topics.{topic!r}: a topic name starts with '/'")
            if not isinstance(truck, str) or not truck.strip():
                raise TopicMapError(
                    f"{path}: topics.{topic!r}: the truck must be a non-empty string "
                    f"(got {truck!r})"
                )
            topics[topic] = truck.strip()
        return cls(topics)

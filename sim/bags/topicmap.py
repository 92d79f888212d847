"""Which truck a bag topic belongs to: a small TOML file, else the topic's own name.

The file has one table, `[topics]`, mapping topic names to truck ids:

    # trucks of a bag recorded at another terminal
    [topics]
    "/gps/fix" = "TT07"
    "/itv3/navsat/fix" = "ITV03"

A topic not in the file keeps the default: the truck segment of our own topics
(`/yardfleet/<truck>/gnss/fix` → `<truck>`), else the topic's first segment
(`/gps/fix` → `gps`). The file is read by `maps.config_files`: every problem names the
file and the key (`map.toml: [topics] "gps/fix": a topic name starts with '/'`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from maps.config_files import ConfigFileError, key_name, read_toml


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
        try:
            doc = read_toml(path, _TopicMapFile, what="the topic map")
            problems = []
            for topic, truck in doc.topics.items():
                if not topic.startswith("/"):
                    problems.append(f"{key_name(('topics', topic))}: a topic name starts with '/'")
                elif not truck.strip():
                    problems.append(f"{key_name(('topics', topic))}: no truck (a blank string)")
            if problems:
                raise ConfigFileError(str(path), problems)
        except ConfigFileError as exc:
            raise TopicMapError(str(exc)) from None
        return cls({topic: truck.strip() for topic, truck in doc.topics.items()})


class _TopicMapFile(msgspec.Struct, forbid_unknown_fields=True):
    """The file: one table, `[topics]`, of topic = truck."""

    topics: dict[str, str] = {}

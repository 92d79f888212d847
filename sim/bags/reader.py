"""Read GNSS fixes (and our own messages) from any bag: a ROS 2 directory or a ROS 1 `.bag`.

rosbags' `AnyReader` does the work: it reads rosbag2 directories (MCAP or SQLite
storage) and ROS 1 bags, and takes the message definitions from the bag itself, so a
bag recorded elsewhere reads without our typestore; ours is only the fallback for
bags that carry no definitions. `sensor_msgs/NavSatFix` of ROS 1 and ROS 2 arrive
under one name, `sensor_msgs/msg/NavSatFix`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosbags.highlevel import AnyReader, AnyReaderError

from sim.bags.types import NAVSATFIX, typestore


class BagError(Exception):
    """A bag that cannot be read; the message names the file and what was wrong."""


@dataclass(frozen=True, slots=True)
class Fix:
    """One NavSatFix: its topic, log time, position, receiver status and covariance.

    `t_ns` is the bag's log time (what replay paces by); `stamp_ns` the header stamp
    (when the receiver measured it). `covariance` is the row-major 3 × 3 ENU covariance
    in m², of the kind `covariance_type` (0 unknown, 1 approximated, 2 diagonal, 3 known).
    """

    topic: str
    t_ns: int
    lat: float
    lon: float
    alt: float
    status: int
    covariance: tuple[float, ...]
    covariance_type: int
    stamp_ns: int


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A topic of a bag: its message type and how many messages it holds."""

    topic: str
    msgtype: str
    count: int


def _open(path: Path) -> AnyReader:
    """An AnyReader on `path`, or a BagError naming it."""
    if path.name == "metadata.yaml":  # a rosbag2 directory named by its metadata file
        path = path.parent
    if not path.exists():
        raise BagError(f"{path}: no such bag (a rosbag2 directory or a ROS 1 .bag file)")
    try:
        return AnyReader([path], default_typestore=typestore())
    except AnyReaderError as exc:
        raise BagError(f"{path}: not a readable bag: {exc}") from None


def topics(path: str | Path) -> list[TopicInfo]:
    """The topics of a bag with their types and message counts, sorted by topic."""
    path = Path(path)
    try:
        with _open(path) as reader:
            found: dict[tuple[str, str], int] = {}
            for c in reader.connections:
                key = (c.topic, c.msgtype)
                found[key] = found.get(key, 0) + c.msgcount
    except AnyReaderError as exc:
        raise BagError(f"{path}: not a readable bag: {exc}") from None
    return [TopicInfo(t, m, n) for (t, m), n in sorted(found.items())]


def messages(
    path: str | Path, msgtype: str, topics: Collection[str] | None = None
) -> Iterator[tuple[str, int, Any]]:
    """(topic, log time ns, message) of every `msgtype` message, in log-time order."""
    path = Path(path)
    try:
        with _open(path) as reader:
            conns = [
                c
                for c in reader.connections
                if c.msgtype == msgtype and (topics is None or c.topic in topics)
            ]
            if not conns:
                return
            for conn, t_ns, raw in reader.messages(connections=conns):
                yield conn.topic, t_ns, reader.deserialize(raw, conn.msgtype)
    except AnyReaderError as exc:
        raise BagError(f"{path}: not a readable bag: {exc}") from None


def read_fixes(path: str | Path, topics: Collection[str] | None = None) -> Iterator[Fix]:
    """Every NavSatFix of the bag (of `topics`, if given), in log-time order."""
    for topic, t_ns, msg in messages(path, NAVSATFIX, topics):
        stamp = msg.header.stamp
        yield Fix(
            topic=topic,
            t_ns=t_ns,
            lat=float(msg.latitude),
            lon=float(msg.longitude),
            alt=float(msg.altitude),
            status=int(msg.status.status),
            covariance=tuple(float(v) for v in msg.position_covariance),
            covariance_type=int(msg.position_covariance_type),
            stamp_ns=int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec),
        )


def fix_topics(path: str | Path) -> list[TopicInfo]:
    """The NavSatFix topics of a bag."""
    return [t for t in topics(path) if t.msgtype == NAVSATFIX]

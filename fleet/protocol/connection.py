"""The connection message (vehicle or broker → master control): online or not (§6.14)."""

from __future__ import annotations

import enum

from fleet.protocol.extensions import LinkInfo
from fleet.protocol.header import Header

__all__ = ["Connection", "ConnectionState"]


class ConnectionState(enum.StrEnum):
    """ONLINE; OFFLINE after an orderly goodbye; CONNECTIONBROKEN as the last will."""

    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    CONNECTIONBROKEN = "CONNECTIONBROKEN"


class Connection(Header, kw_only=True):
    """Whether the vehicle's link is up; sent retained, and preset as the last will."""

    connection_state: ConnectionState
    yardfleet: LinkInfo | None = None
    """Our extension: the agent's boot id (absent in a broker's last will)."""

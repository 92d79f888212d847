"""The visualization message (vehicle → viewers): pose and velocity at a higher rate (§6.13).

Every field is optional here, the header's too, as the schema says.
"""

from __future__ import annotations

from fleet.protocol.base import UInt32, Version, Wire
from fleet.protocol.extensions import TruckTelemetry
from fleet.protocol.geometry import AgvPosition, Velocity
from fleet.protocol.timestamps import Timestamp, to_utc

__all__ = ["Visualization"]


class Visualization(Wire, kw_only=True):
    """A frequent pose update for maps and consoles, not for logic."""

    header_id: UInt32 | None = None
    timestamp: Timestamp | None = None
    version: Version | None = None
    manufacturer: str | None = None
    serial_number: str | None = None
    agv_position: AgvPosition | None = None
    velocity: Velocity | None = None
    yardfleet: TruckTelemetry | None = None
    """Our extension: fuel, GNSS quality, travel (see fleet.protocol.extensions)."""

    def __post_init__(self) -> None:
        """Hold the timestamp in UTC, as the spec demands."""
        if self.timestamp is not None:
            self.timestamp = to_utc(self.timestamp)

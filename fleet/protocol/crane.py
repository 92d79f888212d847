"""CraneEvent: what a quay crane or RTG did, from the TOS or the crane's controller.

Not a VDA 5050 message (cranes are not AGVs) but shaped like one: a header (headerId per
crane, ISO 8601 UTC timestamp, `version` of this message, `CRANE_EVENT_VERSION`), camelCase
fields, UPPERCASE enums without underscores. It travels on
`yardfleet/v1/crane/<craneId>/craneEvent` (see `fleet.protocol.topics`).

The dispatcher moves jobs on these: MOVEDONE for a box at a crane closes the step "at
pickup → loaded" or "at drop → done"; READY with no truck under the crane starts the
crane-wait clock; FAULT and FAULTCLEARED stop and restart a crane's queue.

Example (JSON): {"headerId": 17, "timestamp": "2025-05-04T03:12:09.250000Z",
"version": "1.0.0", "craneId": "QC03", "craneKind": "QC", "event": "MOVEDONE",
"source": "TOS", "containerNumber": "MSKU1234565", "jobId": "J-000812",
"truckId": "TT07", "sequence": 41}
"""

from __future__ import annotations

import enum

from fleet.protocol.base import UInt32, Version, Wire
from fleet.protocol.timestamps import Timestamp, to_utc

__all__ = ["CRANE_EVENT_VERSION", "CraneEvent", "CraneEventKind", "CraneKind", "EventSource"]

CRANE_EVENT_VERSION = "1.0.0"
"""The version of the CraneEvent message, in its `version` field."""


class CraneKind(enum.StrEnum):
    """QC: a quay (ship-to-shore) crane; RTG: a rubber-tyred gantry in a yard block."""

    QC = "QC"
    RTG = "RTG"


class CraneEventKind(enum.StrEnum):
    """What happened at the crane."""

    READY = "READY"
    """Ready for its next move: a truck is wanted under it now."""
    MOVESTARTED = "MOVESTARTED"
    """The spreader locked on a box (lifted from a truck, or is lowering one to it)."""
    MOVEDONE = "MOVEDONE"
    """A box was put on or taken off a truck: the crane's part of the move is done."""
    FAULT = "FAULT"
    """The crane stopped working (breakdown, wind, twistlock problem)."""
    FAULTCLEARED = "FAULTCLEARED"
    """The crane works again."""


class EventSource(enum.StrEnum):
    """Who reported the event: the terminal operating system or the crane's controller."""

    TOS = "TOS"
    CRANE = "CRANE"


class CraneEvent(Wire, kw_only=True):
    """One event at a quay crane or RTG, for the dispatcher's jobs and KPIs."""

    header_id: UInt32
    timestamp: Timestamp
    version: Version
    crane_id: str
    """The crane's id in the yard, e.g. "QC03", "RTG-A1"."""
    crane_kind: CraneKind
    event: CraneEventKind
    source: EventSource | None = None
    container_number: str | None = None
    """ISO 6346 container number (the dispatcher checks its digit), for MOVESTARTED/MOVEDONE."""
    job_id: str | None = None
    """The job (TOS work instruction) the move belongs to, when known."""
    truck_id: str | None = None
    """The truck under the crane: its serialNumber."""
    sequence: UInt32 | None = None
    """The crane's sequence number of the move (QC_SEQ of a DSCH or LOAD job)."""
    location: str | None = None
    """Where the box was or went, as the TOS writes it (vessel bay/row/tier, block slot)."""
    fault_code: str | None = None
    """The controller's or TOS's code, for FAULT."""
    description: str | None = None
    """Free text for people."""

    def __post_init__(self) -> None:
        """Hold the timestamp in UTC, as our messages demand."""
        self.timestamp = to_utc(self.timestamp)

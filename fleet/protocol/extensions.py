"""YardFleet's extension fields: fuel, GNSS quality and travel, which VDA 5050 lacks.

Where they live, and why there:

- Every extension travels in ONE extra top-level field named `yardfleet`: in `state` and
  `visualization` a `TruckTelemetry` (fuel, gnss, travel), in `factsheet` a `TruckFacts`
  (who drives, tank size, twin carry, fuel model).
- It is legal: none of the six official 2.1 schemas (order, instantActions, state,
  visualization, connection, factsheet) sets `additionalProperties`, so JSON Schema's
  default (`true`) lets any object carry extra fields, and the spec says "The JSON
  structure allows for a future extension of the protocol with additional parameters"
  (§4). The tests check that the schemas still say so and that every message we emit,
  extension included, validates against them.
- One namespaced key, not loose fields: a later VDA 5050 version that adds, say, `fuel`
  cannot collide with ours, a master control that does not know us ignores one key, and
  we can strip or version it as one piece.
- Not in `information`: the spec says information "shall not be used for logic in master
  control" (§6.10.4), while our dispatcher plans refuelling from fuel; and infoReferences
  carry only strings, so numbers would lose their type.
- Not in a standard field: a diesel truck has no traction battery, so `batteryState`
  carries the starter battery (see `fleet.protocol.battery`) and its `reach` is left out;
  the reach on the fuel left is `yardfleet.fuel.reach`. GNSS quality that VDA 5050 does
  have a place for goes there too, with its meaning: `agvPosition.deviationRange` is the
  horizontal DRMS in metres (`deviation_range_m`); x, y stay in the yard's frame.

Units: litres, metres, hours, degrees (latitude, longitude), square metres (covariance),
as each field's docstring says. Enum values follow VDA 5050's rule: UPPERCASE, no
underscores. GNSS fields mirror `sensor_msgs/msg/NavSatFix` (and NMEA GGA/GSA for fix
type and mode), so a bag's NavSatFix converts field for field.

Custom action types (allowed by §6.8 when no predefined action fits): `refuel`, on the
node at a fuel pump; pick and drop of a container use the predefined `pick` and `drop`
with `loadId` = container number, `stationType` = "QC", "RTG" or "GATE" and
`stationName` = the crane or lane id.
"""

from __future__ import annotations

import enum
import math
from typing import Annotated

import msgspec

from fleet.protocol.base import NonNegative, Percent, UInt32, Wire

__all__ = [
    "EXTENSION_FIELD",
    "REFUEL",
    "CovarianceType",
    "Driver",
    "FixMode",
    "FixStatus",
    "FixType",
    "Fuel",
    "FuelLoss",
    "Gnss",
    "GnssService",
    "LinkInfo",
    "Travel",
    "TruckFacts",
    "TruckTelemetry",
    "deviation_range_m",
]

EXTENSION_FIELD = "yardfleet"
"""The one top-level key our extensions travel under, in state, visualization, factsheet."""

REFUEL = "refuel"
"""Custom action type: fill the tank at the pump this node stands for."""


class FuelLoss(enum.StrEnum):
    """A suspected loss of fuel the sensor saw: none, a sudden drop (theft), a slow leak."""

    NONE = "NONE"
    THEFT = "THEFT"
    LEAK = "LEAK"


class Fuel(Wire, kw_only=True):
    """The tank: litres left, tank size, level, burn rate, reach and a loss alarm."""

    litres: NonNegative
    """Fuel in the tank [L]."""
    tank_litres: NonNegative
    """Usable tank capacity [L]."""
    level_percent: Percent
    """Fuel level [%] of the tank, as the sensor reports it."""
    consumption_litres_per_hour: NonNegative | None = None
    """Current burn rate [L/h], averaged by the agent (about 2.5 idling)."""
    reach: UInt32 | None = None
    """Estimated distance on the fuel left [m] (what batteryState.reach is for a battery)."""
    loss: FuelLoss = FuelLoss.NONE
    """Suspected fuel loss; absent on the wire means NONE."""


class FixStatus(enum.StrEnum):
    """NavSatStatus.status: -1 NOFIX, 0 FIX, 1 SBASFIX (augmented), 2 GBASFIX (RTK/DGPS)."""

    NOFIX = "NOFIX"
    FIX = "FIX"
    SBASFIX = "SBASFIX"
    GBASFIX = "GBASFIX"


class FixType(enum.StrEnum):
    """NMEA GGA quality 0-8: how the position was solved (RTKFIXED is centimetre grade)."""

    INVALID = "INVALID"
    GPS = "GPS"
    DGPS = "DGPS"
    PPS = "PPS"
    RTKFIXED = "RTKFIXED"
    RTKFLOAT = "RTKFLOAT"
    ESTIMATED = "ESTIMATED"
    MANUAL = "MANUAL"
    SIMULATION = "SIMULATION"


class FixMode(enum.StrEnum):
    """NMEA GSA mode 1-3: no fix, 2D or 3D fix."""

    NOFIX = "NOFIX"
    FIX2D = "FIX2D"
    FIX3D = "FIX3D"


class GnssService(enum.StrEnum):
    """NavSatStatus.service bits: the constellations in use (COMPASS is BeiDou)."""

    GPS = "GPS"
    GLONASS = "GLONASS"
    COMPASS = "COMPASS"
    GALILEO = "GALILEO"


class CovarianceType(enum.StrEnum):
    """NavSatFix.position_covariance_type 0-3."""

    UNKNOWN = "UNKNOWN"
    APPROXIMATED = "APPROXIMATED"
    DIAGONALKNOWN = "DIAGONALKNOWN"
    KNOWN = "KNOWN"


Covariance = Annotated[list[float], msgspec.Meta(min_length=9, max_length=9)]
"""A 3×3 covariance, row-major, east-north-up [m²], as in NavSatFix."""


class Gnss(Wire, kw_only=True):
    """The GNSS receiver's fix and its quality, field for field as sensor_msgs/NavSatFix."""

    status: FixStatus
    """NavSatStatus.status."""
    service: list[GnssService] | None = None
    """NavSatStatus.service, as the constellations used."""
    latitude: Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)] | None = None
    """WGS84 latitude [deg], north positive; absent without a fix."""
    longitude: Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)] | None = None
    """WGS84 longitude [deg], east positive; absent without a fix."""
    altitude: float | None = None
    """Height above the WGS84 ellipsoid [m] (NavSatFix's NaN is "absent" here)."""
    position_covariance: Covariance | None = None
    """ENU covariance [m²], row-major."""
    position_covariance_type: CovarianceType = CovarianceType.UNKNOWN
    """How the covariance is known; absent on the wire means UNKNOWN."""
    fix_type: FixType | None = None
    """GGA fix quality."""
    fix_mode: FixMode | None = None
    """GSA fix mode."""
    satellites: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """Satellites used in the fix."""
    hdop: NonNegative | None = None
    """Horizontal dilution of precision."""


class Travel(Wire, kw_only=True):
    """Journey counters for fuel and KPI reports: distance and engine time."""

    odometer: NonNegative
    """Total distance driven [m]."""
    trip_distance: NonNegative | None = None
    """Distance since the shift started [m]."""
    engine_hours: NonNegative | None = None
    """Engine running time, total [h]."""
    engine_running: bool | None = None
    """Whether the engine runs now."""


class TruckTelemetry(Wire, kw_only=True):
    """`yardfleet` in state and visualization: fuel, GNSS quality, travel, the sender's boot."""

    fuel: Fuel | None = None
    gnss: Gnss | None = None
    travel: Travel | None = None
    boot_id: str | None = None
    """The onboard agent's boot id (see `fleet.protocol.link`): part of the dedupe key."""


class LinkInfo(Wire, kw_only=True):
    """`yardfleet` in connection: which boot of the onboard agent speaks."""

    boot_id: str
    """A fresh id each time the agent starts (see `fleet.protocol.link`)."""


class Driver(enum.StrEnum):
    """Who drives the truck: a person (guided by a tablet) or the vehicle itself."""

    HUMAN = "HUMAN"
    AUTONOMOUS = "AUTONOMOUS"


class TruckFacts(Wire, kw_only=True):
    """`yardfleet` in factsheet: what the dispatcher needs to know about a truck."""

    driver: Driver
    tank_litres: NonNegative
    """Usable tank capacity [L]."""
    twin_carry: bool
    """Whether it carries two 20' boxes at once."""
    idle_litres_per_hour: NonNegative | None = None
    """Fuel burnt standing with the engine on [L/h]."""
    litres_per_km: NonNegative | None = None
    """Fuel burnt per km driven, on top of idling [L/km]."""
    boot_id: str | None = None
    """The onboard agent's boot id (see `fleet.protocol.link`)."""


def deviation_range_m(gnss: Gnss) -> float | None:
    """Horizontal DRMS, sqrt(var_east + var_north) [m], for agvPosition.deviationRange."""
    cov = gnss.position_covariance
    if cov is None or gnss.position_covariance_type is CovarianceType.UNKNOWN:
        return None
    return math.sqrt(max(cov[0], 0.0) + max(cov[4], 0.0))

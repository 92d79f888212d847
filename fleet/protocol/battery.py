"""The starter-battery convention: what `batteryState` means on a diesel truck.

A diesel terminal tractor has no traction battery, but VDA 5050 makes `batteryState`
required. YardFleet fills it with the truck's 24 V starter battery (two 12 V lead-acid
blocks in series), which is worth watching: a flat one strands a truck under a crane.

- `batteryVoltage`: the starter battery's terminal voltage [V].
- `batteryCharge`: state of charge [%] from the resting (open-circuit) voltage, linear
  between the points of `SOC_TABLE_24V` (12 V figures doubled: 23.6 V = 0 %, 24.0 V = 25 %,
  24.4 V = 50 %, 24.8 V = 75 %, 25.4 V = 100 %), clamped to [0, 100]. The voltage only
  means this at rest: while the alternator charges, it reads 26-29 V, so an agent keeps
  reporting the last resting figure (pass `charge_percent`), or gets 100 %.
- `charging`: the alternator is charging (engine running); by default, voltage at or
  above `ALTERNATOR_VOLTS`.
- `batteryHealth`: optional, if the truck's battery monitor gives one.
- `reach`: left out; reach on the fuel left is `yardfleet.fuel.reach`.
"""

from __future__ import annotations

from fleet.protocol.state import BatteryState

__all__ = ["ALTERNATOR_VOLTS", "SOC_TABLE_24V", "starter_battery", "starter_charge_percent"]

SOC_TABLE_24V: tuple[tuple[float, float], ...] = (
    (23.6, 0.0),
    (24.0, 25.0),
    (24.4, 50.0),
    (24.8, 75.0),
    (25.4, 100.0),
)
"""Resting voltage [V] → state of charge [%] of a 24 V flooded lead-acid pair at 25 °C."""

ALTERNATOR_VOLTS = 26.0
"""At or above this the alternator is charging: no resting battery reads that high."""


def starter_charge_percent(volts: float) -> float:
    """State of charge [%] of a 24 V lead-acid starter battery from its resting voltage."""
    low_v, low_pct = SOC_TABLE_24V[0]
    if volts <= low_v:
        return low_pct
    for high_v, high_pct in SOC_TABLE_24V[1:]:
        if volts <= high_v:
            return round(low_pct + (volts - low_v) / (high_v - low_v) * (high_pct - low_pct), 1)
        low_v, low_pct = high_v, high_pct
    return 100.0


def starter_battery(
    volts: float,
    *,
    charging: bool | None = None,
    charge_percent: float | None = None,
    health_percent: int | None = None,
) -> BatteryState:
    """The `batteryState` of a diesel truck, from its starter battery (see module doc)."""
    if charging is None:
        charging = volts >= ALTERNATOR_VOLTS
    if charge_percent is None:
        charge_percent = starter_charge_percent(volts)
    return BatteryState(
        battery_charge=charge_percent,
        battery_voltage=round(volts, 2),
        battery_health=health_percent,
        charging=charging,
    )

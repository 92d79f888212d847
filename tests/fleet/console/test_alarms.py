"""Alarms: a circle of trucks waiting on each other long enough is a deadlock; fuel falling."""

from __future__ import annotations

from typing import Any

from console_rig import Rig, wait_for

from fleet.console.alarms import Alarms, Circles, conditions
from fleet.protocol import TruckTelemetry, make_state, starter_battery
from fleet.protocol.extensions import Fuel, FuelLoss


def test_a_circle_that_lasts_is_a_deadlock_one_that_dissolves_is_not() -> None:
    circles = Circles(after_s=60.0)
    edges = [("TT01", "TT02"), ("TT02", "TT01"), ("TT03", "TT01")]
    assert circles.stuck(edges, 100.0) == []
    assert circles.stuck(edges, 159.0) == []
    assert circles.stuck(edges, 160.0) == [["TT01", "TT02"]]
    assert circles.stuck([("TT03", "TT01")], 170.0) == []
    assert circles.stuck(edges, 180.0) == []  # a new circle: its time starts again
    snap: dict[str, Any] = {"trucks": [], "closed_lanes": {}}
    alarms = Alarms()
    alarms.update("t", conditions(snap, 0.1, [["TT01", "TT02"]]))
    (alarm,) = alarms.listed()
    assert alarm["tier"] == "critical"
    assert alarm["text"] == "deadlock: TT01, TT02 wait on each other"
    assert alarm["truck"] is None


def test_fuel_falling_while_standing_raises_a_critical_alarm(rig: Rig) -> None:
    node = rig.parking(0)
    state = make_state(
        "YardFleet",
        "TT04",
        starter_battery(25.0),
        header_id=1,
        last_node_id=node,
        telemetry=TruckTelemetry(
            boot_id="b",
            fuel=Fuel(litres=200.0, tank_litres=400.0, level_percent=50.0, loss=FuelLoss.THEFT),
        ),
    )
    rig.send("TT04", state)

    def alarm() -> dict[str, Any] | None:
        snap = rig.bridge.latest()[1] or {"alarms": []}
        return next((a for a in snap["alarms"] if a["id"] == "fuelloss:TT04"), None)

    found = wait_for(alarm)
    assert found["tier"] == "critical" and "possible theft" in found["text"]

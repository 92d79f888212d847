"""The work at the end of a truck's leg, as VDA 5050 actions on its order's last node.

`pick` or `drop` of the container at the crane or gate (`stationType`, `stationName`,
the job it belongs to in `jobId`: the crane's adapter names it in its CraneEvent);
refuelling is `refuel` (`fleet.protocol.REFUEL`). How far the way to there is released is
`fleet.release`'s.
"""

from __future__ import annotations

from fleet.protocol import Action, make_action


def work_action(kind: str, container: str, station_type: str, station: str, job: str) -> Action:
    """`pick` or `drop` of a container at a crane or gate lane."""
    return make_action(
        kind,
        action_id=f"{job}:{kind}",
        loadId=container,
        stationType=station_type,
        stationName=station,
        jobId=job,
    )

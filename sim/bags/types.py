"""The typestore for YardFleet bags: ROS 2 Humble's standard types plus our `yardfleet_msgs`.

Our message definitions are the `.msg` files under `sim/bags/msg/yardfleet_msgs/msg/`,
shipped as package data; they are parsed once per process with rosbags'
`get_types_from_msg` and registered on top of the Humble store, so that the bag's
schemas (what other tools read) are generated from the very files kept in the repo.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

PACKAGE = "yardfleet_msgs"
NAVSATFIX = "sensor_msgs/msg/NavSatFix"
TRUCK_STATE = f"{PACKAGE}/msg/TruckState"
JOB_EVENT = f"{PACKAGE}/msg/JobEvent"
TRUCK_CLASS = f"{PACKAGE}/msg/TruckClass"


def msg_files() -> dict[str, str]:
    """Our message definitions: type name (`yardfleet_msgs/msg/Name`) → `.msg` text."""
    folder = files("sim.bags").joinpath("msg").joinpath(PACKAGE).joinpath("msg")
    return {
        f"{PACKAGE}/msg/{entry.name.removesuffix('.msg')}": entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".msg")
    }


@cache
def typestore() -> Typestore:
    """ROS 2 Humble's types plus ours, built once per process."""
    store = get_typestore(Stores.ROS2_HUMBLE)
    for name, text in msg_files().items():
        store.register(get_types_from_msg(text, name))
    return store

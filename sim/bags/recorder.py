"""Record a fleet as a ROS 2 bag: NavSatFix and vehicle class per truck, states, job events.

The bag is a rosbag2 directory written by rosbags: MCAP storage, version 9 metadata,
zstd compression of the MCAP chunks (rosbags' `CompressionMode.STORAGE`; its FILE and
MESSAGE modes produce bags that other MCAP readers cannot read). Topics:

    /yardfleet/<truck>/gnss/fix   sensor_msgs/msg/NavSatFix, throttled to `fix_rate_hz`
    /yardfleet/<truck>/class      yardfleet_msgs/msg/TruckClass, once (latched)
    /yardfleet/<truck>/state      yardfleet_msgs/msg/TruckState
    /yardfleet/jobs/events        yardfleet_msgs/msg/JobEvent

Times are UTC seconds since the epoch (floats); each message's log time is its stamp.
Leaving the `with` block closes the bag, also on an exception or Ctrl-C, so that a
recording cut short is still a readable bag with everything written up to there.
"""

from __future__ import annotations

import math
import re
import signal
import threading
from collections.abc import Iterable, Sequence
from contextlib import suppress
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Literal, Self

import numpy as np
from rosbags.interfaces import (
    Connection,
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin

from sim.bags.types import JOB_EVENT, NAVSATFIX, TRUCK_CLASS, TRUCK_STATE, typestore

FIX_TOPIC = "/yardfleet/{truck}/gnss/fix"
STATE_TOPIC = "/yardfleet/{truck}/state"
CLASS_TOPIC = "/yardfleet/{truck}/class"
JOB_TOPIC = "/yardfleet/jobs/events"
DEFAULT_FIX_RATE_HZ = 2.0
DEFAULT_FRAME_ID = "gnss"
BAG_VERSION: Literal[9] = 9

STATUS_NO_FIX, STATUS_FIX, STATUS_SBAS_FIX, STATUS_GBAS_FIX = -1, 0, 1, 2
"""sensor_msgs/NavSatStatus.status values."""
SERVICE_GPS = 1
COVARIANCE_TYPE_UNKNOWN, COVARIANCE_TYPE_DIAGONAL_KNOWN, COVARIANCE_TYPE_KNOWN = 0, 2, 3

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_SLACK_S = 1e-6
"""Clock slack of the throttle, so that steps of 0.1 s summed in floats still make 1 s."""
_NO_COVARIANCE = np.zeros(9)
_COVARIANCES_KEPT = 1024
_MAX_T_S = 2**63 / 1e9
"""The last time a bag's int64 nanoseconds can hold (2262)."""
_DEFAULT_TIME = QosTime(sec=0, nsec=0)
LATCHED = Qos(
    history=QosHistory.KEEP_LAST,
    depth=1,
    reliability=QosReliability.RELIABLE,
    durability=QosDurability.TRANSIENT_LOCAL,
    deadline=_DEFAULT_TIME,
    lifespan=_DEFAULT_TIME,
    liveliness=QosLiveliness.AUTOMATIC,
    liveliness_lease_duration=_DEFAULT_TIME,
    avoid_ros_namespace_conventions=False,
)
"""The offered QoS of once-only topics (as /tf_static): a late subscriber still gets it."""


def _check_truck(truck: str) -> str:
    """A truck id usable as a ROS topic segment (letters, digits, underscores), or ValueError."""
    if not _NAME.match(truck):
        raise ValueError(
            f"truck id {truck!r} cannot be a ROS topic segment: use letters, digits and "
            "underscores, starting with a letter"
        )
    return truck


def _stamp_ns(t_s: float) -> int:
    """UTC seconds (float) to integer nanoseconds, or ValueError for a time a bag cannot hold."""
    if not (0.0 <= t_s < _MAX_T_S):  # also False for NaN
        raise ValueError(f"time {t_s!r} s is not a UTC time a bag can hold (finite, ≥ 0)")
    return round(t_s * 1e9)


class BagRecorder:
    """Writes a fleet's GNSS fixes, states and job events to a new rosbag2 directory.

    `trucks` are the trucks known at the start (their fix topics exist even if they never
    send); others get their topics on first use. `fix_rate_hz` throttles each truck's
    fixes (None keeps every fix). `yard_id` is the header frame of states and job events.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        trucks: Iterable[str] = (),
        fix_rate_hz: float | None = DEFAULT_FIX_RATE_HZ,
        frame_id: str = DEFAULT_FRAME_ID,
        yard_id: str = "",
    ) -> None:
        if fix_rate_hz is not None and not (math.isfinite(fix_rate_hz) and fix_rate_hz > 0):
            raise ValueError(f"fix_rate_hz must be a positive number or None (got {fix_rate_hz})")
        self.path = Path(path)
        self.fix_rate_hz = fix_rate_hz
        self.frame_id = frame_id
        self.yard_id = yard_id
        self._period_s = 0.0 if fix_rate_hz is None else 1.0 / fix_rate_hz - _SLACK_S
        self._trucks = [_check_truck(t) for t in trucks]
        self._store = typestore()
        types = self._store.types
        self._time = types["builtin_interfaces/msg/Time"]
        self._header = types["std_msgs/msg/Header"]
        self._status = types["sensor_msgs/msg/NavSatStatus"]
        self._navsatfix = types[NAVSATFIX]
        self._truck_state = types[TRUCK_STATE]
        self._job_event = types[JOB_EVENT]
        self._truck_class = types[TRUCK_CLASS]
        self._writer: Writer | None = None
        self._fix_conn: dict[str, Connection] = {}
        self._state_conn: dict[str, Connection] = {}
        self._class_conn: dict[str, Connection] = {}
        self._job_conn: Connection | None = None
        self._last_fix_s: dict[str, float] = {}
        self._covariances: dict[tuple[float, ...], tuple[Any, int]] = {}
        self._writing = False
        self._ctrl_c = False
        self._previous_sigint: Any = None
        self.written = 0
        """Messages written so far."""
        self.throttled = 0
        """Fixes dropped by the rate limit."""

    # -- life cycle -------------------------------------------------------------------

    def open(self) -> None:
        """Create the bag directory (it must not exist) and the fix topics of known trucks."""
        writer = Writer(self.path, version=BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        if self.fix_rate_hz is not None:
            writer.set_custom_data("yardfleet.fix_rate_hz", repr(self.fix_rate_hz))
        if self.yard_id:
            writer.set_custom_data("yardfleet.yard", self.yard_id)
        writer.open()
        self._writer = writer
        self._hold_ctrl_c()
        for truck in self._trucks:
            self._fix_connection(truck)

    def close(self) -> None:
        """Finish the bag: MCAP summary and metadata.yaml. Closing twice does nothing."""
        writer, self._writer = self._writer, None
        self._release_ctrl_c()
        if writer is not None:
            try:
                writer.close()
            except BaseException:
                with suppress(Exception):
                    writer.abort()
                raise

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Unlike rosbags' own Writer, close (not abort) on an error too: what was
        # recorded up to the error or Ctrl-C stays a readable bag.
        self.close()

    # -- messages ---------------------------------------------------------------------

    def fix(
        self,
        truck: str,
        t_s: float,
        lat: float,
        lon: float,
        alt: float = 0.0,
        status: int = STATUS_FIX,
        covariance: Sequence[float] | None = None,
    ) -> bool:
        """Record a GNSS fix of `truck` at UTC `t_s`; False if the rate limit dropped it.

        `covariance` is the 3 × 3 ENU position covariance (m², row-major, 9 values), or
        None when unknown; it is declared DIAGONAL_KNOWN when its off-diagonal terms are 0,
        else KNOWN.
        """
        last = self._last_fix_s.get(truck)
        if last is not None and t_s - last < self._period_s:
            self.throttled += 1
            return False
        conn = self._fix_conn.get(truck) or self._fix_connection(truck)
        stamp = _stamp_ns(t_s)
        if covariance is None:
            cov, cov_type = _NO_COVARIANCE, COVARIANCE_TYPE_UNKNOWN
        else:
            key = tuple(covariance)
            known = self._covariances.get(key)
            if known is None:
                known = self._covariance(truck, key)
            cov, cov_type = known
        sec, nanosec = divmod(stamp, 1_000_000_000)
        msg = self._navsatfix(
            header=self._header(stamp=self._time(sec=sec, nanosec=nanosec), frame_id=self.frame_id),
            status=self._status(status=status, service=SERVICE_GPS),
            latitude=lat,
            longitude=lon,
            altitude=alt,
            position_covariance=cov,
            position_covariance_type=cov_type,
        )
        self._write(conn, stamp, msg, NAVSATFIX)
        self._last_fix_s[truck] = t_s
        return True

    def truck_state(
        self,
        truck: str,
        t_s: float,
        *,
        activity: str,
        x_m: float,
        y_m: float,
        lat: float,
        lon: float,
        speed_mps: float = 0.0,
        heading_deg: float = math.nan,
        fuel_l: float = math.nan,
        laden: bool = False,
        job_id: str = "",
        lane_id: str = "",
    ) -> None:
        """Record the state of `truck` at UTC `t_s` (yardfleet_msgs/msg/TruckState)."""
        conn = self._state_conn.get(truck)
        if conn is None:
            conn = self._connect(STATE_TOPIC.format(truck=_check_truck(truck)), TRUCK_STATE)
            self._state_conn[truck] = conn
        stamp = _stamp_ns(t_s)
        msg = self._truck_state(
            header=self._header_at(stamp, self.yard_id),
            truck_id=truck,
            activity=activity,
            x_m=x_m,
            y_m=y_m,
            latitude_deg=lat,
            longitude_deg=lon,
            speed_mps=speed_mps,
            heading_deg=heading_deg,
            fuel_l=fuel_l,
            laden=laden,
            job_id=job_id,
            lane_id=lane_id,
        )
        self._write(conn, stamp, msg, TRUCK_STATE)

    def truck_class(
        self,
        truck: str,
        t_s: float,
        *,
        class_name: str,
        length_m: float,
        width_m: float,
        antenna_m: float,
    ) -> None:
        """Record the vehicle class of `truck` (yardfleet_msgs/msg/TruckClass), once, at its
        start: body length and width, and its GNSS antenna `antenna_m` behind the front."""
        if truck in self._class_conn:
            raise ValueError(f"the class of {truck} is recorded already (once per truck)")
        if not (length_m > 0 and width_m > 0):
            raise ValueError(f"class of {truck}: length_m and width_m must be positive")
        if not 0.0 <= antenna_m <= length_m:
            raise ValueError(
                f"class of {truck}: antenna_m {antenna_m} must lie within the body "
                f"(0 to length_m = {length_m})"
            )
        conn = self._connect(
            CLASS_TOPIC.format(truck=_check_truck(truck)), TRUCK_CLASS, latched=True
        )
        self._class_conn[truck] = conn
        stamp = _stamp_ns(t_s)
        msg = self._truck_class(
            header=self._header_at(stamp, self.yard_id),
            truck_id=truck,
            class_name=class_name,
            length_m=length_m,
            width_m=width_m,
            antenna_m=antenna_m,
        )
        self._write(conn, stamp, msg, TRUCK_CLASS)

    def job_event(
        self, job_id: str, t_s: float, *, state: str, truck: str = "", cause: str = ""
    ) -> None:
        """Record that job `job_id` entered `state` at UTC `t_s` (yardfleet_msgs/msg/JobEvent)."""
        if self._job_conn is None:
            self._job_conn = self._connect(JOB_TOPIC, JOB_EVENT)
        stamp = _stamp_ns(t_s)
        msg = self._job_event(
            header=self._header_at(stamp, self.yard_id),
            job_id=job_id,
            state=state,
            truck_id=truck,
            cause=cause,
        )
        self._write(self._job_conn, stamp, msg, JOB_EVENT)

    # -- helpers ----------------------------------------------------------------------

    def _covariance(self, truck: str, key: tuple[float, ...]) -> tuple[Any, int]:
        """A covariance as a read-only array with its type, remembered: fixes repeat them."""
        if len(key) != 9:
            raise ValueError(f"covariance of {truck} must have 9 values (got {len(key)})")
        cov = np.array(key, dtype=np.float64)
        cov.setflags(write=False)
        off_diagonal = any(key[i] for i in (1, 2, 3, 5, 6, 7))
        known = (cov, COVARIANCE_TYPE_KNOWN if off_diagonal else COVARIANCE_TYPE_DIAGONAL_KNOWN)
        if len(self._covariances) >= _COVARIANCES_KEPT:
            self._covariances.clear()
        self._covariances[key] = known
        return known

    def _header_at(self, stamp_ns: int, frame_id: str) -> Any:
        sec, nanosec = divmod(stamp_ns, 1_000_000_000)
        return self._header(stamp=self._time(sec=sec, nanosec=nanosec), frame_id=frame_id)

    def _fix_connection(self, truck: str) -> Connection:
        conn = self._connect(FIX_TOPIC.format(truck=_check_truck(truck)), NAVSATFIX)
        self._fix_conn[truck] = conn
        return conn

    def _connect(self, topic: str, msgtype: str, *, latched: bool = False) -> Connection:
        if self._writer is None:
            raise RuntimeError(f"bag {self.path} is not open (use `with BagRecorder(...)`)")
        qos = (LATCHED,) if latched else ()
        return self._writer.add_connection(
            topic, msgtype, typestore=self._store, offered_qos_profiles=qos
        )

    def _write(self, conn: Connection, stamp_ns: int, msg: object, msgtype: str) -> None:
        if self._writer is None:
            raise RuntimeError(f"bag {self.path} is not open (use `with BagRecorder(...)`)")
        data = self._store.serialize_cdr(msg, msgtype)
        self._writing = True
        try:
            self._writer.write(conn, stamp_ns, data)
        finally:
            self._writing = False
        self.written += 1
        if self._ctrl_c:
            self._ctrl_c = False
            raise KeyboardInterrupt

    # -- Ctrl-C -----------------------------------------------------------------------
    # A Ctrl-C landing inside rosbags' write could leave half a record in the MCAP chunk.
    # While a bag is open (in the main thread, with Python's default handler), a Ctrl-C
    # raises KeyboardInterrupt at once as usual, except during a write: then it is held
    # until the record is complete.

    def _hold_ctrl_c(self) -> None:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous_sigint = signal.signal(signal.SIGINT, self._on_ctrl_c)

    def _release_ctrl_c(self) -> None:
        previous, self._previous_sigint = self._previous_sigint, None
        if previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)

    def _on_ctrl_c(self, signum: int, frame: FrameType | None) -> None:
        if self._writing:
            self._ctrl_c = True
        else:
            signal.default_int_handler(signum, frame)

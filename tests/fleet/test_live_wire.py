"""Traffic control on the wire, end to end: `yardfleet dispatcher serve` and two
`yardfleet agent` processes, their GNSS receivers and fuel sensors on pseudo-terminals.

Everything runs as in a yard, on 127.0.0.1. The dispatcher is the real CLI in a
subprocess (the CLI has all the scenario needs: a free port, the embedded terminal, a
journal with the work in it, a clock that runs `CLOCK_RATE` times the wall clock); its
journal, an SQLite file, is how the test sees what it decides (`msg.order` events,
journalled as they are sent; the trucks' `msg.state`; job steps; truck statuses). Each
agent is the real CLI in a subprocess with its own `onboard.toml`, reading NMEA from a
pty (`onboard_devices.GnssReceiver`, positions converted with the yard's frame) and an
Omnicomm LLS fuel sensor answered on another pty. Crane adapters are ZeroMQ DEALERs
sending MOVEDONE CraneEvents, as a TOS would.

The scenario, on the embedded terminal (haiphong):

1. Two DSCH jobs go in with `yardfleet jobs import` (J1: QC01 to block A1, J2: QC03 to
   A2). TT01 (autonomous) stands on PARK.S07, TT02 (driven) on PARK.S16, a row further
   north: their ways to the quay meet in junction X0315, TT01's from the west (out of
   junction X0328), TT02's from the north (out of X0341 and X0314).
2. The dispatching server starts first; the agents join while their receivers are still
   acquiring satellites (their first states have no `lastNodeId`), then the receivers
   get a fix at the trucks' spots and the dispatcher places them there and gives them
   work.
3. The test's wheels move each truck along the base its agent holds (the released nodes
   of the order as its journalled states show them, along the lanes' geometry), at
   `SPEED_MPS` in the dispatcher's time, never past the base's end, with a fix at every
   node passed and one where it is at the end of each tick; at the end of its base a
   truck stands (speed 0 in the fix) until an update releases more, which comes as the
   plan's times come on the dispatcher's clock.
4. The truck granted the first shared junction first sets off late: it stands until the
   other has driven off its spot and stands held at its stop line before that junction
   (and the dispatcher has recorded it HELD), then drives through; the other is released
   on.
5. Under its quay crane (job step `at_pickup`) a truck's box is put on by the crane's
   MOVEDONE; at the block (`at_drop`) the block's RTG takes it off; both jobs get done.
6. Afterwards the journal is checked: the hold (from `msg.order` alone, then the held
   truck's states and status), every order against the VDA 5050 2.1 schema (skipped
   where ../shared is absent), the update rules (`fleet.release.stitches`), no order
   refused by an agent, no truck reporting a node beyond what was released to it.

Time: at the plan's speeds (25 km/h empty, 20 laden, 10 in block and service lanes) the
shortest DSCH job from any parking spot is about 256 s of planned driving (the truck park
is some 700 m from the quay), and a truck is never released ahead of its plan; at
`CLOCK_RATE` 10 the module runs in about a minute. Everything timed in the dispatcher's
world (speeds, how late the late truck is) is given in its seconds and converted with
`wall()`. The agents send a state every `STATE_S` of wall time (and at once on a change):
a few of the dispatcher's seconds, so it sees a truck stand at its stop line many times
over while the other goes through the junction.

Three tests pin bugs the run found, fixed since, from its journal: a truck that joined
before its first fix never got work, a held truck stood short of its stop line, and the
states of a truck heading due west were refused.
"""

from __future__ import annotations

import itertools
import json
import math
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import zmq
from onboard_devices import GnssReceiver, LlsFuelSensor
from shapely.geometry import Point

from fleet.protocol import CraneEventKind, CraneKind, Order, decode, encode, link
from fleet.protocol.base import PI
from fleet.protocol.builders import make_crane_event
from fleet.protocol.codec import message_topic
from fleet.release import stitches
from maps import Yard, terminal
from routing.vehicle import VehicleClass

REPO = Path(__file__).resolve().parents[2]
ORDER_SCHEMA = REPO.parent / "shared" / "vda5050" / "2.1" / "order.schema"
MAKER = "YardFleet"
TRUCKS = {"TT01": ("PARK.S07", "autonomous"), "TT02": ("PARK.S16", "human")}
"""Each truck's parking spot and who drives it."""
QUEUE = (
    "JOB_ID,JOB_TYPE,VESSEL_CALL,CONTAINER_NO,NON_ISO,SIZE,WEIGHT_KG,QC,QC_SEQ,YARD_BLOCK,"
    "YARD_BAY,YARD_ROW,YARD_TIER,TO_YARD_BLOCK,ALT_YARD_BLOCKS,GATE_LANE,TWIN_WITH,PRIORITY,"
    "DEADLINE\n"
    "J1,DSCH,V1,CSQU3054383,,40,24000,QC01,1,A1,10,2,1,,,,,,\n"
    "J2,DSCH,V1,MSCU1234566,,40,18000,QC03,1,A2,10,2,1,,,,,,\n"
)
JOBS = {"J1": "QC01", "J2": "QC03"}
"""Each job's quay crane."""
CLOCK_RATE = 10.0
"""`dispatcher serve --clock-rate`: the dispatcher's clock runs this many times the wall
clock (its plans, its releases, its lost-truck limit)."""


def wall(seconds: float) -> float:
    """Wall-clock seconds for that many of the dispatcher's seconds."""
    return seconds / CLOCK_RATE


TICK_S = 0.1
"""How often (wall) the wheels move and the GNSS receivers send an epoch."""
SPEED_MPS = 12.0
"""The wheels' speed in the dispatcher's time (metres per dispatcher second; the fixes
report it so): faster than any plan (25 km/h at most), so a truck waits at the end of its
base rather than falling behind its plan."""
STATE_S = 0.2
"""The agents' `[state] interval_s` (wall): 2 of the dispatcher's seconds."""
FUEL_LEVEL = 3400
"""LLS level (of 4095): about 249 L of the agents' 300 L tanks, far from a refuel."""
RUN_S = 240.0
"""The whole scenario's deadline (wall)."""
HOLD_S = wall(300.0)
"""How long the late truck stands at most, waiting for the other to be held."""
LATE_S = wall(15.0)
"""How late the late truck is at least: longer than the other truck's plan could have had
it wait for the junction, so that the other is held by the late one, not by its plan."""
HELD_S = wall(20.0)
"""How long the other truck stands held, at least, before the late one sets off: ten of
its states."""
RELEASED_ON_S = wall(20.0)
"""The held truck is released on at most this long after the other truck's state says it
is through the junction."""
PROCESS_S = 20.0
"""Deadline for a process to start up or to stop after SIGTERM."""
FOOTPRINT_M = VehicleClass().footprint_m
"""A standing truck's body and gap: where it stands, this much behind it is taken."""


def yardfleet(*args: str) -> list[str]:
    """The `yardfleet` command line (the console script's module, in this interpreter)."""
    return [sys.executable, "-m", "sim.cli", *args]


def until(what: Callable[[], object], deadline_s: float, why: str) -> None:
    """Poll a condition with a deadline (no sleeping as synchronisation)."""
    end = time.monotonic() + deadline_s
    while not what():
        assert time.monotonic() < end, f"not within {deadline_s} s: {why}"
        time.sleep(0.02)


def import_jobs(db: Path) -> None:
    """The work queue into the journal, as an operator would put it there."""
    queue = db.parent / "queue.csv"
    queue.write_text(QUEUE, encoding="utf-8")
    done = subprocess.run(
        yardfleet("jobs", "import", str(queue), "--journal", str(db)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


# -- the processes -----------------------------------------------------------------------


class Processes:
    """Subprocesses started by the test: SIGTERM, then SIGKILL, whatever happens."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[str]] = []
        self.logs: list[IO[str]] = []

    def start(self, args: list[str], log: Path, *, stdout: bool = False) -> subprocess.Popen[str]:
        err = log.open("w", encoding="utf-8")
        self.logs.append(err)
        proc = subprocess.Popen(
            args,
            cwd=REPO,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
        self.procs.append(proc)
        return proc

    @staticmethod
    def stop(*procs: subprocess.Popen[str]) -> list[int]:
        """SIGTERM to each, then wait (bounded); killed if one does not stop. Their exit
        statuses."""
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(PROCESS_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5.0)
        return [proc.returncode for proc in procs]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5.0)
            if proc.stdout is not None:
                proc.stdout.close()
        for log in self.logs:
            log.close()


class Serve:
    """`yardfleet dispatcher serve` on a journal; its stdout lines kept by a thread."""

    def __init__(self, procs: Processes, db: Path, log: Path, bind: str) -> None:
        args = ["dispatcher", "serve", "--journal", str(db), "--bind", bind]
        args += ["--terminal", "haiphong", "--seconds", str(RUN_S)]
        args += ["--clock-rate", str(CLOCK_RATE)]
        self.proc = procs.start(yardfleet(*args), log, stdout=True)
        self.log = log
        self.lines: list[str] = []
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()  # the server prints it, or exits
        if not first.startswith("listening on "):
            self.proc.wait(PROCESS_S)
            raise AssertionError(f"dispatcher did not start: {first!r}\n{log.read_text()}")
        self.endpoint = first.split()[2].rstrip(",")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> int:
        [code] = Processes.stop(self.proc)
        self._reader.join(5.0)
        return code


def onboard_toml(folder: Path, truck: str, driver: str, endpoint: str) -> Path:
    """The agent's configuration: GNSS and fuel on the ptys in `folder`."""
    (folder / "tank.csv").write_text("level,litres\n0,0\n4095,300\n", encoding="utf-8")
    path = folder / "onboard.toml"
    path.write_text(
        f"""\
[truck]
serial_number = "{truck}"
manufacturer = "{MAKER}"
tank_litres = 300.0
driver = "{driver}"

[map]
terminal = "haiphong"
map_id = "haiphong"
map_version = "1"

[gnss]
port = "{folder / "gps"}"

[fuel]
port = "{folder / "fuel"}"
protocol = "lls"
address = 1
calibration = "tank.csv"
poll_s = 0.5
timeout_s = 2.0

[dispatcher]
endpoint = "{endpoint}"
heartbeat_s = 0.5
heartbeat_timeout_s = 2.0
heartbeat_ttl_s = 2.0
reconnect_s = 0.05
reconnect_max_s = 0.5
ack_timeout_s = 2.0
flush_timeout_s = 5.0

[state]
interval_s = {STATE_S}

[spool]
path = "spool.sqlite"
""",
        encoding="utf-8",
    )
    return path


# -- the journal, read while the dispatcher writes it ------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    """One journal event: its sequence number, kind and body; when the test read it."""

    seq: int
    kind: str
    body: dict[str, Any]
    seen: float
    """`time.monotonic()` when read (a tick after it was written, at most)."""


class Tape:
    """The journal's events as another process reads them, new ones as they come."""

    def __init__(self, db: Path) -> None:
        self.con = sqlite3.connect(db, isolation_level=None, timeout=10.0)
        self.events: list[Seen] = []
        self.states: dict[str, dict[str, Any]] = {}
        """Each truck's latest state (the message as journalled)."""
        self.steps: dict[str, list[str]] = {}
        """Each job's states, in order."""
        self.truck_of: dict[str, str] = {}

    def read(self) -> list[Seen]:
        last = self.events[-1].seq if self.events else 0
        rows = self.con.execute(
            "SELECT seq, kind, body FROM events WHERE seq > ? ORDER BY seq", (last,)
        ).fetchall()
        now = time.monotonic()
        new = [Seen(seq, kind, json.loads(body), now) for seq, kind, body in rows]
        for e in new:
            if e.kind == "msg.state":
                self.states[e.body["truck"]] = e.body["message"]
            elif e.kind == "job.step":
                self.steps.setdefault(e.body["job"], []).append(e.body["state"])
                if e.body.get("truck"):
                    self.truck_of[e.body["job"]] = e.body["truck"]
        self.events += new
        return new

    def of(self, kind: str) -> list[Seen]:
        return [e for e in self.events if e.kind == kind]

    def close(self) -> None:
        self.con.close()


# -- the trucks' wheels ------------------------------------------------------------------


def in_junction(yard: Yard, edge_id: str, junction: str) -> bool:
    """Whether the edge is one of the junction's connectors."""
    return yard.lanes[edge_id].conflict_group == junction


@dataclass
class Wheels:
    """One truck's wheels and GNSS receiver: they drive the base its agent holds, no further.

    The route of the current order is put together from the agent's states (each lists
    the nodes and edges still ahead, released or not); the truck drives from the last
    node it reached to the last released one.
    """

    truck: str
    yard: Yard
    gps: GnssReceiver
    x: float
    y: float
    track: float = 90.0
    order_id: str = ""
    nodes: dict[int, str] = field(default_factory=dict)
    xy: dict[int, tuple[float, float]] = field(default_factory=dict)
    edges: dict[int, str] = field(default_factory=dict)
    released: int = 0
    """sequenceId of the last released node of the order (the base's end)."""
    passed: int = 0
    """sequenceId of the last node the truck has reached."""
    along: float = 0.0
    """Metres driven along the edge after it."""
    late: bool = False
    """Standing on purpose (see `Staging`)."""
    metres: float = 0.0

    def learn(self, state: dict[str, Any]) -> None:
        """What the agent holds now: a new order (from where the truck stands) or more."""
        order_id = state.get("orderId") or ""
        if order_id != self.order_id:
            self.order_id, self.nodes, self.edges, self.along = order_id, {}, {}, 0.0
            self.xy = {}
            self.passed = self.released = state.get("lastNodeSequenceId") or 0
        for n in state.get("nodeStates", []):
            self.nodes[n["sequenceId"]] = n["nodeId"]
            if n.get("nodePosition"):
                self.xy[n["sequenceId"]] = (n["nodePosition"]["x"], n["nodePosition"]["y"])
            if n["released"]:
                self.released = max(self.released, n["sequenceId"])
        for e in state.get("edgeStates", []):
            self.edges[e["sequenceId"]] = e["edgeId"]

    @property
    def at_base_end(self) -> bool:
        return self.passed >= self.released

    def base_ahead(self) -> list[str]:
        """The released edges still to drive."""
        return [e for k, e in sorted(self.edges.items()) if self.passed < k <= self.released]

    def horizon(self) -> list[str]:
        """The edges past the base's end."""
        return [e for k, e in sorted(self.edges.items()) if k > self.released]

    def tick(self, state: dict[str, Any] | None, dt: float) -> None:
        """Drive for `dt` of wall time along the base (at SPEED_MPS in the dispatcher's
        time); a fix at every node passed on the way, and one where the truck is then."""
        if state is not None:
            self.learn(state)
        budget = 0.0 if self.late else SPEED_MPS * CLOCK_RATE * min(dt, 5 * TICK_S)
        points = self._drive(budget)
        moved = sum(
            math.hypot(x1 - x0, y1 - y0)
            for (x0, y0), (x1, y1) in itertools.pairwise([(self.x, self.y), *points])
        )
        speed = moved / max(dt, 1e-3) / CLOCK_RATE
        for x, y in points or [(self.x, self.y)]:
            if math.hypot(x - self.x, y - self.y) > 1e-6:
                self.track = math.degrees(math.atan2(x - self.x, y - self.y)) % 360.0
            self.x, self.y = x, y
            self.gps.epoch(x, y, speed_mps=speed, track_deg=self.track)
        self.metres += moved

    def _drive(self, budget: float) -> list[tuple[float, float]]:
        """Up to `budget` metres along the base, never past its end: each node reached,
        then the point on a lane where the budget ran out (if it did)."""
        points: list[tuple[float, float]] = []
        while self.passed < self.released and budget > 0:
            seq = self.passed + 2  # nodes take the even sequenceIds, edges the odd between
            line = self.yard.lanes[self.edges[seq - 1]].geometry
            start, end = self._on(line, seq - 2, 0.0), self._on(line, seq, line.length)
            left = end - start - self.along
            if left > budget:
                self.along += budget
                point = line.interpolate(start + self.along)
                points.append((point.x, point.y))
                break
            budget -= left
            points.append(self._xy(seq))
            self.passed, self.along = seq, 0.0
        return points

    def _xy(self, seq: int) -> tuple[float, float]:
        """Where an order node is: its nodePosition, else the yard's node."""
        if seq in self.xy:
            return self.xy[seq]
        node = self.yard.node(self.nodes[seq])
        return node.x, node.y

    def _on(self, line: Any, seq: int, default: float) -> float:
        """Metres along the lane of an order node (a lane end node: `default`)."""
        if seq not in self.xy:
            return default
        return float(line.project(Point(*self.xy[seq])))


# -- crane adapters ----------------------------------------------------------------------


class CraneAdapter:
    """A crane's adapter: a DEALER sending CraneEvents, reading the dispatcher's acks."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, crane: str) -> None:
        self.crane = crane
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.ROUTING_ID, crane.encode())
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.header = 0

    def move_done(self, kind: CraneKind, truck: str, job: str) -> None:
        """MOVEDONE for the truck's box; returns once the dispatcher has stored it."""
        self.header += 1
        event = make_crane_event(
            self.crane,
            kind,
            CraneEventKind.MOVEDONE,
            truck_id=truck,
            job_id=job,
            header_id=self.header,
        )
        self.sock.send_multipart([message_topic(event).encode(), encode(event)])
        end = time.monotonic() + 10.0
        while time.monotonic() < end:
            if not self.sock.poll(100):
                continue
            frames = self.sock.recv_multipart()
            if frames[0] == link.ACK and self.header in link.decode_ack(frames[1]).header_ids:
                return
        raise AssertionError(f"{self.crane}: MOVEDONE for {truck} not acknowledged")

    def close(self) -> None:
        self.sock.close(0)


# -- the hold, staged --------------------------------------------------------------------


def junctions_of(order: dict[str, Any], yard: Yard) -> list[str]:
    """The junctions an order's route goes through, in order (horizon included)."""
    out: list[str] = []
    for edge in order["edges"]:
        group = yard.lanes[edge["edgeId"]].conflict_group
        if group in yard.junction_ids and group not in out:
            out.append(group)
    return out


@dataclass
class Staging:
    """The truck granted the first junction both ways share sets off late, so that the
    other drives off its spot and is held at its stop line before the junction until the
    first has been through it."""

    yard: Yard
    junction: str | None = None
    first: str | None = None
    other: str | None = None
    late_since: float = 0.0
    held: str | None = None
    """The node the other truck stood at, held, as seen live while the first stood."""
    held_since: float = 0.0
    recorded: int = 0
    """Journal seq at which the other truck's latest status was seen to be HELD."""
    done: bool = False

    def step(self, tape: Tape, wheels: dict[str, Wheels]) -> None:
        if self.done:
            return
        if self.junction is None:  # nobody moves before the shared junction is known
            self._choose(tape)
            for w in wheels.values():
                w.late = self.junction is None
            if self.junction is None:
                return
        if self.first is None:
            self._pick_first(tape, wheels)
        else:
            self._watch(tape, wheels)

    def _choose(self, tape: Tape) -> None:
        firsts: dict[str, list[str]] = {}
        for e in tape.of("msg.order"):
            truck = e.body["truck"]
            if truck not in firsts and e.body["message"]["orderUpdateId"] == 0:
                firsts[truck] = junctions_of(e.body["message"], self.yard)
        if len(firsts) < len(TRUCKS):
            return
        a, b = firsts.values()
        shared = [j for j in a if j in b]
        assert shared, f"the trucks' first legs share no junction: {firsts}"
        self.junction = shared[0]

    def _pick_first(self, tape: Tape, wheels: dict[str, Wheels]) -> None:
        """The first truck whose base goes through the junction stands, late."""
        assert self.junction is not None
        for truck, w in wheels.items():
            if tape.states.get(truck):
                w.learn(tape.states[truck])
            if any(in_junction(self.yard, e, self.junction) for e in w.base_ahead()):
                self.first, w.late, self.late_since = truck, True, time.monotonic()
                self.other = next(t for t in wheels if t != truck)
                return

    def _watch(self, tape: Tape, wheels: dict[str, Wheels]) -> None:
        """The late truck sets off once the other has stood held long enough (or at last)."""
        assert self.junction is not None and self.first is not None and self.other is not None
        w, state = wheels[self.other], tape.states.get(self.other, {})
        standing = (
            w.metres > 0
            and w.at_base_end
            and not state.get("driving", True)
            and state.get("lastNodeId") == w.nodes.get(w.released)
            and any(in_junction(self.yard, e, self.junction) for e in w.horizon())
        )
        now = time.monotonic()
        if standing and self.held != state["lastNodeId"]:
            self.held, self.held_since, self.recorded = state["lastNodeId"], now, 0
        statuses = [e for e in tape.of("truck.status") if e.body["truck"] == self.other]
        if self.held is not None and statuses and statuses[-1].body["activity"] == "HELD":
            self.recorded = self.recorded or tape.events[-1].seq
        enough = now - self.late_since >= LATE_S and now - self.held_since >= HELD_S
        if (self.recorded and enough) or now - self.late_since > HOLD_S:
            wheels[self.first].late = False
            self.done = True


# -- the run -----------------------------------------------------------------------------


@dataclass
class Run:
    """What the scenario left: the journal's events and what was seen live."""

    events: list[Seen]
    yard: Yard
    staged: Staging
    seconds: float
    exits: dict[str, int]
    lines: list[str]
    """What the dispatching server printed."""
    fuel_requests: dict[str, int]
    metres: dict[str, float]
    logs: dict[str, str] = field(default_factory=dict)

    def of(self, kind: str) -> list[Seen]:
        return [e for e in self.events if e.kind == kind]


def crane_for(yard: Yard, tape: Tape, job: str, truck: str, step: str) -> tuple[str, CraneKind]:
    """The crane that serves the truck now: the job's quay crane, or the block's RTG."""
    if step == "at_pickup":
        return JOBS[job], CraneKind.QC
    block = yard.service_point_by_node[tape.states[truck]["lastNodeId"]].area
    return min(c.id for c in yard.cranes.values() if c.area == block), CraneKind.RTG


class Scenario:
    """The yard of the scenario: the dispatcher, the trucks' agents, their devices and
    wheels, the crane adapters; the journal as the test reads it."""

    def __init__(self, yard: Yard, tmp: Path) -> None:
        self.yard, self.tmp = yard, tmp
        self.db = tmp / "journal.db"
        import_jobs(self.db)
        self.procs = Processes()
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.devices: list[GnssReceiver | LlsFuelSensor] = []
        self.cranes: dict[str, CraneAdapter] = {}
        self.tape = Tape(self.db)
        self.wheels: dict[str, Wheels] = {}
        self.sensors: dict[str, LlsFuelSensor] = {}
        self.agents: dict[str, subprocess.Popen[str]] = {}
        self.staged = Staging(yard)
        self.served: set[tuple[str, str]] = set()
        self.started = time.monotonic()
        self.serve: Serve | None = None

    def start(self) -> None:
        """The dispatcher first, then the trucks, their receivers still acquiring
        satellites: both join before their first fix."""
        serve = Serve(self.procs, self.db, self.tmp / "serve.err", "tcp://127.0.0.1:*")
        self.serve = serve
        for truck, (spot, driver) in TRUCKS.items():
            folder = self.tmp / truck
            folder.mkdir()
            gps = GnssReceiver(folder / "gps", self.yard.frame)
            self.sensors[truck] = LlsFuelSensor(folder / "fuel", FUEL_LEVEL)
            self.devices += [gps, self.sensors[truck]]
            node = self.yard.node(self.yard.node_of(spot))
            self.wheels[truck] = Wheels(truck, self.yard, gps, node.x, node.y)
            config = onboard_toml(folder, truck, driver, serve.endpoint)
            self.agents[truck] = self.procs.start(
                yardfleet("agent", "--config", str(config), "--log-level", "INFO"),
                folder / "agent.err",
            )

        def joined() -> bool:
            for w in self.wheels.values():
                w.gps.no_fix()
            self.tape.read()
            return {e.body["truck"] for e in self.tape.of("truck.joined")} == set(TRUCKS)

        until(joined, 30.0, "both trucks join, before their receivers' first fix")

    def drive(self) -> None:
        """The receivers have a fix: the trucks stand at their spots, get work and drive
        it, a tick at a time, until both jobs are done."""
        assert self.serve is not None
        tape, deadline, last = self.tape, time.monotonic() + RUN_S, time.monotonic()
        while not all(tape.steps.get(j, [])[-1:] == ["done"] for j in JOBS):
            assert time.monotonic() < deadline, f"jobs not done within {RUN_S} s: {tape.steps}"
            for name, proc in [("dispatcher", self.serve.proc), *self.agents.items()]:
                assert proc.poll() is None, f"{name} exited with {proc.returncode}"
            tick = time.monotonic()
            tape.read()
            self.staged.step(tape, self.wheels)
            for w in self.wheels.values():
                w.tick(tape.states.get(w.truck), tick - last)
            last = tick
            self.serve_cranes()
            time.sleep(max(0.0, TICK_S - (time.monotonic() - tick)))  # the receivers' rate

    def serve_cranes(self) -> None:
        """A MOVEDONE for each truck under its crane (once per job step)."""
        assert self.serve is not None
        tape = self.tape
        for job, steps in tape.steps.items():
            who, step = tape.truck_of.get(job), steps[-1]
            if who is None or step not in ("at_pickup", "at_drop") or (job, step) in self.served:
                continue
            crane_id, kind = crane_for(self.yard, tape, job, who, step)
            if crane_id not in self.cranes:
                self.cranes[crane_id] = CraneAdapter(self.ctx, self.serve.endpoint, crane_id)
            self.cranes[crane_id].move_done(kind, who, job)
            self.served.add((job, step))

    def finish(self) -> Run:
        """Every process stopped (the agents together, then the dispatcher); what is left."""
        assert self.serve is not None
        exits = dict(zip(self.agents, Processes.stop(*self.agents.values()), strict=True))
        exits["dispatcher"] = self.serve.stop()
        self.tape.read()
        return Run(
            self.tape.events,
            self.yard,
            self.staged,
            time.monotonic() - self.started,
            exits,
            self.serve.lines,
            {t: s.requests for t, s in self.sensors.items()},
            {t: w.metres for t, w in self.wheels.items()},
            {str(p.relative_to(self.tmp)): p.read_text() for p in self.tmp.rglob("*.err")},
        )

    def close(self) -> None:
        self.tape.close()
        for crane in self.cranes.values():
            crane.close()
        self.procs.close()
        for device in self.devices:
            device.close()
        self.ctx.destroy(linger=0)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    scenario = Scenario(terminal("haiphong"), tmp_path_factory.mktemp("wire"))
    try:
        scenario.start()
        scenario.drive()
        yield scenario.finish()
    finally:
        scenario.close()


# -- what the journal says ---------------------------------------------------------------


def orders_of(run: Run) -> list[tuple[int, str, Order]]:
    """(journal seq, truck, order) of every order the dispatcher sent, in order."""
    return [
        (e.seq, e.body["truck"], decode(Order, json.dumps(e.body["message"])))
        for e in run.of("msg.order")
    ]


@dataclass
class Route:
    """A truck's current order as sent so far: nodes and edges by sequenceId, its base."""

    order_id: str
    nodes: dict[int, str]
    edges: dict[int, str]
    released: int

    def take(self, order: Order) -> Route:
        """This route after `order` (a new order replaces it, an update continues it)."""
        nodes = {n.sequence_id: n.node_id for n in order.nodes}
        edges = {e.sequence_id: e.edge_id for e in order.edges}
        released = max(n.sequence_id for n in order.nodes if n.released)
        if order.order_id != self.order_id:
            return Route(order.order_id, nodes, edges, released)
        cut = order.nodes[0].sequence_id
        return Route(
            self.order_id,
            {**{k: v for k, v in self.nodes.items() if k < cut}, **nodes},
            {**{k: v for k, v in self.edges.items() if k < cut}, **edges},
            max(self.released, released),
        )

    def through(self, yard: Yard, junction: str, *, base: bool) -> bool:
        """Whether the base (or the horizon) goes through the junction."""
        return any(
            (k <= self.released) == base and in_junction(yard, e, junction)
            for k, e in self.edges.items()
        )


@dataclass
class Hold:
    """A truck whose base ends short of a junction while the other's goes through it."""

    truck: str
    other: str
    junction: str
    ends: list[str]
    """Where its base ended while it was held, in turn."""
    route: Route
    since: int
    """Journal seq of the order after which it was held."""
    released: int | None = None
    """Journal seq of the update that released it through the junction."""


def the_hold(run: Run) -> Hold | None:
    """The staged hold as the `msg.order` events alone tell it."""
    staged = run.staged
    if staged.junction is None or staged.first is None or staged.other is None:
        return None
    junction, first, other = staged.junction, staged.first, staged.other
    routes: dict[str, Route] = {}
    hold: Hold | None = None
    for seq, truck, order in orders_of(run):
        routes[truck] = routes.get(truck, Route("", {}, {}, 0)).take(order)
        if first not in routes or other not in routes:
            continue
        mine, theirs = routes[other], routes[first]
        if mine.through(run.yard, junction, base=True):
            if hold is not None and hold.released is None:
                hold.released = seq
            if hold is not None:
                return hold
            continue
        if hold is None and (
            theirs.through(run.yard, junction, base=True)
            and mine.through(run.yard, junction, base=False)
        ):
            hold = Hold(other, first, junction, [], mine, seq)
        if hold is not None and mine.nodes[mine.released] not in hold.ends:
            hold.ends.append(mine.nodes[mine.released])
            hold.route = mine
    return hold


def stop_line(yard: Yard, route: Route, junction: str) -> str:
    """Where a truck on the route waits for the junction: the stop line of its approach.
    That is the junction's own stop line on the route (the node its connector starts at)
    when a standing truck's body (a footprint behind the node) is clear of every junction
    and shared road there; else the stop line of the junction before it on the route (the
    lane between is shorter than a body), and so on."""
    k = min(k for k, e in route.edges.items() if in_junction(yard, e, junction))
    node = k - 1
    while True:
        behind, clear, edge = 0.0, True, node - 1
        while behind < FOOTPRINT_M and edge in route.edges:
            lane = yard.lanes[route.edges[edge]]
            clear = clear and lane.conflict_group is None and not lane.conflicts
            behind += lane.length_m
            edge -= 2
        if clear:
            return route.nodes[node]
        node = max(  # the stop line before: where the last connector before it starts
            e - 1
            for e, lane in route.edges.items()
            if e < node and yard.lanes[lane].conflict_group in yard.junction_ids
        )


def stamp(event: Seen) -> float:
    """When a journalled message was sent (its header timestamp), POSIX seconds."""
    return datetime.fromisoformat(event.body["message"]["timestamp"]).timestamp()


def states_of(run: Run, truck: str, after: int, before: int) -> list[dict[str, Any]]:
    return [
        e.body["message"]
        for e in run.of("msg.state")
        if e.body["truck"] == truck and after < e.seq < before
    ]


# -- the tests ---------------------------------------------------------------------------


def test_both_jobs_are_done_and_every_process_stops_cleanly(run: Run) -> None:
    print(f"\nwall time {run.seconds:.0f} s; driven {run.metres}")
    steps: dict[str, list[str]] = {}
    for e in run.of("job.step"):
        steps.setdefault(e.body["job"], []).append(e.body["state"])
    for job in JOBS:
        assert steps[job][-1] == "done", steps
        for state in ("to_pickup", "at_pickup", "loaded", "to_drop", "at_drop"):
            assert state in steps[job], (job, steps[job])
    trucks = {e.body["job"]: e.body["truck"] for e in run.of("job.step") if "truck" in e.body}
    assert sorted(trucks.values()) == sorted(TRUCKS), trucks  # one job each
    moves = sorted((e.body["crane_kind"], e.body["job"]) for e in run.of("crane.event"))
    assert moves == [("QC", "J1"), ("QC", "J2"), ("RTG", "J1"), ("RTG", "J2")]
    assert run.exits == {"TT01": 0, "TT02": 0, "dispatcher": 0}, run.logs
    # Nothing refused, nothing left unacknowledged in an agent's spool.
    stopped = [line for line in run.lines if line.startswith("stopped: ")]
    assert stopped and ", errors 0," in stopped[0], (run.lines, run.logs["serve.err"][-2000:])
    for truck in TRUCKS:
        assert "(spool flushed)" in run.logs[f"{truck}/agent.err"], run.logs[f"{truck}/agent.err"]
    assert {e.body["truck"] for e in run.of("truck.joined")} == set(TRUCKS)
    lost = [e.body for e in run.of("truck.connection") if e.body["state"] == "CONNECTIONBROKEN"]
    assert not lost, lost
    # The agents read their fuel sensors, and the dispatcher has the litres.
    assert all(n > 0 for n in run.fuel_requests.values()), run.fuel_requests
    litres = {e.body["truck"]: e.body["litres"] for e in run.of("truck.status")}
    assert all(abs(v - FUEL_LEVEL / 4095 * 300) < 1.0 for v in litres.values()), litres


def test_a_truck_is_held_at_its_stop_line_while_the_other_goes_through_then_released_on(
    run: Run,
) -> None:
    staged = run.staged
    assert staged.junction is not None and staged.first is not None, staged
    assert staged.held is not None, f"nobody was seen held before {staged.junction}"
    hold = the_hold(run)
    assert hold is not None, "no base ended short of the junction while the other's went on"
    assert (hold.truck, hold.other) == (staged.other, staged.first), hold
    # Its base ended at the stop line of its approach while the other's went through the
    # junction, and it stood there (not at some node before it).
    line = stop_line(run.yard, hold.route, hold.junction)
    assert hold.ends[-1] == line, (hold.truck, hold.junction, hold.ends)
    assert staged.held == line, (hold.truck, hold.junction, staged.held)
    assert hold.released is not None, f"{hold.truck} never released through {hold.junction}"
    # It stood there, at the end of its base, and the dispatcher had it HELD, ...
    standing = [
        s
        for s in states_of(run, hold.truck, hold.since, hold.released)
        if s["lastNodeId"] == line
        and not s["driving"]
        and not any(n["released"] for n in s["nodeStates"])
    ]
    assert len(standing) >= 3, f"{hold.truck} stood at {line} in {len(standing)} states"
    statuses = [
        e.body["activity"]
        for e in run.of("truck.status")
        if e.body["truck"] == hold.truck and e.seq <= staged.recorded
    ]
    assert statuses[-1:] == ["HELD"], statuses
    # ... until the other truck had been through the junction; then it was released on.
    through = [
        e
        for e in run.of("msg.state")
        if e.body["truck"] == hold.other
        and hold.since < e.seq < hold.released
        and e.body["message"].get("orderId")
        and not any(
            in_junction(run.yard, x["edgeId"], hold.junction)
            for x in e.body["message"]["edgeStates"]
        )
    ]
    assert through, f"{hold.truck} released before {hold.other} left {hold.junction}"
    on = next(
        e for e in run.of("msg.order") if e.body["truck"] == hold.truck and e.seq > through[0].seq
    )
    waited = on.seen - through[0].seen  # wall time, as the test read the journal
    print(f"\n{hold.truck} held at {line} in {len(standing)} states, on {waited:.2f} s after")
    assert waited < RELEASED_ON_S + TICK_S, (
        f"{hold.truck} moved on {waited:.2f} s (wall) after {hold.other} was through"
    )


def test_every_order_keeps_the_update_rules(run: Run) -> None:
    last: dict[str, Order] = {}
    orders = orders_of(run)
    assert {truck for _, truck, _ in orders} == set(TRUCKS)
    for _, truck, order in orders:
        previous = last.get(order.order_id)
        if previous is None:
            assert order.order_update_id == 0, order.order_id
        else:
            why = stitches(previous, order)
            assert why is None, f"{truck} {order.order_id}/{order.order_update_id}: {why}"
        last[order.order_id] = order
    updates = [o for _, _, o in orders if o.order_update_id > 0]
    assert len(updates) >= 10, len(updates)  # the bases went out piece by piece


def test_every_order_validates_against_the_vda5050_schema(run: Run) -> None:
    if not ORDER_SCHEMA.is_file():
        pytest.skip(f"{ORDER_SCHEMA} is absent (../shared is not laid out here)")
    schema = json.loads(ORDER_SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    orders = run.of("msg.order")
    assert orders
    for e in orders:
        errors = [f"{x.json_path}: {x.message}" for x in validator.iter_errors(e.body["message"])]
        assert not errors, (e.body["truck"], e.body["purpose"], errors)


def test_the_agents_took_every_order_and_passed_no_node_not_released_to_them(run: Run) -> None:
    refusals = {"validationError", "orderError", "orderUpdateError"}
    reach: dict[tuple[str, str], int] = {}
    """(truck, orderId) → the highest released sequenceId sent so far."""
    for e in run.events:
        if e.kind == "msg.order":
            message = e.body["message"]
            key = (e.body["truck"], message["orderId"])
            top = max(n["sequenceId"] for n in message["nodes"] if n["released"])
            reach[key] = max(reach.get(key, 0), top)
        elif e.kind == "msg.state":
            state, truck = e.body["message"], e.body["truck"]
            errors = {x["errorType"] for x in state.get("errors", [])}
            assert not refusals & errors, (truck, state.get("errors"))
            if state.get("orderId"):
                key = (truck, state["orderId"])
                assert key in reach, f"{truck} reports order {key[1]} before it was sent"
                assert state["lastNodeSequenceId"] <= reach[key], (truck, state["lastNodeId"])


# -- bugs the run found (fixed since) ---------------------------------------------------


def test_a_truck_that_joins_before_its_first_fix_gets_work(run: Run) -> None:
    """An agent's first state goes out before its receiver's first fix: the truck joined
    without a spot, and nothing gave it one when it then reported standing at its parking
    spot, so it never got work. Now it is placed there and gets work from there."""
    joined = {e.body["truck"]: e.seq for e in run.of("truck.joined")}
    for truck, (spot, _) in TRUCKS.items():
        states = [e for e in run.of("msg.state") if e.body["truck"] == truck]
        located = next(e for e in states if e.body["message"].get("lastNodeId"))
        assert states[0].seq < joined[truck] < located.seq, (truck, joined, located.seq)
        assert located.body["message"]["lastNodeId"] == run.yard.node_of(spot), located.body
        placed = next(
            e for e in run.of("truck.phase") if e.body["truck"] == truck and e.body.get("spot")
        )
        assert (placed.body["spot"], placed.body["phase"]) == (spot, "TO_PICKUP"), placed.body
        first = next(e for e in run.of("msg.order") if e.body["truck"] == truck)
        assert located.seq < first.seq, (truck, located.seq, first.seq)
        assert first.body["message"]["nodes"][0]["nodeId"] == run.yard.node_of(spot), first.body


def test_the_held_truck_waits_at_its_stop_line(run: Run) -> None:
    """While the junction was taken, the base did not reach the stop line either (a
    stop-line node and the junction after it were one grant), and the held truck stood a
    lane or a junction short of it. On haiphong, TT01 comes from the west and waits at
    X0315's stop line; TT02 comes from the north through X0314, and the lane from X0314
    to X0315 (16 m) is shorter than a truck's body (20 m), so it waits at X0314's."""
    hold = the_hold(run)
    assert hold is not None and hold.junction == "X0315", hold
    expected = {"TT01": "X0315:park-a1-06", "TT02": "X0314:park-a2-06"}[hold.truck]
    assert stop_line(run.yard, hold.route, hold.junction) == expected, hold.route
    assert (run.staged.held, hold.ends[-1]) == (expected, expected), hold.ends


def test_a_truck_heading_due_west_is_heard(run: Run) -> None:
    """Theta -pi rounded to -3.1416 was outside VDA 5050's range, and the dispatcher
    refused every state and visualization of a truck heading due west. The trucks head
    due west on the quay road (their fixes' track is 270.0): those states are journalled,
    within the range, and the dispatcher refused nothing (see the first test)."""
    west = [
        e.body["message"]["agvPosition"]["theta"]
        for e in run.of("msg.state")
        if abs((e.body["message"].get("agvPosition") or {}).get("theta", 0.0)) > 3.14
    ]
    assert west, "no truck was heard heading due west"
    assert all(-PI <= theta <= PI for theta in west), sorted(set(west))  # the schemas' pi

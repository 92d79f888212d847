"""A simulated truck: the onboard agent's core with simulated sensors and wheels.

The core (`drivers.agent.core.AgentCore`, the same code `yardfleet agent` runs, without
its serial ports and socket) gets typed positions from the simulated receiver (the front
of the truck where the wheels have it, with the wheels' odometer; none while a
`gnss_loss` fault lasts: the core then reports `gnssFixLost`), and fuel readings from
the burn (idling plus distance, more when laden). What it sends goes to the dispatcher
as bytes (`Link`); what the dispatcher sends comes back as bytes into the core; the
wheels drive only what the core then commands.

In this fast mode the receiver speaks when the truck's situation changes — moving off,
the front at a node, the rear clear of one, starting to brake at the end of the way,
standing, a fault — and at a heartbeat (`HEARTBEAT_S`): the core then sends its state,
as a VDA 5050 vehicle sends state on change and at least periodically.

The work at the goal is the truck's own order's actions: `pick`/`drop` call the crane
named in the action (with the action's `jobId`), `refuel` runs until the tank is full.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from drivers.agent.core import AgentCore, DriveCommand
from drivers.fuel.reading import FuelReading
from fleet.protocol import Error, ErrorLevel
from fleet.protocol.codec import Message
from sim.wheels import Way, Wheels

HEARTBEAT_S = 10.0
"""A truck sends its state at least this often (fast mode: and on every change)."""
BREAKDOWN = "breakdown"


class Link(Protocol):
    """How a simulated truck's messages reach the dispatcher (in process, in sim time)."""

    def send(self, sender: str, message: Message) -> None:
        """Send `message` from `sender` (its routing id)."""

    def at(self, t: float, action: Callable[[], None]) -> None:
        """Run `action` at simulated time t."""


class Work(Protocol):
    """The yard's side of a truck's work at its goal (cranes, the fuel station)."""

    def serve(self, truck: SimTruck, station_type: str, station: str, job: str) -> None:
        """The truck stands at a crane (or gate lane) for this job's box."""

    def refuel(self, truck: SimTruck, action_id: str) -> None:
        """The truck stands at the fuel station."""


@dataclass
class Burn:
    """Litres from idling and driving: `idle_lph`, `per_km`, × `laden_factor` laden."""

    idle_lph: float
    per_km: float
    laden_factor: float


@dataclass
class SimTruck:
    """One simulated truck: core, wheels, tank, faults."""

    id: str
    core: AgentCore
    wheels: Wheels
    link: Link
    work: Work
    burn: Burn
    tank_l: float
    litres: float
    laden: bool = False
    broken: bool = False
    gnss_lost: bool = False
    pending_break: float | None = None
    held_up_s: float = 0.0
    _fuel_t: float = 0.0
    _fuel_s: float = 0.0
    _version: int = 0
    _command: DriveCommand | None = None
    _ways: tuple[Way, ...] = ()
    _ways_of: tuple[object, int | None, tuple[Way, ...]] = ((), None, ())
    """The book's edge states list (held: a new list whenever the book changes), the
    commanded sequenceId, and the ways they gave (`_ways_to`, asked on every report)."""
    _moving: bool = False
    _held_since: float | None = None
    _done: set[str] = field(default_factory=set)
    _beat: float = -math.inf

    # -- sensors -----------------------------------------------------------------------

    def fuel_now(self, t: float) -> float:
        """Litres in the tank at t (the burn since the last account taken)."""
        s = self.wheels.s(t)
        km = max(0.0, s - self._fuel_s) / 1000.0
        hours = max(0.0, t - self._fuel_t) / 3600.0
        b = self.burn
        per_km = b.per_km * (b.laden_factor if self.laden else 1.0)
        self.litres = max(0.0, self.litres - b.idle_lph * hours - per_km * km)
        self._fuel_t, self._fuel_s = t, s
        return self.litres

    def sense(self, now: float) -> None:
        """The receiver and the fuel sensor tell the core where and how full the truck is."""
        if self.gnss_lost:
            self.core.on_fix_lost(now)
        else:
            x, y, heading, speed = self.wheels.pose(now)
            self.core.on_position(
                x, y, speed, heading, None, now, odometer_m=self.wheels.s(now), visualize=False
            )
        litres = self.fuel_now(now)
        self.core.on_fuel(FuelReading(now, litres, None, None, True, "sim"), now)

    # -- the link ----------------------------------------------------------------------

    def report(self, now: float, *, force: bool = True) -> None:
        """Sense, and send the state (`force`: whether or not it changed)."""
        self.sense(now)
        out: list[Message] = [self.core.state_message(now)] if force else self.core.tick(now)
        self._beat = now
        for message in out:
            self.link.send(self.id, message)
        self.steer(now)

    def heartbeat(self, now: float) -> None:
        """The periodic state, unless one went out within the heartbeat."""
        if now - self._beat >= HEARTBEAT_S - 1e-6:
            self.report(now)
        t = self._beat + HEARTBEAT_S
        self.link.at(t, lambda: self.heartbeat(t))

    def receive(self, topic: str, body: bytes, now: float) -> None:
        """A message from the dispatcher, as bytes: into the core; its answers out; the
        state at once when it changed; then the wheels follow the command."""
        for reply in self.core.on_message(topic, body, now):
            self.link.send(self.id, reply)
        for message in self.core.tick(now):
            self._beat = now
            self.link.send(self.id, message)
        self.steer(now)
        if not self.broken and not self.wheels.moving(now):
            self.start_work(now)  # an order to work where it stands ("work here")

    # -- the wheels --------------------------------------------------------------------

    def steer(self, now: float) -> None:
        """Make the wheels do what the core commands now."""
        command = self.core.command(now)
        ways = self._ways_to(command) if command.may_drive and not self.broken else ()
        if command == self._command and ways == self._ways:
            return
        self._command, self._ways = command, ways
        if ways or (command.may_drive and not self.broken):
            self.wheels.drive(ways, now)
        else:
            self.wheels.stand(now)
        self._moved(now)

    def _ways_to(self, command: DriveCommand) -> tuple[Way, ...]:
        """The order's edges from the truck to the commanded node."""
        book = self.core.book
        edges, seq, ways = self._ways_of
        if edges is book.edge_states and seq == command.sequence_id:
            return ways
        ways = self._ways_from(command)
        self._ways_of = (book.edge_states, command.sequence_id, ways)
        return ways

    def _ways_from(self, command: DriveCommand) -> tuple[Way, ...]:
        book = self.core.book
        out = []
        for e in book.edge_states:
            if command.sequence_id is None or e.sequence_id >= command.sequence_id:
                break
            edge = book.edge(e.sequence_id)
            limit = None if edge is None else edge.max_speed
            a = self._along(e.edge_id, e.sequence_id - 1, 0.0)
            b = self._along(e.edge_id, e.sequence_id + 1, None)
            out.append(Way(e.edge_id, limit, a or 0.0, b))
        return tuple(out)

    def _along(self, lane: str, node_seq: int, default: float | None) -> float | None:
        """Where on the lane an order node is (a yard node at its ends: `default`)."""
        node = self.core.book.node(node_seq)
        if node is None or node.node_position is None:
            return default
        road = self.wheels.yard.lane(lane)
        if node.node_id in (road.start, road.end):
            return default
        return self.wheels.along(lane, node.node_position.x, node.node_position.y)

    def _moved(self, now: float) -> None:
        """After the wheels changed: what happens next, and when."""
        self._version += 1
        v = self._version
        moving = self.wheels.moving(now)
        if moving and not self._moving:
            self._moving = True
            if self._held_since is not None:
                self.held_up_s += now - self._held_since
                self._held_since = None
            if self.pending_break is not None:
                self.break_down(self.pending_break, now)
                return
            self.report(now)
            return
        nxt = self.wheels.next_moment(now)
        if math.isfinite(nxt):
            self.link.at(nxt, lambda: self._moment(v, nxt))
        elif self._moving:
            self._stood(now)

    def _moment(self, version: int, now: float) -> None:
        if version != self._version:
            return
        if not self.wheels.moving(now) and self._moving:
            self._stood(now)
            return
        self.report(now)
        if version == self._version:
            self._moved(now)

    def _stood(self, now: float) -> None:
        """Came to a stand: say so; work at the goal, or wait for the way."""
        self._moving = False
        self.report(now)
        if self.broken:
            return
        if self.core.book.node_states:
            self._held_since = now  # more to drive: waiting for the way
        self.start_work(now)

    def start_work(self, now: float) -> None:
        """The actions of the node it stands on, each once: a crane move, filling up."""
        if self.core.book.node_states or self.wheels.moving(now):
            return
        for action in self.core.actions_here():
            if action.action_id in self._done:
                continue
            self._done.add(action.action_id)
            params = {p.key: p.value for p in action.action_parameters or []}
            if action.action_type in ("pick", "drop"):
                self.work.serve(
                    self,
                    str(params.get("stationType")),
                    str(params.get("stationName")),
                    str(params.get("jobId")),
                )
            elif action.action_type == "refuel":
                self.work.refuel(self, action.action_id)

    def filled(self, action_id: str, now: float) -> None:
        """The tank is full: the refuel action is done."""
        self.fuel_now(now)
        self.litres = self.tank_l
        self.core.finish_action(action_id, now)
        self.report(now)

    def loaded(self, now: float) -> None:
        """A crane put a box on or took it off."""
        self.fuel_now(now)
        self.laden = not self.laden

    # -- faults ------------------------------------------------------------------------

    def break_down(self, for_s: float, now: float) -> None:
        """The engine stops: the truck rolls to a stand and says so at once (its speed
        tells the dispatcher where it will stand)."""
        self.pending_break = None
        self.broken = True
        self.core.set_condition(
            BREAKDOWN,
            Error(
                error_type=BREAKDOWN,
                error_level=ErrorLevel.FATAL,
                error_description="engine stopped; truck stands where it is",
            ),
        )
        self.wheels.stand(now)
        self._command, self._ways = None, ()
        self._version += 1
        self.report(now)
        self._moved(now)
        self.link.at(now + for_s, lambda: self.repaired(now + for_s))

    def repaired(self, now: float) -> None:
        self.broken = False
        self.core.set_condition(BREAKDOWN, None)
        self._command = None
        self.report(now)

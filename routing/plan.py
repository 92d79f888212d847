"""The plan type: where a truck is, when — the contract between planner, dispatcher and sim.

A plan is a truck id and its steps, in seconds on the shift clock. Times are those of
the truck's FRONT, so a plan is also the truck's trajectory:

- a node step: the front reaches the node at `t_enter` and leaves it at `t_exit` (equal
  when the truck drives through; later when it stands there, as at a service point);
- a lane step covers the stretch `from_m`..`to_m` of the lane (the whole lane by
  default): the front is at `from_m` at `t_enter`, drives at `speed_mps`, and is at
  `to_m` by `t_exit`, standing there for whatever time is left;
- a conflict-group step: from the front entering the group's first lane to the rear
  (plus the safety gap) clearing its last one — the span the group is held.

What a truck holds follows from its length and gap: a node from the front's arrival
until the rear has cleared it by the gap, a lane stretch likewise. Nodes and conflict
groups are held by one truck at a time; a lane holds trucks in order, each at least
its length plus gap behind the one ahead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class ResourceKind(StrEnum):
    """What a step holds."""

    LANE = "lane"
    NODE = "node"
    CONFLICT_GROUP = "conflict_group"


@dataclass(frozen=True, slots=True)
class Step:
    """One resource, entered by the truck's front at `t_enter` and left at `t_exit` (seconds).

    On a lane, the front drives `from_m`..`to_m` (None: to the lane's end) at `speed_mps`.
    """

    resource: str
    kind: ResourceKind
    t_enter: float
    t_exit: float
    speed_mps: float | None = None
    from_m: float = 0.0
    to_m: float | None = None

    def __post_init__(self) -> None:
        if not self.t_exit >= self.t_enter:
            raise ValueError(
                f"step {self.kind.value} {self.resource!r}: t_exit {self.t_exit} is before "
                f"t_enter {self.t_enter}"
            )

    @property
    def duration_s(self) -> float:
        """How long the resource is held."""
        return self.t_exit - self.t_enter


@dataclass(frozen=True, slots=True)
class Plan:
    """A truck's timed steps, in the order it takes them (conflict-group steps overlap lanes)."""

    truck: str
    steps: tuple[Step, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, truck: str, steps: Sequence[Step]) -> Plan:
        """A plan from any sequence of steps."""
        return cls(truck, tuple(steps))

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def t_start(self) -> float:
        """When the truck takes its first resource."""
        return self.steps[0].t_enter if self.steps else 0.0

    @property
    def t_end(self) -> float:
        """When the truck's front reaches its goal (its last node)."""
        nodes = [s for s in self.steps if s.kind is ResourceKind.NODE]
        return nodes[-1].t_enter if nodes else 0.0

    def of_kind(self, kind: ResourceKind) -> list[Step]:
        """The steps that hold one kind of resource, in order."""
        return [s for s in self.steps if s.kind is kind]

    @property
    def lanes(self) -> list[str]:
        """The lane ids the truck drives, in order (a lane driven in stretches counts once)."""
        out: list[str] = []
        for s in self.steps:
            if s.kind is ResourceKind.LANE and (not out or out[-1] != s.resource or s.from_m == 0):
                out.append(s.resource)
        return out

    @property
    def nodes(self) -> list[str]:
        """The node ids the truck passes, in order (waits repeat no node)."""
        return [s.resource for s in self.steps if s.kind is ResourceKind.NODE]

    def shifted(self, dt: float) -> Plan:
        """The same plan, `dt` seconds later."""
        return Plan(
            self.truck,
            tuple(
                Step(
                    s.resource, s.kind, s.t_enter + dt, s.t_exit + dt, s.speed_mps, s.from_m, s.to_m
                )
                for s in self.steps
            ),
        )

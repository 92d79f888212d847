"""Vehicle classes: how fast a truck may go, empty and laden, and how much lane it takes."""

from __future__ import annotations

from dataclasses import dataclass, field

from maps import Lane, LaneKind


@dataclass(frozen=True, slots=True)
class VehicleClass:
    """A kind of truck: speeds empty and laden, body, safety gap and the lanes it may use.

    The default is the terminal tractor of DESIGN.md: 25 km/h empty, 20 km/h laden, a
    tractor with a 40-foot chassis about 16 m long and 2.5 m wide, and a 4 m gap to the
    truck ahead. It speeds up at 1 m/s² and brakes at 1.5 m/s² in service (so it stops
    from 25 km/h in 16 m, inside one planner cell), 3 m/s² at most. Its GNSS antenna sits
    on the cab roof, on the centre line, `antenna_m` behind the front: GNSS fixes are
    that point, not the front.
    """

    name: str = "terminal-tractor"
    empty_speed_mps: float = 25.0 / 3.6
    laden_speed_mps: float = 20.0 / 3.6
    length_m: float = 16.0
    safety_gap_m: float = 4.0
    allowed_kinds: frozenset[LaneKind] = field(default_factory=lambda: frozenset(LaneKind))
    accel_mps2: float = 1.0
    brake_mps2: float = 1.5
    max_brake_mps2: float = 3.0
    width_m: float = 2.5
    antenna_m: float = 3.0
    """The GNSS antenna: metres behind the front, on the centre line (within the body)."""

    def __post_init__(self) -> None:
        for name in (
            "empty_speed_mps",
            "laden_speed_mps",
            "length_m",
            "width_m",
            "accel_mps2",
            "brake_mps2",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"vehicle class {self.name!r}: {name} must be positive")
        if self.max_brake_mps2 < self.brake_mps2:
            raise ValueError(f"vehicle class {self.name!r}: max_brake_mps2 below brake_mps2")
        if self.safety_gap_m < 0:
            raise ValueError(f"vehicle class {self.name!r}: safety_gap_m must not be negative")
        if not 0.0 <= self.antenna_m <= self.length_m:
            raise ValueError(
                f"vehicle class {self.name!r}: antenna_m ({self.antenna_m} m behind the front) "
                f"must lie within the body (0 to length_m = {self.length_m} m)"
            )

    def top_speed(self, laden: bool) -> float:
        """The vehicle's own limit, empty or laden (m/s)."""
        return self.laden_speed_mps if laden else self.empty_speed_mps

    def may_use(self, lane: Lane) -> bool:
        """Whether this class may drive the lane at all (by its kind)."""
        return lane.kind in self.allowed_kinds

    def stopping_m(self, speed_mps: float) -> float:
        """Metres to a stand from `speed_mps`, braking at the service rate."""
        return speed_mps * speed_mps / (2 * self.brake_mps2)

    @property
    def footprint_m(self) -> float:
        """Length plus safety gap: the lane a truck occupies in a queue."""
        return self.length_m + self.safety_gap_m


TERMINAL_TRACTOR = VehicleClass()

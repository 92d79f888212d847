"""The terminals shipped inside the package; `haiphong` is the default."""

from __future__ import annotations

from functools import cache

from maps.errors import YardError
from maps.generator import TerminalSpec, generate_terminal
from maps.model import Yard

HAIPHONG = TerminalSpec(
    id="haiphong",
    version="1",
    # Lach Huyen, Hai Phong; the geometry is synthetic, the numbers public (DESIGN.md).
    origin_lon=106.931,
    origin_lat=20.838,
    quay_length_m=750.0,
    berths=2,
    quay_cranes=6,
    block_columns=2,
    block_rows=10,
    bays=40,
    rows=6,
    tiers=5,
    rtgs=24,
    transfer_points_per_block=4,
    gate_lanes=4,
    fuel_pumps=2,
    parking_spots=32,
    main_speed_kmh=25.0,
    slow_speed_kmh=10.0,
)
"""A two-berth Lach Huyen terminal: 750 m quay, 6 QCs, 20 RTG blocks, 24 RTGs, 32 spots."""

TERMINALS: dict[str, TerminalSpec] = {"haiphong": HAIPHONG}
DEFAULT_TERMINAL = "haiphong"


@cache
def terminal(name: str = DEFAULT_TERMINAL) -> Yard:
    """An embedded terminal by name (built once per process; no files, no network)."""
    try:
        spec = TERMINALS[name]
    except KeyError:
        known = ", ".join(sorted(TERMINALS))
        raise YardError(f"no embedded terminal {name!r} (known: {known})") from None
    return generate_terminal(spec)

"""Generated terminals, driven: over generator parameters, a short shift keeps every two
truck bodies apart (the body check in metres), with no conflict and no deadlock.

Hypothesis draws the terminal (cranes, block columns and rows, bays, transfer points,
gate lanes, pumps, parking); the default scenario's vessel works its cranes for a
quarter of an hour with a fleet the yard can park.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maps import generate_terminal
from sim.run import run_shift
from sim.scenario import Vessel, load

terminals = st.fixed_dictionaries(
    {
        "quay_cranes": st.integers(2, 4),
        "block_columns": st.integers(2, 3),  # the traffic spreads boxes over 3 blocks
        "block_rows": st.integers(2, 4),
        "bays": st.integers(28, 40),
        "transfer_points_per_block": st.integers(1, 3),
        "gate_lanes": st.integers(1, 3),
        "fuel_pumps": st.integers(1, 2),
        "parking_spots": st.integers(10, 16),
        "rtgs": st.integers(2, 8),
        "berths": st.just(1),
        "quay_length_m": st.just(600.0),
    }
)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=terminals, seed=st.integers(1, 1000))
def test_a_short_shift_on_a_generated_terminal_keeps_the_bodies_apart(
    tmp_path_factory: pytest.TempPathFactory, spec: dict[str, object], seed: int
) -> None:
    base = load()
    cranes = tuple(f"QC{k:02d}" for k in range(1, int(str(spec["quay_cranes"])) + 1))
    vessel = Vessel("GEN1", "BERTH1", cranes, dsch=40, load=40)
    scenario = replace(
        base, terminal_spec=spec, vessels=(vessel,), faults=(), hours=0.25, seed=seed
    ).with_(trucks=8)
    assert generate_terminal(scenario.spec())  # the generator accepts the parameters
    out = tmp_path_factory.mktemp("gen")
    data = run_shift(scenario, out, pictures=False).data
    assert data["moves"] > 0
    assert data["contacts"] == 0, data["contact_examples"]
    assert data["min_clearance_m"] is None or data["min_clearance_m"] >= 0.9
    assert data["conflicts"] == 0 and data["deadlocks"] == 0 and data["drive_problems"] == 0

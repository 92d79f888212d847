"""Protocol benchmarks: encode and decode of a realistic truck state, ours (msgspec, typed and
validated) against the standard library's `json` (plain dicts, no validation), in one run.

Compare the `protocol-encode` and `protocol-decode` groups: ours / json is the ratio. Every
benchmark checks its result: ours decodes back equal and json reads back the same document.
A single message per round, so YARDFLEET_BENCH_SCALE does not apply.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import fleet.protocol as p

T0 = datetime(2025, 5, 4, 3, 12, 9, 250_000, tzinfo=UTC)


def realistic_state() -> p.State:
    """A laden truck under way: one node and edge ahead, two actions, a load, a warning,
    starter battery, fuel, GNSS and travel in the extension (about 1.9 kB of JSON)."""
    return p.make_state(
        "Kalmar",
        "TT07",
        p.starter_battery(24.62, health_percent=88),
        header_id=1234,
        timestamp=T0,
        order_id="J-000812",
        order_update_id=2,
        last_node_id="QC03.SP",
        last_node_sequence_id=4,
        node_states=[
            p.NodeState(
                node_id="C2.TP1",
                sequence_id=6,
                released=True,
                node_position=p.NodePosition(x=210.4, y=150.2, map_id="yard"),
            )
        ],
        edge_states=[p.EdgeState(edge_id="drive03-01", sequence_id=5, released=True)],
        action_states=[
            p.ActionState(
                action_id="a-pick",
                action_type="pick",
                action_status=p.ActionStatus.FINISHED,
                result_description="MSKU1234565",
            ),
            p.ActionState(
                action_id="a-drop", action_type="drop", action_status=p.ActionStatus.WAITING
            ),
        ],
        driving=True,
        paused=False,
        position=p.AgvPosition(
            x=398.7,
            y=300.1,
            theta=-1.49,
            map_id="yard",
            position_initialized=True,
            localization_score=0.98,
            deviation_range=0.028,
        ),
        velocity=p.Velocity(vx=4.9, vy=0.0, omega=0.02),
        loads=[
            p.Load(
                load_id="MSKU1234565",
                load_type="40",
                load_position="CENTER",
                load_dimensions=p.LoadDimensions(length=12.192, width=2.438, height=2.591),
                weight=24_300.0,
            )
        ],
        errors=[
            p.Error(
                error_type="fuelLevelLow",
                error_level=p.ErrorLevel.WARNING,
                error_references=[
                    p.ErrorReference(reference_key="orderId", reference_value="J-000812")
                ],
            )
        ],
        telemetry=p.TruckTelemetry(
            fuel=p.Fuel(
                litres=182.5,
                tank_litres=300.0,
                level_percent=60.8,
                consumption_litres_per_hour=11.4,
                reach=412_000,
            ),
            gnss=p.Gnss(
                status=p.FixStatus.GBASFIX,
                latitude=20.8143012345,
                longitude=106.9077123456,
                altitude=14.2,
                position_covariance=[0.0004, 0, 0, 0, 0.0004, 0, 0, 0, 0.0016],
                position_covariance_type=p.CovarianceType.DIAGONALKNOWN,
                fix_type=p.FixType.RTKFIXED,
                fix_mode=p.FixMode.FIX3D,
                satellites=21,
                hdop=0.7,
            ),
            travel=p.Travel(odometer=84_512_300.0, engine_hours=10_532.4, engine_running=True),
        ),
    )


@pytest.fixture(scope="module")
def state() -> p.State:
    return realistic_state()


@pytest.fixture(scope="module")
def data(state: p.State) -> bytes:
    return p.encode(state)


@pytest.fixture(scope="module")
def document(data: bytes) -> dict[str, Any]:
    """The same state as the plain dict a json-based agent would build."""
    loaded: dict[str, Any] = json.loads(data)
    return loaded


def _json_dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


@pytest.mark.benchmark(group="protocol-encode")
def test_bench_state_encode_ours(benchmark: BenchmarkFixture, state: p.State) -> None:
    """Typed State → JSON bytes with msgspec."""
    out = benchmark(p.encode, state)
    assert p.decode(p.State, out) == state
    assert 1_000 < len(out) < 4_000


@pytest.mark.benchmark(group="protocol-encode")
def test_bench_state_encode_json(
    benchmark: BenchmarkFixture, document: dict[str, Any], data: bytes
) -> None:
    """The equivalent dict → JSON bytes with the standard library."""
    out = benchmark(_json_dumps, document)
    assert json.loads(out) == json.loads(data)


@pytest.mark.benchmark(group="protocol-decode")
def test_bench_state_decode_ours(benchmark: BenchmarkFixture, data: bytes, state: p.State) -> None:
    """JSON bytes → typed, validated State (constraints, enums, timestamps) with msgspec."""
    out = benchmark(p.decode, "uagv/v2/Kalmar/TT07/state", data)
    assert out == state


@pytest.mark.benchmark(group="protocol-decode")
def test_bench_state_decode_json(
    benchmark: BenchmarkFixture, data: bytes, document: dict[str, Any]
) -> None:
    """JSON bytes → plain dict with the standard library (no types, no validation)."""
    out = benchmark(json.loads, data)
    assert out == document

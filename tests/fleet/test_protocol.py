"""The wire protocol against the official VDA 5050 2.1 JSON schemas, with real messages.

Every kind of message is built as a truck agent or the dispatcher would build it, encoded,
validated with `jsonschema` against ../shared/vda5050/2.1/*.schema, and decoded back equal.
Our structs are checked field by field against the schemas; malformed input is refused
with the field's path and the reason.
"""

from __future__ import annotations

import ast
import json
import math
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for

import fleet.protocol as p
from fleet.protocol import (
    ActionState,
    ActionStatus,
    AgvPosition,
    BlockingType,
    ConnectionState,
    CraneEventKind,
    CraneKind,
    Error,
    ErrorLevel,
    ErrorReference,
    EStop,
    Fuel,
    Gnss,
    Info,
    InfoLevel,
    InfoReference,
    Load,
    ProtocolError,
    Travel,
    TruckTelemetry,
    Velocity,
    Waypoint,
    link,
)

SCHEMAS = Path(__file__).resolve().parents[2].parent / "shared" / "vda5050" / "2.1"
PROTOCOL_DIR = Path(p.__file__).resolve().parent
T0 = datetime(2025, 5, 4, 3, 12, 9, 250_000, tzinfo=UTC)
MAKER, TRUCK = "Kalmar", "TT07"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


# --------------------------------------------------------------------------- schemas


def _schema(name: str) -> dict[str, Any]:
    path = SCHEMAS / f"{name}.schema"
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared is not laid out here)")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def validate(name: str, message: p.Message) -> dict[str, Any]:
    """Encode, check against the official schema (its own draft, formats on), return the JSON."""
    schema = _schema(name)
    cls = validator_for(schema)
    cls.check_schema(schema)
    document: dict[str, Any] = json.loads(p.encode(message))
    errors = sorted(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(document), key=str)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors)
    return document


def roundtrip(message: p.Message) -> None:
    data = p.encode(message)
    assert p.decode(p.topic_name(message), data) == message
    assert p.decode(type(message), data) == message
    assert p.decode(p.message_topic(message), data) == message


# --------------------------------------------------------------------------- examples


def telemetry() -> TruckTelemetry:
    return TruckTelemetry(
        fuel=Fuel(
            litres=182.5,
            tank_litres=300.0,
            level_percent=60.8,
            consumption_litres_per_hour=11.4,
            reach=412_000,
        ),
        gnss=Gnss(
            status=p.FixStatus.GBASFIX,
            service=[p.GnssService.GPS, p.GnssService.GALILEO, p.GnssService.COMPASS],
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
        travel=Travel(
            odometer=84_512_300.0,
            trip_distance=31_200.0,
            engine_hours=10_532.4,
            engine_running=True,
        ),
    )


def example_order() -> p.Order:
    """QC03 discharge: drive to the crane, pick a box, carry it to block C2 (horizon)."""
    box = "MSKU1234565"
    pick = p.make_action(
        "pick",
        action_id="a-pick",
        stationType="QC",
        stationName="QC03",
        loadId=box,
        loadType="40",
        lhd="CENTER",
    )
    drop = p.make_action(
        "drop", action_id="a-drop", stationType="RTG", stationName="C2", loadId=box
    )
    order = p.make_order(
        MAKER,
        TRUCK,
        "J-000812",
        [
            Waypoint("PARK.S07", 512.0, 80.5),
            Waypoint("apron-n-03", 430.2, 301.7, lane_id="v1n-04", max_speed=25 / 3.6),
            Waypoint("QC03.SP", 402.0, 318.0, lane_id="QC03.SP-in", actions=[pick]),
            Waypoint("C2.TP1", 210.4, 150.2, lane_id="drive03-01"),
            Waypoint("C2.TP1.stop", 205.0, 150.2, lane_id="C2.TP1-in", actions=[drop]),
        ],
        released=3,
        order_update_id=2,
        header_id=41,
        timestamp=T0,
    )
    edge = order.edges[1]
    edge.trajectory = p.Trajectory(
        degree=1,
        knot_vector=[0.0, 0.0, 1.0, 1.0],
        control_points=[
            p.ControlPoint(x=430.2, y=301.7),
            p.ControlPoint(x=402.0, y=318.0, weight=1.0),
        ],
    )
    edge.corridor = p.Corridor(
        left_width=0.5, right_width=0.5, corridor_ref_point=p.CorridorRefPoint.CONTOUR
    )
    edge.orientation = 0.0
    edge.orientation_type = p.OrientationType.TANGENTIAL
    edge.length = 32.6
    edge.rotation_allowed = False
    position = order.nodes[2].node_position
    assert position is not None
    position.theta = -math.pi / 2
    position.allowed_deviation_x_y = 0.3
    position.allowed_deviation_theta = 0.1
    order.nodes[2].node_description = "under QC03, lane 2"
    order.zone_set_id = "haiphong-2025-05"
    return order


def example_instant_actions() -> p.InstantActions:
    return p.make_instant_actions(
        MAKER,
        TRUCK,
        [
            p.make_action("startPause", action_id="ia-1", blocking_type=BlockingType.HARD),
            p.make_action(
                "initPosition",
                action_id="ia-2",
                x=402.0,
                y=318.0,
                theta=1.5708,
                mapId="yard",
                lastNodeId="QC03.SP",
            ),
            p.make_action(
                "logReport",
                action_id="ia-3",
                blocking_type=BlockingType.NONE,
                reason="fuel drop",
                description="fuel sensor check",
                extra={"samples": [1, 2.5, True, "x"]},
            ),
        ],
        header_id=7,
        timestamp=T0,
    )


def example_state() -> p.State:
    """TT07 laden under way to C2, one warning, info, fuel and GNSS in the extension."""
    ext = telemetry()
    assert ext.gnss is not None
    return p.make_state(
        MAKER,
        TRUCK,
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
                released=False,
                node_position=p.NodePosition(x=210.4, y=150.2, map_id="yard"),
            )
        ],
        edge_states=[p.EdgeState(edge_id="drive03-01", sequence_id=5, released=False)],
        action_states=[
            ActionState(
                action_id="a-pick",
                action_type="pick",
                action_status=ActionStatus.FINISHED,
                result_description="MSKU1234565",
            ),
            ActionState(action_id="a-drop", action_status=ActionStatus.WAITING),
        ],
        driving=True,
        paused=False,
        position=AgvPosition(
            x=398.7,
            y=300.1,
            theta=-1.49,
            map_id="yard",
            position_initialized=True,
            localization_score=0.98,
            deviation_range=p.deviation_range_m(ext.gnss),
        ),
        velocity=Velocity(vx=4.9, vy=0.0, omega=0.02),
        loads=[
            Load(
                load_id="MSKU1234565",
                load_type="40",
                load_position="CENTER",
                bounding_box_reference=p.BoundingBoxReference(x=-1.2, y=0, z=1.45),
                load_dimensions=p.LoadDimensions(length=12.192, width=2.438, height=2.591),
                weight=24_300.0,
            )
        ],
        errors=[
            Error(
                error_type="fuelLevelLow",
                error_level=ErrorLevel.WARNING,
                error_description="below 25 % after this job",
                error_hint="refuel at FUEL.P1",
                error_references=[
                    ErrorReference(reference_key="orderId", reference_value="J-000812")
                ],
            )
        ],
        information=[
            Info(
                info_type="driver",
                info_level=InfoLevel.INFO,
                info_description="driver on shift",
                info_references=[InfoReference(reference_key="driverId", reference_value="D-118")],
            )
        ],
        telemetry=ext,
    )


def example_factsheet() -> p.Factsheet:
    sheet = p.make_factsheet(MAKER, TRUCK, driver=p.Driver.AUTONOMOUS, header_id=1, timestamp=T0)
    sheet.physical_parameters.height_min = 3.1
    sheet.physical_parameters.angular_speed_max = 0.6
    limits = sheet.protocol_limits
    limits.max_string_lens = p.MaxStringLens(
        msg_len=65_536, id_len=64, enum_len=32, id_numerical_only=False
    )
    limits.max_array_lens = p.MaxArrayLens(
        order_nodes=64,
        order_edges=63,
        instant_actions=8,
        state_loads=2,
        actions_actions_parameters=8,
    )
    features = sheet.protocol_features
    features.optional_parameters = [
        p.OptionalParameter(
            parameter="order.nodes.nodePosition.allowedDeviationXY", support=p.Support.SUPPORTED
        ),
        p.OptionalParameter(
            parameter="order.edges.maxSpeed",
            support=p.Support.REQUIRED,
            description="yard speed limits",
        ),
    ]
    features.agv_actions[0].action_parameters = [
        p.FactsheetActionParameter(key="loadId", value_data_type=p.ValueDataType.STRING),
        p.FactsheetActionParameter(
            key="lhd",
            value_data_type=p.ValueDataType.STRING,
            is_optional=True,
            description="CENTER, FRONT or REAR",
        ),
    ]
    sheet.agv_geometry = p.AgvGeometry(
        wheel_definitions=[
            p.WheelDefinition(
                type=p.WheelType.FIXED,
                is_active_driven=True,
                is_active_steered=False,
                position=p.WheelPosition(x=0, y=0.9),
                diameter=1.0,
                width=0.3,
            ),
            p.WheelDefinition(
                type=p.WheelType.DRIVE,
                is_active_driven=False,
                is_active_steered=True,
                position=p.WheelPosition(x=3.4, y=0.9, theta=0.0),
                diameter=1.0,
                width=0.3,
                center_displacement=0.0,
                constraints="max steering 45 deg",
            ),
        ],
        envelopes2d=[
            p.Envelope2d(
                set="unloaded",
                polygon_points=[
                    p.PolygonPoint(x=-1.5, y=-1.3),
                    p.PolygonPoint(x=4.7, y=-1.3),
                    p.PolygonPoint(x=4.7, y=1.3),
                    p.PolygonPoint(x=-1.5, y=1.3),
                ],
                description="tractor and empty chassis",
            )
        ],
        envelopes3d=[p.Envelope3d(set="cab", format="DXF", url="http://fleet.local/cab.dxf")],
    )
    sheet.load_specification.load_sets = [
        p.LoadSet(
            set_name="FEU",
            load_type="40",
            load_positions=["CENTER"],
            load_dimensions=p.LoadDimensions(length=12.192, width=2.438, height=2.591),
            bounding_box_reference=p.BoundingBoxReference(x=-1.2, y=0, z=1.45),
            max_weight=32_500.0,
            agv_speed_limit=20 / 3.6,
            pick_time=120.0,
            drop_time=90.0,
            description="one 40' box",
        ),
    ]
    sheet.vehicle_config = p.VehicleConfig(
        versions=[p.VersionInfo(key="agentVersion", value="0.1.0")],
        network=p.Network(
            dns_servers=["10.0.0.2"],
            ntp_servers=["10.0.0.3"],
            local_ip_address="10.0.7.7",
            netmask="255.255.0.0",
            default_gateway="10.0.0.1",
        ),
    )
    return sheet


def example_visualization() -> p.Visualization:
    return p.make_visualization(
        MAKER,
        TRUCK,
        AgvPosition(x=398.7, y=300.1, theta=-1.49, map_id="yard", position_initialized=True),
        velocity=Velocity(vx=4.9),
        telemetry=TruckTelemetry(gnss=telemetry().gnss),
        header_id=99_000,
        timestamp=T0,
    )


EXAMPLES: dict[str, Callable[[], p.Message]] = {
    "order": example_order,
    "instantActions": example_instant_actions,
    "state": example_state,
    "visualization": example_visualization,
    "factsheet": example_factsheet,
}


# --------------------------------------------------------------------------- every message


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_validates_against_the_official_schema_and_round_trips(name: str) -> None:
    message = EXAMPLES[name]()
    document = validate(name, message)
    assert ISO_UTC.match(document["timestamp"])
    assert document["version"] == "2.1.0"
    roundtrip(message)


@pytest.mark.parametrize("state", list(ConnectionState))
def test_connection_states_validate_and_round_trip(state: ConnectionState) -> None:
    message = p.make_connection(MAKER, TRUCK, state, header_id=3, timestamp=T0)
    assert validate("connection", message)["connectionState"] == state.value
    roundtrip(message)


def test_builders_defaults_validate() -> None:
    battery = p.starter_battery(25.0)
    validate("state", p.make_state(MAKER, TRUCK, battery))
    validate("order", p.make_order(MAKER, TRUCK, "o1", [Waypoint("PARK.S01", 1.0, 2.0)]))
    request = p.make_action("stateRequest")
    validate("instantActions", p.make_instant_actions(MAKER, TRUCK, [request]))
    validate("connection", p.make_connection(MAKER, TRUCK))
    validate("factsheet", p.make_factsheet(MAKER, TRUCK))
    validate("visualization", p.Visualization())


def test_state_json_carries_our_conventions() -> None:
    document = validate("state", example_state())
    battery = document["batteryState"]
    assert battery == {
        "batteryCharge": 63.8,
        "batteryVoltage": 24.62,
        "batteryHealth": 88,
        "charging": False,
    }
    assert "reach" not in battery
    ext = document["yardfleet"]
    assert ext["fuel"]["reach"] == 412_000 and ext["fuel"]["tankLitres"] == 300.0
    assert "loss" not in ext["fuel"]
    assert ext["gnss"]["fixType"] == "RTKFIXED" and len(ext["gnss"]["positionCovariance"]) == 9
    assert document["agvPosition"]["deviationRange"] == pytest.approx(math.sqrt(0.0008))
    assert document["paused"] is False and "newBaseRequest" not in document


def test_order_has_base_and_horizon_with_alternating_sequence_ids() -> None:
    order = example_order()
    assert [n.sequence_id for n in order.nodes] == [0, 2, 4, 6, 8]
    assert [e.sequence_id for e in order.edges] == [1, 3, 5, 7]
    assert [n.released for n in order.nodes] == [True, True, True, False, False]
    assert [e.released for e in order.edges] == [True, True, False, False]
    first = order.edges[0]
    assert (first.start_node_id, first.end_node_id) == ("PARK.S07", "apron-n-03")
    assert order.edges[0].edge_id == "v1n-04"
    with pytest.raises(ValueError, match="released"):
        p.make_order(MAKER, TRUCK, "o", [Waypoint("a", 0, 0)], released=2)


def test_crane_event_round_trips_with_camel_case_and_utc() -> None:
    event = p.make_crane_event(
        "QC03",
        CraneKind.QC,
        CraneEventKind.MOVEDONE,
        container_number="MSKU1234565",
        job_id="J-000812",
        truck_id=TRUCK,
        header_id=17,
        timestamp=datetime(2025, 5, 4, 10, 12, 9, tzinfo=timezone(timedelta(hours=7))),
    )
    document = json.loads(p.encode(event))
    assert document == {
        "headerId": 17,
        "timestamp": "2025-05-04T03:12:09Z",
        "version": "1.0.0",
        "craneId": "QC03",
        "craneKind": "QC",
        "event": "MOVEDONE",
        "containerNumber": "MSKU1234565",
        "jobId": "J-000812",
        "truckId": "TT07",
    }
    assert p.message_topic(event) == "yardfleet/v1/crane/QC03/craneEvent"
    roundtrip(event)
    rtg = p.CraneEvent(
        header_id=0,
        timestamp=T0,
        version="1.0.0",
        crane_id="RTG-C2",
        crane_kind=CraneKind.RTG,
        event=CraneEventKind.FAULT,
        source=p.EventSource.CRANE,
        fault_code="E-104",
        description="wind stop",
    )
    roundtrip(rtg)
    with pytest.raises(ProtocolError, match=r"\$\.craneId: 'RTG-C2' does not match"):
        p.decode("yardfleet/v1/crane/RTG-C3/craneEvent", p.encode(rtg))
    with pytest.raises(ProtocolError) as bad:
        p.decode("craneEvent", p.encode(rtg).replace(b'"RTG"', b'"STS"'))
    assert bad.value.path == "$.craneKind" and "STS" in bad.value.reason


# --------------------------------------------------------------------------- structs vs schemas

# Fields of the text (which wins over the schema) that the schema lacks, and our extension:
# state's nodePosition "is defined in 6.6" (the order's), visualization's agvPosition is
# "the same as in the state".
EXTRA_FIELDS = {
    "state": {"yardfleet"},
    "state.nodeStates[].nodePosition": {
        "allowedDeviationXY",
        "allowedDeviationTheta",
        "mapDescription",
    },
    "visualization.agvPosition": {"mapDescription"},
    "visualization": {"yardfleet"},
    "factsheet": {"yardfleet"},
    "connection": {"yardfleet"},
    "factsheet.physicalParameters": {"angularSpeedMin", "angularSpeedMax"},
}
# Enum values of the text that the schema lacks.
EXTRA_ENUM = {"state.actionStates[].actionStatus": {"PAUSED"}}
# Where the text's integer types replace the schema's "number", or its string the "integer".
TYPE_EXCEPTIONS = {
    "state.batteryState.batteryHealth": mi.IntType,
    "state.batteryState.reach": mi.IntType,
    "factsheet.agvGeometry.envelopes3d[].description": mi.StrType,
}
JSON_TYPES: dict[str, tuple[type[mi.Type], ...]] = {
    "integer": (mi.IntType,),
    "number": (mi.FloatType,),
    "string": (mi.StrType, mi.EnumType, mi.DateTimeType),
    "boolean": (mi.BoolType,),
    "object": (mi.StructType, mi.DictType),
    "array": (mi.ListType,),
}


def _unwrap(t: mi.Type) -> mi.Type:
    if isinstance(t, mi.UnionType):
        rest = [u for u in t.types if not isinstance(u, mi.NoneType)]
        if len(rest) == 1:
            return rest[0]
    return t


def _mirror(
    node: dict[str, Any], t: mi.Type, path: str, root: dict[str, Any], seen: list[str]
) -> None:
    """Check one schema node against our type; recurse into objects and arrays."""
    if "$ref" in node:
        node = root["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    t = _unwrap(t)
    seen.append(path)
    kind = node.get("type")
    if isinstance(kind, list):  # actionParameter.value: any JSON but null
        assert isinstance(t, mi.UnionType), path
        return
    if path in TYPE_EXCEPTIONS:
        assert isinstance(t, TYPE_EXCEPTIONS[path]), (path, t)
    elif kind is not None:
        assert isinstance(t, JSON_TYPES[kind]), (path, kind, t)
    if "enum" in node and kind == "string":
        assert isinstance(t, mi.EnumType), path
        ours = {m.value for m in t.cls}
        assert ours == set(node["enum"]) | EXTRA_ENUM.get(path, set()), path
    if "minimum" in node:
        assert isinstance(t, mi.IntType | mi.FloatType) and t.ge is not None, path
        assert t.ge >= node["minimum"], path
    if "maximum" in node:
        assert isinstance(t, mi.IntType | mi.FloatType) and t.le is not None, path
        assert t.le <= node["maximum"], path
    if kind == "object" and "properties" in node:
        assert isinstance(t, mi.StructType), path
        fields = {f.encode_name: f for f in t.fields}
        props: dict[str, Any] = node["properties"]
        assert set(props) <= set(fields), (path, set(props) - set(fields))
        assert set(fields) - set(props) == EXTRA_FIELDS.get(path, set()), path
        required = {name for name, f in fields.items() if f.required}
        assert required == set(node.get("required", [])), path
        for name, sub in props.items():
            _mirror(sub, fields[name].type, f"{path}.{name}" if path else name, root, seen)
    if kind == "array" and "items" in node:
        assert isinstance(t, mi.ListType), path
        _mirror(node["items"], t.item_type, f"{path}[]", root, seen)


@pytest.mark.parametrize("name", sorted(p.MESSAGE_TYPES.keys() - {"craneEvent"}))
def test_structs_mirror_every_schema_field_requirement_enum_and_range(name: str) -> None:
    schema = _schema(name)
    seen: list[str] = []
    _mirror(schema, mi.type_info(p.MESSAGE_TYPES[name]), name, schema, seen)
    assert len(seen) > 5


def test_extensions_are_legal_where_they_are() -> None:
    """No schema forbids extra properties anywhere, so a top-level `yardfleet` is allowed."""
    for path in sorted(SCHEMAS.glob("*.schema")) or [SCHEMAS / "state.schema"]:
        text = _schema(path.stem)
        assert "additionalProperties" not in json.dumps(text), path.name
    assert p.EXTENSION_FIELD == "yardfleet"
    assert "yardfleet" in validate("state", example_state())
    assert "yardfleet" in validate("visualization", example_visualization())
    assert "yardfleet" in validate("factsheet", example_factsheet())


def test_foreign_fields_are_ignored_and_our_extension_is_optional() -> None:
    document = json.loads(p.encode(example_state()))
    document["acmeBatteryTemp"] = 31.5
    document["agvPosition"]["acmeLidar"] = {"ok": True}
    del document["yardfleet"]
    state = p.decode(p.State, json.dumps(document))
    assert state.yardfleet is None
    assert state.agv_position is not None and state.agv_position.x == 398.7


# --------------------------------------------------------------------------- schema flaws


def test_schema_flaw_paused_action_status_is_refused_by_the_official_schema() -> None:
    """The text lists PAUSED, the 2.1 schema does not: we decode it, we do not emit it."""
    state = example_state()
    state.action_states[1].action_status = ActionStatus.PAUSED
    schema = _schema("state")
    assert not validator_for(schema)(schema).is_valid(json.loads(p.encode(state)))
    roundtrip(state)


def test_schema_flaw_factsheet_blocking_types_never_validates() -> None:
    sheet = example_factsheet()
    sheet.protocol_features.agv_actions[0].blocking_types = [BlockingType.HARD]
    schema = _schema("factsheet")
    assert not validator_for(schema)(schema).is_valid(json.loads(p.encode(sheet)))
    assert all(
        a.blocking_types is None
        for a in p.make_factsheet(MAKER, TRUCK).protocol_features.agv_actions
    )


# --------------------------------------------------------------------------- malformed input


def _state_doc() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(p.encode(example_state()))
    return document


def _refused(name: str, document: Any) -> ProtocolError:
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    with pytest.raises(ProtocolError) as caught:
        p.decode(name, data)
    return caught.value


def test_missing_header_id_names_the_field() -> None:
    document = _state_doc()
    del document["headerId"]
    error = _refused("state", document)
    assert error.path == "$.headerId" and error.reason == "missing required field"
    assert str(error) == "state: $.headerId: missing required field"


def test_missing_nested_field_names_its_full_path() -> None:
    document = _state_doc()
    del document["agvPosition"]["positionInitialized"]
    assert _refused("state", document).path == "$.agvPosition.positionInitialized"


def test_order_update_id_as_string_is_a_type_error() -> None:
    document = json.loads(p.encode(example_order()))
    document["orderUpdateId"] = "2"
    error = _refused("order", document)
    assert error.path == "$.orderUpdateId" and error.reason == "Expected `int`, got `str`"


def test_unknown_connection_state_is_a_bad_enum() -> None:
    document = json.loads(p.encode(p.make_connection(MAKER, TRUCK, timestamp=T0)))
    document["connectionState"] = "SLEEPING"
    error = _refused("connection", document)
    assert error.path == "$.connectionState" and "SLEEPING" in error.reason


@pytest.mark.parametrize(
    ("name", "path", "value", "reason"),
    [
        ("order", ["orderUpdateId"], -1, ">= 0"),
        ("order", ["nodes", 1, "sequenceId"], -2, ">= 0"),
        ("order", ["nodes", 2, "nodePosition", "allowedDeviationXY"], -0.1, ">= 0"),
        ("order", ["nodes", 2, "nodePosition", "theta"], 3.2, "<= 3.14159265359"),
        ("order", ["edges", 1, "corridor", "leftWidth"], -1, ">= 0"),
        ("order", ["edges", 1, "trajectory", "knotVector", 2], 1.5, "<= 1.0"),
        ("order", ["edges", 1, "trajectory", "degree"], 0, ">= 1"),
        ("order", ["headerId"], 2**32, "<= 4294967295"),
        ("state", ["loads", 0, "weight"], -5, ">= 0"),
        ("state", ["batteryState", "batteryHealth"], 101, "<= 100"),
        ("state", ["batteryState", "reach"], -1, ">= 0"),
        ("state", ["agvPosition", "localizationScore"], 1.2, "<= 1.0"),
        ("state", ["orderUpdateId"], -3, ">= 0"),
        ("state", ["yardfleet", "fuel", "levelPercent"], 120, "<= 100"),
        ("state", ["yardfleet", "gnss", "latitude"], 91, "<= 90"),
        ("state", ["operatingMode"], "AUTO", "Invalid enum value 'AUTO'"),
        ("state", ["safetyState", "eStop"], "none", "Invalid enum value 'none'"),
        ("state", ["version"], "2.1", "matching regex"),
        ("state", ["timestamp"], "2025-05-04T03:12:09.25", "timezone"),
        ("state", ["timestamp"], "04/05/2025 03:12", "Invalid RFC3339"),
        ("state", ["timestamp"], 1746328329, "Expected `datetime`"),
        ("state", ["driving"], "false", "Expected `bool`, got `str`"),
    ],
)
def test_bad_values_are_refused_with_path_and_reason(
    name: str, path: list[str | int], value: Any, reason: str
) -> None:
    document: Any = json.loads(p.encode(EXAMPLES[name]()))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    error = _refused(name, document)
    assert error.path == "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path)
    assert reason in error.reason


def test_malformed_json_and_unknown_type_are_protocol_errors() -> None:
    error = _refused("state", b'{"headerId": 1,')
    assert error.path == "$" and error.reason.startswith("malformed JSON")
    with pytest.raises(ProtocolError, match="unknown message type 'status'"):
        p.decode("status", b"{}")
    with pytest.raises(ProtocolError, match="not a message type"):
        p.decode(p.Load, b"{}")  # type: ignore[type-var]


def test_topic_payload_mismatch_names_the_field() -> None:
    data = p.encode(example_state())
    with pytest.raises(ProtocolError) as caught:
        p.decode("uagv/v2/Kalmar/TT08/state", data)
    assert caught.value.path == "$.serialNumber" and "TT08" in caught.value.reason
    with pytest.raises(ProtocolError) as caught:
        p.decode("uagv/v2/Terberg/TT07/state", data)
    assert caught.value.path == "$.manufacturer"
    with pytest.raises(ProtocolError, match=r"order: \$\.nodes: missing required field"):
        p.decode("uagv/v2/Kalmar/TT07/order", data)  # a state is no order


def test_naive_datetimes_are_refused_and_offsets_become_utc() -> None:
    with pytest.raises(ProtocolError, match=r"\$\.timestamp: datetime has no UTC offset"):
        p.make_connection(MAKER, TRUCK, timestamp=datetime(2025, 5, 4, 3, 12))
    hanoi = datetime(2025, 5, 4, 10, 12, 9, 250_000, tzinfo=timezone(timedelta(hours=7)))
    message = p.make_connection(MAKER, TRUCK, timestamp=hanoi)
    assert message.timestamp.tzinfo is UTC and message.timestamp == T0
    document = json.loads(p.encode(message))
    assert document["timestamp"] == "2025-05-04T03:12:09.250000Z"
    offset = json.dumps({**document, "timestamp": "2025-05-04T10:12:09.25+07:00"})
    assert p.decode("connection", offset).timestamp == T0


def test_timestamp_helpers() -> None:
    assert p.format_timestamp(T0) == "2025-05-04T03:12:09.250Z"
    assert p.parse_timestamp("2017-04-15T11:40:03.12Z") == datetime(
        2017, 4, 15, 11, 40, 3, 120_000, tzinfo=UTC
    )
    assert p.parse_timestamp("2017-04-15T13:40:03.12+02:00").tzinfo is UTC
    for bad in ("2017-04-15T11:40:03", "2017-04-15", "yesterday"):
        with pytest.raises(ProtocolError, match="bad timestamp"):
            p.parse_timestamp(bad)
    assert p.utc_now().tzinfo is UTC


# --------------------------------------------------------------------------- topics


def test_topics_build_and_parse() -> None:
    text = p.topic(MAKER, TRUCK, p.Topic.STATE)
    assert text == "uagv/v2/Kalmar/TT07/state"
    address = p.parse_topic(text)
    assert (address.manufacturer, address.serial_number, address.topic) == (MAKER, TRUCK, "state")
    assert str(address) == text
    assert p.parse_topic("uagv/v2/KIT/0001/instantActions").topic is p.Topic.INSTANT_ACTIONS
    for message in (example_order(), example_state(), example_factsheet()):
        assert p.parse_topic(p.message_topic(message)).topic == p.topic_name(message)
    assert p.crane_topic("RTG-C2") == "yardfleet/v1/crane/RTG-C2/craneEvent"
    assert p.parse_crane_topic("yardfleet/v1/crane/RTG-C2/craneEvent") == "RTG-C2"


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("uagv/v2/Kalmar/TT07", "levels"),
        ("uagv/v2/Kalmar/TT07/state/extra", "levels"),
        ("agv/v2/Kalmar/TT07/state", "interfaceName"),
        ("uagv/v1/Kalmar/TT07/state", "majorVersion"),
        ("uagv/v2//TT07/state", "manufacturer"),
        ("uagv/v2/Kal$mar/TT07/state", "manufacturer"),
        ("uagv/v2/Kalmar/TT 07/state", "serialNumber"),
        ("uagv/v2/Kalmar/TT#7/state", "serialNumber"),
        ("uagv/v2/Kalmar/TT07/status", "topic"),
        ("uagv/v2/Kalmar/TT07/State", "topic"),
        ("yardfleet/v1/cranes/QC03/craneEvent", "level 2"),
        ("yardfleet/v1/crane/QC 03/craneEvent", "craneId"),
        ("yardfleet/v1/crane/QC03/event", "topic"),
    ],
)
def test_bad_topics_name_the_bad_level(text: str, level: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        p.decode(text, b"{}")
    assert caught.value.path == level
    assert repr(text) in str(caught.value)


def test_topic_builder_refuses_bad_parts() -> None:
    with pytest.raises(ProtocolError, match="serialNumber"):
        p.topic(MAKER, "TT/07", "state")
    with pytest.raises(ProtocolError, match="unknown topic"):
        p.topic(MAKER, TRUCK, "fuel")


# --------------------------------------------------------------------------- conventions


@pytest.mark.parametrize(
    ("volts", "percent"),
    [
        (22.0, 0.0),
        (23.6, 0.0),
        (23.8, 12.5),
        (24.0, 25.0),
        (24.4, 50.0),
        (24.8, 75.0),
        (25.1, 87.5),
        (25.4, 100.0),
        (28.2, 100.0),
    ],
)
def test_starter_battery_charge_from_resting_voltage(volts: float, percent: float) -> None:
    assert p.starter_charge_percent(volts) == pytest.approx(percent)


def test_starter_battery_state() -> None:
    running = p.starter_battery(27.9)
    assert running.charging and running.battery_charge == 100.0 and running.reach is None
    held = p.starter_battery(27.9, charge_percent=71.0, health_percent=90)
    assert held.battery_charge == 71.0 and held.battery_health == 90
    assert not p.starter_battery(24.4).charging


def test_deviation_range_and_header_ids() -> None:
    gnss = Gnss(
        status=p.FixStatus.FIX,
        position_covariance=[9, 0, 0, 0, 16, 0, 0, 0, 25],
        position_covariance_type=p.CovarianceType.APPROXIMATED,
    )
    assert p.deviation_range_m(gnss) == 5.0
    assert p.deviation_range_m(Gnss(status=p.FixStatus.NOFIX)) is None
    ids = p.HeaderIds()
    assert [ids.next("state"), ids.next("state"), ids.next("visualization")] == [0, 1, 0]
    ids._next["state"] = 2**32 - 1
    assert [ids.next("state"), ids.next("state")] == [2**32 - 1, 0]


def test_protocol_imports_only_the_standard_library_and_msgspec() -> None:
    allowed = set(sys.stdlib_module_names) | {"msgspec", "__future__"}
    for path in sorted(PROTOCOL_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in allowed or name.startswith("fleet.protocol"), (
                    path.name,
                    name,
                )
    assert (PROTOCOL_DIR / "py.typed").is_file()


def test_public_api_is_exported() -> None:
    for name in p.__all__:
        assert hasattr(p, name), name
    assert issubclass(ProtocolError, ValueError)


# --------------------------------------------------------------------------- property


_text = st.text(st.characters(codec="utf-8"), max_size=12)
_ids = st.from_regex(r"[A-Za-z0-9_.:\-]{1,12}", fullmatch=True)
_uint = st.integers(0, 2**32 - 1)


def _floats(lo: float | None = None, hi: float | None = None) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@st.composite
def states(draw: st.DrawFn) -> p.State:
    """Random but valid states, with and without every optional part."""
    gnss = draw(
        _opt(
            st.builds(
                Gnss,
                status=st.sampled_from(p.FixStatus),
                latitude=_opt(_floats(-90, 90)),
                longitude=_opt(_floats(-180, 180)),
                altitude=_opt(_floats()),
                position_covariance=_opt(st.lists(_floats(0, 100), min_size=9, max_size=9)),
                fix_type=_opt(st.sampled_from(p.FixType)),
                satellites=_opt(st.integers(0, 64)),
                hdop=_opt(_floats(0, 50)),
            )
        )
    )
    fuel = draw(
        _opt(
            st.builds(
                Fuel,
                litres=_floats(0, 500),
                tank_litres=_floats(0, 500),
                level_percent=_floats(0, 100),
                reach=_opt(_uint),
                loss=st.sampled_from(p.FuelLoss),
            )
        )
    )
    status = st.sampled_from([s for s in ActionStatus if s is not ActionStatus.PAUSED])
    return p.make_state(
        draw(_text.filter(lambda s: s != "")),
        draw(_ids),
        p.starter_battery(draw(_floats(18, 30)), health_percent=draw(_opt(st.integers(0, 100)))),
        header_id=draw(_uint),
        timestamp=draw(
            st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
        ),
        order_id=draw(_text),
        order_update_id=draw(_uint),
        last_node_id=draw(_text),
        last_node_sequence_id=draw(_uint),
        node_states=draw(
            st.lists(
                st.builds(p.NodeState, node_id=_text, sequence_id=_uint, released=st.booleans()),
                max_size=3,
            )
        ),
        action_states=draw(
            st.lists(st.builds(ActionState, action_id=_text, action_status=status), max_size=3)
        ),
        driving=draw(st.booleans()),
        paused=draw(_opt(st.booleans())),
        position=draw(
            _opt(
                st.builds(
                    AgvPosition,
                    x=_floats(),
                    y=_floats(),
                    theta=_floats(-math.pi, math.pi),
                    map_id=_text,
                    position_initialized=st.booleans(),
                    localization_score=_opt(_floats(0, 1)),
                )
            )
        ),
        loads=draw(
            _opt(
                st.lists(
                    st.builds(Load, load_id=_opt(_text), weight=_opt(_floats(0, 1e6))), max_size=2
                )
            )
        ),
        operating_mode=draw(st.sampled_from(p.OperatingMode)),
        errors=draw(
            st.lists(
                st.builds(Error, error_type=_text, error_level=st.sampled_from(ErrorLevel)),
                max_size=2,
            )
        ),
        safety=p.SafetyState(
            e_stop=draw(st.sampled_from(EStop)), field_violation=draw(st.booleans())
        ),
        telemetry=TruckTelemetry(fuel=fuel, gnss=gnss),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states())
def test_random_states_validate_and_round_trip(state: p.State) -> None:
    validate("state", state)
    assert p.decode("state", p.encode(state)) == state


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=64) | st.from_regex(r'\{"headerId": ?-?\d{1,3}.{0,20}', fullmatch=True))
def test_garbage_never_escapes_as_anything_but_protocol_error(data: bytes | str) -> None:
    try:
        p.decode("state", data)
    except ProtocolError as error:
        assert error.path.startswith("$")
    else:  # pragma: no cover - a garbage state that is valid would be a surprise
        pytest.fail("garbage decoded")


def test_jsonschema_checks_formats_here() -> None:
    """The date-time format is only checked when rfc3339-validator is installed."""
    schema = _schema("connection")
    cls = validator_for(schema)
    document = json.loads(p.encode(p.make_connection(MAKER, TRUCK, timestamp=T0)))
    document["timestamp"] = "not a time"
    if "date-time" not in cls.FORMAT_CHECKER.checkers:
        pytest.skip("jsonschema cannot check date-time here")
    with pytest.raises(jsonschema.ValidationError):
        cls(schema, format_checker=cls.FORMAT_CHECKER).validate(document)
    assert msgspec.json.decode(p.encode(p.make_connection(MAKER, TRUCK)))["version"] == "2.1.0"


# --------------------------------------------------------------------------- hostile input

DEEP = 100_000


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """A subschema with its `$ref` (to the schema's own definitions) followed."""
    while "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def _integer_paths(
    schema: dict[str, Any], root: dict[str, Any], document: Any, path: tuple[str | int, ...] = ()
) -> list[tuple[str | int, ...]]:
    """Where the document has a value that the official schema types "integer"."""
    schema = _resolve(schema, root)
    found: list[tuple[str | int, ...]] = []
    if schema.get("type") == "integer" and type(document) is int:
        found.append(path)
    if isinstance(document, dict):
        for key, value in document.items():
            sub = schema.get("properties", {}).get(key)
            if sub is not None:
                found += _integer_paths(sub, root, value, (*path, key))
    elif isinstance(document, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(document):
            found += _integer_paths(schema["items"], root, value, (*path, i))
    return found


def _set(document: Any, path: tuple[str | int, ...], value: Any) -> None:
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _json_path(path: tuple[str | int, ...]) -> str:
    return "$" + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_schema_integer_takes_a_whole_float(name: str) -> None:
    """JSON Schema's "integer" is any number without a fraction: 5.0 is one."""
    schema = _schema(name)
    message = EXAMPLES[name]()
    document: dict[str, Any] = json.loads(p.encode(message))
    paths = _integer_paths(schema, schema, document)
    assert paths, "the example has integer fields"
    wire = p.encode(p.decode(name, p.encode(message)))
    for path in paths:
        whole = json.loads(json.dumps(document))
        target: Any = whole
        for key in path:
            target = target[key]
        _set(whole, path, float(target))
        validator_for(schema)(schema).validate(whole)  # valid VDA 5050, as JSON Schema says
        decoded = p.decode(name, json.dumps(whole))
        assert decoded == message, _json_path(path)
        assert p.encode(decoded) == wire  # and goes out as an integer again


@pytest.mark.parametrize(
    ("name", "path", "value"),
    [
        ("state", ("headerId",), 5.0),
        ("state", ("batteryState", "batteryHealth"), 87.0),
        ("state", ("batteryState", "reach"), 4.12e5),
        ("state", ("nodeStates", 0, "sequenceId"), 6.0),
        ("state", ("yardfleet", "gnss", "satellites"), 21.0),
        ("state", ("yardfleet", "fuel", "reach"), 412_000.0),
        ("order", ("edges", 1, "trajectory", "degree"), 3.0),
        ("order", ("orderUpdateId",), -0.0),
        ("factsheet", ("protocolLimits", "maxArrayLens", "order.nodes"), 64.0),
        ("visualization", ("headerId",), 9.9e4),
    ],
)
def test_whole_floats_decode_as_ints(name: str, path: tuple[str | int, ...], value: float) -> None:
    document: Any = json.loads(p.encode(EXAMPLES[name]()))
    _set(document, path, value)
    decoded = msgspec.to_builtins(p.decode(name, json.dumps(document)))
    got: Any = decoded
    for key in path:
        got = got[key]
    assert type(got) is int and got == value


def test_a_whole_float_elsewhere_keeps_floats_as_floats() -> None:
    """Only integer fields change: a float field and an action parameter's value keep 5.0."""
    document: Any = json.loads(p.encode(example_instant_actions()))
    document["headerId"] = 7.0
    document["actions"][1]["actionParameters"][0]["value"] = 402.0  # x: a float parameter
    document["actions"][2]["actionParameters"][1]["value"] = {"samples": [1.0, 2.0]}
    decoded = p.decode("instantActions", json.dumps(document))
    assert decoded.header_id == 7 and type(decoded.header_id) is int
    x, extra = decoded.actions[1].action_parameters[0], decoded.actions[2].action_parameters[1]
    assert (x.key, type(x.value)) == ("x", float)
    assert extra.value == {"samples": [1.0, 2.0]}
    assert all(type(v) is float for v in extra.value["samples"])  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "path", "value", "reason"),
    [
        ("state", ("headerId",), 5.5, "Expected `int`, got `float`"),
        ("state", ("batteryState", "batteryHealth"), 87.5, "Expected `int | null`, got `float`"),
        ("state", ("nodeStates", 0, "sequenceId"), 6.000001, "Expected `int`, got `float`"),
        ("order", ("nodes", 1, "sequenceId"), 1e-300, "Expected `int`, got `float`"),
        ("state", ("headerId",), 1e20, "<= 4294967295"),  # whole, then out of uint32's range
        ("state", ("batteryState", "batteryHealth"), 101.0, "<= 100"),
        ("state", ("orderUpdateId",), -1.0, ">= 0"),
    ],
)
def test_floats_with_a_fraction_or_out_of_range_are_still_refused(
    name: str, path: tuple[str | int, ...], value: float, reason: str
) -> None:
    document: Any = json.loads(p.encode(EXAMPLES[name]()))
    _set(document, path, value)
    error = _refused(name, document)
    assert error.path == _json_path(path)
    assert reason in error.reason, error.reason


def test_a_whole_float_does_not_hide_another_error() -> None:
    document = _state_doc()
    document["headerId"] = 5.0
    document["batteryState"]["batteryHealth"] = 87.5
    error = _refused("state", document)
    assert error.path == "$.batteryState.batteryHealth" and "float" in error.reason
    document["batteryState"]["batteryHealth"] = 87
    document["driving"] = "yes"
    assert _refused("state", document).path == "$.driving"
    text = json.dumps(document).replace('"driving": "yes"', '"driving": tru')
    error = _refused("state", text.encode())  # JSON broken after the whole float
    assert error.path == "$" and error.reason.startswith("malformed JSON")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("state", "0001-01-01T00:00:00+01:00"),
        ("state", "0001-01-01T00:59:59.999999+01:00"),
        ("connection", "0001-01-01T00:00:00+00:01"),
        ("order", "9999-12-31T23:59:59-01:00"),
        ("visualization", "0001-01-01T00:00:00+23:59"),
        ("factsheet", "9999-12-31T23:00:00-23:59"),
    ],
)
def test_timestamps_outside_datetimes_range_in_utc_name_the_field(name: str, text: str) -> None:
    builder = EXAMPLES.get(name) or (lambda: p.make_connection(MAKER, TRUCK, timestamp=T0))
    document: Any = json.loads(p.encode(builder()))
    document["timestamp"] = text
    error = _refused(name, document)
    assert (error.path, error.context) == ("$.timestamp", name)
    assert (
        error.reason
        == f"{datetime.fromisoformat(text).isoformat()} is outside years 1 to 9999 in UTC"
    )


def test_timestamps_at_the_edges_of_the_range_decode() -> None:
    for text, utc in [
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("0001-01-01T01:00:00+01:00", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31T22:59:59-01:00", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ]:
        document = _state_doc()
        document["timestamp"] = text
        state = p.decode("state", json.dumps(document))
        assert state.timestamp == utc and state.timestamp.tzinfo is UTC
        assert p.decode("state", p.encode(state)) == state
    crane = json.loads(p.encode(p.make_crane_event("QC03", CraneKind.QC, CraneEventKind.READY)))
    crane["timestamp"] = "0001-01-01T00:00:00+01:00"
    assert _refused("craneEvent", crane).path == "$.timestamp"
    with pytest.raises(ProtocolError, match=r"\$\.timestamp: .* outside years 1 to 9999"):
        p.parse_timestamp("0001-01-01T00:00:00+01:00")
    with pytest.raises(ProtocolError, match=r"\$\.timestamp: .* outside years 1 to 9999"):
        p.make_connection(
            MAKER, TRUCK, timestamp=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
        )


def _deep(opening: str, closing: str, depth: int = DEEP) -> str:
    return opening * depth + closing * depth


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ("unknown", "$.vendorData[0][0][0][0][0][0][0]"),
        ("parameter", "$.actions[0].actionParameters[0].value[0][0][0]"),
        ("object", "$.vendorData.a.a.a.a.a.a.a"),
        ("after an integer float", "$.vendorData[0][0][0][0][0][0][0]"),
    ],
)
def test_nesting_too_deep_to_decode_says_where(where: str, path: str) -> None:
    document = json.loads(p.encode(example_instant_actions()))
    if where == "parameter":
        document["actions"][0]["actionParameters"] = [{"key": "k", "value": "HERE"}]
        deep = _deep("[", "]")
    elif where == "object":
        document["vendorData"] = "HERE"
        deep = '{"a":' * DEEP + "1" + "}" * DEEP
    else:
        document["vendorData"] = "HERE"
        deep = _deep("[", "]")
        if where == "after an integer float":
            document["headerId"] = 7.0
    data = json.dumps(document).replace('"HERE"', deep)
    error = _refused("instantActions", data.encode())
    assert error.context == "instantActions"
    assert error.path == path + "…", error.path
    assert re.fullmatch(
        r"malformed JSON: nested more than 64 levels deep \(byte \d+\), too deep to decode",
        error.reason,
    )
    assert data[int(error.reason.split("byte ")[1].split(")")[0])] in "[{"
    with pytest.raises(ProtocolError) as as_text:
        p.decode("instantActions", data)
    assert as_text.value.path == error.path


def test_nesting_at_the_top_is_a_type_error_not_a_crash() -> None:
    error = _refused("state", _deep("[", "]").encode())
    assert error.path == "$" and "Expected `object`, got `array`" in error.reason


def test_deep_but_decodable_nesting_in_a_parameter_is_kept() -> None:
    document = json.loads(p.encode(example_instant_actions()))
    document["actions"][0]["actionParameters"] = [{"key": "k", "value": "HERE"}]
    data = json.dumps(document).replace('"HERE"', _deep("[", "]", 100))
    value = p.decode("instantActions", data).actions[0].action_parameters[0].value
    for _ in range(99):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value == []


def test_acks_take_whole_floats_and_refuse_deep_nesting() -> None:
    ack = link.decode_ack(b'{"topic":"state","headerIds":[5.0,6],"bootId":"b"}')
    assert ack.header_ids == [5, 6] and all(type(i) is int for i in ack.header_ids)
    for bad in (
        b'{"topic":"state","headerIds":[5.5],"bootId":"b"}',
        b'{"topic":"s","headerIds":[-1.0]}',
    ):
        with pytest.raises(ProtocolError, match=r"ack: \$\.headerIds: expected a list"):
            link.decode_ack(bad)
    with pytest.raises(ProtocolError, match=r"ack: \$: not JSON \(nested too deep"):
        link.decode_ack(b'{"topic":' + _deep("[", "]").encode() + b"}")

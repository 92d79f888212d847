"""Every order a simulated shift's dispatcher sends is on the record, valid and stitched.

The simulator runs the same dispatcher core as the live server, and the core journals every
order and instant action it sends (`msg.order`, `msg.instantActions`). Read back from the
shift's journal (real SQLite), each order validates against the official VDA 5050 2.1
schema (when ../shared is at hand) and, per orderId, keeps the update rules: updates rise by
one and start at the previous message's last released node, same nodeId and sequenceId.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from fleet.journal import Journal
from fleet.protocol.codec import decode
from fleet.protocol.order import Order
from fleet.release import stitches
from sim.run import run_shift
from sim.scenario import load

SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "vda5050" / "2.1" / "order.schema"


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shift")
    run_shift(load().with_(hours=1, seed=5), out, pictures=False)
    return out / "journal.db"


def sent_orders(path: Path) -> list[Order]:
    return [
        decode(Order, json.dumps(e.body["message"]))
        for _, e in Journal(path).events()
        if e.kind == "msg.order"
    ]


def test_every_order_keeps_the_update_rules(journal: Path) -> None:
    orders = sent_orders(journal)
    assert len(orders) > 100
    last: dict[str, Order] = {}
    updates = 0
    for order in orders:
        previous = last.get(order.order_id)
        if previous is None:
            assert order.order_update_id == 0, order.order_id
        else:
            assert stitches(previous, order) is None, (order.order_id, stitches(previous, order))
            updates += 1
        last[order.order_id] = order
    assert updates > 10  # bases are extended as the trucks drive


def test_every_order_validates_against_the_vda5050_schema(journal: Path) -> None:
    if not SCHEMA.exists():
        pytest.skip("../shared/vda5050 is not here")
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    bodies = [e.body["message"] for _, e in Journal(journal).events() if e.kind == "msg.order"]
    problems = [
        f"{body['orderId']}/{body['orderUpdateId']}: {error.message}"
        for body in bodies
        for error in validator.iter_errors(body)
    ]
    assert problems == []

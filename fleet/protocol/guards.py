"""What the decoder does off its fast path: whole floats for integer fields, and nesting too deep.

Both run only after msgspec has refused a message, so a good message costs nothing extra.

- JSON Schema's "integer" is any number with no fraction, so `"headerId": 5.0` is valid VDA
  5050; msgspec refuses a float for an `int` field. `whole_floats_as_ints` rewrites, guided
  by the message's types, every whole float that stands where an integer is expected (and
  nowhere else: a float field or an action parameter's value keeps its 5.0), and returns the
  JSON to decode again, where the field's range is checked as for any integer. A float with
  a fraction stays a float and is refused as before.
- JSON nested deeper than Python's recursion limit makes msgspec raise RecursionError.
  `too_deep` turns that into a ProtocolError saying where the nesting went past
  `SHOWN_DEPTH` levels (no VDA 5050 message comes near it): the JSON path and the byte.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec
import msgspec.inspect as mi

from fleet.protocol.errors import ProtocolError

__all__ = ["SHOWN_DEPTH", "is_float_for_int", "too_deep", "whole_floats_as_ints"]

SHOWN_DEPTH = 64
"""Nesting beyond this many levels is how a too-deep message is described."""

_FLOAT_FOR_INT = re.compile(r"^Expected `[^`]*\bint\b[^`]*`, got `float`")
_TOKEN = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[\[\]{},:]', re.DOTALL)
_SCAN_BYTES = 1 << 20
"""How far `too_deep` looks for the place (a bound on the work a hostile message can cause)."""
_PLANS: dict[type[Any], _Plan] = {}
_PATH_PARTS = 8
"""How many levels of the path a too-deep message's error shows."""


@dataclass(eq=False)
class _Plan:
    """Where integers stand under one type: here (`whole`), in fields, items or dict values."""

    whole: bool = False
    fields: dict[str, _Plan] = field(default_factory=dict)
    items: _Plan | None = None
    values: _Plan | None = None

    def __bool__(self) -> bool:
        return self.whole or bool(self.fields) or self.items is not None or self.values is not None


def is_float_for_int(error: msgspec.DecodeError) -> bool:
    """Whether msgspec refused a float where its type wanted an integer."""
    return isinstance(error, msgspec.ValidationError) and (
        _FLOAT_FOR_INT.match(str(error)) is not None
    )


def whole_floats_as_ints(cls: type[Any], data: bytes | str) -> bytes:
    """The message's JSON with each whole float that stands for an integer field made an int.

    Raises msgspec.DecodeError if `data` is not JSON at all.
    """
    document = msgspec.json.decode(data)
    plan = _plan_of(cls)
    return msgspec.json.encode(_apply(plan, document) if plan else document)


def _apply(plan: _Plan, value: Any) -> Any:
    """`value` with the plan's whole floats made ints (lists and dicts changed in place)."""
    if isinstance(value, float):
        if plan.whole and value.is_integer():
            return int(value)
    elif isinstance(value, dict):
        if plan.fields:
            for name, sub in plan.fields.items():
                if name in value:
                    value[name] = _apply(sub, value[name])
        elif plan.values is not None:
            for key, item in value.items():
                value[key] = _apply(plan.values, item)
    elif isinstance(value, list) and plan.items is not None:
        items = plan.items
        value[:] = [_apply(items, item) for item in value]
    return value


def _plan_of(cls: type[Any]) -> _Plan:
    """The plan of a message class (built once)."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _plan(mi.type_info(cls), {})
    return plan


def _plan(t: mi.Type, structs: dict[type[Any], _Plan]) -> _Plan:
    """Where integers stand under type `t`; empty when nowhere."""
    plan = _Plan()
    members = [_bare(m) for m in (t.types if isinstance(t, mi.UnionType) else (t,))]
    has_float = any(isinstance(m, mi.FloatType) for m in members)
    for m in members:
        if isinstance(m, mi.IntType):
            plan.whole = not has_float  # `int | float` keeps a float as it came
        elif isinstance(m, mi.StructType):
            if m.cls in structs:  # a type that contains itself: its plan is being built
                plan.fields = structs[m.cls].fields
                continue
            own = structs[m.cls] = _Plan()
            for f in m.fields:
                if sub := _plan(f.type, structs):
                    own.fields[f.encode_name] = sub
            plan.fields = own.fields
        elif isinstance(m, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
            if sub := _plan(m.item_type, structs):
                plan.items = sub
        elif isinstance(m, mi.DictType) and (sub := _plan(m.value_type, structs)):
            plan.values = sub
    return plan


def _bare(t: mi.Type) -> mi.Type:
    """The type under any `Annotated` extras."""
    while isinstance(t, mi.Metadata):
        t = t.type
    return t


def too_deep(data: bytes | str, *, context: str | None = None) -> ProtocolError:
    """The error for a message msgspec could not decode for its depth: where it gets too deep."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    path: list[str] = []
    counters: list[int] = []  # per open container: the array index, or -1 in an object
    key: str | None = None
    for token in _TOKEN.finditer(raw, 0, _SCAN_BYTES):
        text = token.group()
        if text in (b"[", b"{"):
            if counters:
                path.append(f"[{counters[-1]}]" if counters[-1] >= 0 else f".{key}")
            counters.append(0 if text == b"[" else -1)
            if len(counters) > SHOWN_DEPTH:
                shown = "".join(path[:_PATH_PARTS]) + ("…" if len(path) > _PATH_PARTS else "")
                return ProtocolError(
                    f"${shown}",
                    f"malformed JSON: nested more than {SHOWN_DEPTH} levels deep "
                    f"(byte {token.start()}), too deep to decode",
                    context=context,
                )
        elif text in (b"]", b"}"):
            if counters:
                counters.pop()
            if path:
                path.pop()
        elif text == b",":
            if counters and counters[-1] >= 0:
                counters[-1] += 1
        elif text != b":":
            key = _key(text)
    return ProtocolError("$", "malformed JSON: nested too deep to decode", context=context)


def _key(token: bytes) -> str:
    """A JSON string token as text, for a path."""
    try:
        text = json.loads(token)
    except ValueError:
        return token[1:-1].decode("utf-8", "replace")
    return text if isinstance(text, str) else str(text)

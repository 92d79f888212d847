"""Config-like files read into typed values, with errors that name the file, the key and why.

One way for every room to read its small TOML (or JSON) files — the onboard agent's
configuration, scenarios, the Modbus register map, the bag topic map:

    read_toml(path, Type, what="the register map")  ->  Type

reads bytes, decodes UTF-8 (a BOM is tolerated), parses TOML and converts with
`msgspec.convert(strict=True)` into `Type`, a `msgspec.Struct` declared with
`forbid_unknown_fields=True` (a typo must not pass) and `Annotated[..., Meta(...)]`
constraints. Every problem becomes one line `file: key: reason`, the key written as the
file writes it:

    onboard.toml: [gnss] baudrate: expected an integer, got 'fast'
    onboard.toml: [dispatcher] reconnect_s: must be > 0, got -1
    shift.toml: [[vessels]] #2 cranes: must not be empty
    shift.toml: colour: unknown key (known: cranes, faults, fleet, ...)
    x.png: cannot read the scenario: not UTF-8 text (byte 0x89 at offset 0; a binary file?)

`convert` reports every problem of a document, not only the first msgspec finds: it takes
the bad key out and converts again (a follow-on problem of a key already reported is not
repeated). Floats must be finite (`nan`, `inf` are refused everywhere). `merge` lays a
file over a default: tables merge key by key, arrays replace whole, a key left out keeps
the default's value. Checks beyond types (a value against the yard, one key against
another) stay with the reader that knows them; `key_name` writes their keys the same way.

Why here: every room reads such files, and the import contracts (DESIGN.md; tests/
test_architecture.py) let every room import `maps` and `maps` import no room, so the
bottom room is the one place all of them may share. A new top-level package would need
its own place in pyproject's packages, mypy and import contracts; `fleet.protocol`, the
other standalone module, is the wire, not files. This module uses only the standard
library and msgspec, nothing else of `maps` — but importing it runs `maps/__init__` (the
yard room, about 0.3 s), so a reader on a light path (the fuel sensor's) imports it where
it reads.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import NoneType, UnionType
from typing import (
    Annotated,
    Any,
    Literal,
    NamedTuple,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

import msgspec

__all__ = [
    "ConfigFileError",
    "convert",
    "describe",
    "key_name",
    "merge",
    "read_document",
    "read_toml",
]

T = TypeVar("T")

MAX_PROBLEMS = 50
"""A document with more problems than this gets this many reported."""

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_EXPECTED = re.compile(r"^Expected `([^`]+)`, got `([^`]+)`$")
_LENGTH = re.compile(r"^Expected `(str|array|object)` of length ([<>]=) (\d+)$")
_BOUND = re.compile(r"^Expected `(int|float)` ([<>]=?) (\S+)$")
_REGEX = re.compile(r"^Expected `str` matching regex '(.*)'$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(.+)`$")
_MISSING = re.compile(r"^Object missing required field `(.+)`$")
_ENUM = re.compile(r"^Invalid (?:enum )?value (.+)$")
_TYPE_NAMES = {
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "bool": "true or false",
    "object": "a table",
    "array": "a list",
    "null": "nothing",
}

Part = str | int
"""One step of a key's path: a table's key or a list's index (0-based)."""


class ConfigFileError(ValueError):
    """A file that cannot be used: every problem, each `key: reason`; str() is one line each."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """One line per problem: `source: key: reason`."""
        return [f"{self.source}: {p}" for p in self.problems]


# -- reading -------------------------------------------------------------------------------


def read_document(path: str | Path, *, what: str) -> Any:
    """A TOML file's table (JSON when the name ends in .json); ConfigFileError naming the file.

    `what` names the file's role in the messages ("the scenario", "the topic map").
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigFileError(str(path), [f"cannot read {what}: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            str(path),
            [
                f"cannot read {what}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                f"{exc.start}; a binary file?)"
            ],
        ) from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ConfigFileError(str(path), [f"not valid JSON: {exc}"]) from None
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise ConfigFileError(str(path), [f"not valid TOML: {exc}"]) from None


def read_toml(path: str | Path, type_: type[T], *, what: str) -> T:
    """`path` read (see `read_document`) and converted into `type_` (see `convert`)."""
    return convert(read_document(path, what=what), type_, source=str(path))


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`: tables merge key by key, arrays and values replace whole."""
    out: dict[str, Any] = {}
    for key, value in override.items():  # the override's keys first: problems in file order
        below = base.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            out[key] = merge(below, value)
        else:
            out[key] = value
    for key, value in base.items():
        out.setdefault(key, value)
    return out


# -- converting ----------------------------------------------------------------------------


def convert(
    data: Any,
    type_: type[T],
    *,
    source: str,
    at: Sequence[Part] = (),
    fallback: Any = None,
) -> T:
    """`data` (parsed TOML/JSON) as `type_`; ConfigFileError listing every problem.

    `at` is where `data` sits in its file, for the keys in the messages. `fallback`, a
    document `data` was merged over, stands in for a bad value while the rest is checked.
    """
    check = _Check(data, at, fallback)
    for _ in range(4 * MAX_PROBLEMS):
        try:
            value = msgspec.convert(check.work, type_, strict=True)
        except msgspec.ValidationError as exc:
            if not check.go_on(_explain(str(exc), check.work, type_, check.kept)):
                break
        else:
            if not check.problems:
                return value
            break
    raise ConfigFileError(source, check.problems)


class _Check:
    """A copy of a document that bad values are taken out of, and the problems found."""

    def __init__(self, data: Any, at: Sequence[Part], fallback: Any) -> None:
        self.work = _copy(data)
        self.at = tuple(at)
        self.fallback = fallback
        self.kept: dict[int, list[int]] = {}  # id(list in work) -> each item's index in data
        self.restored: set[tuple[Part, ...]] = set()
        self.stood: set[tuple[Part, ...]] = set()
        self.problems: list[str] = []
        self.reported: list[tuple[Part, ...]] = []
        non_finite = _non_finite(self.work)
        for parts, reason in non_finite:
            self.report(parts, reason, table=False)
        for parts, _ in reversed(non_finite):  # the last first: list indices stay valid
            self.take_out(parts)

    def report(self, parts: tuple[Part, ...], reason: str, *, table: bool) -> None:
        """A problem, unless it follows from one already reported."""
        if not any(_within(parts, seen) for seen in self.reported):
            self.problems.append(_line((*self.at, *parts), reason, table=table))
            self.reported.append(parts)

    def go_on(self, found: _Found) -> bool:
        """Report `found` and change the document so that converting it again goes on."""
        self.report(found.parts, found.reason, table=found.table)
        if len(self.problems) >= MAX_PROBLEMS:
            return False
        stand_in = _stand_in(found.missing) if found.take not in self.stood else _ABSENT
        if stand_in is not _ABSENT:  # a key that must be there: a stand-in, and go on
            self.stood.add(found.take)
            _at_path(self.work, found.take[:-1])[found.take[-1]] = stand_in
            return True
        return self.take_out(found.take)

    def take_out(self, parts: Sequence[Part]) -> bool:
        return _take_out(self.work, list(parts), self.kept, self.fallback, self.restored)


def _copy(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {k: _copy(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_copy(v) for v in data]
    return data


def _non_finite(data: Any, parts: tuple[Part, ...] = ()) -> list[tuple[tuple[Part, ...], str]]:
    """Every nan or inf in `data`: nothing in a configuration means "not a number"."""
    if isinstance(data, float) and not math.isfinite(data):
        return [(parts, f"expected a finite number, got {describe(data)}")]
    if isinstance(data, dict):
        return [found for k, v in data.items() for found in _non_finite(v, (*parts, k))]
    if isinstance(data, list):
        return [found for k, v in enumerate(data) for found in _non_finite(v, (*parts, k))]
    return []


def _within(parts: tuple[Part, ...], seen: tuple[Part, ...]) -> bool:
    """Whether a problem at `parts` follows from one already reported at `seen`."""
    n = min(len(parts), len(seen))
    return n > 0 and parts[:n] == seen[:n]


_ABSENT = object()


def _take_out(
    work: Any,
    parts: list[Part],
    kept: dict[int, list[int]],
    fallback: Any,
    restored: set[tuple[Part, ...]],
) -> bool:
    """Take the value at `parts` (or, when it is missing, its table) out of `work`.

    Where `fallback` has a value there (once per key), that value stands in instead.
    """
    while parts:
        container = _at_path(work, parts[:-1])
        last = parts[-1]
        here = _original(work, parts, kept)
        stand_in = _ABSENT if here in restored else _at_path(fallback, here, absent=_ABSENT)
        present = (isinstance(container, dict) and last in container) or (
            isinstance(container, list) and isinstance(last, int) and last < len(container)
        )
        if present and stand_in is not _ABSENT:
            restored.add(here)
            container[last] = _copy(stand_in)
            return True
        if present and isinstance(container, dict):
            del container[last]
            return True
        if present and isinstance(container, list):
            assert isinstance(last, int)
            del container[last]
            kept.setdefault(id(container), list(range(len(container) + 1))).pop(last)
            return True
        parts.pop()
    return False


class _Found(NamedTuple):
    """A msgspec error explained."""

    take: tuple[Part, ...]
    """What to take out of the document to go on."""
    parts: tuple[Part, ...]
    """The key, as the file counts."""
    reason: str
    table: bool
    """Whether the key names a table."""
    missing: Any
    """The type of a missing key (None for other problems or an unknown type)."""


def _explain(message: str, work: Any, type_: Any, kept: dict[int, list[int]]) -> _Found:
    """Where in `work` msgspec's `message` is, and what it means."""
    text, _, where = message.partition(" - at `")
    work_parts: list[Part] = []
    if where:
        for name, index in _PATH_PART.findall(where.rstrip("`").removeprefix("$")):
            work_parts.append(name if name else int(index) if index != "..." else "...")
    # walk the data and its type together; a dict key msgspec writes as `...` is the
    # first entry that does not convert
    node, tp, parent = work, type_, type_
    for i, part in enumerate(work_parts):
        tp = _narrow(tp, node)
        if part == "..." and isinstance(node, dict):
            value_type = _child(tp, "...")
            work_parts[i] = next(
                (k for k, v in node.items() if not _converts(v, value_type)), "..."
            )
        node, parent = _at(node, work_parts[i]), tp
        tp = _child(tp, work_parts[i])
    tp = _narrow(tp, node)
    target_type: Any = tp
    field = _UNKNOWN.match(text) or _MISSING.match(text)
    if field:
        work_parts.append(field.group(1))
        target_type, parent = _child(tp, field.group(1)), tp
    parts = _original(work, work_parts, kept)
    value = _at_path(work, work_parts)
    table = False
    if _UNKNOWN.match(text):
        table = isinstance(value, dict)
        known = ", ".join(_fields(tp))
        reason = f"unknown {'table' if table else 'key'}" + (f" (known: {known})" if known else "")
    elif _MISSING.match(text):
        table = _is_table(target_type)
        reason = "missing table (required)" if table else "missing (required)"
    else:
        reason = _reason(text, value, target_type, parent)
    take = tuple(work_parts)
    if take and _tags(parent) and take[-1] == _tag_field(parent):
        take = take[:-1]  # a bad kind: the whole entry goes, its other keys mean nothing
    missing = target_type if _MISSING.match(text) and take == tuple(work_parts) else None
    return _Found(take, parts, reason, table, missing)


def _stand_in(type_: Any) -> Any:
    """A value of `type_` that converts, to check the rest of a document (or _ABSENT)."""
    if type_ is None:
        return _ABSENT
    bare = _strip(type_)
    if get_origin(bare) in (Union, UnionType) and NoneType in get_args(bare):
        return None
    option = _options(type_)[0]
    bare, metas = _strip(option), _metas(option)
    low = next((m.ge for m in metas if m.ge is not None), None)
    above = next((m.gt for m in metas if m.gt is not None), None)
    length = next((m.min_length for m in metas if m.min_length is not None), 0)
    origin = get_origin(bare)
    stand_in: Any = _ABSENT
    if origin is Literal:
        stand_in = get_args(bare)[0]
    elif bare is bool:
        stand_in = False
    elif bare in (int, float):
        stand_in = bare(low if low is not None else above + 1 if above is not None else 0)
    elif bare is str:
        stand_in = "x" * max(length, 1)
    elif origin in (list, tuple, set, frozenset):
        item = _stand_in(get_args(bare)[0]) if length and get_args(bare) else _ABSENT
        stand_in = [item] * length if item is not _ABSENT else []
    elif origin is dict or _struct(bare) is not None:
        stand_in = {}
    return stand_in


def _reason(text: str, value: Any, type_: Any, parent: Any) -> str:
    """A msgspec complaint about `value` in plain words."""
    said = text[:1].lower() + text[1:].replace("`", "")
    if m := _EXPECTED.match(text):
        said = f"expected {_type_name(m.group(1))}, got {describe(value)}"
    elif m := _LENGTH.match(text):
        op, n = m.group(2), int(m.group(3))
        what = "characters" if m.group(1) == "str" else "entries"
        least = "at least" if op == ">=" else "at most"
        said = "must not be empty" if (op, n) == (">=", 1) else f"must have {least} {n} {what}"
    elif m := _BOUND.match(text):
        bounds = _bounds(type_) or f"must be {m.group(2)} {_number(m.group(3))}"
        said = f"{bounds}, got {describe(value)}"
    elif m := _REGEX.match(text):
        said = f"{describe(value)} does not match the pattern {m.group(1)}"
    elif _ENUM.match(text) and (choices := _choices(type_) or _tags(parent)):
        said = f"{describe(value)}: expected one of {', '.join(choices)}"
    return said


def _bounds(type_: Any) -> str | None:
    """`must be within 300..4000000` or `must be > 0` from a type's Meta constraints."""
    low = high = None
    for meta in _metas(type_):
        if meta.ge is not None:
            low = f">= {_number(meta.ge)}"
        if meta.gt is not None:
            low = f"> {_number(meta.gt)}"
        if meta.le is not None:
            high = f"<= {_number(meta.le)}"
        if meta.lt is not None:
            high = f"< {_number(meta.lt)}"
    if low and high and low.startswith(">=") and high.startswith("<="):
        return f"must be within {low[3:]}..{high[3:]}"
    said = [b for b in (low, high) if b]
    return f"must be {' and '.join(said)}" if said else None


def _number(value: object) -> str:
    try:
        number = float(str(value))
    except ValueError:
        return str(value)
    return str(int(number)) if number.is_integer() and abs(number) < 1e16 else f"{number:g}"


def _type_name(names: str) -> str:
    said = [_TYPE_NAMES.get(n, n) for n in names.split(" | ") if n != "null"]
    return " or ".join(said) or "nothing"


def describe(value: Any) -> str:
    """A value as a message shows it: strings quoted, TOML's true/false, tables by kind."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- keys ----------------------------------------------------------------------------------


def key_name(parts: Sequence[Part], *, table: bool = False) -> str:
    """A key as its file writes it: `hours`, `[gnss] baudrate`, `[[vessels]] #2 cranes`.

    `table`: the key names a table (`[gnss]`), not a value in one. A list item that is no
    table is `cranes item 2`; list positions count from 1, as a reader counts them.
    """
    parts = list(parts)
    leaf = ""
    if not table and parts:
        last = parts.pop()
        owner = parts[-1] if parts else None
        if isinstance(last, int) and isinstance(owner, str):
            parts.pop()
            leaf = f"{_bare(owner)} item {last + 1}"
        else:
            leaf = _bare(last) if isinstance(last, str) else f"item {last + 1}"
    header: list[str] = []
    names: list[str] = []
    for part in parts:
        if isinstance(part, int):
            header.append(f"[[{'.'.join(names)}]] #{part + 1}")
        else:
            names.append(_bare(part))
    if parts and isinstance(parts[-1], str):
        header.append(f"[{'.'.join(names)}]")
    return " ".join([*header, leaf]).strip()


def _bare(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _line(parts: Sequence[Part], reason: str, *, table: bool) -> str:
    key = key_name(parts, table=table)
    return f"{key}: {reason}" if key else reason


# -- walking data and types ----------------------------------------------------------------


def _at(node: Any, part: Part, absent: Any = None) -> Any:
    if isinstance(node, dict):
        return node.get(part, absent)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return absent


def _at_path(node: Any, parts: Sequence[Part], absent: Any = None) -> Any:
    for part in parts:
        node = _at(node, part, absent)
        if node is absent:
            break
    return node


def _original(work: Any, parts: Sequence[Part], kept: dict[int, list[int]]) -> tuple[Part, ...]:
    """`parts` with list indices as the file counts them (before items were taken out)."""
    out: list[Part] = []
    node = work
    for part in parts:
        if isinstance(node, list) and isinstance(part, int) and id(node) in kept:
            out.append(kept[id(node)][part] if part < len(kept[id(node)]) else part)
        else:
            out.append(part)
        node = _at(node, part)
    return tuple(out)


def _converts(value: Any, type_: Any) -> bool:
    if type_ is None:
        return True
    try:
        msgspec.convert(value, type_, strict=True)
    except msgspec.ValidationError:
        return False
    return True


def _strip(type_: Any) -> Any:
    while get_origin(type_) is Annotated:
        type_ = get_args(type_)[0]
    return type_


def _metas(type_: Any) -> list[msgspec.Meta]:
    out: list[msgspec.Meta] = []
    for option in _options(type_):
        layer = option
        while get_origin(layer) is Annotated:
            out += [m for m in get_args(layer)[1:] if isinstance(m, msgspec.Meta)]
            layer = get_args(layer)[0]
    return out


def _options(type_: Any) -> list[Any]:
    """The members of a union (without None), else the type itself."""
    bare = _strip(type_)
    if get_origin(bare) in (Union, UnionType):
        return [t for t in get_args(bare) if t is not NoneType]
    return [type_]


def _child(type_: Any, part: Part) -> Any:
    """The type of `part` inside a value of `type_` (None when unknown)."""
    for option in _options(type_):
        bare = _strip(option)
        if isinstance(bare, type) and issubclass(bare, msgspec.Struct) and isinstance(part, str):
            hints = get_type_hints(bare, include_extras=True)
            if part in hints:
                return hints[part]
        origin, args = get_origin(bare), get_args(bare)
        if origin in (list, tuple, set, frozenset) and isinstance(part, int) and args:
            return args[0]
        if origin is dict and len(args) == 2 and isinstance(part, str):
            return args[1]
    return None


def _struct(option: Any) -> type[msgspec.Struct] | None:
    bare = _strip(option)
    return bare if isinstance(bare, type) and issubclass(bare, msgspec.Struct) else None


def _narrow(type_: Any, value: Any) -> Any:
    """The member of a tagged union that `value` names by its tag, else `type_`."""
    if isinstance(value, dict):
        for option in _options(type_):
            struct = _struct(option)
            config = struct.__struct_config__ if struct is not None else None
            if config and config.tag_field and value.get(config.tag_field) == config.tag:
                return option
    return type_


def _tags(type_: Any) -> list[str]:
    """The tags of a tagged union's members."""
    out = []
    for option in _options(type_):
        struct = _struct(option)
        if struct is not None and struct.__struct_config__.tag_field:
            out.append(str(struct.__struct_config__.tag))
    return out


def _tag_field(type_: Any) -> str | None:
    for option in _options(type_):
        struct = _struct(option)
        if struct is not None and struct.__struct_config__.tag_field:
            return struct.__struct_config__.tag_field
    return None


def _fields(type_: Any) -> list[str]:
    for option in _options(type_):
        struct = _struct(option)
        if struct is not None:
            tag = struct.__struct_config__.tag_field
            return sorted([*struct.__struct_fields__, *([tag] if tag else [])])
    return []


def _is_table(type_: Any) -> bool:
    for option in _options(type_):
        bare = _strip(option)
        if isinstance(bare, type) and issubclass(bare, msgspec.Struct):
            return True
        if get_origin(bare) is dict:
            return True
    return False


def _choices(type_: Any) -> list[str]:
    for option in _options(type_):
        bare = _strip(option)
        if get_origin(bare) is Literal:
            return [str(a) for a in get_args(bare)]
    return []

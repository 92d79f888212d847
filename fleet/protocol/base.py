"""The base of every wire structure and the constrained number types the messages share.

Naming: Python attributes are snake_case; on the wire every field is camelCase exactly as
VDA 5050 spells it (`rename="camel"` on the base struct, and an explicit `name=` where the
spec's key is not plain camelCase, such as the factsheet's `"order.nodes"`).

Optional fields default to None and are left out of the JSON (`omit_defaults`): the
schemas allow no `null`. Required fields have no default. Unknown fields are ignored on
decode, so other vendors' additions do not break us.

Constraints are the stricter of the JSON schema and the specification text (which, by its
own words, wins where they differ): `uint32` in the text is an int in [0, 2**32 - 1] even
where the schema only says "integer"; ranges like theta's [-Pi, Pi] are checked even where
the schema leaves them out. Where the two conflict, we accept only what both accept.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = [
    "PI",
    "Angle",
    "NonNegative",
    "Percent",
    "UInt32",
    "UnitInterval",
    "Version",
    "Wire",
]

UINT32_MAX = 2**32 - 1
PI = 3.14159265359
"""Pi as the schemas round it: their bound for every angle."""

UInt32 = Annotated[int, msgspec.Meta(ge=0, le=UINT32_MAX)]
"""The spec's uint32: header ids, sequence ids, order update ids, reach, limits."""
Angle = Annotated[float, msgspec.Meta(ge=-PI, le=PI)]
"""An orientation in radians, range [-Pi, Pi], counter-clockwise from the map's x axis."""
NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]
"""A float64 with range [0.0 ... float64.max] (widths, weights, deviations)."""
UnitInterval = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
"""A float64 in [0.0, 1.0] (localization score, NURBS knots)."""
Percent = Annotated[float, msgspec.Meta(ge=0.0, le=100.0)]
"""A percentage in [0, 100]."""
Version = Annotated[str, msgspec.Meta(pattern=r"^\d+\.\d+\.\d+$")]
"""A protocol version [Major].[Minor].[Patch], e.g. "2.1.0"."""


class Wire(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """Base of every wire object: camelCase on the wire, optional fields omitted when None."""

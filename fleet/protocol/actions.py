"""Actions, as order nodes and edges and instantActions carry them (VDA 5050 §6.6.6, §6.8)."""

from __future__ import annotations

import enum
from typing import Any

from fleet.protocol.base import Wire

__all__ = ["Action", "ActionParameter", "ActionParameterValue", "BlockingType"]

ActionParameterValue = list[Any] | bool | int | float | str | dict[str, Any]
"""An action parameter's value: array, boolean, number, string or object (never null)."""


class BlockingType(enum.StrEnum):
    """Whether an action lets the vehicle drive or run other actions meanwhile (§6.12)."""

    NONE = "NONE"
    SOFT = "SOFT"
    HARD = "HARD"


class ActionParameter(Wire, kw_only=True):
    """One key-value parameter of an action, e.g. {"key": "loadId", "value": "MSKU1234565"}."""

    key: str
    value: ActionParameterValue


class Action(Wire, kw_only=True):
    """Something the vehicle does on a node, on an edge, or at once (instantActions)."""

    action_type: str
    action_id: str
    action_description: str | None = None
    blocking_type: BlockingType
    action_parameters: list[ActionParameter] | None = None

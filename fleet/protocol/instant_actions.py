"""The instantActions message (master control → vehicle): actions to run at once (§6.9)."""

from __future__ import annotations

from fleet.protocol.actions import Action
from fleet.protocol.header import Header

__all__ = ["InstantActions"]


class InstantActions(Header, kw_only=True):
    """Actions outside the order, e.g. startPause, cancelOrder, stateRequest."""

    actions: list[Action]

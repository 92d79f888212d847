"""Errors of the yard room: every one names the file, the feature and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a yard: where (file, feature index, feature id, field) and what."""

    message: str
    feature_id: str | None = None
    field: str | None = None
    source: str | None = None
    index: int | None = None

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.index is not None:
            where.append(f"feature #{self.index}")
        if self.feature_id is not None:
            where.append(repr(self.feature_id))
        if self.field:
            where.append(f"field {self.field!r}")
        return f"{': '.join(where)}: {self.message}" if where else self.message


class YardError(Exception):
    """Base of every error the yard room raises on purpose."""


class YardFileError(YardError):
    """A yard file could not be read or is not a valid yard; carries every problem found."""

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        head = f"{source}: " if source else ""
        shown = "\n  ".join(str(p) for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{head}{len(problems)} problem(s) in the yard:\n  {shown}{more}")


class UnknownFeatureError(YardError, KeyError):
    """A lane, node, area, crane or service point id that the yard does not have."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown feature"


class MapFormatError(YardError):
    """A MovingAI map or scenario file that does not follow the format (file and line named)."""

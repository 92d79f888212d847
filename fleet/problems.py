"""The dispatcher's problems: what it could not do or refused, typed, said once, on the record.

A problem is a kind (`ProblemKind`), the truck it concerns, the shift time, and the places,
cranes, jobs or trucks its text names, as fields. The dispatcher notes a problem once per
truck until that truck's next problem differs in kind or in those fields (a truck that
finds no way to a spot at every tick is said once, whatever the time in the planner's
words); every problem noted is a `problem` event in the journal. `str()` of a problem
reads as a line for people (`t=1552s truck 'TT03': no conflict-free path …`), and
`text in problem` looks in that line, as the callers that matched the old strings do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Problem", "ProblemKind", "Problems"]


class ProblemKind(StrEnum):
    """What went wrong."""

    UNKNOWN_TRUCK = "unknown_truck"
    """A state from a truck not in the fleet; ignored."""
    MOVE_NOT_THERE = "move_not_there"
    """A crane's MOVEDONE for a truck or job the dispatcher does not have there; ignored."""
    WRONG_CRANE = "wrong_crane"
    """A MOVEDONE for a truck under another crane than the one of its leg; ignored."""
    EARLY_MOVE = "early_move"
    """A MOVEDONE that came before the truck said it arrived; held until it does."""
    REPAIR_FAILED = "repair_failed"
    """A repair found no way for the truck: it stands where it is and is tried again."""
    NO_WAY = "no_way"
    """The planner found no way to a spot (the truck waits; the spot is tried last)."""
    CIRCLE_OPENED = "circle_opened"
    """Trucks waited on each other for spots in a circle: one of them makes room."""
    TRUCK_LOST = "truck_lost"
    """A truck silent past the limit: lost, its place held, its work given to another."""
    TRUCK_BACK = "truck_back"
    """A lost truck spoke again."""
    BAD_JOB = "bad_job"
    """A job a work queue gave that the dispatcher refused (unknown place, already known)."""
    BAD_MESSAGE = "bad_message"
    """A message whose content the dispatcher could not take (the live server goes on)."""


TEXTS = {
    ProblemKind.UNKNOWN_TRUCK: "state from unknown truck {truck!r} ignored",
    ProblemKind.MOVE_NOT_THERE: "{crane}: MOVEDONE for truck {truck} job {job} that is not there; "
    "ignored",
    ProblemKind.WRONG_CRANE: "{crane}: MOVEDONE for {truck}, not its crane; ignored",
    ProblemKind.EARLY_MOVE: "{crane}: MOVEDONE for {truck} before it arrived; held",
    ProblemKind.REPAIR_FAILED: "repair failed for {truck}: {detail}; it stands and retries",
    ProblemKind.NO_WAY: "{detail}",  # the planner names the truck, where from and where to
    ProblemKind.CIRCLE_OPENED: "{truck} makes room: {circle} waited in a circle",
    ProblemKind.TRUCK_LOST: "{truck} silent for {seconds:.0f} s: lost",
    ProblemKind.TRUCK_BACK: "{truck} back after {seconds:.0f} s",
    ProblemKind.BAD_JOB: "job {job}: {detail}",
    ProblemKind.BAD_MESSAGE: "{truck} {detail}",
}
"""How each kind reads, its fields filled in."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: its kind, the truck, when [shift s], and what its text names."""

    kind: ProblemKind
    truck: str | None
    at: float
    crane: str | None = None
    job: str | None = None
    spot: str | None = None
    """The spot the truck was to go to (no way, repair failed)."""
    trucks: tuple[str, ...] = ()
    """The trucks of a circle, or those broken down when a repair failed."""
    seconds: float | None = None
    """How long a truck was silent, or lost."""
    detail: str = ""
    """In other words than ours: the planner's, a refused job's or message's."""

    @property
    def key(self) -> tuple[Any, ...]:
        """What makes it another problem for its truck: its kind and the fields its text
        names, without times (a repeat later is the same problem)."""
        return (self.kind, self.crane, self.job, self.spot, self.trucks)

    def text(self) -> str:
        """What happened, in words (without the time)."""
        return TEXTS[self.kind].format(
            truck=self.truck,
            crane=self.crane,
            job=self.job,
            circle=", ".join(self.trucks),
            seconds=self.seconds or 0.0,
            detail=self.detail,
        )

    def fields(self) -> dict[str, Any]:
        """The fields that say something, as JSON-able data (for the journal)."""
        out: dict[str, Any] = {"kind": self.kind.value}
        named = (("truck", self.truck), ("crane", self.crane), ("job", self.job))
        out.update((name, value) for name, value in named if value)
        if self.spot:
            out["spot"] = self.spot
        if self.trucks:
            out["trucks"] = list(self.trucks)
        if self.seconds is not None:
            out["seconds"] = round(self.seconds, 3)
        return out

    def __str__(self) -> str:
        return f"t={self.at:.0f}s {self.text()}"

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and text in str(self)


class Problems(list[Problem]):
    """The problems noted, in order; `note` says each once per truck until it changes."""

    def __init__(self, on_note: Callable[[Problem], None] | None = None) -> None:
        super().__init__()
        self._on_note = on_note
        self._last: dict[str | None, tuple[Any, ...]] = {}

    def note(self, problem: Problem) -> bool:
        """Add it unless it is its truck's last problem again; True if added (and passed
        on to be journalled)."""
        if self._last.get(problem.truck) == problem.key:
            return False
        self._last[problem.truck] = problem.key
        self.append(problem)
        if self._on_note is not None:
            self._on_note(problem)
        return True

"""The one door between the web server's thread and the single-threaded dispatcher.

The web side `submit`s actions and reads `latest()` snapshots; the dispatcher's loop calls
`pump(at)` (the live server between batches, the simulator on its clock), which carries
out the queued actions, refreshes the snapshot and the alarms, and returns the messages
the actions made for the trucks. Nothing on the web side touches the dispatcher.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from fleet.console.actions import Action, Outcome, Sent, carry_out
from fleet.console.alarms import WARNING, Alarms, Circles, conditions
from fleet.console.snapshot import shift_seconds, snapshot
from fleet.console.watch import Watch
from fleet.live import LiveDispatcher
from fleet.problems import ProblemKind

__all__ = ["Bridge"]

log = logging.getLogger(__name__)

REFRESH_S = 0.5
"""A new snapshot at least this often (wall seconds) while the dispatcher runs."""


class _Stats(Protocol):
    errors: int


class _Intake(Protocol):
    """What the bridge reads of the server's intake: its refusals."""

    @property
    def stats(self) -> _Stats: ...

    @property
    def last_error(self) -> str: ...


class Bridge:
    """Actions in, snapshots out, between the console and one live dispatcher."""

    def __init__(
        self,
        live: LiveDispatcher,
        watch: Watch,
        intake: _Intake | None = None,
        *,
        refresh_s: float = REFRESH_S,
    ) -> None:
        self.live = live
        self.watch = watch
        self.intake = intake
        self.refresh_s = refresh_s
        self.alarms = Alarms()
        self.circles = Circles()
        self._actions: queue.SimpleQueue[tuple[Action, Future[Outcome]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._latest: dict[str, Any] | None = None
        self._version = 0
        self._listeners: list[Callable[[], None]] = []
        self._last_refresh = -1e18
        self._errors_seen = 0
        self._problems_seen = 0

    # -- the web side (any thread) ---------------------------------------------------

    def submit(self, action: Action) -> Future[Outcome]:
        """Queue an action for the dispatcher's thread; its outcome comes in the future."""
        fut: Future[Outcome] = Future()
        self._actions.put((action, fut))
        return fut

    def latest(self) -> tuple[int, dict[str, Any] | None]:
        """The newest snapshot and its version (None before the first pump)."""
        with self._lock:
            return self._version, self._latest

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` (on the dispatcher's thread: it must only hand over, e.g. with
        `loop.call_soon_threadsafe`) after each new snapshot; returns the unsubscribe."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    # -- the dispatcher's side (its thread only) --------------------------------------

    def pump(self, at: float, *, wall: float | None = None) -> Sent:
        """Carry out the queued actions at POSIX time `at`, refresh the snapshot when due
        (every `refresh_s` of `wall` time, default `at`, or after an action); the
        messages to send."""
        sent: Sent = []
        acted = False
        while True:
            try:
                action, fut = self._actions.get_nowait()
            except queue.Empty:
                break
            acted = True
            try:
                outcome, out = carry_out(self.live, self.alarms, action, at, self._iso(at))
            except Exception as exc:  # the console never takes the dispatcher down
                fut.set_exception(exc)
                continue
            sent += out
            fut.set_result(outcome)
        wall = at if wall is None else wall
        if acted or wall - self._last_refresh >= self.refresh_s:
            self._last_refresh = wall
            self.refresh(at)
        return sent

    def refresh(self, at: float) -> None:
        """A new snapshot with its alarms, published to the web side."""
        snap = snapshot(self.live, self.watch, at)
        self._refused(snap["at"])
        critical = self.live.dispatcher.config.fuel_critical
        stuck = self.circles.stuck(self.live.waits_for(), snap["shift_s"])
        self.alarms.update(snap["at"], conditions(snap, critical, stuck))
        snap["alarms"] = self.alarms.listed()
        with self._lock:
            self._version += 1
            snap["version"] = self._version
            self._latest = snap
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener()
            except Exception:  # a listener gone bad never stops the dispatcher
                log.exception("a console listener failed")

    def _refused(self, now_iso: str) -> None:
        """Messages refused since the last look (by the intake or the dispatcher): alarms."""
        if self.intake is not None and self.intake.stats.errors > self._errors_seen:
            n = self.intake.stats.errors - self._errors_seen
            self._errors_seen = self.intake.stats.errors
            text = f"{n} message(s) refused: {self.intake.last_error or 'see the log'}"
            self.alarms.event(now_iso, WARNING, "refused_message", text)
        problems = self.live.problems
        for p in problems[self._problems_seen :]:
            if p.kind is ProblemKind.BAD_MESSAGE:
                self.alarms.event(now_iso, WARNING, "refused_message", p.text())
        self._problems_seen = len(problems)

    def _iso(self, at: float) -> str:
        return self.live.dispatcher.at(shift_seconds(self.live, at)).isoformat()

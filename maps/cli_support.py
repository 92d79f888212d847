"""What every `yardfleet` command does the same way: output folders, Ctrl-C, progress lines.

- Output folders: a missing folder an output goes in is created (as `mkdir -p` would); a
  folder that cannot be created, or a file where a folder must go, is one error line
  naming the option, the path and the reason (exit 1), before any work starts. Every
  output option's help says so (`CREATES_FOLDERS`).
- Ctrl-C: what was done so far is written, and the command exits `INTERRUPTED_EXIT` (130,
  as a shell reports a command killed by SIGINT).
- A yard file that cannot be used: one line per problem (`yard_error`), each naming the
  file, the feature and what is wrong.
- Progress without a terminal: `ProgressLines` prints a plain line every few seconds on
  stderr where a terminal would show a progress bar (a CI log, `2> log`).

Why here: the import contracts (DESIGN.md; tests/test_architecture.py) let every room import
`maps` and `maps` import no room, so the bottom room is the one place all command lines may
share. This module uses only click and the standard library.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import click

from maps.errors import YardError, YardFileError

__all__ = [
    "CREATES_FOLDERS",
    "INTERRUPTED_EXIT",
    "PROGRESS_EVERY_S",
    "ProgressLines",
    "clock",
    "output_file",
    "output_folder",
    "yard_error",
]

INTERRUPTED_EXIT = 130
"""The exit status after Ctrl-C, as a shell gives a command killed by SIGINT."""

CREATES_FOLDERS = "missing folders are created"
"""The words every output option's help ends with."""

PROGRESS_EVERY_S = 5.0
"""Seconds between two progress lines when there is no terminal for a progress bar."""


def output_file(path: Path, option: str) -> Path:
    """`path`, a file to write, with its folder created if missing; else a ClickException
    naming `option` (e.g. "--out"), the path and why."""
    if path.is_dir():
        raise click.ClickException(f"{option} {path}: is a folder, not a file name")
    _make_folder(path.parent, option, path)
    return path


def output_folder(path: Path, option: str) -> Path:
    """`path`, a folder to write into, created if missing (with its parents); else a
    ClickException naming `option`, the path and why."""
    _make_folder(path, option, path)
    return path


def _make_folder(folder: Path, option: str, given: Path) -> None:
    blocker = next(
        (p for p in reversed([folder, *folder.parents]) if p.exists() and not p.is_dir()), None
    )
    if blocker is not None:
        raise click.ClickException(f"{option} {given}: {blocker} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise click.ClickException(
            f"{option} {given}: cannot create the folder {folder}: {reason}"
        ) from None


MAX_PROBLEM_LINES = 50
"""A yard with more problems gets this many lines and a count of the rest."""


def yard_error(exc: YardError) -> click.ClickException:
    """A yard that cannot be used as a ClickException: one line per problem."""
    if isinstance(exc, YardFileError) and exc.problems:
        lines = [str(p) for p in exc.problems[:MAX_PROBLEM_LINES]]
        if len(exc.problems) > MAX_PROBLEM_LINES:
            more = len(exc.problems) - MAX_PROBLEM_LINES
            lines.append(f"... and {more} more (yardfleet map validate lists them all)")
        return click.ClickException("\n".join(lines))
    return click.ClickException(str(exc))


def clock(seconds: float) -> str:
    """Simulated seconds as hours and minutes: 5400 → "1:30"."""
    minutes = int(seconds // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


class ProgressLines:
    """Plain progress lines on stderr, one every `every_s` seconds of wall time at most.

    `due()` says whether the next line may go out; `say(text)` prints `LABEL: text` and
    starts the wait again. `force=True` prints regardless of the wait (the first line, so a
    log shows the command got going, and the last). Lines go out at once (flushed).
    """

    def __init__(
        self,
        label: str,
        *,
        every_s: float = PROGRESS_EVERY_S,
        stream: TextIO | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.every_s = every_s
        self.stream = stream
        self.now = now
        self.started = now()
        self._last: float | None = None

    @property
    def elapsed_s(self) -> float:
        """Wall seconds since the lines were set up."""
        return self.now() - self.started

    def due(self, *, at_least_s: float | None = None) -> bool:
        """Whether a line may go out now (`at_least_s`: a shorter wait than `every_s`)."""
        wait = self.every_s if at_least_s is None else at_least_s
        return self._last is None or self.now() - self._last >= wait

    def say(self, text: str) -> None:
        """Print `LABEL: text` on stderr now."""
        self._last = self.now()
        stream = self.stream if self.stream is not None else sys.stderr
        click.echo(f"{self.label}: {text}", file=stream)
        stream.flush()

    def maybe(self, text: Callable[[], str], *, force: bool = False) -> None:
        """Print the line `text()` makes if one is due (or `force`)."""
        if force or self.due():
            self.say(text())

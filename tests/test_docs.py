"""The documentation: the site builds without a warning, and the pages' commands run.

Every line starting with `yardfleet ` in a `sh` block of README.md or docs/*.md is a
command a reader will type. Each is either run here — from a scratch copy of the clone
(its top-level entries linked, `out/` its own), page by page in the page's order, so what
an earlier command writes is there for the later ones — and must exit 0, or it is listed
in `NOT_RUN` with the reason. A command that is neither fails the test, so a new command
in the pages is run or explained. Every file a command reads must be shipped in the clone,
or written on the same page before it (by a command, or by `make demo`, which the test
stands in for with the Makefile's own demo commands and a short shift).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL = {"sh", "shell", "bash", "console"}
"""Fenced blocks whose `yardfleet ` lines are commands; other blocks hold synopses only."""

README_MAX_LINES = 200

NOT_RUN: dict[str, str] = {
    "yardfleet dispatcher serve": "a server that runs until Ctrl-C; tests/fleet/test_live_wire.py "
    "runs it with two agents",
    "yardfleet sim console": "a shift with the fleet console, served until it ends or Ctrl-C; "
    "tests/fleet/console/test_browser.py runs it with a browser",
    "yardfleet agent": "needs a GNSS receiver and a fuel sensor on serial ports and a dispatcher; "
    "tests/fleet/test_live_wire.py runs agents on pseudo-terminals",
    "yardfleet fuel read --port /dev/": "needs a fuel sensor on a serial port; the pages' loop:// "
    "commands run, and tests/drivers/test_fuel_cli.py reads sensors on pseudo-terminals",
    "yardfleet gnss decode --port /dev/": "needs a receiver on a serial port; "
    "tests/drivers/test_gnss_cli.py reads one on a pseudo-terminal",
    "yardfleet gnss decode --port socket://": "needs a receiver on the network",
    "yardfleet sim run --out out/shift": "the whole 8-hour shift, about 20 s; make demo runs it, "
    "and this test runs the demo's commands with a short shift",
    "yardfleet sim compare --out out/compare": "160 8-hour shifts, about 20 minutes on 2 cores",
    "yardfleet route mapf ../shared/corpus/mapf/warehouse-10-20-10-2-1.map "
    "../shared/corpus/mapf/warehouse-10-20-10-2-1-random-1.scen --agents 500": "runs to its "
    "10 s time limit; the same map with 100 agents runs",
}
"""Commands (by prefix, whole words) that cannot run here, and why."""

OUTPUT_OPTIONS = {"--out", "--record", "--journal", "--dir", "--file"}
"""Options whose value a command writes (a journal, an operators file are created if absent;
`keys --dir` a folder)."""
INPUT_OPTIONS = {"--config", "--calibration", "--register-map", "--topic-map", "--yard"}
"""Options whose value is a file the command reads."""
FILE_SUFFIXES = {
    ".bag",
    ".csv",
    ".db",
    ".geojson",
    ".json",
    ".log",
    ".map",
    ".mcap",
    ".scen",
    ".toml",
}
"""A positional argument with one of these suffixes, or with a `/`, names a file."""
NOT_LINKED = {
    ".git",
    ".venv",
    "out",
    "site",
    "build",
    "dist",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".benchmarks",
}
"""Top-level entries of the clone that the scratch copies leave out."""
COMMAND_TIMEOUT_S = 120
SEED_HOURS = "0.1"
"""The shift the stand-in for `make demo` simulates (the demo's is 8 hours)."""


@dataclass(frozen=True)
class Command:
    """One command line of a page: where it is, its text without comments, its words."""

    page: Path
    line: int
    text: str
    argv: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def fenced_blocks(page: Path) -> Iterator[tuple[str, int, list[str]]]:
    """(language, line number of the first line inside, lines) of every fenced block."""
    lang: str | None = None
    start = 0
    body: list[str] = []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        fence = re.match(r"^\s*```\s*([\w-]*)", line)
        if lang is None and fence:
            lang, start, body = fence.group(1).lower(), number + 1, []
        elif lang is not None and line.strip().startswith("```"):
            yield lang, start, body
            lang = None
        elif lang is not None:
            body.append(line)


def joined(lines: list[str], start: int) -> Iterator[tuple[int, str]]:
    """The block's lines with backslash continuations joined, each with its first line number."""
    pending = ""
    first = start
    for number, line in enumerate(lines, start):
        if not pending:
            first = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield first, pending + line
        pending = ""
    if pending:
        yield first, pending


def page_commands(page: Path) -> list[Command]:
    """The `yardfleet` and `make demo` lines of the page's shell blocks, in order."""
    found = []
    for lang, start, lines in fenced_blocks(page):
        if lang not in SHELL:
            continue
        for number, line in joined(lines, start):
            words = shlex.split(line, comments=True)
            if words[:1] == ["yardfleet"] or words == ["make", "demo"]:
                found.append(Command(page, number, " ".join(words), tuple(words)))
    return found


def all_commands() -> list[Command]:
    return [command for page in PAGES for command in page_commands(page)]


def listed(command: Command, prefix: str) -> bool:
    """Whether a NOT_RUN prefix names the command: whole words, or up to its `/`."""
    if command.text == prefix:
        return True
    return command.text.startswith(prefix if prefix.endswith("/") else prefix + " ")


def not_run_reason(command: Command) -> str | None:
    return next((why for prefix, why in NOT_RUN.items() if listed(command, prefix)), None)


def is_file_word(word: str) -> bool:
    if word.startswith("-") or "://" in word:
        return False
    return "/" in word or Path(word).suffix in FILE_SUFFIXES


def files_of(argv: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(files read, files written) that a `yardfleet` command names."""
    read: list[str] = []
    written: list[str] = []
    words = list(argv[1:])
    i = 0
    while i < len(words):
        word = words[i]
        option, _, value = word.partition("=")
        if option in OUTPUT_OPTIONS | INPUT_OPTIONS:
            if not value and i + 1 < len(words):
                i += 1
                value = words[i]
            (written if option in OUTPUT_OPTIONS else read).append(value)
        elif word.startswith("--"):
            pass  # a flag, or an option whose value is looked at as a word of its own
        elif is_file_word(word) and not (i > 0 and words[i - 1] in {"--port", "--bind"}):
            read.append(word)
        i += 1
    return read, written


def demo_commands() -> list[tuple[str, ...]]:
    """The Makefile's demo recipe, as `yardfleet` commands, with a short shift."""
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "the Makefile has no demo target"
    commands = []
    for raw in recipe.group(1).splitlines():
        line = raw.strip().replace("$(OUT)", "out")
        if line.startswith("$(BIN)/yardfleet "):
            words = ("yardfleet", *shlex.split(line)[1:])
            if words[1:3] == ("sim", "run"):
                words = (*words, "--hours", SEED_HOURS)
            commands.append(words)
    assert commands, "the demo recipe runs no yardfleet command"
    return commands


def demo_outputs() -> list[str]:
    return [path for argv in demo_commands() for path in files_of(argv)[1]]


def under(path: str, folders: list[str]) -> bool:
    clean = os.path.normpath(path)
    return any(
        clean == os.path.normpath(f) or clean.startswith(os.path.normpath(f) + "/") for f in folders
    )


def shipped(path: str) -> bool:
    """A file of the clone itself (not something a run left under out/ or site/)."""
    parts = Path(os.path.normpath(path)).parts
    return bool(parts) and parts[0] not in NOT_LINKED and (ROOT / path).exists()


def unavailable(path: str) -> bool:
    """A file under ../shared where ../shared is not laid out (the tests then skip it)."""
    return os.path.normpath(path).startswith("../shared/") and not SHARED.exists()


# Static checks of the pages


def test_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines < README_MAX_LINES, f"README.md has {lines} lines (under {README_MAX_LINES})"


def test_readme_links_resolve() -> None:
    """mkdocs checks the links between pages; README.md is outside the site, so here."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if "://" in target or target.startswith("#"):
            continue
        if not (ROOT / target.split("#")[0]).exists():
            broken.append(target)
    assert not broken, f"README.md links to missing files: {broken}"


def test_commands_only_in_shell_blocks() -> None:
    """A `yardfleet` line outside a shell block must be a synopsis (placeholders, options in
    brackets), never a command that would escape the run below."""
    bad = []
    for page in PAGES:
        for lang, start, lines in fenced_blocks(page):
            if lang in SHELL:
                continue
            for number, line in joined(lines, start):
                text = line.strip()
                synopsis = re.search(r"[\[|]|\b[A-Z]{2,}\b", text)
                if text.startswith("yardfleet ") and not synopsis:
                    bad.append(f"{page.relative_to(ROOT)}:{number}: {text}")
    assert not bad, "commands outside ```sh blocks (make them sh, or a synopsis):\n" + "\n".join(
        bad
    )


def test_pages_have_commands() -> None:
    assert len(all_commands()) > 20, "the commands of the pages were not found"


def test_not_run_entries_are_used() -> None:
    commands = all_commands()
    stale = [
        prefix for prefix in NOT_RUN if not any(listed(command, prefix) for command in commands)
    ]
    assert not stale, f"NOT_RUN lists commands no page has: {stale}"


def test_named_files_exist() -> None:
    """Every file a command reads is shipped, or written before it on its page."""
    missing = []
    for page in PAGES:
        written: list[str] = []
        for command in page_commands(page):
            if command.argv[0] == "make":
                written += demo_outputs()
                continue
            read, wrote = files_of(command.argv)
            for path in read:
                if path.startswith("/dev/") or unavailable(path):
                    continue
                if not (
                    shipped(path)
                    or under(path, written)
                    or (path.startswith("../shared/") and (ROOT / path).exists())
                ):
                    missing.append(f"{command.where}: {path} ({command.text})")
            written += wrote
    assert not missing, "files the pages' commands read that are not there:\n" + "\n".join(missing)


# Building the site


def test_site_builds_strictly(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (make install installs it)")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    assert (tmp_path / "site" / "index.html").exists()


# Running the commands


def yardfleet() -> list[str]:
    script = Path(sys.executable).with_name("yardfleet")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sim.cli"]


def scratch_clone(where: Path) -> Path:
    """A folder that reads like the clone (its entries linked) with an `out/` of its own, and
    ../shared beside it where it is laid out."""
    main = where / "main"
    main.mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in NOT_LINKED and not entry.name.endswith(".egg-info"):
            (main / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    if SHARED.exists():
        (where / "shared").symlink_to(SHARED, target_is_directory=True)
    return main


def run(argv: tuple[str, ...], cwd: Path, env: dict[str, str], where: str) -> str | None:
    """Run one command; None if it exited 0, else what went wrong."""
    try:
        done = subprocess.run(
            [*yardfleet(), *argv[1:]],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"{where}: {shlex.join(argv)}: still running after {COMMAND_TIMEOUT_S} s"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return f"{where}: {shlex.join(argv)}: exit {done.returncode}\n    " + "\n    ".join(tail)
    return None


class Once:
    """Commands that read only shipped files do the same on every page (README.md repeats
    the pages' commands): the first page to reach one runs it, the others take its output."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Future[Path]] = {}

    def claim(self, command: Command) -> tuple[bool, Future[Path]]:
        """(True, a future to set) for the first page to reach the command, else (False,
        the future of the scratch clone where it ran)."""
        with self._lock:
            if command.text in self._runs:
                return False, self._runs[command.text]
            future: Future[Path] = Future()
            self._runs[command.text] = future
            return True, future


def take_outputs(written: list[str], source: Path, cwd: Path) -> None:
    """Copy what a command wrote in another scratch clone into this one."""
    for path in written:
        for origin in source.glob(f"{path}*"):  # a journal's -wal and -shm beside it
            target = cwd / origin.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                shutil.copy2(origin, target)


def run_page(
    page: Path, where: Path, env: dict[str, str], demo: Future[Path] | None, once: Once
) -> tuple[int, list[str]]:
    """Run a page's commands in order: (how many it ran, their failures)."""
    cwd = scratch_clone(where)
    ran = 0
    failures: list[str] = []
    for command in page_commands(page):
        if command.argv[0] == "make":
            assert demo is not None
            shutil.copytree(demo.result() / "out", cwd / "out", dirs_exist_ok=True)
            continue
        read, written = files_of(command.argv)
        if not_run_reason(command) is not None or any(unavailable(p) for p in read):
            continue
        done: Future[Path] | None = None
        if all(map(shipped, read)):  # the same on every page
            first, done = once.claim(command)
            if not first:
                take_outputs(written, done.result(), cwd)  # a failure is the first page's
                continue
        try:
            problem = run(command.argv, cwd, env, command.where)
        finally:
            if done is not None:
                done.set_result(cwd)
        ran += 1
        if problem:
            failures.append(problem)
    return ran, failures


def run_demo(where: Path, env: dict[str, str]) -> Path:
    """What `make demo` leaves in out/, by the Makefile's own commands (a short shift)."""
    cwd = scratch_clone(where)
    for argv in demo_commands():
        problem = run(argv, cwd, env, "Makefile demo")
        assert problem is None, problem
    return cwd


def test_unlisted_commands_run(tmp_path: Path) -> None:
    """Each command is run, or listed in NOT_RUN; the ones run exit 0."""
    env = {**os.environ, "YARDFLEET_CACHE": str(tmp_path / "yard-cache"), "COLUMNS": "120"}
    needs_demo = [p for p in PAGES if any(c.argv[0] == "make" for c in page_commands(p))]
    workers = max(2, min(4, os.cpu_count() or 2))
    # The pages that need no demo go first, so no worker waits for it while others could run.
    order = sorted(PAGES, key=lambda page: page in needs_demo)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        demo = pool.submit(run_demo, tmp_path / "demo", env) if needs_demo else None
        once = Once()
        results = {
            page: pool.submit(run_page, page, tmp_path / f"page-{i}", env, demo, once)
            for i, page in enumerate(order)
        }
        outcomes = {page: future.result() for page, future in results.items()}
    ran = sum(outcome[0] for outcome in outcomes.values())
    failures = [failure for outcome in outcomes.values() for failure in outcome[1]]
    assert not failures, f"{len(failures)} of {ran} commands failed:\n" + "\n".join(failures)
    assert ran > 20

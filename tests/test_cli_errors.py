"""The real `yardfleet` command line, in subprocesses, on what a newcomer gets wrong (issue 14).

Bad input: exit status 1, one error line naming the file (or port) and why, no traceback
(`yardfleet --debug` shows one). Output folders: created when missing, refused with one
line when a file is in the way. Ctrl-C (SIGINT, sent once the command has said it
started): what was done so far is written, exit status 130. Without a terminal, long
commands print plain progress lines.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner

from maps.geojson import FORMAT
from sim.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUEUE = ROOT / "fleet" / "queue.example.csv"


def yardfleet(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`yardfleet ARGS` run to its end (at most two minutes)."""
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_error(run: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one line on stderr of a failed command (exit 1, no traceback), holding `words`."""
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    assert run.returncode == 1, (run.returncode, run.stdout, run.stderr)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


Runs = dict[str, subprocess.CompletedProcess[str]]


def run_together(commands: dict[str, list[str | Path]]) -> Runs:
    """Each command in its own process, all at once (their start-ups overlap)."""
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "sim.cli", *map(str, args)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    done: Runs = {}
    try:
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=180)
            done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return done


IN_THE_WAY = {
    "export": (["map", "export", "--out", "{file}/yard.geojson"], "--out"),
    "show": (["map", "show", "--out", "{file}/yard.png"], "--out"),
    "import": (["jobs", "import", str(QUEUE), "--journal", "{file}/journal.db"], "--journal"),
    "route": (["route", "path", "QC01.SP", "J2.TP3", "--out", "{file}/route.png"], "--out"),
    "run": (["sim", "run", "--hours", "0.01", "--out", "{file}/shift"], "--out"),
    "compare": (["sim", "compare", "--hours", "0.01", "--out", "{file}/compare"], "--out"),
}
"""Commands whose output folder would go where a file is: each names its option."""
HELPS = (["map", "export"], ["map", "show"], ["jobs", "import"], ["sim", "run"], ["route", "path"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Runs]]:
    """The one-shot commands of this module, run side by side on the files they need."""
    tmp = tmp_path_factory.mktemp("cli")
    (tmp / "x.db").write_bytes(bytes(range(256)) * 16)
    (tmp / "empty").mkdir()
    (tmp / "empty.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "yard": {
                    "format": FORMAT,
                    "id": "empty",
                    "version": "1",
                    "origin": {"lon": 106.9, "lat": 20.8},
                    "lane_width_m": 3.5,
                },
                "features": [],
            }
        )
    )
    (tmp / "semi.csv").write_text(QUEUE.read_text().replace(",", ";"))
    (tmp / "bom.csv").write_bytes(b"\xef\xbb\xbflevel,litres\n0,0\n4095,400\n")
    (tmp / "negative.csv").write_text("level,litres\n0,-5\n4095,400\n")
    (tmp / "file").write_text("in the way\n")
    fuel = ["fuel", "read", "--port", "loop://", "--protocol", "lls", "--seconds", "0"]
    commands: dict[str, list[str | Path]] = {
        "journal": ["jobs", "import", QUEUE, "--journal", tmp / "x.db"],
        "replay": ["sim", "replay", tmp / "empty", "--out", tmp / "replay"],
        "validate": ["map", "validate", tmp / "empty.geojson"],
        "semicolons": ["jobs", "check", tmp / "semi.csv"],
        "bom": [*fuel, "--calibration", tmp / "bom.csv"],
        "negative": [*fuel, "--calibration", tmp / "negative.csv"],
        "full": ["map", "export", "--out", "/dev/full"],
        "full-debug": ["--debug", "map", "export", "--out", "/dev/full"],
        "export": ["map", "export", "--out", tmp / "a" / "b" / "yard.geojson"],
        "import": ["jobs", "import", QUEUE, "--journal", tmp / "c" / "d" / "journal.db"],
        "progress": ["sim", "run", "--hours", "0.1", "--out", tmp / "shift"],
        **{
            f"in the way: {name}": [a.replace("{file}", str(tmp / "file")) for a in args]
            for name, (args, _) in IN_THE_WAY.items()
        },
    }
    yield tmp, run_together(commands)


class Running:
    """A command running in the background; its stderr lines and stdout read on threads."""

    def __init__(self, *args: str | Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", *map(str, args)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.out: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stderr, self.lines.put)),
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out.append)),
        ]
        for reader in self._readers:
            reader.daemon = True
            reader.start()

    @staticmethod
    def _read(stream: IO[str], keep: Callable[[str], None]) -> None:
        for line in stream:
            keep(line)

    def wait_for(self, pattern: str, deadline_s: float = 60.0) -> str:
        """The first stderr line matching `pattern` (polled with a deadline)."""
        end = time.monotonic() + deadline_s
        while True:
            found = next((line for line in self.seen if re.search(pattern, line)), None)
            if found is not None:
                return found
            left = end - time.monotonic()
            assert left > 0, f"no line matching {pattern!r} in time: {self.seen}"
            assert self.proc.poll() is None or not self.lines.empty(), (
                f"exited {self.proc.returncode} before {pattern!r}: {self.seen}"
            )
            try:
                self.seen.append(self.lines.get(timeout=min(left, 0.5)))
            except queue.Empty:
                continue

    def interrupt(self) -> tuple[int, str, str]:
        """Ctrl-C: the exit status, stdout and all of stderr."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=120)
        for reader in self._readers:
            reader.join(10)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code, "".join(self.out), "".join(self.seen)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def running(*args: str | Path) -> Iterator[Running]:
    run = Running(*args)
    try:
        yield run
    finally:
        run.kill()


# -- bad input: one line ------------------------------------------------------------------


def test_a_binary_journal_is_one_line(runs: tuple[Path, Runs]) -> None:
    tmp, done = runs
    line = one_error(done["journal"])
    assert line == f"Error: {tmp / 'x.db'}: not a YardFleet journal (file is not a database)"


def test_replay_of_an_empty_folder_is_one_line(runs: tuple[Path, Runs]) -> None:
    tmp, done = runs
    one_error(done["replay"], f"{tmp / 'empty'}: not a bag")
    assert not (tmp / "replay").exists()


def test_a_yard_without_features_is_not_valid(runs: tuple[Path, Runs]) -> None:
    tmp, done = runs
    run = done["validate"]
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stdout.splitlines() == [
        f"{tmp / 'empty.geojson'}: field 'features': the yard has no lanes: nothing for a truck "
        "to drive on (an empty FeatureCollection?)"
    ]


def test_a_semicolon_queue_says_so(runs: tuple[Path, Runs]) -> None:
    tmp, done = runs
    run = done["semicolons"]
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stdout.splitlines() == [
        f"{tmp / 'semi.csv'}:1: the columns are separated by ';': use commas"
    ]


def test_calibration_tables_bom_and_negative_litres(runs: tuple[Path, Runs]) -> None:
    tmp, done = runs
    assert done["bom"].returncode == 0, done["bom"].stderr
    run = done["negative"]
    assert run.returncode == 2 and "Traceback" not in run.stderr  # a bad option value
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error")]
    assert errors == [
        f"Error: Invalid value for --calibration: {tmp / 'negative.csv'}:2: litres must be 0 or "
        "more, got -5"
    ]


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    runs: tuple[Path, Runs],
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    _, done = runs
    line = one_error(done["full"], "No space left on device", "--debug")
    assert line.startswith("Error: OSError: ")
    assert done["full-debug"].returncode == 1 and "Traceback" in done["full-debug"].stderr


# -- output folders -----------------------------------------------------------------------


def test_missing_output_folders_are_created(runs: tuple[Path, Runs]) -> None:
    tmp, done = runs
    for name in ("export", "import"):
        assert done[name].returncode == 0, done[name].stderr
    assert (tmp / "a" / "b" / "yard.geojson").is_file()
    assert (tmp / "c" / "d" / "journal.db").is_file()
    for help_of in HELPS:  # the help says so (in process: only the words matter here)
        shown = CliRunner().invoke(main, [*help_of, "--help"])
        assert shown.exit_code == 0, shown.output
        assert "missing folders are created" in " ".join(shown.output.split()), help_of


@pytest.mark.parametrize("name", sorted(IN_THE_WAY))
def test_a_file_where_an_output_folder_goes_is_one_line(runs: tuple[Path, Runs], name: str) -> None:
    tmp, done = runs
    option = IN_THE_WAY[name][1]
    file = tmp / "file"
    one_error(done[f"in the way: {name}"], f"{option} {file}/", f": {file} is a file, not a folder")


# -- devices --------------------------------------------------------------------------------


def test_fuel_read_blames_a_missing_port_at_once_and_on_each_retry(tmp_path: Path) -> None:
    port = tmp_path / "ttyUSB9"
    with running("fuel", "read", "--port", port, "--protocol", "lls", "--timeout", "0.2") as cmd:
        first = cmd.wait_for(r"cannot open")
        assert first.strip() == (
            f"port {port}: cannot open: No such file or directory (attempt 1; retrying in 0.5 s)"
        )
        cmd.wait_for(r"\(attempt 2; retrying in 1 s\)")
        code, out, err = cmd.interrupt()
    assert code == 130, err
    assert "Traceback" not in err
    assert f"INVALID (port {port} not open: No such file or directory)" in out
    assert "no answer from LLS sensor" not in out
    assert "0 connect(s)" in out  # the counts at the end


def test_the_agent_logs_a_missing_gnss_port_at_once(tmp_path: Path) -> None:
    config = tmp_path / "onboard.toml"
    config.write_text(
        "\n".join(
            [
                "[truck]",
                'serial_number = "TT07"',
                'manufacturer = "YardFleet"',
                "[map]",
                'terminal = "haiphong"',
                'map_version = "1"',
                "[gnss]",
                f'port = "{tmp_path / "gps"}"',
                "[dispatcher]",
                'endpoint = "tcp://127.0.0.1:9"',
                "flush_timeout_s = 0.1",
                "[spool]",
                f'path = "{tmp_path / "spool.sqlite"}"',
            ]
        )
        + "\n"
    )
    with running("agent", "--config", config) as agent:
        line = agent.wait_for(r"WARNING .*gnss port")
        assert f"gnss port {tmp_path / 'gps'}: cannot open: No such file or directory" in line
        agent.wait_for(r"started")
        code, _, err = agent.interrupt()
    assert code == 130, err
    assert "Traceback" not in err


# -- Ctrl-C and progress without a terminal -----------------------------------------------


def test_sim_run_ctrl_c_writes_the_report_so_far_and_exits_130(tmp_path: Path) -> None:
    out = tmp_path / "shift"
    with running("sim", "run", "--hours", "8", "--out", out) as shift:
        # the first progress line comes from inside the shift: it has started
        shift.wait_for(r"^sim run: \d+:\d\d of 8:00 h simulated, \d+ moves")
        code, stdout, err = shift.interrupt()
    assert code == 130, err
    assert "Traceback" not in err
    assert "interrupted at" in err and "interrupted: the report covers the shift so far" in stdout
    report = json.loads((out / "report.json").read_text())
    assert report["interrupted"] and report["simulated_seconds"] < 8 * 3600


def test_sim_compare_ctrl_c_writes_the_shifts_that_finished(tmp_path: Path) -> None:
    out = tmp_path / "compare"
    args = ["--strategies", "dedicated,pooled-nearest", "--trucks", "12", "--seeds", "10"]
    with running("sim", "compare", *args, "--hours", "0.05", "--jobs", "1", "--out", out) as cmp:
        cmp.wait_for(r"^sim compare: 20 shifts to run")
        cmp.wait_for(r"^sim compare: [1-9]\d*/20 shifts done")  # one at least has finished
        code, stdout, err = cmp.interrupt()
    assert code == 130, err
    assert "Traceback" not in err
    rows = json.loads((out / "compare.json").read_text())
    done = sum(r["seeds"] for r in rows)
    assert 1 <= done < 20
    assert f"interrupted: the table and compare.json hold the {done} of 20" in stdout
    reports = len(list((out / "runs").glob("*/report.json")))
    assert done <= reports <= done + 1  # + the shift a worker finished as Ctrl-C came


def test_sim_run_without_a_terminal_prints_progress_lines(runs: tuple[Path, Runs]) -> None:
    tmp, done = runs
    run = done["progress"]
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("sim run:")]
    assert "0:06 h to simulate" in lines[0]
    assert re.fullmatch(
        r"sim run: done: 0:06 of 0:06 h simulated, \d+ moves \([\d.]+ per hour\), "
        r"\d+× real time, \d+ s",
        lines[-1],
    ), lines
    moves = json.loads((tmp / "shift" / "report.json").read_text())["moves"]
    assert f" {moves} moves " in lines[-1]

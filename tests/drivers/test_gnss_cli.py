"""`yardfleet gnss decode`, run through click as a user runs it."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from functools import reduce
from operator import xor
from pathlib import Path

from click.testing import CliRunner

from drivers.gnss.cli import decode_cmd, gnss_group


def nmea(body: str) -> bytes:
    """`$body*hh\\r\\n` with the right checksum."""
    return f"${body}*{reduce(xor, body.encode(), 0):02X}\r\n".encode()


def gga(hhmmss: str) -> bytes:
    return nmea(f"GPGGA,{hhmmss},4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,")


def rmc(hhmmss: str) -> bytes:
    return nmea(f"GPRMC,{hhmmss},A,4807.038,N,01131.324,E,022.4,084.4,230394,003.1,W")


LOG = (
    b"# Name: a test receiver\n"
    + nmea("GPGGA,123519,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,")
    + nmea("GPRMC,123519,A,4807.038,N,01131.324,E,022.4,084.4,230394,003.1,W")
    + b"$GPGGA,123520,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,*00\r\n"
    + nmea("GPGSV,1,1,01,01,40,083,46")
    + nmea("PGRMZ,125,f,3")
    + nmea("GPRMC,123520,A,4807.040,N,01131.330,E,010.0,090.0,230394,003.1,W")
)


def test_decode_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "receiver.log"
    log.write_bytes(LOG)
    result = CliRunner().invoke(gnss_group, ["decode", str(log), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    fixes, stats = lines[:-1], lines[-1]
    assert [f["time"] for f in fixes] == ["1994-03-23T12:35:19.000Z", "1994-03-23T12:35:20.000Z"]
    first = fixes[0]
    assert (first["lat"], first["lon"], first["altMSL"], first["mode"], first["status"]) == (
        48.1173,
        11.522066667,
        545.4,
        3,
        0,
    )
    assert first["speed"] == round(22.4 * 1852 / 3600, 4)
    assert first["track"] == 84.4
    assert first["covariance"][0] == round((0.9 * 4.0) ** 2, 6)
    assert stats["class"] == "STATS"
    assert (stats["accepted"], stats["proprietary"]) == (3, 1)
    assert stats["rejected"]["bad_checksum"] == 1
    assert stats["rejected"]["unsupported"] == 1


def test_decode_readable_from_stdin() -> None:
    result = CliRunner().invoke(decode_cmd, ["-"], input=LOG)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("1994-03-23T12:35:19.000Z  48.1173000 11.5220667 alt 545.4 m")
    assert "mode 3 FIX" in lines[0]
    assert "3 accepted, 1 proprietary passed over, 2 rejected" in lines[-1]
    assert "bad_checksum 1" in lines[-1] and "unsupported 1" in lines[-1]


def test_decode_accepts_receivers_without_checksums_only_when_asked() -> None:
    bare = b"$GPRMC,123519,A,4807.038,N,01131.324,E,022.4,084.4,230394,003.1,W\r\n"
    strict = CliRunner().invoke(decode_cmd, ["-", "--json"], input=bare)
    assert json.loads(strict.output.splitlines()[-1])["rejected"]["no_checksum"] == 1
    lenient = CliRunner().invoke(decode_cmd, ["-", "--json", "--no-checksum-ok"], input=bare)
    assert json.loads(lenient.output.splitlines()[0])["lat"] == 48.1173


def test_a_missing_log_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(gnss_group, ["decode", str(tmp_path / "absent.log")])
    assert result.exit_code == 2
    assert "absent.log" in result.output


# --------------------------------------------------------------------------- the real command

YARDFLEET = str(Path(sys.executable).parent / "yardfleet")
ERROR_LINE = re.compile(r"^Error: .+$")


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [YARDFLEET, "gnss", "decode", *args],
        check=False,
        input=stdin.decode("latin-1"),
        capture_output=True,
        text=True,
        encoding="latin-1",
        timeout=60,
    )


class Running:
    """The command running in the background; its stderr read line by line with deadlines."""

    def __init__(self, *args: str, stdin: int | None = subprocess.DEVNULL) -> None:
        self.proc = subprocess.Popen(
            [YARDFLEET, "gnss", "decode", *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        self._err = self.proc.stderr
        os.set_blocking(self._err.fileno(), False)
        self._buffer = b""
        self.err_lines: list[str] = []

    def next_err_line(self, deadline_s: float = 20.0) -> str:
        """The next line on stderr, waiting for it up to the deadline."""
        end = time.monotonic() + deadline_s
        while b"\n" not in self._buffer:
            left = end - time.monotonic()
            assert left > 0, f"no line on stderr within {deadline_s} s: {self.err_lines}"
            ready, _, _ = select.select([self._err], [], [], left)
            if ready:
                chunk = self._err.read()
                assert chunk, f"stderr closed: {self.err_lines} {self._buffer!r}"
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        self.err_lines.append(line.decode())
        return self.err_lines[-1]

    def interrupt(self) -> tuple[int, str, str]:
        """Ctrl-C: exit status, stdout, the rest of stderr."""
        self.proc.send_signal(signal.SIGINT)
        return self.finish()

    def finish(self) -> tuple[int, str, str]:
        os.set_blocking(self._err.fileno(), True)
        out, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, out.decode(), (self._buffer + err).decode()


def test_a_binary_file_holds_no_nmea(tmp_path: Path) -> None:
    blob = tmp_path / "firmware.bin"
    blob.write_bytes(bytes(range(256)) * 40 + b"$GPGGA,\x00\xff*00\r\n" + b"\x00" * 100)
    result = run(str(blob))
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert ERROR_LINE.match(line)
    assert line.startswith(f"Error: {blob}: no NMEA 0183 sentences in {blob.stat().st_size} bytes")
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    result = run(str(empty))
    assert (result.returncode, result.stderr.splitlines()) == (
        1,
        [f"Error: {empty}: no NMEA 0183 sentences (it is empty)"],
    )
    result = run("-", stdin=bytes(range(256)) * 4)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert re.fullmatch(
        r"Error: <stdin>: no NMEA 0183 sentences in 1024 bytes \(rejected: garbled \d+\)", line
    )


def test_nmea_that_is_not_decoded_is_still_nmea(tmp_path: Path) -> None:
    """Satellites in view only (GSV), or another instrument's sentences: no fixes, no error."""
    log = tmp_path / "gsv.log"
    log.write_bytes(nmea("GPGSV,1,1,01,01,40,083,46") + nmea("HCHDG,101.1,,,7.1,W"))
    result = run(str(log))
    assert (result.returncode, result.stderr) == (0, "")
    assert "0 accepted" in result.stdout and "unsupported 1" in result.stdout


def test_a_missing_port_is_reported_at_once_and_retried_until_ctrl_c(tmp_path: Path) -> None:
    port = tmp_path / "ttyUSB0"  # does not exist
    running = Running("--port", str(port))
    try:
        first = running.next_err_line()
        second = running.next_err_line()
    finally:
        code, out, rest = running.interrupt()
    for n, line in enumerate((first, second), start=1):
        assert line == (
            f"port {port}: cannot open: No such file or directory "
            f"(attempt {n}, retrying; Ctrl-C to stop)"
        )
    assert code == 130
    assert "Traceback" not in rest and "Aborted" not in rest
    for line in rest.splitlines():  # more attempts may have failed meanwhile: one line each
        assert line.startswith(f"port {port}: cannot open: No such file or directory (attempt ")
    (summary,) = out.splitlines()
    assert summary.startswith("0 bytes, 0 sentences")
    assert f"port {port}: 0 bytes, 0 connect(s)" in summary and "failed open(s)" in summary


def test_a_port_that_appears_later_is_read(tmp_path: Path) -> None:
    port = tmp_path / "gnss0"
    running = Running("--port", str(port), "--count", "2")
    fds: tuple[int, int] | None = None
    try:
        assert "cannot open: No such file or directory" in running.next_err_line()
        master, slave = os.openpty()  # the receiver is plugged in
        fds = (master, slave)
        port.symlink_to(os.ttyname(slave))
        while (line := running.next_err_line()) != f"port {port}: open, reading":
            assert "cannot open" in line, line  # attempts until the link's next retry
        for second in range(10, 14):
            os.write(master, gga(f"1235{second}") + rmc(f"1235{second}"))
        code, out, rest = running.finish()
    finally:
        if running.proc.poll() is None:
            running.interrupt()
        if fds is not None:
            for fd in fds:
                os.close(fd)
    assert (code, rest) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("1994-03-23T12:35:10.000Z  48.1173000")
    assert lines[1].startswith("1994-03-23T12:35:11.000Z")  # --count 2: two fixes, then the counts
    assert "1 connect(s)" in lines[-1]


def test_a_port_that_goes_away_is_said_and_retried(tmp_path: Path) -> None:
    port = tmp_path / "gnss0"
    master, slave = os.openpty()
    port.symlink_to(os.ttyname(slave))
    running = Running("--port", str(port))
    try:
        os.close(slave)
        reading = False
        for second in range(10, 60):  # until a fix shows the port is being read
            os.write(master, gga(f"1235{second}") + rmc(f"1235{second}"))
            assert running.proc.stdout is not None
            if select.select([running.proc.stdout], [], [], 0.2)[0]:
                reading = True
                break
        assert reading, "no fix from the port"
        os.close(master)  # unplugged
        port.unlink()
        lost = running.next_err_line()
        again = running.next_err_line()
    finally:
        code, out, rest = running.interrupt()
    assert lost.startswith(f"port {port}: lost: ") and lost.endswith("(retrying; Ctrl-C to stop)")
    assert again.startswith(f"port {port}: cannot open: No such file or directory (attempt 1,")
    assert code == 130 and "Traceback" not in rest
    assert "1 connect(s), 1 disconnect(s)" in out.splitlines()[-1]


def test_ctrl_c_on_a_pipe_prints_the_counts_and_exits_130() -> None:
    running = Running("-", stdin=subprocess.PIPE)
    assert running.proc.stdin is not None and running.proc.stdout is not None
    running.proc.stdin.write(gga("123519") + rmc("123519") + gga("123520"))
    running.proc.stdin.flush()
    out = running.proc.stdout
    ready, _, _ = select.select([out], [], [], 20)  # the first fix is out: it is reading
    assert ready, "no fix from the pipe"
    code, rest_out, err = running.interrupt()
    running.proc.stdin.close()
    assert code == 130 and "Traceback" not in err and "Aborted" not in err
    assert "3 accepted" in rest_out.splitlines()[-1]  # the counts so far


def test_a_port_url_pyserial_does_not_know_is_a_usage_error() -> None:
    result = run("--port", "nosuch://gps")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Invalid value for --port: invalid URL, protocol 'nosuch' not known" in result.stderr


def test_a_port_that_sends_no_nmea_hints_at_the_baud_rate(tmp_path: Path) -> None:
    """What a receiver at 38400 baud looks like at 9600: bytes, but no sentence."""
    port = tmp_path / "gnss0"
    master, slave = os.openpty()
    port.symlink_to(os.ttyname(slave))
    stop = threading.Event()

    def receiver() -> None:  # noise every 20 ms, at most 60 s
        for _ in range(3000):
            if stop.wait(0.02):
                return
            os.write(master, bytes(range(128, 256)))

    feeder = threading.Thread(target=receiver, daemon=True)
    feeder.start()
    try:
        result = run("--port", str(port), "--seconds", "1")
    finally:
        stop.set()
        feeder.join(5)
        os.close(master)
        os.close(slave)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert re.fullmatch(
        rf"Error: port {re.escape(str(port))}: no NMEA 0183 sentences in \d+ bytes "
        r"(\(rejected: [a-z_ \d,]+\) )?at 9600 baud \(another --baudrate\?\)",
        line,
    ), line
    assert "1 connect(s)" in result.stdout

"""`yardfleet gnss decode`, run through click as a user runs it."""

from __future__ import annotations

import json
from functools import reduce
from operator import xor
from pathlib import Path

from click.testing import CliRunner

from drivers.gnss.cli import decode_cmd, gnss_group


def nmea(body: str) -> bytes:
    """`$body*hh\\r\\n` with the right checksum."""
    return f"${body}*{reduce(xor, body.encode(), 0):02X}\r\n".encode()


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

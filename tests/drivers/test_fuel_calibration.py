"""Calibration tables: interpolation, clamping, CSV import and its errors; readings and stats."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.fuel.calibration import Calibration, CalibrationError
from drivers.fuel.reading import AnswerWatch, FuelStats, calibrated

TABLE = "level,litres\n0,0\n100,50\n300,250\n1023,400\n"


def test_interpolates_between_points() -> None:
    cal = Calibration.from_csv_text(TABLE)
    assert cal.litres(0).litres == 0
    assert cal.litres(50).litres == pytest.approx(25)
    assert cal.litres(100).litres == pytest.approx(50)
    assert cal.litres(200).litres == pytest.approx(150)
    assert cal.litres(1023).litres == pytest.approx(400)
    assert not cal.litres(200).clamped
    assert cal.level_range == (0, 1023)


def test_clamps_outside_the_table_and_says_so() -> None:
    cal = Calibration([(10, 5), (20, 15)])
    below, above = cal.litres(-3), cal.litres(4095)
    assert (below.litres, below.clamped) == (5, True)
    assert (above.litres, above.clamped) == (15, True)
    assert cal.litres(10).clamped is False
    assert cal.litres(20).clamped is False


def test_loads_a_file_with_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "tank.csv"
    path.write_text("# truck 17, left tank\nlevel, litres\n\n0, 2\n4095, 402\n", encoding="utf-8")
    cal = Calibration.from_csv(path)
    assert cal.points == [(0, 2), (4095, 402)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("level,litres\n", "at least 2 points"),
        ("level,litres\n5,1\n", "at least 2 points"),
        ("lvl,l\n0,0\n1,1\n", ":1: expected the header"),
        ("level,litres\n0,0\n10,x\n", ":3: not numbers"),
        ("level,litres\n0,0\n10,5,7\n", ":3: expected 2 fields"),
        ("level,litres\n0,0\n10,5\n10,6\n", ":4: level 10.0 does not rise"),
        ("level,litres\n0,0\n10,5\n\n3,6\n", ":5: level 3.0 does not rise"),
        ("level,litres\n0,0\n10,-5\n", ":3: litres must be 0 or more, got -5"),
        ("level,litres\n0,0\nnan,5\n", ":3: not finite"),
        ("level,litres\n0,0\n10,inf\n", ":3: not finite"),
    ],
)
def test_csv_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        Calibration.from_csv_text(text, name="tank.csv")


def test_a_file_with_a_bom_reads_as_without(tmp_path: Path) -> None:
    """Spreadsheets save "CSV UTF-8" with a byte order mark; the jobs reader takes it too."""
    path = tmp_path / "tank.csv"
    path.write_bytes(b"\xef\xbb\xbflevel,litres\r\n0,2\r\n4095,402\r\n")
    assert Calibration.from_csv(path).points == [(0, 2), (4095, 402)]


def test_a_binary_or_missing_file_is_one_line_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "tank.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(CalibrationError) as raised:
        Calibration.from_csv(path)
    assert str(raised.value) == (
        f"{path}: not UTF-8 text (byte 0x89 at offset 0; a binary file?)"
    )
    with pytest.raises(CalibrationError, match="cannot read: No such file or directory"):
        Calibration.from_csv(tmp_path / "none.csv")


def test_rejects_non_monotone_or_short_point_lists() -> None:
    with pytest.raises(CalibrationError, match="rise strictly"):
        Calibration([(0, 0), (10, 5), (5, 7)])
    with pytest.raises(CalibrationError, match="at least 2"):
        Calibration([])
    with pytest.raises(CalibrationError, match="litres must be 0 or more"):
        Calibration([(0, -1), (10, 5)])


def test_a_reading_outside_the_table_is_invalid_but_keeps_a_clamped_guess() -> None:
    cal = Calibration([(0, 0), (1000, 100)])
    good = calibrated(1.0, 500, cal, source="lls:1", temperature_c=21.0)
    assert good.valid and good.litres == pytest.approx(50) and good.reason == ""
    bad = calibrated(2.0, 1200, cal, source="lls:1")
    assert not bad.valid and bad.litres == 100 and "outside the calibration" in bad.reason
    raw = calibrated(3.0, 500, None, source="lls:1")
    assert raw.litres is None and raw.level_raw == 500


def test_answer_watch_counts_one_timeout_per_silent_spell() -> None:
    stats = FuelStats()
    watch = AnswerWatch(stats, timeout_s=1.0, now=0.0)
    assert not watch.check(0.9)
    assert watch.check(1.5) and watch.check(3.0)
    assert stats.timeouts == 1
    watch.heard(3.1)
    assert not watch.check(3.5)
    assert watch.check(5.0)
    assert stats.timeouts == 2
    assert stats.as_dict()["timeouts"] == 2

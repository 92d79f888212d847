"""A tank's calibration table, sensor level → litres, piecewise linear, loadable from CSV.

A tank is not a box: the same level step holds different volumes at different heights, so
each tank is calibrated by filling it in known steps and noting the level at each one.
"""

from __future__ import annotations

import bisect
import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path


class CalibrationError(ValueError):
    """A calibration table that cannot be used: not text, empty, unparseable, not monotone,
    or with negative (or not finite) litres."""


@dataclass(frozen=True, slots=True)
class Volume:
    """Litres for a level, and whether the level lay outside the table (then clamped)."""

    litres: float
    clamped: bool


class Calibration:
    """Level → litres by linear interpolation between points with strictly rising levels."""

    __slots__ = ("_levels", "_litres")

    def __init__(self, points: list[tuple[float, float]]) -> None:
        if len(points) < 2:
            raise CalibrationError(
                f"a calibration table needs at least 2 points, got {len(points)}"
            )
        for i, (level, litres) in enumerate(points):
            if not (math.isfinite(level) and math.isfinite(litres)) or litres < 0:
                raise CalibrationError(
                    f"point {i + 1} (level {level}, litres {litres}): litres must be 0 or "
                    "more, and both finite"
                )
        for i in range(1, len(points)):
            if points[i][0] <= points[i - 1][0]:
                raise CalibrationError(
                    f"levels must rise strictly: point {i + 1} (level {points[i][0]}) "
                    f"after point {i} (level {points[i - 1][0]})"
                )
        self._levels = [float(level) for level, _ in points]
        self._litres = [float(litres) for _, litres in points]

    @property
    def points(self) -> list[tuple[float, float]]:
        """The table, (level, litres) in rising level order."""
        return list(zip(self._levels, self._litres, strict=True))

    @property
    def level_range(self) -> tuple[float, float]:
        """The lowest and highest calibrated level."""
        return self._levels[0], self._levels[-1]

    def litres(self, level: float) -> Volume:
        """Litres at `level`; outside the table the nearest end's litres, flagged as clamped."""
        levels, litres = self._levels, self._litres
        if level <= levels[0]:
            return Volume(litres[0], level < levels[0])
        if level >= levels[-1]:
            return Volume(litres[-1], level > levels[-1])
        i = bisect.bisect_right(levels, level)
        l0, l1, v0, v1 = levels[i - 1], levels[i], litres[i - 1], litres[i]
        return Volume(v0 + (v1 - v0) * (level - l0) / (l1 - l0), False)

    @classmethod
    def from_csv_text(cls, text: str, *, name: str = "<csv>") -> Calibration:
        """A table from CSV text with a `level,litres` header; errors name the line."""
        rows = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
        points: list[tuple[float, float]] = []
        header_seen = False
        for row in rows:
            line = rows.line_num
            cells = [cell.strip() for cell in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if not header_seen:
                if [c.lower() for c in cells] != ["level", "litres"]:
                    raise CalibrationError(
                        f"{name}:{line}: expected the header 'level,litres', got {row!r}"
                    )
                header_seen = True
                continue
            level, litres = _point(cells, row, f"{name}:{line}")
            if points and level <= points[-1][0]:
                raise CalibrationError(
                    f"{name}:{line}: level {level} does not rise above {points[-1][0]}"
                )
            points.append((level, litres))
        if not header_seen:
            raise CalibrationError(f"{name}: empty, no 'level,litres' header")
        if len(points) < 2:
            raise CalibrationError(f"{name}: needs at least 2 points, got {len(points)}")
        return cls(points)

    @classmethod
    def from_csv(cls, path: str | Path) -> Calibration:
        """A table from a CSV file with a `level,litres` header (UTF-8, a BOM tolerated, as
        spreadsheets write it); CalibrationError naming the file when it cannot be read."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CalibrationError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CalibrationError(
                f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}; "
                "a binary file?)"
            ) from None
        return cls.from_csv_text(text, name=str(path))


def _point(cells: list[str], row: list[str], where: str) -> tuple[float, float]:
    """One row's level and litres: two finite numbers, the litres 0 or more."""
    if len(cells) != 2:
        raise CalibrationError(f"{where}: expected 2 fields, got {len(cells)}")
    try:
        level, litres = float(cells[0]), float(cells[1])
    except ValueError:
        raise CalibrationError(f"{where}: not numbers: {row!r}") from None
    if not (math.isfinite(level) and math.isfinite(litres)):
        raise CalibrationError(f"{where}: not finite numbers: {row!r}")
    if litres < 0:
        raise CalibrationError(f"{where}: litres must be 0 or more, got {cells[1]}")
    return level, litres

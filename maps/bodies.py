"""Truck bodies in metres: the footprint of a vehicle class and its rectangle along a path.

The yard's geometry is judged by what a truck's body covers, not by its lane's centre
line: a tractor with a 40-foot chassis is 16 m long and 2.5 m wide, and two bodies must
keep `clearance_m` apart. A body on a path is the rectangle from its rear point (its
length back along the path) to its front point: on a curve the chord cuts the corner,
as a trailer does. `maps` knows no vehicle classes (those are routing's); it takes the
dimensions as a `Footprint`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import LineString

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Footprint:
    """A truck's body and the distances kept around it (metres)."""

    length_m: float = 16.0
    width_m: float = 2.5
    clearance_m: float = 0.9
    """The least distance between two bodies, side by side or in a junction."""
    gap_m: float = 4.0
    """The distance kept to the truck ahead on a lane."""

    def __post_init__(self) -> None:
        for name in ("length_m", "width_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"footprint: {name} must be positive")
        for name in ("clearance_m", "gap_m"):
            if getattr(self, name) < 0:
                raise ValueError(f"footprint: {name} must not be negative")


TRACTOR_40FT = Footprint()
"""The terminal tractor with a 40-foot chassis of DESIGN.md."""


class Path:
    """A polyline with its cumulative length: points by distance along it, extended straight
    beyond both ends (a body whose rear lies behind where the path begins)."""

    def __init__(self, xy: FloatArray | list[tuple[float, float]]) -> None:
        pts = np.asarray(xy, dtype=float)
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.hypot(*np.diff(pts, axis=0).T) > 1e-9
        self.xy: FloatArray = pts[keep]
        if len(self.xy) < 2:
            raise ValueError("a path needs two distinct points")
        seg = np.hypot(*np.diff(self.xy, axis=0).T)
        self.s: FloatArray = np.concatenate([[0.0], np.cumsum(seg)])

    @classmethod
    def of(cls, line: LineString) -> Path:
        """The path along a shapely line."""
        return cls(np.asarray(line.coords, dtype=float)[:, :2])

    @property
    def length(self) -> float:
        """Its length in metres."""
        return float(self.s[-1])

    def at(self, s: FloatArray) -> FloatArray:
        """Points at distances `s` (n,) along the path, as (n, 2); straight on past the ends."""
        s = np.asarray(s, dtype=float)
        x = np.interp(s, self.s, self.xy[:, 0])
        y = np.interp(s, self.s, self.xy[:, 1])
        out = np.stack([x, y], axis=-1)
        before, after = s < 0, s > self.s[-1]
        if before.any():
            d = self.xy[1] - self.xy[0]
            out[before] = self.xy[0] + np.outer(s[before], d / np.hypot(*d))
        if after.any():
            d = self.xy[-1] - self.xy[-2]
            out[after] = self.xy[-1] + np.outer(s[after] - self.s[-1], d / np.hypot(*d))
        return out


def rectangles(
    front: FloatArray, rear: FloatArray, width_m: float, grow_m: float = 0.0
) -> FloatArray:
    """Corners (n, 4, 2) of bodies from rear to front points, `grow_m` larger on every side."""
    axis = front - rear
    norm = np.maximum(np.hypot(axis[:, 0], axis[:, 1]), 1e-12)[:, None]
    u = axis / norm
    n = np.stack([-u[:, 1], u[:, 0]], axis=-1)
    half = width_m / 2 + grow_m
    f = front + u * grow_m
    r = rear - u * grow_m
    return np.stack([r - n * half, f - n * half, f + n * half, r + n * half], axis=1)


def bodies_along(
    path: Path, fronts: FloatArray, footprint: Footprint, grow_m: float = 0.0
) -> npt.NDArray[np.object_]:
    """Shapely polygons of a body with its front at each distance along the path."""
    fronts = np.asarray(fronts, dtype=float)
    corners = rectangles(
        path.at(fronts), path.at(fronts - footprint.length_m), footprint.width_m, grow_m
    )
    out: npt.NDArray[np.object_] = np.asarray(shapely.polygons(corners), dtype=object)
    return out

"""Small centre-line yards drawn by hand for tests (`from sketches import crossing`)."""

from __future__ import annotations

import math

from shapely.geometry import LineString

from maps.model import Lane, LaneKind, Node, Origin, Yard

SPEED_MPS = 7.0


def crossing(angle_deg: float = 90.0, arm: float = 100.0, arms: str = "nsew") -> Yard:
    """Two-way roads meeting at node n0001 from the ends of `arms` (n, s, e, w), each `arm`
    metres long; the north-south road at `angle_deg` to the east-west one."""
    a = math.radians(angle_deg)
    ends = {
        "e": (arm, 0.0),
        "w": (-arm, 0.0),
        "n": (arm * math.cos(a), arm * math.sin(a)),
        "s": (-arm * math.cos(a), -arm * math.sin(a)),
    }
    pts = {"n0001": (0.0, 0.0), **{k: ends[k] for k in arms}}
    lanes = []
    for k in arms:
        for lid, p, q in ((f"{k}-in", k, "n0001"), (f"{k}-out", "n0001", k)):
            g = LineString([pts[p], pts[q]])
            lanes.append(Lane(lid, p, q, g, g.length, SPEED_MPS, LaneKind.MAIN))
    nodes = [Node(k, *v) for k, v in pts.items()]
    return Yard.build("x", "1", Origin(106.9, 20.8), nodes, lanes)

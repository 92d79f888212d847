"""`min_separation_m`: the closest front-to-front distance of two trucks on the same lane,
sampled every second, over what they actually drove (`sim.drive` traces it as one plan
per truck; routing's checker finds the conflicts). A truck length plus the gap is safe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from maps import Yard
from routing.plan import Plan, ResourceKind


def min_separation_m(
    plans: Sequence[Plan], until: float, every_s: float = 1.0, yard: Yard | None = None
) -> float:
    """Closest front-to-front distance of two trucks on one lane (inf if never together).

    A lane step driving to the lane's end (`to_m` None) needs the yard for its length.
    """
    times = np.arange(0.0, until, every_s)
    lanes: dict[str, int] = {}
    lane_at = np.full((len(plans), len(times)), -1, dtype=np.int64)
    s_at = np.zeros((len(plans), len(times)))
    for i, plan in enumerate(plans):
        for st in plan.steps:
            if st.kind is not ResourceKind.LANE:
                continue
            to_m = st.to_m
            if to_m is None:
                if yard is None or st.resource not in yard.lanes:
                    continue
                to_m = yard.lanes[st.resource].length_m
            a = int(np.searchsorted(times, st.t_enter, side="left"))
            b = int(np.searchsorted(times, min(st.t_exit, until), side="left"))
            if b <= a:
                continue
            code = lanes.setdefault(st.resource, len(lanes))
            tt = times[a:b]
            lane_at[i, a:b] = code
            s_at[i, a:b] = st.from_m + np.minimum(
                to_m - st.from_m, (tt - st.t_enter) * (st.speed_mps or 0.0)
            )
    best = math.inf
    for i in range(len(plans)):
        for j in range(i + 1, len(plans)):
            same = (lane_at[i] == lane_at[j]) & (lane_at[i] >= 0)
            if same.any():
                best = min(best, float(np.abs(s_at[i, same] - s_at[j, same]).min()))
    return best

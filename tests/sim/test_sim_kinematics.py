"""Speed profiles: within every limit, stopping where they must, as fast as allowed."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kinematics import earliest, profile

ACCEL, BRAKE = 1.0, 1.5


@st.composite
def ways(draw: st.DrawFn) -> tuple[float, list[tuple[float, float]]]:
    n = draw(st.integers(1, 6))
    ends, s = [], 0.0
    for _ in range(n):
        s += draw(st.floats(0.5, 120.0))
        ends.append((s, draw(st.floats(1.0, 8.0))))
    # Start slow enough to keep every limit ahead and stop at the end at the usual rate,
    # as the drive guarantees (it can always stand at the end of what it was granted).
    xs = [0.0] + [e for e, _ in ends]
    lims = [lim for _, lim in ends]
    cap = [lims[0]] + [min(lims[k - 1], lims[k]) for k in range(1, n)] + [0.0]
    ok = 0.0
    for k in range(n - 1, -1, -1):
        ok = min(cap[k], math.sqrt(ok * ok + 2 * BRAKE * (xs[k + 1] - xs[k])))
    v0 = draw(st.floats(0.0, 0.999)) * ok
    return v0, ends


@settings(max_examples=300, deadline=None)
@given(ways())
def test_a_profile_keeps_every_limit_and_stands_at_the_end(
    way: tuple[float, list[tuple[float, float]]],
) -> None:
    v0, stretches = way
    p = profile(10.0, 0.0, v0, stretches, ACCEL, BRAKE)
    end = stretches[-1][0]
    assert abs(p.s_end - end) < 1e-6
    assert p.v(p.t_end + 1.0) == 0.0 and p.s(p.t_end + 5.0) == p.s_end
    for g in p.segments:
        assert -BRAKE - 1e-9 <= g.a <= ACCEL + 1e-9
    # Sampled: never faster than the limit of the stretch the front is in.
    t, previous = p.t0, 0.0
    while t < p.t_end:
        s, v = p.s(t), p.v(t)
        assert s >= previous - 1e-9  # never backwards
        previous = s
        limit = next(lim for e, lim in stretches if s <= e + 1e-9)
        assert v <= max(limit, v0) + 1e-6
        t += 0.25
    assert p.hard_brake_mps2 == 0.0


@settings(max_examples=200, deadline=None)
@given(ways(), st.floats(0.0, 1.0))
def test_t_at_is_when_the_front_gets_there(
    way: tuple[float, list[tuple[float, float]]], share: float
) -> None:
    v0, stretches = way
    p = profile(0.0, 5.0, v0, [(5.0 + e, lim) for e, lim in stretches], ACCEL, BRAKE)
    x = 5.0 + share * stretches[-1][0]
    t = p.t_at(x)
    assert abs(p.s(t) - x) < 1e-5
    assert p.t_at(p.s_end + 1.0) == math.inf


def test_no_slower_than_it_must_be() -> None:
    """100 m at 5 m/s from a stand: 5 s speeding up, 5 s... braking at 1.5 m/s² takes 3.33 s."""
    p = profile(0.0, 0.0, 0.0, [(100.0, 5.0)], ACCEL, BRAKE)
    up, down = 5.0 / ACCEL, 5.0 / BRAKE
    cruise = (100.0 - 12.5 - 25.0 / (2 * BRAKE)) / 5.0
    assert math.isclose(p.t_end, up + cruise + down, rel_tol=1e-9)


def test_a_cut_short_way_brakes_harder_and_says_so() -> None:
    p = profile(0.0, 0.0, 6.0, [(4.0, 7.0)], ACCEL, BRAKE)
    assert abs(p.s_end - 4.0) < 1e-9
    assert math.isclose(p.hard_brake_mps2, 36.0 / 8.0)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.1, 400.0), st.floats(0.0, 1.0), st.floats(1.0, 8.0))
def test_earliest_is_the_time_a_profile_that_need_not_stop_takes(
    d: float, share: float, limit: float
) -> None:
    v = share * limit
    far = profile(0.0, 0.0, v, [(d + 10_000.0, limit)], ACCEL, BRAKE)
    assert math.isclose(earliest(d, v, limit, ACCEL), far.t_at(d), rel_tol=1e-7, abs_tol=1e-7)

"""Possible theft or leak: a drop while standing raises one event; driving and refuelling none."""

from __future__ import annotations

import pytest

from drivers.fuel.theft import FuelDropEvent, TheftConfig, TheftDetector


def run(
    detector: TheftDetector, profile: list[tuple[float, float]], speed_kmh: float, step_s: float
) -> list[FuelDropEvent]:
    """Feed (duration s, litres) steps as readings every `step_s`, then end the stream."""
    events: list[FuelDropEvent] = []
    t = 0.0
    for duration, litres in profile:
        end = t + duration
        while t < end:
            events += detector.feed(t, litres, speed_kmh)
            t += step_s
    return events + detector.flush()


def siphon(start: float, drop: float) -> list[tuple[float, float]]:
    """Standing with `start` litres, then `drop` litres go in one minute, then quiet."""
    steps = [(60.0, start)]
    steps += [(10.0, start - drop * k / 6) for k in range(1, 7)]
    return [*steps, (180.0, start - drop)]


def test_a_15_litre_drop_while_standing_raises_one_event() -> None:
    events = run(TheftDetector(), siphon(200.0, 15.0), speed_kmh=0.0, step_s=10.0)
    assert len(events) == 1
    event = events[0]
    assert event.litres_lost == pytest.approx(15.0)
    assert event.litres_before == pytest.approx(200.0)
    assert 0 <= event.start < event.end <= 300


def test_the_event_is_reported_once_the_level_settles_without_a_flush() -> None:
    detector = TheftDetector()
    events: list[FuelDropEvent] = []
    t = 0.0
    for _duration, litres in siphon(200.0, 15.0):
        for _ in range(6 if litres != 185.0 else 12):
            events += detector.feed(t, litres, 0.0)
            t += 10.0
    assert len(events) == 1 and events[0].litres_lost == pytest.approx(15.0)
    assert detector.flush() == []


def test_the_same_drop_while_driving_raises_none() -> None:
    assert run(TheftDetector(), siphon(200.0, 15.0), speed_kmh=20.0, step_s=10.0) == []


def test_a_refuel_raises_none() -> None:
    profile = [(60.0, 50.0)] + [(10.0, 50.0 + 20 * k) for k in range(1, 6)] + [(120.0, 150.0)]
    assert run(TheftDetector(), profile, speed_kmh=0.0, step_s=10.0) == []


def test_a_single_glitched_reading_raises_none() -> None:
    detector = TheftDetector()
    events: list[FuelDropEvent] = []
    for k in range(40):
        litres = 120.0 if k != 20 else 60.0  # one bad frame: the median removes it
        events += detector.feed(k * 10.0, litres, 0.0)
    assert events + detector.flush() == []


def test_thresholds_are_configurable() -> None:
    drop = siphon(200.0, 15.0)
    assert run(TheftDetector(TheftConfig(min_drop_l=20.0)), drop, 0.0, 10.0) == []
    assert len(run(TheftDetector(TheftConfig(min_drop_l=5.0)), siphon(200.0, 8.0), 0.0, 10.0)) == 1
    # creeping at 1.5 L/min: 7.5 L in any 5 minutes is below 10 L, but not in 15 minutes
    creep = [(60.0, 200.0)] + [(60.0, 200.0 - 1.5 * k) for k in range(1, 11)] + [(120.0, 185.0)]
    assert run(TheftDetector(), creep, 0.0, 10.0) == []
    assert len(run(TheftDetector(TheftConfig(window_s=900.0)), creep, 0.0, 10.0)) == 1
    # a truck crawling at 3 km/h counts as standing when still_kmh is 5
    assert run(TheftDetector(), drop, 3.0, 10.0) == []
    assert len(run(TheftDetector(TheftConfig(still_kmh=5.0)), drop, 3.0, 10.0)) == 1


def test_moving_off_reports_an_open_event() -> None:
    detector = TheftDetector()
    events: list[FuelDropEvent] = []
    t = 0.0
    for litres in [100.0] * 6 + [95.0, 90.0, 85.0, 80.0, 80.0, 80.0]:
        events += detector.feed(t, litres, 0.0)
        t += 10.0
    assert events == []
    events = detector.feed(t, 80.0, 15.0)
    assert len(events) == 1 and events[0].litres_lost == pytest.approx(20.0)


def test_median_of_must_be_odd() -> None:
    with pytest.raises(ValueError, match="odd"):
        TheftDetector(TheftConfig(median_of=2))

"""KPIs from a real journal: every number checked against a hand-computed shift."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleet.events import Activity, crane_event, lane_closed, truck_status
from fleet.jobs import Job, JobState, JobType, Place, PlaceKind
from fleet.journal import Event, Journal
from fleet.kpi import KpiError, compute, from_journal
from fleet.state import job_added, job_stepped
from sim.cli import main

T0 = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
QC = PlaceKind.QUAY_CRANE
YARD = PlaceKind.YARD


def at(s: float) -> str:
    return (T0 + timedelta(seconds=s)).isoformat()


def job(
    job_id: str, kind: JobType, pickup: Place, drop: Place, deadline_s: float | None = None
) -> Job:
    deadline = T0 + timedelta(seconds=deadline_s) if deadline_s is not None else None
    return Job(job_id, kind, "CSQU3054383", 40, 20000.0, pickup, drop, deadline=deadline)


def life(job_id: str, truck: str, times: dict[JobState, float], reason: str = "") -> list[Event]:
    """The job's steps at the given seconds (failed/cancelled take the reason)."""
    return [
        job_stepped(
            f"step:{job_id}:{state.value}",
            job_id,
            state,
            at(s),
            "test",
            reason=reason if state in (JobState.FAILED, JobState.CANCELLED) else "",
            truck=truck if state is JobState.ASSIGNED else None,
        )
        for state, s in times.items()
    ]


def steps(**kw: float) -> dict[JobState, float]:
    return {JobState(k): v for k, v in kw.items()}


def crane(
    n: int,
    name: str,
    s: float,
    event: str,
    kind: str = "QC",
    job: str | None = None,
    truck: str | None = None,
) -> Event:
    return crane_event(
        f"c{name}:{n}", name, at(s), crane_kind=kind, event=event, job=job, truck=truck
    )


def status(truck: str, s: float, activity: Activity, litres: float, odo: float) -> Event:
    return truck_status(
        f"st:{truck}:{s}", truck, at(s), activity=activity, x=0, y=0, litres=litres, odometer_m=odo
    )


def shift() -> list[Event]:
    """Three quay cranes (one with a single move), an RTG, two overlapping trucks."""
    timed: list[tuple[float, Event]] = []
    jobs = [
        job("J1", JobType.DSCH, Place(QC, "QC01"), Place(YARD, "A1"), 1800),
        job("J2", JobType.DSCH, Place(QC, "QC01"), Place(YARD, "A1"), 600),
        job("J5", JobType.DSCH, Place(QC, "QC01"), Place(YARD, "A2")),
        job("J3", JobType.LOAD, Place(YARD, "B2"), Place(QC, "QC02")),
        job("J6", JobType.LOAD, Place(YARD, "B2"), Place(QC, "QC02"), 1200),
        job("J4", JobType.DSCH, Place(QC, "QC03"), Place(YARD, "A3"), 10000),
    ]
    timed += [(-1, job_added(j, at(-1))) for j in jobs]
    lives = [
        life("J1", "T1", steps(released=0, assigned=10, to_pickup=20, at_pickup=120,
                               loaded=150, to_drop=150, at_drop=600, done=900)),
        life("J2", "T2", steps(released=0, assigned=30, to_pickup=30, at_pickup=160,
                               loaded=330, to_drop=330, at_drop=800, done=1000)),
        life("J5", "T3", steps(released=0, assigned=500, to_pickup=500, at_pickup=700,
                               loaded=750, to_drop=750, failed=800), reason="truck broke"),
        life("J3", "T1", steps(released=0, assigned=600, to_pickup=600, at_pickup=700,
                               loaded=800, to_drop=800, at_drop=1000, done=1100)),
        life("J6", "T4", steps(released=0, assigned=1000, to_pickup=1000, at_pickup=1100,
                               loaded=1150, to_drop=1150, at_drop=1300, done=1400)),
        life("J4", "T5", steps(released=0, assigned=1900, to_pickup=1900, at_pickup=2030,
                               loaded=2100, to_drop=2100, at_drop=2400, done=2500)),
    ]  # fmt: skip
    for events in lives:
        for e in events:
            timed.append(((datetime.fromisoformat(e.at) - T0).total_seconds(), e))
    cranes = [
        # QC01: wait 120 (0→120), 0 (T2 waiting at 200), 90 (310→FAULT 400; the READY at
        # 320 does not restart), 180 (520→700), 2840 (760→end 3600); moves at 150, 300, 750
        crane(1, "QC01", 0, "READY"),
        crane(2, "QC01", 150, "MOVEDONE", job="J1"),
        crane(3, "QC01", 200, "READY"),
        crane(4, "QC01", 300, "MOVEDONE", truck="T2"),  # served by truck, job steps later
        crane(5, "QC01", 310, "READY"),
        crane(6, "QC01", 320, "READY"),
        crane(7, "QC01", 400, "FAULT"),
        crane(8, "QC01", 500, "FAULTCLEARED"),
        crane(9, "QC01", 520, "READY"),
        crane(10, "QC01", 750, "MOVEDONE", job="J5"),
        crane(11, "QC01", 760, "READY"),
        # QC02: 0 (J3's truck there since 1000), 100 (1200→1300); moves at 1100, 1400
        crane(1, "QC02", 1010, "READY"),
        crane(2, "QC02", 1100, "MOVEDONE", job="J3"),
        crane(3, "QC02", 1200, "READY"),
        crane(4, "QC02", 1400, "MOVEDONE", job="J6"),
        # QC03: one move (no rate), wait 30
        crane(1, "QC03", 2000, "READY"),
        crane(2, "QC03", 2100, "MOVEDONE", job="J4"),
        # an RTG: not a quay crane, not counted
        crane(1, "RTG01", 50, "READY", kind="RTG"),
        crane(2, "RTG01", 100, "MOVEDONE", kind="RTG"),
        crane(3, "RTG01", 200, "MOVEDONE", kind="RTG"),
    ]
    trucks = [
        status("T1", 0, Activity.IDLE, 100.0, 0),
        status("T1", 60, Activity.EMPTY, 99.5, 0),
        status("T1", 120, Activity.SERVICE, 99.0, 500),
        status("T1", 150, Activity.LADEN, 99.0, 500),
        status("T1", 600, Activity.IDLE, 98.0, 2500),
        status("T1", 900, Activity.REFUELLING, 97.5, 2500),
        status("T1", 1000, Activity.EMPTY, 200.0, 2500),  # a refuel: not burnt
        status("T1", 1200, Activity.IDLE, 199.0, 3500),
        status("T2", 30, Activity.EMPTY, 50.0, 1000),
        status("T2", 160, Activity.QUEUED, 49.0, 1800),
        status("T2", 300, Activity.LADEN, 48.5, 1800),
        status("T2", 800, Activity.BROKEN, 47.0, 4800),
        status("T2", 3000, Activity.IDLE, 46.0, 4800),
    ]
    for e in cranes + trucks:
        timed.append(((datetime.fromisoformat(e.at) - T0).total_seconds(), e))
    timed.append((3600, lane_closed("lane:1", "L1", at(3600), "the shift's last event")))
    timed.sort(key=lambda p: p[0])
    return [e for _, e in timed]


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    path = tmp_path / "shift.db"
    with Journal(path) as journal:
        journal.append_all(shift())
        journal.append_all(shift()[:10])  # a resend: stored once
    return path


def test_every_kpi_matches_the_hand_computed_shift(journal_path: Path) -> None:
    kpis = from_journal(journal_path)
    d = kpis.as_dict()
    assert list(d) == [
        "moves",
        "gross_crane_rate",
        "crane_wait_minutes",
        "truck_hours",
        "empty_km_share",
        "litres_per_move",
        "lateness",
    ]
    assert d["moves"] == 5  # J1 J2 J3 J6 J4; J5 failed
    assert kpis.crane_moves == {"QC01": 3, "QC02": 2, "QC03": 1}
    rates = d["gross_crane_rate"]
    assert rates["per_crane"]["QC01"] == pytest.approx(3 / (600 / 3600))  # 18/h
    assert rates["per_crane"]["QC02"] == pytest.approx(2 / (300 / 3600))  # 24/h
    assert rates["per_crane"]["QC03"] is None
    assert "RTG01" not in rates["per_crane"]
    assert rates["mean"] == pytest.approx(21.0)
    wait = d["crane_wait_minutes"]
    assert wait["per_crane"]["QC01"] == pytest.approx((120 + 0 + 90 + 180 + 2840) / 60)
    assert wait["per_crane"]["QC02"] == pytest.approx(100 / 60)
    assert wait["per_crane"]["QC03"] == pytest.approx(0.5)
    assert wait["total"] == pytest.approx(3360 / 60)
    hours = d["truck_hours"]
    expect_t1 = {"IDLE": 2760, "EMPTY": 260, "SERVICE": 30, "LADEN": 450, "REFUELLING": 100}
    expect_t2 = {"EMPTY": 130, "QUEUED": 140, "LADEN": 500, "BROKEN": 2200, "IDLE": 600}
    for truck, expect in (("T1", expect_t1), ("T2", expect_t2)):
        got = hours["per_truck"][truck]
        assert set(got) == {a.value for a in Activity}
        for activity in Activity:
            assert got[activity.value] == pytest.approx(expect.get(activity.value, 0) / 3600)
    assert sum(hours["per_truck"]["T1"].values()) == pytest.approx(1.0)
    total = {a: expect_t1.get(a, 0) + expect_t2.get(a, 0) for a in hours["total"]}
    assert hours["total"] == pytest.approx({a: s / 3600 for a, s in total.items()})
    assert kpis.empty_km == pytest.approx(0.5 + 1.0 + 0.8)
    assert kpis.laden_km == pytest.approx(2.0 + 3.0)
    assert d["empty_km_share"] == pytest.approx(2.3 / 7.3)
    assert kpis.litres_burnt == pytest.approx(3.5 + 4.0)
    assert d["litres_per_move"] == pytest.approx(7.5 / 5)
    assert d["lateness"] == {
        "jobs_with_deadline": 4,
        "late": 2,
        "mean_minutes": pytest.approx((400 + 200) / 4 / 60),
        "max_minutes": pytest.approx(400 / 60),
    }
    assert kpis.skipped == 0
    json.dumps(d)  # JSON-able


def test_events_in_memory_give_the_same_kpis(journal_path: Path) -> None:
    with Journal(journal_path) as journal:
        assert compute(e for _, e in journal.events()).as_dict() == (
            from_journal(journal_path).as_dict()
        )


def test_an_empty_journal_has_no_rates(tmp_path: Path) -> None:
    Journal(tmp_path / "e.db").close()
    d = from_journal(tmp_path / "e.db").as_dict()
    assert d["moves"] == 0
    assert d["gross_crane_rate"] == {"per_crane": {}, "mean": None}
    assert d["empty_km_share"] is None and d["litres_per_move"] is None
    assert d["lateness"]["mean_minutes"] is None


def test_a_bad_event_is_skipped_and_named(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with Journal(path) as journal:
        journal.append_all(shift())
        journal.append(Event("bad-1", "truck.status", at(3600), {"truck": "T9"}))
        journal.append(Event("bad-2", "crane.event", "yesterday", {"crane": "QC01"}))
    kpis = from_journal(path)
    assert kpis.skipped == 2
    assert "'activity'" in kpis.problems[0] and "truck.status" in kpis.problems[0]
    assert "crane.event" in kpis.problems[1]
    assert kpis.moves == 5 and kpis.crane_wait_total == pytest.approx(56.0)


def test_cli_prints_a_table_and_json(journal_path: Path) -> None:
    runner = CliRunner()
    table = runner.invoke(main, ["dispatcher", "kpi", str(journal_path)])
    assert table.exit_code == 0, table.output
    for text in ("moves", "QC01", "18.0", "REFUELLING", "litres per move"):
        assert text in table.output
    as_json = runner.invoke(main, ["dispatcher", "kpi", str(journal_path), "--json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output) == json.loads(
        json.dumps(from_journal(journal_path).as_dict())
    )


def test_cli_refuses_a_missing_or_corrupt_journal(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["dispatcher", "kpi", str(tmp_path / "nope.db")])
    assert missing.exit_code != 0
    assert "no such journal" in missing.output and "Traceback" not in missing.output
    assert not (tmp_path / "nope.db").exists()  # reading never creates a journal
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not SQLite at all\n" * 100)
    corrupt = runner.invoke(main, ["dispatcher", "kpi", str(junk)])
    assert corrupt.exit_code != 0
    assert "junk.db" in corrupt.output and "Traceback" not in corrupt.output
    with pytest.raises(KpiError, match="not a YardFleet journal"):
        other = tmp_path / "other.db"
        import sqlite3

        sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
        from_journal(other)

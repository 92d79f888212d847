"""Folding the journal: raw inputs are left undecoded, a bad event is rejected, not raised."""

from __future__ import annotations

from pathlib import Path

from fleet.jobs import Job, JobState, JobType, Place, PlaceKind
from fleet.journal import Event, Journal
from fleet.state import job_added, job_stepped, load

JOB = Job(
    "J1",
    JobType.DSCH,
    "MSKU1234565",
    40,
    20_000.0,
    Place(PlaceKind.QUAY_CRANE, "QC01"),
    Place(PlaceKind.YARD, "A1", 10, 2, 1),
    qc_seq=1,
)


def test_a_step_without_a_utc_offset_is_rejected_not_raised(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as j:
        j.append(job_added(JOB, "2026-11-29T06:00:00+07:00"))
        j.append(job_stepped("s1", "J1", JobState.RELEASED, "2026-11-29T06:00:01+07:00", "queue"))
        j.append(job_stepped("s2", "J1", JobState.ASSIGNED, "2026-11-29T06:00:02", "naive"))
        j.append(job_stepped("s3", "J1", JobState.ASSIGNED, "yesterday", "garbled"))
        state = load(j)
    assert state.jobs["J1"].state is JobState.RELEASED
    reasons = [why for _, why in state.rejected]
    assert any("no UTC offset" in why for why in reasons)
    assert len(reasons) == 2


def test_raw_messages_stay_in_the_file_and_out_of_the_fold(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as j:
        j.append(job_added(JOB, "2026-11-29T06:00:00+07:00"))
        j.append(Event("msg:TT01:state:1:b", "msg.state", "2026-11-29T06:00:01+07:00", {"x": 1}))
        assert [e.kind for _, e in j.events()] == ["job.added", "msg.state"]
        assert [e.kind for _, e in j.events(skip_prefix="msg.")] == ["job.added"]
        state = load(j)
    assert list(state.jobs) == ["J1"]
    assert state.rejected == []

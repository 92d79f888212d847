"""Container numbers, the life of a job, and TOS work queues checked against the yard."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet import iso6346
from fleet.jobs import Job, JobError, JobState, JobType, Place, PlaceKind
from fleet.workqueue import COLUMNS, read_work_queue
from maps import Yard


@pytest.mark.parametrize("number", ["CSQU3054383", "MSCU1234566", "csqu 305438 3"])
def test_valid_container_numbers(number: str) -> None:
    assert iso6346.problem(number) is None


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("CSQU3054384", "check digit is 4, ISO 6346 gives 3"),
        ("CSQ3054383", "not an ISO 6346 container number"),
        ("CSQX3054383", "not an ISO 6346 container number"),
    ],
)
def test_invalid_container_numbers(number: str, why: str) -> None:
    assert why in (iso6346.problem(number) or "")


@given(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3),
    st.sampled_from("UJZ"),
    st.integers(0, 999_999),
)
def test_every_number_has_exactly_one_check_digit(owner: str, cat: str, serial: int) -> None:
    ten = f"{owner}{cat}{serial:06d}"
    good = [d for d in range(10) if iso6346.problem(f"{ten}{d}") is None]
    assert good == [iso6346.check_digit(ten)]


def _job() -> Job:
    return Job(
        "J1",
        JobType.DSCH,
        "CSQU3054383",
        40,
        24000.0,
        Place(PlaceKind.QUAY_CRANE, "QC01"),
        Place(PlaceKind.YARD, "A1", 3, 2, 1),
    )


def test_a_job_lives_its_life_in_order() -> None:
    t = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    job = _job()
    causes = [
        "tos",
        "dispatcher",
        "truck T07 state",
        "truck T07 state",
        "crane QC01 move done",
        "truck T07 state",
        "truck T07 state",
        "rtg RTG01 move done",
    ]
    for k, state in enumerate(list(JobState)[1:9]):
        job = job.step(state, t + timedelta(seconds=k), causes[k])
    assert job.state is JobState.DONE
    assert [s.cause for s in job.history] == causes
    with pytest.raises(JobError, match="job J1: cannot go from done to released"):
        job.step(JobState.RELEASED, t + timedelta(hours=1), "operator")


def test_illegal_steps_are_refused_with_both_states() -> None:
    t = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    job = _job().step(JobState.RELEASED, t, "tos")
    with pytest.raises(JobError, match="job J1: cannot go from released to loaded"):
        job.step(JobState.LOADED, t, "truck")
    with pytest.raises(JobError, match="needs a reason"):
        job.step(JobState.CANCELLED, t, "operator")
    with pytest.raises(JobError, match="before its last step"):
        job.step(JobState.ASSIGNED, t - timedelta(seconds=1), "dispatcher")
    cancelled = job.step(JobState.CANCELLED, t, "operator", "vessel left early")
    assert cancelled.history[-1].reason == "vessel left early"
    reassigned = job.step(JobState.ASSIGNED, t, "d").step(JobState.RELEASED, t, "truck lost")
    assert reassigned.state is JobState.RELEASED


HEADER = ",".join(COLUMNS)


def write(tmp_path: Path, *rows: str, name: str = "queue.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def row(**values: object) -> str:
    return ",".join(str(values.get(c, "")) for c in COLUMNS)


GOOD = [
    row(
        JOB_ID="D1",
        JOB_TYPE="DSCH",
        VESSEL_CALL="V1",
        CONTAINER_NO="CSQU3054383",
        SIZE=40,
        WEIGHT_KG=24000,
        QC="QC01",
        QC_SEQ=1,
        YARD_BLOCK="A1",
        ALT_YARD_BLOCKS="B1;C1",
        DEADLINE="2026-11-29T14:00:00+07:00",
    ),
    row(
        JOB_ID="L1",
        JOB_TYPE="LOAD",
        VESSEL_CALL="V1",
        CONTAINER_NO="MSCU1234566",
        SIZE=20,
        WEIGHT_KG=18000,
        QC="QC02",
        QC_SEQ=1,
        YARD_BLOCK="B2",
        YARD_BAY=3,
        YARD_ROW=2,
        YARD_TIER=1,
        TWIN_WITH="L2",
    ),
    row(
        JOB_ID="L2",
        JOB_TYPE="LOAD",
        VESSEL_CALL="V1",
        CONTAINER_NO="TEMU1234565",
        SIZE=20,
        WEIGHT_KG=17000,
        QC="QC02",
        QC_SEQ=1,
        YARD_BLOCK="B2",
        TWIN_WITH="L1",
    ),
    row(
        JOB_ID="R1",
        JOB_TYPE="RECV",
        CONTAINER_NO="XX-1",
        NON_ISO="Y",
        SIZE=45,
        WEIGHT_KG=9000,
        YARD_BLOCK="C1",
        GATE_LANE="GATE.L2",
    ),
    row(
        JOB_ID="G1",
        JOB_TYPE="DLVR",
        CONTAINER_NO="CSQU3054383",
        SIZE=40,
        WEIGHT_KG=20000,
        YARD_BLOCK="D2",
        GATE_LANE="L3",
    ),
    row(
        JOB_ID="S1",
        JOB_TYPE="SHFT",
        CONTAINER_NO="CSQU3054383",
        SIZE=40,
        WEIGHT_KG=20000,
        YARD_BLOCK="E1",
        TO_YARD_BLOCK="E2",
        PRIORITY=2,
    ),
]


def test_a_good_queue_becomes_jobs(tmp_path: Path, haiphong: Yard) -> None:
    queue = read_work_queue(write(tmp_path, *GOOD), haiphong)
    assert queue.problems == []
    jobs = {j.job_id: j for j in queue.jobs}
    assert jobs["D1"].pickup == Place(PlaceKind.QUAY_CRANE, "QC01")
    assert jobs["D1"].alt_blocks == ("B1", "C1")
    assert jobs["D1"].deadline is not None and jobs["D1"].deadline.utcoffset() == timedelta(hours=7)
    assert jobs["L1"].pickup == Place(PlaceKind.YARD, "B2", 3, 2, 1)
    assert jobs["R1"].non_iso and jobs["R1"].pickup.id == "GATE.L2"
    assert jobs["G1"].drop == Place(PlaceKind.GATE, "GATE.L3")
    assert jobs["S1"].drop == Place(PlaceKind.YARD, "E2") and jobs["S1"].priority == 2
    assert queue.lines == [2, 3, 4, 5, 6, 7]


def test_json_queues_read_the_same(tmp_path: Path, haiphong: Yard) -> None:
    csv_queue = read_work_queue(write(tmp_path, *GOOD), haiphong)
    items = [dict(zip(COLUMNS, r.split(","), strict=True)) for r in GOOD]
    path = tmp_path / "queue.json"
    path.write_text(json.dumps(items))
    assert read_work_queue(path, haiphong).jobs == csv_queue.jobs


@pytest.mark.parametrize(
    ("values", "column", "message"),
    [
        (dict(JOB_TYPE="MOVE"), "JOB_TYPE", "must be one of DSCH, LOAD, RECV, DLVR, SHFT"),
        (dict(CONTAINER_NO="CSQU3054384"), "CONTAINER_NO", "check digit is 4"),
        (dict(NON_ISO="maybe"), "NON_ISO", "must be Y or N"),
        (dict(SIZE=30), "SIZE", "must be 20, 40 or 45"),
        (dict(WEIGHT_KG="heavy"), "WEIGHT_KG", "must be a number of kilograms"),
        (dict(WEIGHT_KG=90000), "WEIGHT_KG", "must be between 0 and 36000"),
        (dict(QC="QC09"), "QC", "has no quay crane 'QC09'"),
        (dict(QC=""), "QC", "missing (a DSCH job needs it)"),
        (dict(QC_SEQ="first"), "QC_SEQ", "must be a whole number"),
        (dict(YARD_BLOCK="Z9"), "YARD_BLOCK", "has no block 'Z9'"),
        (dict(YARD_BAY=41), "YARD_BAY", "block A1 has 40, got 41"),
        (dict(ALT_YARD_BLOCKS="B1;Q7"), "ALT_YARD_BLOCKS", "has no block 'Q7'"),
        (dict(GATE_LANE="GATE.L1"), "GATE_LANE", "does not apply to a DSCH job"),
        (dict(DEADLINE="2026-11-29T14:00:00"), "DEADLINE", "needs a UTC offset"),
        (dict(DEADLINE="soon"), "DEADLINE", "must be ISO 8601 with an offset"),
        (dict(TWIN_WITH="NOPE"), "TWIN_WITH", "no job 'NOPE' in this queue"),
        (dict(TWIN_WITH="L1"), "TWIN_WITH", "only two 20' boxes travel as twins"),
    ],
)
def test_each_bad_value_is_named_with_its_line(
    tmp_path: Path, haiphong: Yard, values: dict[str, object], column: str, message: str
) -> None:
    base = dict(
        JOB_ID="D9",
        JOB_TYPE="DSCH",
        VESSEL_CALL="V1",
        CONTAINER_NO="CSQU3054383",
        SIZE=40,
        WEIGHT_KG=24000,
        QC="QC01",
        QC_SEQ=7,
        YARD_BLOCK="A1",
    )
    queue = read_work_queue(write(tmp_path, *GOOD, row(**{**base, **values})), haiphong)
    found = [p for p in queue.problems if p.line == 8]
    assert any(p.field == column and message in p.message for p in found), found
    assert all(p.line == 8 for p in queue.problems)  # good lines stay good


def test_duplicates_and_crane_sequence(tmp_path: Path, haiphong: Yard) -> None:
    queue = read_work_queue(write(tmp_path, *GOOD, GOOD[0]), haiphong)
    assert [(p.line, p.field) for p in queue.problems] == [
        (2, "QC_SEQ"),
        (8, "JOB_ID"),
        (8, "QC_SEQ"),
    ]


@pytest.mark.parametrize(("sign", "name"), [(";", "';'"), ("\t", "tabs")])
def test_a_queue_not_separated_by_commas_is_refused_with_the_reason(
    tmp_path: Path, haiphong: Yard, sign: str, name: str
) -> None:
    """Refused, not guessed: ';' separates the blocks inside ALT_YARD_BLOCKS."""
    path = tmp_path / "queue.csv"
    path.write_text("\n".join(r.replace(",", sign) for r in (HEADER, *GOOD)) + "\n")
    queue = read_work_queue(path, haiphong)
    assert [str(p) for p in queue.problems] == [
        f"{path}:1: the columns are separated by {name}: use commas"
    ]
    assert queue.jobs == []


def test_jobs_check_command(tmp_path: Path) -> None:
    good = write(tmp_path, *GOOD)
    run = subprocess.run(
        [sys.executable, "-m", "sim.cli", "jobs", "check", str(good)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "6 jobs fit yard 'haiphong'" in run.stdout
    bad = write(tmp_path, *GOOD, row(JOB_ID="X", JOB_TYPE="LOAD"), name="bad.csv")
    run = subprocess.run(
        [sys.executable, "-m", "sim.cli", "jobs", "check", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert f"{bad}:8: CONTAINER_NO: missing" in run.stdout
    assert "Traceback" not in run.stderr


def test_jobs_import_is_all_or_nothing_and_idempotent(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from fleet.journal import Journal
    from fleet.state import load
    from sim.cli import main

    db = tmp_path / "journal.db"
    bad = write(tmp_path, *GOOD, row(JOB_ID="X", JOB_TYPE="LOAD"), name="bad.csv")
    runner = CliRunner()
    refused = runner.invoke(main, ["jobs", "import", str(bad), "--journal", str(db)])
    assert refused.exit_code == 1 and "nothing imported" in refused.output
    with Journal(db) as journal:
        assert journal.count() == 0
    skipped = runner.invoke(
        main, ["jobs", "import", str(bad), "--journal", str(db), "--skip-invalid"]
    )
    assert skipped.exit_code == 0, skipped.output
    assert "6 job(s) added" in skipped.output
    assert "1 line(s) skipped" in skipped.output
    dup = write(tmp_path, *GOOD, GOOD[0], name="dup.csv")  # a repeated id: two bad lines
    twice = runner.invoke(
        main, ["jobs", "import", str(dup), "--journal", str(tmp_path / "d.db"), "--skip-invalid"]
    )
    assert "2 line(s) skipped" in twice.output, twice.output
    again = runner.invoke(
        main, ["jobs", "import", str(write(tmp_path, *GOOD)), "--journal", str(db)]
    )
    assert "0 job(s) added, 6 already there" in again.output
    with Journal(db) as journal:
        state = load(journal)
    assert sorted(state.jobs) == ["D1", "G1", "L1", "L2", "R1", "S1"]
    assert state.jobs["L1"].twin_with == "L2"

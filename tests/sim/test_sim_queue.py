"""`yardfleet sim run --queue FILE`: a shift whose work is a TOS work queue.

Real queue files in tmp_path, real short shifts (a quarter of an hour, 8 trucks, the
default yard): the queue's jobs are the shift's work and the journal holds exactly them;
a bad line refuses the run before it starts, with the problems `jobs check` prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleet.cli import check_cmd
from fleet.jobs import JobState
from fleet.journal import Journal
from fleet.state import load as load_state
from fleet.workqueue import read_work_queue
from sim.queue_work import QueueError, queue_work
from sim.run import run_shift
from sim.scenario import load
from sim.sim_cli import run_command

HOURS = 0.25
TRUCKS = 8


QUEUE = """\
JOB_ID,JOB_TYPE,VESSEL_CALL,CONTAINER_NO,NON_ISO,SIZE,WEIGHT_KG,QC,QC_SEQ,YARD_BLOCK,YARD_BAY,YARD_ROW,YARD_TIER,TO_YARD_BLOCK,ALT_YARD_BLOCKS,GATE_LANE,TWIN_WITH,PRIORITY,DEADLINE
Q-D1,DSCH,HPHQ01,TGHU0000013,,40,22000,QC01,1,A1,,,,,,,,,
Q-D2,DSCH,HPHQ01,TGHU0000029,,20,14000,QC01,2,B1,,,,,,,,,
Q-L1,LOAD,HPHQ01,TGHU0000034,,40,25000,QC04,1,C2,3,2,1,,,,,,
Q-L2,LOAD,HPHQ01,TGHU0000040,,20,9000,QC04,2,D1,,,,,,,,,
Q-R1,RECV,,TGHU0000055,,40,18000,,,E1,,,,,,L2,,,
Q-G1,DLVR,,TGHU0000060,,20,12000,,,D2,,,,,,L3,,,
Q-S1,SHFT,,TGHU0000076,,40,20000,,,E1,,,,E2,,,,,
"""
"""Seven jobs on the default (haiphong) yard: every job type, two quay cranes."""
IDS = {"Q-D1", "Q-D2", "Q-L1", "Q-L2", "Q-R1", "Q-G1", "Q-S1"}


def write_queue(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def good_queue(tmp_path: Path) -> Path:
    return write_queue(tmp_path / "queue.csv", QUEUE)


@pytest.fixture
def bad_queue(tmp_path: Path) -> Path:
    """Line 3 (the second job) has a 30-foot box."""
    return write_queue(tmp_path / "bad.csv", QUEUE.replace(",20,14000,", ",30,14000,"))


def journal_jobs(journal: Path) -> dict[str, JobState]:
    with Journal(journal) as j:
        state = load_state(j)
    return {job_id: job.state for job_id, job in state.jobs.items()}


def test_the_queue_is_the_shifts_work(good_queue: Path, tmp_path: Path) -> None:
    scenario = load().with_(hours=HOURS, trucks=TRUCKS)
    work = queue_work(good_queue, scenario)
    assert {a.job.job_id for a in work} == IDS
    assert all(a.at_s == 0.0 for a in work)  # the format has no release time
    report = run_shift(scenario, tmp_path / "out", work=work, pictures=False)
    data = report.data
    assert data["conflicts"] == 0 and data["deadlocks"] == 0 and data["drive_problems"] == 0
    jobs = journal_jobs(tmp_path / "out" / "journal.db")
    assert set(jobs) == IDS  # the queue's jobs and none generated
    done = {job_id for job_id, state in jobs.items() if state is JobState.DONE}
    assert data["moves"] == len(done) > 0


def test_sim_run_queue_runs_the_queues_jobs(good_queue: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["--queue", str(good_queue), "--hours", "0.1", "--trucks", str(TRUCKS)]
    result = CliRunner().invoke(run_command, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "report.json").read_text())
    assert data["conflicts"] == 0 and data["deadlocks"] == 0
    assert set(journal_jobs(out / "journal.db")) == IDS


def test_a_bad_line_refuses_the_run(bad_queue: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(run_command, ["--queue", str(bad_queue), "--out", str(out)])
    assert result.exit_code == 2, result.output  # a usage error, as for a bad --trucks
    assert "Traceback" not in result.output
    error = result.output.split("Error: ", 1)[1]
    assert "'--queue'" in error
    assert f"{bad_queue}:3: SIZE: must be 20, 40 or 45, got 30" in error
    assert not out.exists()  # no shift ran, nothing was written
    # the same words `yardfleet jobs check` prints
    check = CliRunner().invoke(check_cmd, [str(bad_queue)])
    assert check.exit_code == 1
    printed = [line for line in check.stdout.splitlines() if line.strip()]
    assert printed and all(line in error for line in printed)


def test_an_empty_queue_refuses_the_run(tmp_path: Path) -> None:
    empty = write_queue(tmp_path / "empty.csv", QUEUE.splitlines(keepends=True)[0])
    result = CliRunner().invoke(run_command, ["--queue", str(empty), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert "'--queue'" in result.output and "no jobs" in result.output


def test_queue_work_raises_on_a_bad_line(bad_queue: Path) -> None:
    scenario = load().with_(hours=HOURS)
    with pytest.raises(QueueError) as raised:
        queue_work(bad_queue, scenario)
    assert isinstance(raised.value, ValueError)
    assert str(raised.value) == f"{bad_queue}:3: SIZE: must be 20, 40 or 45, got 30"
    [problem] = raised.value.problems
    assert (problem.line, problem.field) == (3, "SIZE")


def test_queue_work_checks_against_the_scenarios_yard(tmp_path: Path) -> None:
    queue = write_queue(tmp_path / "qc.csv", QUEUE.replace("QC04,1,", "QC09,1,"))
    with pytest.raises(QueueError, match=r"qc\.csv:4: QC: yard 'haiphong' has no quay crane"):
        queue_work(queue, load().with_(hours=HOURS))
    assert [p.line for p in read_work_queue(queue).problems] == []  # only the yard says no

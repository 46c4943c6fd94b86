"""The management commands: ``logs``, ``tag``, ``dump`` and ``tideflow runs``.

One store holds a failed run of ``tests/flows/fail_foreach_flow.py`` (branch 1 fails) and
the run that resumed it; the commands are called in this process through ``main``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stored_runs import StoredRun, read_run
from tideflow import Runner
from tideflow._cli import main
from tideflow._metadata import SQLiteMetadataStore

FLOW_FILE = str(Path(__file__).resolve().parent.parent / "flows" / "fail_foreach_flow.py")
FLOW = "FailForeachFlow"


@dataclass
class Runs:
    root: Path
    failed: StoredRun
    resumed: StoredRun


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    folder = tmp_path_factory.mktemp("manage")
    root, marker = folder / ".tideflow", folder / "marker"
    runner = Runner(
        FLOW_FILE,
        show_output=False,
        root=str(root),
        env={"TIDEFLOW_USER": "tester", "FAIL_ITEMS": "1", "FAIL_MARKER": str(marker)},
    )
    assert runner.run().status == "failed"
    failed = read_run(root, FLOW)
    marker.touch()
    assert runner.resume().status == "successful"
    return Runs(root, failed, read_run(root, FLOW))


def cli(runs: Runs, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``tideflow COMMAND flow_file --root ROOT ARGS...``; return code, stdout, stderr."""
    code = main([args[0], FLOW_FILE, "--root", str(runs.root), *args[1:]])
    out, err = capsys.readouterr()
    return code, out, err


def test_logs_of_one_task(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    task = runs.resumed.steps["body"][1]
    assert cli(
        runs, capsys, "logs", f"{runs.resumed.run_id}/body/{task.record.task_id}", "--stdout"
    ) == (
        0,
        f"body 1 in run {runs.resumed.run_id}\n",
        "",
    )
    # The Flow/RUN/STEP/TASK form names the same task.
    code, out, _ = cli(runs, capsys, "logs", f"{task.record.pathspec}", "--stdout")
    assert (code, out) == (0, f"body 1 in run {runs.resumed.run_id}\n")


def test_logs_of_a_failed_attempt(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    task = runs.failed.steps["body"][1]
    path = f"{runs.failed.run_id}/body/{task.record.task_id}"
    code, out, _ = cli(runs, capsys, "logs", path, "--stderr", "--attempt", "0")
    assert code == 0
    assert out.startswith("Traceback (most recent call last):\n")
    assert out.endswith("RuntimeError: planned failure for item 1\n")


def test_logs_of_a_cloned_task_show_the_original_output(
    runs: Runs, capsys: pytest.CaptureFixture[str]
) -> None:
    task = runs.resumed.steps["body"][0]
    assert task.record.origin_pathspec is not None
    _, out, _ = cli(runs, capsys, "logs", f"{runs.resumed.run_id}/body/{task.record.task_id}")
    assert f"body 0 in run {runs.failed.run_id}\n" in out


def test_logs_of_a_step_show_every_task(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(runs, capsys, "logs", f"{runs.resumed.run_id}/body", "--stdout")
    assert code == 0
    headers = re.findall(r"^=== (\S+) \(attempt 0\) stdout ===$", out, re.MULTILINE)
    assert headers == [t.record.pathspec for t in runs.resumed.steps["body"]]


def test_dump_prints_values_readably(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    end = runs.resumed.only("end")
    code, out, _ = cli(runs, capsys, "dump", f"{runs.resumed.run_id}/end/{end.record.task_id}")
    assert code == 0
    assert out.startswith(f"{end.record.pathspec} (attempt 0, succeeded):\n")
    assert "    total = 14\n" in out
    assert "    squares = [0, 1, 4, 9]\n" in out


def test_dump_include_and_truncation(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    path = f"{runs.resumed.run_id}/end"
    code, out, _ = cli(runs, capsys, "dump", path, "--include", "squares", "--max-value-size", "5")
    assert code == 0
    assert out.splitlines()[1:] == ["    squares = [0, 1... (7 more characters)"]
    code, out, err = cli(runs, capsys, "dump", path, "--include", "nope")
    assert (code, out) == (2, "")
    assert re.match(r"^error: No artifact named nope in .*Its artifacts are: .*squares", err)


def test_dump_of_a_failed_task(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    task = runs.failed.steps["body"][1]
    _, out, _ = cli(runs, capsys, "dump", f"{runs.failed.run_id}/body/{task.record.task_id}")
    # A failed task keeps what it had before it raised: here, the inherited foreach list.
    assert "(attempt 0, failed):\n    items = [0, 1, 2, 3]\n" in out


def test_tags(runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = runs.failed.run_id
    assert cli(runs, capsys, "tag", "add", "--run-id", run_id, "keep", "old")[1] == (
        f"{FLOW}/{run_id} now has the user tags: keep, old\n"
    )
    assert cli(runs, capsys, "tag", "replace", "--run-id", run_id, "old", "new")[1] == (
        f"{FLOW}/{run_id} now has the user tags: keep, new\n"
    )
    assert cli(runs, capsys, "tag", "remove", "--run-id", run_id, "keep")[1] == (
        f"{FLOW}/{run_id} now has the user tags: new\n"
    )
    code, out, _ = cli(runs, capsys, "tag", "list", "--run-id", run_id)
    assert code == 0
    assert out.splitlines()[:2] == [f"{FLOW}/{run_id} (failed)", "    user tags:   new"]
    assert "user:tester" in out.splitlines()[2]
    code, _, err = cli(runs, capsys, "tag", "remove", "--run-id", run_id, "user:tester")
    assert code == 1
    assert err.startswith("error: Tag 'user:tester' of run ")
    assert "is a system tag and cannot be removed" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("logs", "123/start"), 1, rf"^error: Run '{FLOW}/123' does not exist\. See the runs"),
        (
            ("logs", "{run}/nope"),
            1,
            r"^error: Step '.*/nope' does not exist\. The run has the steps: body, end, join, start\.$",
        ),
        (("dump", "{run}/end/99"), 1, r"^error: Task '.*/end/99' does not exist$"),
        (
            ("logs", "{run}/end/{end}", "--attempt", "4"),
            1,
            r"has no attempt 4; its attempts are: 0\.$",
        ),
        (("logs", "start"), 2, r"^error: Cannot read the pathspec 'start': write RUN/STEP or"),
        (("tag", "add", "--run-id", "7", "x"), 1, rf"^error: Run '{FLOW}/7' does not exist"),
        (
            ("tag", "add", "x"),
            2,
            rf"^error: {FLOW} has no run of user:nobody to tag: name the run with --run-id ",
        ),
    ],
)
def test_clear_errors(
    runs: Runs,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    monkeypatch.setenv("TIDEFLOW_USER", "nobody")
    end = runs.resumed.only("end").record.task_id
    filled = [a.format(run=runs.resumed.run_id, end=end) for a in args]
    got, _, err = cli(runs, capsys, *filled)
    assert got == code
    assert re.search(message, err.strip()), err


def test_tags_default_to_the_latest_run(
    runs: Runs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --run-id, tag add/remove/replace edit the user's latest run of the flow."""
    monkeypatch.setenv("TIDEFLOW_USER", "tester")
    latest = f"{FLOW}/{runs.resumed.run_id}"
    assert cli(runs, capsys, "tag", "add", "latest1", "latest2")[1] == (
        f"{latest} now has the user tags: latest1, latest2\n"
    )
    assert cli(runs, capsys, "tag", "replace", "latest1", "latest3")[1] == (
        f"{latest} now has the user tags: latest2, latest3\n"
    )
    assert cli(runs, capsys, "tag", "remove", "latest2", "latest3")[1] == (
        f"{latest} now has the user tags: (none)\n"
    )


def test_runs_lists_states_users_and_origins(
    runs: Runs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIDEFLOW_ROOT", str(runs.root))
    assert main(["runs", FLOW]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["RUN", "STATE", "USER", "STARTED", "DURATION", "ORIGIN"]
    assert lines[1].startswith(f"{FLOW}/{runs.resumed.run_id}  succeeded  tester  ")
    assert lines[1].endswith(f"resumes {runs.failed.run_id}")
    assert lines[2].startswith(f"{FLOW}/{runs.failed.run_id}  failed     tester  ")


def test_runs_prints_local_start_times(
    runs: Runs, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start time is local time, as on the console."""
    monkeypatch.setenv("TZ", "IST-05:30")
    time.tzset()
    try:
        assert main(["runs", FLOW, "--root", str(runs.root), "--limit", "1"]) == 0
    finally:
        monkeypatch.undo()
        time.tzset()
    started = datetime.fromtimestamp(runs.resumed.record.created_at, UTC) + timedelta(
        hours=5, minutes=30
    )
    row = capsys.readouterr().out.splitlines()[1]
    assert f"  {started:%Y-%m-%d %H:%M:%S}  " in row


def test_runs_help_and_limit(capsys: pytest.CaptureFixture[str]) -> None:
    """Every option of tideflow runs has help; --limit 0 is a usage error."""
    with pytest.raises(SystemExit):
        main(["runs", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for expected in (
        "FLOW only the runs of this flow",
        "--limit LIMIT how many runs to list (20)",
        "--root ROOT the store folder",
    ):
        assert expected in out
    assert main(["runs", "--limit", "0"]) == 2
    assert capsys.readouterr().err == (
        "error: argument --limit: expected a whole number >= 1, got '0'. Run with --help to "
        "see the options.\n"
    )


def test_duration_of_a_crashed_run_ends_at_its_last_heartbeat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A crashed run ran until its supervisor's last heartbeat, not until it was found."""
    root = tmp_path / ".tideflow"
    with SQLiteMetadataStore(root) as store:
        record = store.create_run(
            "GhostFlow", user="tester", system_tags=("user:tester",), now=1000.0
        )
        store.heartbeat("GhostFlow", record.run_id, now=1007.5)
        store.finish_run("GhostFlow", record.run_id, "crashed", finished_at=5000.0)
    assert main(["runs", "--root", str(root)]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert row.split()[1:3] == ["crashed", "tester"]
    assert row.split()[-1] == "7.5s"

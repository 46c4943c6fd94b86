"""``python flow.py run`` and friends, as a user types them.

The runs start as real processes, all at once, in one module-scoped fixture, and share one
store; the tests then read what each printed, how it exited and what it stored. Commands
that run no task (``show``, ``check``, ``--help``, usage errors) are called in this
process through :func:`tideflow._cli.main`.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
import pytest

from tideflow._cli import main
from tideflow._datastore._artifacts import loads
from tideflow._datastore._cas import LocalBlobStore
from tideflow._metadata import AttemptRecord, SQLiteMetadataStore

FLOWS = Path(__file__).resolve().parent.parent / "flows"

#: Waits until a given time, then runs the command line that follows.
AT_THE_SAME_INSTANT = """\
import sys, time
from tideflow._cli import main
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
sys.exit(main(sys.argv[2:]))
"""


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEFLOW_")}
    env["TIDEFLOW_USER"] = "tester"
    return env


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str
    run_id: str | None
    #: ``time.time()`` before the command started and after it ended.
    began: float = 0.0
    ended: float = 0.0


@dataclass
class Store:
    root: Path

    def run(self, flow: str, run_id: str) -> Any:
        with SQLiteMetadataStore(self.root) as store:
            return store.get_run(flow, run_id)

    def attempts(self, flow: str, run_id: str, step: str) -> list[AttemptRecord]:
        with SQLiteMetadataStore(self.root) as store:
            tasks = store.list_tasks(flow, run_id, step)
            return [store.latest_attempt(flow, run_id, step, t.task_id) for t in tasks]  # type: ignore[misc]

    def artifacts(self, flow: str, run_id: str, step: str) -> dict[str, Any]:
        """The artifact values of the one task of ``step``."""
        blobs = LocalBlobStore(self.root)
        with SQLiteMetadataStore(self.root) as store:
            (task,) = store.list_tasks(flow, run_id, step)
            attempt = store.latest_attempt(flow, run_id, step, task.task_id)
            assert attempt is not None
            records = store.list_artifacts(flow, run_id, step, task.task_id, attempt.attempt)
        return {r.name: loads(blobs.get(r.sha)) for r in records}


COMMANDS: dict[str, list[str]] = {
    "params": [
        "flow_params.py",
        "run",
        "--name",
        "Bob",
        "--count",
        "5",
        "--ratio",
        "0.5",
        "--loud",
        "--config",
        '{"a": [1, 2], "b": null}',
        "--owner",
        "me",
        "--colors",
        "red, green,blue",
        "--tag",
        "first",
        "--tag",
        "second",
    ],
    "defaults": ["flow_params.py", "run", "--name", "Ann", "--no-loud"],
    "failing": ["flow_failing.py", "run"],
    "unpicklable": ["flow_unpicklable.py", "run", "--kind", "lock"],
    "too_many_splits": ["flow_foreach.py", "run", "--count", "5", "--max-num-splits", "3"],
    "one_worker": ["flow_foreach.py", "run", "--count", "3", "--max-workers", "1"],
    "quiet": ["flow_linear.py", "--quiet", "run"],
    "local_time": ["flow_linear.py", "run"],
}
#: The environment of some commands, beyond cli_env(): a time zone of UTC+05:30.
EXTRA_ENV = {"local_time": {"TZ": "IST-05:30"}}
SAME_INSTANT = 3


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return Store(tmp_path_factory.mktemp("cli") / ".tideflow")


@pytest.fixture(scope="module")
def ran(store: Store) -> dict[str, Ran]:
    """Every command of COMMANDS, plus runs started at the same instant, all at once."""
    work = store.root.parent
    processes: dict[str, subprocess.Popen[str]] = {}
    id_files: dict[str, Path] = {}
    began = time.time()

    def start(key: str, command: list[str]) -> None:
        id_files[key] = work / f"{key}.run_id"
        processes[key] = subprocess.Popen(
            [*command, "--run-id-file", id_files[key].name],
            cwd=work,
            env={**cli_env(), **EXTRA_ENV.get(key, {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # Python starts in a fraction of that; then every one of them creates its run at once.
    instant = time.time() + 1.5
    hello = str(FLOWS / "hello_flow.py")
    for number in range(SAME_INSTANT):
        command = ["run", hello, "--root", str(store.root)]
        start(f"same{number}", [sys.executable, "-c", AT_THE_SAME_INSTANT, str(instant), *command])
    for key, (file, *args) in COMMANDS.items():
        start(key, [sys.executable, str(FLOWS / file), "--root", str(store.root), *args])
    results = {}
    for key, process in processes.items():
        stdout, stderr = process.communicate(timeout=90)
        run_id = id_files[key].read_text() if id_files[key].exists() else None
        results[key] = Ran(process.returncode, stdout, stderr, run_id, began, time.time())
    return results


def test_every_parameter_type_from_the_command_line(ran: dict[str, Ran], store: Store) -> None:
    result = ran["params"]
    assert result.returncode == 0, result.stderr
    assert result.run_id is not None
    values = store.artifacts("ParamsFlow", result.run_id, "start")
    assert {k: values[k] for k in values if k not in ("types", "assign_error")} == {
        "name_": "Bob",
        "count": 5,
        "ratio": 0.5,
        "loud": True,
        "config": {"a": [1, 2], "b": None},
        "owner": "me",
        "colors": ["red", "green", "blue"],
    }
    assert values["types"] == {
        "name_": "str",
        "count": "int",
        "ratio": "float",
        "loud": "bool",
        "config": "dict",
        "owner": "str",
        "colors": "list",
    }
    assert values["assign_error"] == (
        "Parameter 'count' is read-only: assign the value to an attribute with another name "
        "instead."
    )
    assert store.artifacts("ParamsFlow", result.run_id, "end")["end_count"] == 5


def test_defaults_and_callable_default(ran: dict[str, Ran], store: Store) -> None:
    result = ran["defaults"]
    assert result.returncode == 0, result.stderr
    assert result.run_id is not None
    values = store.artifacts("ParamsFlow", result.run_id, "start")
    assert values["count"] == 2
    assert values["ratio"] == 0.25
    assert values["loud"] is False
    assert values["config"] == {"k": 1}
    assert values["owner"] == "tester@ParamsFlow"
    assert values["colors"] == ["red"]


def test_console_header_and_footer(ran: dict[str, Ran]) -> None:
    result = ran["params"]
    lines = result.stdout.splitlines()
    assert lines[:2] == ["Validating your flow...", "    The graph looks good!"]
    assert re.match(r"^tideflow \S+ executing ParamsFlow for user:tester$", lines[2])
    assert re.match(
        rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{{3}} Workflow starting \(run-id {result.run_id}\):$",
        lines[3],
    )
    assert re.match(
        rf"^\S+ \S+ Done! See the run with Run\('ParamsFlow/{result.run_id}'\)\.$", lines[-1]
    )
    task_line = rf"^\S+ \S+ \[{result.run_id}/(start|end)/\d+ \(pid \d+\)\] "
    assert all(re.match(task_line, line) for line in lines[4:-1])
    assert result.stderr == ""


def test_console_timestamps_are_in_local_time(ran: dict[str, Ran]) -> None:
    """The console prints local time, as the reference does: under TZ=UTC+05:30, each
    stamp is the moment of the line on a clock five and a half hours ahead of UTC."""
    result = ran["local_time"]
    assert result.returncode == 0, result.stderr
    zone = timezone(timedelta(hours=5, minutes=30))
    earliest = datetime.fromtimestamp(result.began, zone).replace(tzinfo=None, microsecond=0)
    latest = datetime.fromtimestamp(result.ended, zone).replace(tzinfo=None)
    stamped = [line for line in result.stdout.splitlines() if re.match(r"^\d{4}-", line)]
    assert stamped
    for line in stamped:
        moment = datetime.strptime(" ".join(line.split(" ", 2)[:2]), "%Y-%m-%d %H:%M:%S.%f")
        assert earliest <= moment <= latest, line


def test_quiet_prints_no_header(ran: dict[str, Ran]) -> None:
    result = ran["quiet"]
    assert result.returncode == 0, result.stderr
    assert "Validating your flow" not in result.stdout
    assert "Workflow starting" not in result.stdout
    assert "Done!" not in result.stdout


def test_tags_and_run_id_file(ran: dict[str, Ran], store: Store) -> None:
    result = ran["params"]
    assert result.run_id is not None
    assert re.fullmatch(r"\d+", result.run_id)
    run = store.run("ParamsFlow", result.run_id)
    assert run.user_tags == ("first", "second")
    assert "user:tester" in run.system_tags
    assert run.status == "succeeded"
    assert run.user == "tester"


def test_runs_started_at_the_same_instant_get_different_ids(
    ran: dict[str, Ran], store: Store
) -> None:
    results = [ran[f"same{number}"] for number in range(SAME_INSTANT)]
    assert [r.returncode for r in results] == [0] * SAME_INSTANT, [r.stderr for r in results]
    ids = [r.run_id for r in results]
    assert None not in ids
    assert len(set(ids)) == SAME_INSTANT
    for run_id in ids:
        assert run_id is not None
        assert store.run("HelloFlow", run_id).status == "succeeded"
        assert store.artifacts("HelloFlow", run_id, "start")["message"] == "hello"


def test_failing_step(ran: dict[str, Ran], store: Store) -> None:
    result = ran["failing"]
    assert result.returncode == 1
    assert result.run_id is not None
    run_id = result.run_id
    assert store.run("FailingFlow", run_id).status == "failed"
    stderr = result.stderr.splitlines()
    boom_line = rf"^\S+ \S+ \[{run_id}/boom/(\d+) \(pid \d+\)\] "
    assert any(
        re.match(boom_line + r"ValueError: the boom step failed on purpose$", line)
        for line in stderr
    )
    assert any(
        re.match(boom_line + r"Task failed: ValueError: the boom step failed on purpose$", line)
        for line in stderr
    )
    assert any(re.match(r"^\S+ \S+ Workflow failed\.$", line) for line in stderr)
    assert any(
        re.match(
            rf"^    Step failure: Task FailingFlow/{run_id}/boom/\d+ \(attempt 0\) failed: "
            r"ValueError: the boom step failed on purpose$",
            line,
        )
        for line in stderr
    )
    (attempt,) = store.attempts("FailingFlow", run_id, "boom")
    assert attempt.state == "failed"
    assert attempt.exception is not None
    assert attempt.exception.type == "ValueError"
    assert 'raise ValueError("the boom step failed on purpose")' in attempt.exception.traceback
    # What finished stays stored.
    assert store.artifacts("FailingFlow", run_id, "start")["before"] == (
        "stored before the failure"
    )
    assert store.artifacts("FailingFlow", run_id, "fine")["fine_value"] == 7


def test_unpicklable_artifact(ran: dict[str, Ran], store: Store) -> None:
    result = ran["unpicklable"]
    assert result.returncode == 1
    assert result.run_id is not None
    assert re.search(
        r"Task failed: \S*ArtifactError: Artifact 'handle' cannot be pickled: TypeError: cannot "
        r"pickle '_thread\.lock' object\. Store a picklable value, or give the attribute a "
        r"name starting with '_' so it is not stored\.$",
        result.stderr,
        re.MULTILINE,
    )
    (attempt,) = store.attempts("UnpicklableFlow", result.run_id, "start")
    assert attempt.exception is not None
    assert attempt.exception.message.startswith("Artifact 'handle' cannot be pickled")


def test_max_num_splits(ran: dict[str, Ran], store: Store) -> None:
    result = ran["too_many_splits"]
    assert result.returncode == 1
    assert re.search(
        r"Task failed: \S*TideflowError: Step 'start' starts a foreach over 5 items, more than "
        r"the limit of 3\. Raise it with --max-num-splits 5 \(or max_num_splits=5 in "
        r"Runner\.run\(\)\)\.$",
        result.stderr,
        re.MULTILINE,
    )
    assert result.run_id is not None
    with SQLiteMetadataStore(store.root) as metadata:
        steps = [s.step for s in metadata.list_steps("ForeachFlow", result.run_id)]
    assert steps == ["start"]


def test_max_workers(ran: dict[str, Ran], store: Store) -> None:
    result = ran["one_worker"]
    assert result.returncode == 0, result.stderr
    assert result.run_id is not None
    attempts = sorted(
        (
            attempt
            for step in ("start", "body", "join", "end")
            for attempt in store.attempts("ForeachFlow", result.run_id, step)
        ),
        key=lambda a: a.started_at,
    )
    assert len(attempts) == 6
    for before, after in itertools.pairwise(attempts):
        assert before.finished_at is not None
        assert after.started_at >= before.finished_at


def test_interrupt_stops_the_run(tmp_path: Path) -> None:
    """SIGINT (Ctrl-C) cancels the run: exit code 130, run recorded as cancelled."""
    root = tmp_path / ".tideflow"
    command = [
        sys.executable,
        str(FLOWS / "flow_live.py"),
        "--root",
        str(root),
        "run",
        "--release",
        str(tmp_path / "never"),
        "--run-id-file",
        "run_id",
    ]
    with subprocess.Popen(
        command, cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.rstrip().endswith(b"] ready"):
                break
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert b"Workflow cancelled" in stderr
    run_id = (tmp_path / "run_id").read_text()
    with SQLiteMetadataStore(root) as metadata:
        assert metadata.get_run("LiveFlow", run_id).status == "cancelled"


def _hosts_in(folder: Path) -> list[int]:
    """The fork hosts running in ``folder`` (whoever their parent is now)."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = process.info["cmdline"] or []
        if process.info["cwd"] == str(folder) and any("_worker._host" in p for p in cmdline):
            found.append(process.pid)
    return found


@pytest.mark.parametrize("flow", ["hello_flow.py", "exec_decorated.py"])
def test_a_run_leaves_no_fork_host_behind(tmp_path: Path, flow: str) -> None:
    """The host started before the event loop serves the run, or is stopped when the
    run needs another (a start step with its own ``@environment``); none outlives the
    command."""
    command = [sys.executable, str(FLOWS / flow), "--root", str(tmp_path / ".tideflow"), "run"]
    done = subprocess.run(
        command, check=False, cwd=tmp_path, env=cli_env(), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 10
    while (left := _hosts_in(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == []


def _live_run(tmp_path: Path, **popen: Any) -> subprocess.Popen[bytes]:
    """``python flow_live.py run`` until its release file exists; returns once it is ready."""
    command = [
        sys.executable,
        str(FLOWS / "flow_live.py"),
        "--root",
        str(tmp_path / ".tideflow"),
        "run",
        "--release",
        str(tmp_path / "release"),
        "--run-id-file",
        "run_id",
    ]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        **popen,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if line.rstrip().endswith(b"] ready"):
            break
    return process


def _stored_status(tmp_path: Path) -> str:
    run_id = (tmp_path / "run_id").read_text()
    with SQLiteMetadataStore(tmp_path / ".tideflow") as metadata:
        return str(metadata.get_run("LiveFlow", run_id).status)


@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_sigterm_and_sighup_cancel_the_run(tmp_path: Path, name: str, code: int) -> None:
    """SIGTERM (kill, a service manager) and SIGHUP (the terminal closed) cancel the run
    like Ctrl-C: recorded as cancelled, exit code 128 + the signal."""
    with _live_run(tmp_path) as process:
        process.send_signal(getattr(signal, name))
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == code, stderr
    assert f"Interrupted ({name}): stopping the run's tasks...".encode() in stderr
    assert b"Workflow cancelled" in stderr
    assert _stored_status(tmp_path) == "cancelled"


def test_a_background_job_keeps_ignoring_sigint(tmp_path: Path) -> None:
    """A command started with SIGINT ignored (a background job of a non-interactive shell)
    keeps ignoring it: the run goes on and succeeds."""

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    with _live_run(tmp_path, preexec_fn=ignore_sigint) as process:
        process.send_signal(signal.SIGINT)
        (tmp_path / "release").touch()
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert b"Interrupted" not in stderr
    assert _stored_status(tmp_path) == "succeeded"


@pytest.mark.parametrize("both", [False, True], ids=["stdout", "stdout-and-stderr"])
def test_a_console_that_goes_away_does_not_stop_the_run(tmp_path: Path, both: bool) -> None:
    """``python flow.py run | head -1`` (and with ``2>&1``): the command neither hangs nor
    fails when its reader leaves; the run goes on and finishes, its output in the task
    logs, and the command exits with the run's code."""
    flow = FLOWS / "fail_linear_flow.py"
    redirect = "2>&1 " if both else ""
    script = f"set -o pipefail; '{sys.executable}' '{flow}' run {redirect}| head -1"
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=cli_env(), capture_output=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Validating your flow...\n"
    assert b"Traceback" not in done.stderr
    with SQLiteMetadataStore(tmp_path / ".tideflow") as metadata:
        [run] = metadata.list_runs("FailLinearFlow")
        assert run.status == "succeeded"
        [task] = metadata.list_tasks("FailLinearFlow", run.run_id, "end")
    logs = (tmp_path / ".tideflow" / "logs").rglob("*.stdout.log")
    assert any(b"start says hello" in log.read_bytes() for log in logs)
    assert task.task_id


# -- commands that run nothing, called in this process -----------------------------------


def test_show_lists_steps_transitions_and_docstrings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["show", str(FLOWS / "flow_branches.py")]) == 0
    assert capsys.readouterr().out == (
        "Two branches; the join merges what agrees and picks what differs.\n"
        "\n"
        "Step start\n"
        "    Set what both branches share.\n"
        "    => left, right\n"
        "\n"
        "Step left\n"
        "    One branch.\n"
        "    => join\n"
        "\n"
        "Step right\n"
        "    The other branch.\n"
        "    => join\n"
        "\n"
        "Step join (join)\n"
        "    Read each branch by name, iterate over them, and merge the rest.\n"
        "    => end\n"
        "\n"
        "Step end\n"
        "    The merged artifacts are plain artifacts now.\n"
        "\n"
    )


def test_show_foreach(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(FLOWS / "flow_foreach.py")]) == 0
    assert "Step start\n    Make the items.\n    => body (foreach over 'items')\n" in (
        capsys.readouterr().out
    )


def test_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(FLOWS / "flow_nested_foreach.py")]) == 0
    assert capsys.readouterr().out == ("Validating NestedForeachFlow... The graph looks good!\n")


def test_check_an_invalid_flow(capsys: pytest.CaptureFixture[str]) -> None:
    path = FLOWS / "flow_invalid.py"
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert re.match(
        rf"^error: step 'train' in {re.escape(str(path))}, line 12: Step 'train' does not call "
        r"self\.next\(\)\. ",
        err,
    )


def test_run_help_lists_the_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(FLOWS / "flow_params.py"), "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for expected in (
        "flow parameters:",
        "--name VALUE Who to greet [str, required]",
        "--count VALUE How many times [int, default: 2]",
        "--ratio VALUE A fraction [float, default: 0.25]",
        "--loud, --no-loud Shout the greeting [bool, default: False]",
        "--config VALUE Settings as JSON [JSON, default: '{\"k\": 1}']",
        "--owner VALUE Computed when the run starts [str]",
        "--colors VALUE Colors, comma separated [str, default: 'red'] (items separated by ',')",
        "--max-workers MAX_WORKERS tasks run at once (16)",
        "--max-num-splits MAX_NUM_SPLITS largest foreach allowed (100)",
        "--tag TAGS a user tag",
        "--run-id-file RUN_ID_FILE write the run id to this file",
    ):
        assert expected in out


def test_top_level_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["show", str(FLOWS / "flow_params.py"), "--help"])
    assert exit_info.value.code == 0
    assert main([]) == 2
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.count("usage: tideflow COMMAND FLOW_FILE") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--name", "x", "--count", "many"],
            r"^error: Invalid value 'many' for parameter 'count': expected int\.$",
        ),
        (
            ["--name", "x", "--ratio", "fast"],
            r"^error: Invalid value 'fast' for parameter 'ratio'",
        ),
        (
            ["--name", "x", "--config", "{oops"],
            r"^error: Invalid value '\{oops' for parameter 'config': expected JSON\.$",
        ),
        (
            [],
            (
                r"^error: Parameter 'name' is required: pass --name VALUE \(or name=\.\.\. to "
                r"Runner\.run\(\)\)\.$"
            ),
        ),
        (
            ["--name", "x", "--bogus", "1"],
            r"^error: unrecognized arguments: --bogus 1\. Run with --help to see the options\.$",
        ),
        (
            ["--name", "x", "--max-workers", "0"],
            r"^error: argument --max-workers: expected a whole number >= 1, got '0'\. ",
        ),
        (
            ["--name", "x", "--max-num-splits", "-1"],
            r"^error: argument --max-num-splits: expected a whole number >= 1, got '-1'\. ",
        ),
    ],
)
def test_usage_errors_exit_2_and_store_nothing(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / ".tideflow"
    code = main(["run", str(FLOWS / "flow_params.py"), "--root", str(root), *args])
    assert code == 2
    assert re.match(message, capsys.readouterr().err)
    assert not (root / "metadata.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [arg for i in range(51) for arg in ("--tag", f"t{i}")],
            (
                r"^error: A new run of 'FailLinearFlow' would have 51 user tags, but a run can have "
                r"at most 50\. Remove some tags first\.\n$"
            ),
        ),
        (
            ["--run-id-file", "no/such/folder/run_id"],
            (
                r"^error: FailLinearFlow\.run\(\): cannot write the run id to .*run_id: the folder "
                r".*folder does not exist; create the folder, or pass another path \(--run-id-file, "
                r"run_id_file=\.\.\.\)\.\n$"
            ),
        ),
        (
            ["--run-id-file", "."],
            r"^error: FailLinearFlow\.run\(\): cannot write the run id to .*: it is a folder; ",
        ),
    ],
    ids=["51-tags", "no-folder", "a-folder"],
)
def test_errors_at_start_are_one_line_and_leave_no_run(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Too many tags and a run id file that cannot be written are one ``error:`` line,
    found before the run is created: no run is left behind."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / ".tideflow"
    code = main(["run", str(FLOWS / "fail_linear_flow.py"), "--root", str(root), *args])
    assert code == 1
    captured = capsys.readouterr()
    assert re.match(message, captured.err), captured.err
    assert not (root / "metadata.db").exists()


def test_an_error_in_an_exception_group_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An error raised at start inside the run's task groups prints as one line, never as
    an ExceptionGroup traceback."""
    from tideflow._cli._main import _guarded
    from tideflow._exceptions import TideflowError

    def start() -> int:
        problem = TideflowError("The store cannot be written. Choose another with --root.")
        raise BaseExceptionGroup("outer", [ExceptionGroup("inner", [problem])])

    assert _guarded(start, []) == 1
    assert capsys.readouterr().err == (
        "error: The store cannot be written. Choose another with --root.\n"
    )


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    """The list of commands names ``runs`` and ``db`` too, and the flow file is not even read."""
    assert main(["bogus", str(FLOWS / "flow_params.py")]) == 2
    assert capsys.readouterr().err == (
        "error: unknown command 'bogus': choose from run, resume, show, check, logs, tag, "
        "dump, card, runs, db, ui. See tideflow --help.\n"
    )


def test_missing_flow_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.py")]) == 1
    assert re.match(
        rf"^error: Flow file {re.escape(str(tmp_path / 'nope.py'))} does not exist\. ",
        capsys.readouterr().err,
    )


def test_missing_flow_file_in_the_working_directory(tmp_path: Path) -> None:
    """``tideflow run missing.py``: one error line naming the file, exit code 1."""
    done = subprocess.run(
        [sys.executable, "-m", "tideflow", "run", "missing.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**cli_env(), "TIDEFLOW_ROOT": str(tmp_path / ".tideflow")},
        check=False,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        f"error: Flow file {tmp_path.resolve() / 'missing.py'} does not exist. Pass the path "
        "of a .py file that defines a FlowSpec subclass.\n"
    )


def test_python_dash_m_tideflow() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "tideflow", "check", str(FLOWS / "flow_linear.py")],
        capture_output=True,
        text=True,
        env=cli_env(),
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "Validating LinearFlow... The graph looks good!\n"


def test_the_resume_hint_of_a_failed_run_resumes_it(tmp_path: Path) -> None:
    """The command a failed run prints to resume it carries the top-level options it was
    given that say where its runs are and how its tasks run (here ``--root`` and
    ``--with``), so running it as printed resumes that run."""
    root = tmp_path / "elsewhere"
    marker = tmp_path / "fixed"
    flow = FLOWS / "fail_linear_flow.py"
    env = {**cli_env(), "FAIL_STEP": "middle", "FAIL_MARKER": str(marker)}
    top = ["--root", str(root), "--with", "retry:times=0"]
    failed = subprocess.run(
        [sys.executable, str(flow), *top, "run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert failed.returncode == 1
    [hint] = re.findall(r"Fix the step and resume with: (.+)", failed.stderr)
    words = shlex.split(hint)
    assert words[:2] == ["python", os.path.relpath(flow, tmp_path)]
    assert words[2:7] == [*top, "resume"]
    marker.touch()
    resumed = subprocess.run(
        [sys.executable, *words[1:]],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    origin = words[-1]
    with SQLiteMetadataStore(root) as store:
        newest = store.latest_run("FailLinearFlow")
    assert newest is not None
    assert newest.origin_run_id == origin
    assert newest.status == "succeeded"

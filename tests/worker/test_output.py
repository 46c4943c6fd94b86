"""A task's output, captured at the file-descriptor level, in its logs and on the console.

``flow_output.py`` writes to stdout and stderr with ``print``, ``sys.stdout.write``,
``os.write`` and from child processes (``subprocess.run``, ``os.system``). The flow runs
once, from the command line, in a process of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stored_runs import metadata_store
from tideflow._logs import log_path, read_log, read_text

FLOWS = Path(__file__).resolve().parent.parent / "flows"

STDOUT_LINES = [
    "py-stdout-line",
    "partial-line",
    "fd-stdout-line",
    "child-echo-line",
    "system-line",
    "unicode-line: h\u00e9llo \u2713",
]
STDERR_LINES = ["py-stderr-line", "fd-stderr-line", "child-stderr-line"]


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEFLOW_")}
    env["TIDEFLOW_USER"] = "tester"
    return env


@dataclass
class Ran:
    root: Path
    run_id: str
    stdout: str
    stderr: str
    returncode: int
    started: datetime
    finished: datetime


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Ran:
    work = tmp_path_factory.mktemp("output")
    root = work / ".tideflow"
    started = datetime.now(UTC)
    completed = subprocess.run(
        [
            sys.executable,
            str(FLOWS / "flow_output.py"),
            "--root",
            str(root),
            "run",
            "--run-id-file",
            "run_id",
        ],
        cwd=work,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Ran(
        root,
        (work / "run_id").read_text(),
        completed.stdout,
        completed.stderr,
        completed.returncode,
        started,
        datetime.now(UTC),
    )


def task_lines(text: str, run_id: str, step: str) -> list[tuple[int, str]]:
    """``(pid, text)`` of the console lines of ``step``, in order."""
    pattern = re.compile(
        rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{{3}} \[{run_id}/{step}/(\d+) \(pid (\d+)\)\] (.*)$"
    )
    found = []
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            found.append((int(match.group(2)), match.group(3)))
    return found


def test_the_run_succeeds(ran: Ran) -> None:
    assert ran.returncode == 0, ran.stderr


def test_console_shows_every_stdout_line_with_the_task_prefix(ran: Ran) -> None:
    lines = task_lines(ran.stdout, ran.run_id, "start")
    texts = [text for _, text in lines]
    assert texts == ["Task is starting.", *STDOUT_LINES, "Task finished successfully."]
    pids = {pid for pid, _ in lines}
    assert len(pids) == 1
    with metadata_store(ran.root) as store:
        (task,) = store.list_tasks("OutputFlow", ran.run_id, "start")
        metadata = store.list_metadata("OutputFlow", ran.run_id, "start", task.task_id, 0)
    assert {int(m.value) for m in metadata if m.name == "pid"} == pids


def test_console_shows_every_stderr_line_on_stderr(ran: Ran) -> None:
    texts = [text for _, text in task_lines(ran.stderr, ran.run_id, "start")]
    assert texts == STDERR_LINES
    assert not any("py-stderr-line" in line for line in ran.stdout.splitlines())


def test_every_step_has_its_own_prefix(ran: Ran) -> None:
    texts = [text for _, text in task_lines(ran.stdout, ran.run_id, "end")]
    assert "end-line" in texts


def test_logs_hold_every_line_of_each_stream(ran: Ran) -> None:
    with metadata_store(ran.root) as store:
        (task,) = store.list_tasks("OutputFlow", ran.run_id, "start")
    stdout = log_path(ran.root, "OutputFlow", ran.run_id, "start", task.task_id, 0, "stdout")
    stderr = log_path(ran.root, "OutputFlow", ran.run_id, "start", task.task_id, 0, "stderr")
    assert read_text(stdout) == "".join(f"{line}\n" for line in STDOUT_LINES)
    assert read_text(stderr) == "".join(f"{line}\n" for line in STDERR_LINES)
    # Every line carries the UTC time it was read at, within the run.
    stamps = [stamp for stamp, _ in read_log(stdout)]
    assert stamps == sorted(stamps)
    assert all(ran.started <= stamp <= ran.finished for stamp in stamps)


def test_log_is_readable_while_the_task_runs(tmp_path: Path) -> None:
    """The line the step printed is in its log before the step ends."""
    root = tmp_path / ".tideflow"
    release = tmp_path / "release"
    command = [
        sys.executable,
        str(FLOWS / "flow_live.py"),
        "--root",
        str(root),
        "run",
        "--release",
        str(release),
        "--run-id-file",
        "run_id",
    ]
    with subprocess.Popen(
        command,
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                if line.rstrip().endswith("] ready"):
                    break
            run_id = (tmp_path / "run_id").read_text()
            path = log_path(root, "LiveFlow", run_id, "start", "1", 0, "stdout")
            # The console shows a line after the log has it, and the step is still waiting.
            assert read_text(path) == "ready\n"
            assert process.poll() is None
        finally:
            release.touch()
        rest = process.stdout.read()
    assert process.returncode == 0
    assert "] released" in rest
    assert read_text(path) == "ready\nreleased\n"

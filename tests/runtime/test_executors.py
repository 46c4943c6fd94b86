"""Both executors give the same runs: every DAG shape, output capture, failures, timeouts.

Each test runs once per executor (the ``executor`` fixture of ``tests/executors.py``);
the ``test_same_*`` tests run a flow with ``spawn`` and with ``fork`` in one test and
compare everything stored about the two runs.
"""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING, Any

import anyio
import psutil
import pytest

from executors import (
    EXECUTORS,
    descendant_pids,
    executor,
    wait_for_file,
    wait_no_task_processes,
)
from stored_runs import blob_store, metadata_store
from tideflow import Runner
from tideflow._datastore._artifacts import loads

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("executor",)

pytestmark = pytest.mark.skipif("fork" not in EXECUTORS, reason="fork needs POSIX")


def _run(flow: Path, executor_name: str, **params: Any) -> Any:
    return Runner(str(flow), show_output=False, executor=executor_name).run(**params)


def _comparable(value: Any) -> Any:
    """An exception (it names its run) by its type; anything else as it is."""
    return type(value).__name__ if isinstance(value, BaseException) else value


def summary(root: Path, pathspec: str) -> dict[str, list[Any]]:
    """Every task of a run: its final attempt's state, exit code, signal, exception type
    and artifacts, by step, in a stable order (pids, times and run ids left out)."""
    flow, run_id = pathspec.split("/")
    blobs = blob_store(root)
    result: dict[str, list[Any]] = {}
    with metadata_store(root) as store:
        for step in store.list_steps(flow, run_id):
            tasks = []
            for task in store.list_tasks(flow, run_id, step.step):
                attempt = store.latest_attempt(flow, run_id, step.step, task.task_id)
                assert attempt is not None
                artifacts = {
                    a.name: _comparable(loads(blobs.get(a.sha)))
                    for a in store.list_artifacts(
                        flow, run_id, step.step, task.task_id, attempt.attempt
                    )
                }
                tasks.append(
                    (
                        attempt.state,
                        attempt.exit_code,
                        attempt.signal,
                        attempt.exception.type if attempt.exception else None,
                        sorted(artifacts.items(), key=repr),
                        task.index,
                    )
                )
            result[step.step] = sorted(tasks, key=repr)
    return result


def _both(root: Path, flow: Path, **params: Any) -> dict[str, Any]:
    runs = {name: _run(flow, name, **params) for name in ("spawn", "fork")}
    summaries = {name: summary(root, r._actor.pathspec) for name, r in runs.items()}
    assert summaries["spawn"] == summaries["fork"]
    assert runs["spawn"].status == runs["fork"].status
    return {"runs": runs, "summary": summaries["fork"]}


def _artifacts(summary: dict[str, list[Any]], step: str) -> list[dict[str, Any]]:
    return [dict(task[4]) for task in summary[step]]


@pytest.mark.parametrize(
    ("flow", "params", "check"),
    [
        pytest.param(
            "exec_linear.py",
            {},
            lambda s: _artifacts(s, "end")[0]["final"] == "start-a-b",
            id="linear",
        ),
        pytest.param(
            "exec_branch.py",
            {},
            lambda s: _artifacts(s, "end")[0]["total"] == 33,
            id="branch",
        ),
        pytest.param(
            "exec_foreach.py",
            {"n": 7},
            lambda s: _artifacts(s, "join")[0]["squares"] == [i * i for i in range(7)],
            id="foreach",
        ),
        pytest.param(
            "exec_nested.py",
            {},
            lambda s: (
                _artifacts(s, "join_outer")[0]["table"] == [["x1", "x2", "x3"], ["y1", "y2", "y3"]]
            ),
            id="nested-foreach",
        ),
    ],
)
def test_same_results_for_every_shape(
    tideflow_root: Path, flows_dir: Path, flow: str, params: dict[str, Any], check: Any
) -> None:
    """spawn and fork store the same tasks, states and artifact values for each DAG shape."""
    both = _both(tideflow_root, flows_dir / flow, **params)
    assert all(r.status == "successful" for r in both["runs"].values())
    assert check(both["summary"])


def test_same_decorators(tideflow_root: Path, flows_dir: Path) -> None:
    """@retry, @catch, @environment and @resources give the same runs on both executors."""
    both = _both(tideflow_root, flows_dir / "exec_decorated.py")
    assert all(r.status == "successful" for r in both["runs"].values())
    summary = both["summary"]
    assert _artifacts(summary, "start")[0]["env_value"] == "from-the-decorator"
    assert _artifacts(summary, "flaky")[0]["attempt_seen"] == 1
    assert summary["broken"][0][0] == "failed"
    assert _artifacts(summary, "end")[0]["caught"] == "TaskException"


def test_environment_and_current(tideflow_root: Path, flows_dir: Path, executor: str) -> None:
    """The runner's env reaches the task; ``current`` names the task."""
    run = Runner(
        str(flows_dir / "exec_linear.py"),
        show_output=False,
        env={"EXEC_TEST_VAR": f"set-for-{executor}"},
    ).run()
    assert run.status == "successful"
    s = summary(tideflow_root, run._actor.pathspec)
    assert _artifacts(s, "start")[0]["env_seen"] == f"set-for-{executor}"
    assert _artifacts(s, "a")[0]["where"] == "a/2"


def test_output_capture(tideflow_root: Path, flows_dir: Path, executor: str) -> None:
    """Python prints, descriptor writes and child processes all reach the task's logs."""
    run = Runner(str(flows_dir / "exec_output.py"), show_output=False).run()
    assert run.status == "successful"
    for line in ("py-out", "fd-out", "child-out", "system-out", "unicode: h\u00e9llo"):
        assert any(out.endswith(f"] {line}") for out in run.stdout.splitlines()), line
    assert any(out.endswith("] no-newline") for out in run.stdout.splitlines())
    for line in ("py-err", "fd-err", "child-err"):
        assert any(out.endswith(f"] {line}") for out in run.stderr.splitlines()), line
    assert "end-out" in run.stdout


@pytest.mark.parametrize(
    ("how", "exit_code", "sig", "exception"),
    [
        ("raise", None, None, "RuntimeError"),
        ("sys-exit", None, None, "SystemExit"),
        ("exit", 3, None, "WorkerCrashed"),
        ("segfault", None, signal.SIGSEGV, "WorkerCrashed"),
        ("kill", None, signal.SIGKILL, "WorkerCrashed"),
    ],
)
def test_same_failures(
    tideflow_root: Path,
    flows_dir: Path,
    how: str,
    exit_code: int | None,
    sig: int | None,
    exception: str,
) -> None:
    """A step that raises, exits or dies by a signal fails alike on both executors, with
    its exit code or signal recorded."""
    both = _both(tideflow_root, flows_dir / "exec_crash.py", how=how)
    assert all(r.status == "failed" for r in both["runs"].values())
    [start] = both["summary"]["start"]
    state, code, signum, exc_type = start[:4]
    assert state == "failed"
    assert exc_type == exception
    if exit_code is not None:
        assert code == exit_code
    assert signum == sig
    assert "end" not in both["summary"]
    for run in both["runs"].values():
        assert "before the crash" in run.stdout


def _pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()]


def _gone(pids: list[int], within: float = 10.0) -> bool:
    """Whether every process is gone (or a zombie), waiting up to ``within`` seconds for a
    killed process to be torn down: on a loaded machine that takes a moment after SIGKILL."""
    deadline = time.monotonic() + within
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return not alive
        time.sleep(0.05)


def test_timeout_kills_the_task_tree(
    tideflow_root: Path, flows_dir: Path, executor: str, tmp_path: Path
) -> None:
    """A step over its @timeout is stopped with everything it started; no process stays."""
    before = descendant_pids()
    pid_file = tmp_path / "pids.txt"
    run = Runner(str(flows_dir / "exec_timeout.py"), show_output=False).run(pid_file=str(pid_file))
    assert run.status == "failed"
    assert "timed out" in run.stderr
    s = summary(tideflow_root, run._actor.pathspec)
    assert s["start"][0][0] == "timeout"
    assert _gone(_pids(pid_file))
    assert wait_no_task_processes(before) == []


async def test_stop_kills_the_task_tree(
    tideflow_root: Path, flows_dir: Path, executor: str, tmp_path: Path
) -> None:
    """Leaving the ExecutingRun mid-step stops the task and its child process; the run is
    not successful and no task process stays."""
    before = descendant_pids()
    pid_file = tmp_path / "pids.txt"
    runner = Runner(str(flows_dir / "exec_slow.py"), show_output=False)
    go = tmp_path / "never"
    async with await runner.async_run(pid_file=str(pid_file), go_file=str(go)) as running:
        await anyio.to_thread.run_sync(wait_for_file, pid_file)
    assert running.status != "successful"
    pids = _pids(pid_file)
    assert os.getpid() not in pids
    assert _gone(pids)
    assert wait_no_task_processes(before) == []

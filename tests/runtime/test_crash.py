"""Processes that die: a step that segfaults or calls ``os._exit(3)``, and a supervisor
killed with SIGKILL (its run is later reported as crashed, and no task process is left).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import psutil
import pytest

from stored_runs import StoredRun, latest_run, metadata_store, read_run
from tideflow import Runner
from tideflow._cli._manage import runs_main
from tideflow._config import load_config
from tideflow._runtime._state import mark_crashed_runs

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

FLOWS = Path(__file__).resolve().parent.parent / "flows"


@dataclass
class Crash:
    status: str
    stderr: str
    run: StoredRun


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture(scope="module")
async def crashes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Crash]]:
    """A segfault and an ``os._exit(3)``, run at the same time in stores of their own."""
    done: dict[str, Crash] = {}

    async def one(mode: str) -> None:
        root = tmp_path_factory.mktemp(mode) / ".tideflow"
        runner = Runner(
            str(FLOWS / "fail_crash_flow.py"),
            show_output=False,
            env={"TIDEFLOW_USER": "tester", "CRASH_MODE": mode},
            root=str(root),
        )
        executing = await runner.async_run()
        await executing.wait()
        run = await anyio.to_thread.run_sync(read_run, root, "FailCrashFlow")
        done[mode] = Crash(executing.status, executing.stderr, run)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(one, "segv")
            tg.start_soon(one, "exit")
    yield done


async def test_a_segfault_is_a_failed_attempt_with_its_signal(crashes: dict[str, Crash]) -> None:
    crash = crashes["segv"]
    assert crash.status == "failed"
    start = crash.run.only("start")
    assert start.state == "failed"
    assert start.last.signal == signal.SIGSEGV
    assert start.last.exit_code is None
    assert start.last.exception is not None
    assert start.last.exception.type == "WorkerCrashed"
    assert start.log() == "about to die\n"
    reason = (
        "Task failed: WorkerCrashed: the task process was killed by SIGSEGV (a segmentation "
        "fault: a crash in native code)"
    )
    assert reason in crash.stderr
    assert reason in start.log("stderr")  # the stored log says it too, not only the console
    assert "end" not in crash.run.steps


async def test_os_exit_is_a_failed_attempt_with_its_exit_code(crashes: dict[str, Crash]) -> None:
    crash = crashes["exit"]
    assert crash.status == "failed"
    start = crash.run.only("start")
    assert (start.state, start.last.exit_code, start.last.signal) == ("failed", 3, None)
    assert (
        "Task failed: WorkerCrashed: the task process exited with code 3 before reporting a "
        "result" in crash.stderr
    )


def _gone(process: psutil.Process) -> bool:
    try:
        return bool(process.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("executor", ["spawn", "fork"])
def test_a_killed_supervisor_leaves_no_task_and_its_run_reads_as_crashed(
    tideflow_root: Path, capsys: pytest.CaptureFixture[str], executor: str
) -> None:
    """Invariant: SIGKILL on ``python flow.py run`` takes its task processes with it (and
    the processes those started), and
    once the lease has expired the run and its running attempts read as ``crashed``; the
    crashed run can be resumed.
    """
    env = {
        **os.environ,
        "TIDEFLOW_HEARTBEAT_INTERVAL": "0.2",
        "TIDEFLOW_HEARTBEAT_TIMEOUT": "1",
        "NAP_SECONDS": "60",
        "NAP_CHILD": "1",
        "TIDEFLOW_EXECUTOR": executor,
    }
    cli = subprocess.Popen(
        [sys.executable, str(FLOWS / "fail_sleep_flow.py"), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert cli.stdout is not None
        started: set[str] = set()
        while len(started) < 2:  # both nap tasks run (pytest-timeout guards this loop)
            line = cli.stdout.readline()
            assert line, "the run ended before its tasks started"
            started.update(f"nap {i} starts" for i in (0, 1) if f"nap {i} starts" in line)
        tasks = psutil.Process(cli.pid).children(recursive=True)
        assert len(tasks) >= 4  # two task processes and their sleep children
        cli.send_signal(signal.SIGKILL)
        cli.wait(timeout=10)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        if cli.stdout is not None:
            cli.stdout.close()
    deadline = time.monotonic() + 10
    while not all(_gone(task) for task in tasks) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [task.pid for task in tasks if not _gone(task)] == []

    config = load_config(env)
    run = latest_run(tideflow_root, "FailSleepFlow")
    assert run.status == "running"  # nobody recorded the end
    with metadata_store(tideflow_root) as store:
        while not mark_crashed_runs(store, config, "FailSleepFlow"):
            assert time.monotonic() < deadline + 10, "the lease never expired"
            time.sleep(0.1)
    crashed = read_run(tideflow_root, "FailSleepFlow")
    assert crashed.record.status == "crashed"
    assert crashed.record.finished_at is not None
    assert [t.state for t in crashed.steps["nap"]] == ["crashed", "crashed"]
    assert crashed.only("start").state == "succeeded"

    assert runs_main(["FailSleepFlow"]) == 0
    assert f"FailSleepFlow/{run.run_id}  crashed" in capsys.readouterr().out

    resumed = Runner(str(FLOWS / "fail_sleep_flow.py"), env={"NAP_SECONDS": "0"}).resume()
    assert resumed.status == "successful"
    assert latest_run(tideflow_root, "FailSleepFlow").origin_run_id == run.run_id


_BLOCKING_SUPERVISOR = """
import sys, time
from pathlib import Path
import anyio
from tideflow import Runner

async def main():
    running = await Runner(sys.argv[1], show_output=False).async_run()
    async for _, line in running.stream_log("stdout"):
        if "nap 0 starts" in line:
            break
    print("blocking", running.pathspec, flush=True)
    while not Path(sys.argv[2]).exists():
        time.sleep(0.05)  # the caller blocks its own event loop: no heartbeat
    await running.wait()
    print("ended", running.state.value, flush=True)
    print(running.stderr, flush=True)

anyio.run(main, backend=sys.argv[3])
"""


@pytest.mark.parametrize("end", ["killed", "no_lock"])
def test_a_live_supervisor_is_never_taken_for_dead(
    tideflow_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, end: str
) -> None:
    """Invariant: while the supervising process lives, its run stays running however long
    it blocks its event loop (no heartbeat), and a resume of it is refused; once it is
    killed the run reads as crashed at once. Without a lock (a store where none is
    possible), the lease decides, and a run recorded as crashed stays crashed when its
    supervisor comes back and finishes it."""
    from tideflow._exceptions import ResumeError
    from tideflow._metadata._liveness import lock_path

    monkeypatch.setenv("TIDEFLOW_HEARTBEAT_TIMEOUT", "1")
    unblock = tmp_path / "unblock"
    env = {**os.environ, "TIDEFLOW_HEARTBEAT_INTERVAL": "0.2", "NAP_SECONDS": "1"}
    supervisor = subprocess.Popen(
        [sys.executable, "-c", _BLOCKING_SUPERVISOR, str(FLOWS / "fail_sleep_flow.py")]
        + [str(unblock), "asyncio"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert supervisor.stdout is not None
        line = supervisor.stdout.readline()
        assert line.startswith("blocking "), line
        flow, run_id = line.split()[1].split("/")
        time.sleep(1.5)  # the lease is older than the heartbeat timeout now
        with metadata_store(tideflow_root) as store:
            assert mark_crashed_runs(store, load_config(), flow) == []
            assert store.get_run(flow, run_id).status == "running"
        with pytest.raises(ResumeError, match=r"^Cannot resume FailSleepFlow/\d+: it is still "):
            Runner(str(FLOWS / "fail_sleep_flow.py"), show_output=False).resume()
        if end == "killed":
            supervisor.kill()
            supervisor.wait(timeout=10)
            with metadata_store(tideflow_root) as store:
                [marked] = mark_crashed_runs(store, load_config(), flow)  # at once
            assert (marked.run_id, marked.status) == (run_id, "crashed")
            assert not lock_path(tideflow_root, flow, run_id).exists()
            return
        if os.environ.get("TIDEFLOW_TEST_METADATA") == "postgres":
            pytest.skip("the PostgreSQL server holds the run's lease: there is no lock file")
        lock_path(tideflow_root, flow, run_id).unlink()  # as if no lock were possible
        with metadata_store(tideflow_root) as store:
            [marked] = mark_crashed_runs(store, load_config(), flow)
        assert marked.status == "crashed"
        unblock.touch()
        rest = supervisor.stdout.read()
        supervisor.wait(timeout=30)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
        if supervisor.stdout is not None:
            supervisor.stdout.close()
    assert "ended succeeded" in rest
    assert "but the store already records it as crashed" in rest
    crashed = read_run(tideflow_root, "FailSleepFlow")
    assert crashed.record.status == "crashed"
    assert all(a.state != "running" for t in crashed.steps["nap"] for a in t.attempts)

"""The durability rule: after ``kill -9`` of the supervisor at any instant, the store is
consistent and a resume re-runs exactly the tasks not recorded as finished.

A supervisor (a script that runs ``Runner.async_run()`` under asyncio or trio) runs a
foreach and is killed with SIGKILL, either by one of its own foreach tasks (item
``KILL_AT``) or from here after a seeded delay. Then the store is checked (see
:func:`check_consistent`) and the run is resumed: the resume clones exactly the tasks the
killed run recorded as succeeded and runs all the others.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from stored_runs import blob_store, metadata_store
from tideflow import Runner
from tideflow._config import load_config
from tideflow._runtime._state import mark_crashed_runs

if TYPE_CHECKING:
    from tideflow._metadata._records import TaskRecord
    from tideflow._stores._interfaces import MetadataStore

FLOWS = Path(__file__).resolve().parent.parent / "flows"
FLOW = "KillForeachFlow"
#: The flow's default ``count``.
DEFAULT_COUNT = 12

_SUPERVISOR = """
import os, sys
import anyio
from tideflow import Runner

async def main():
    flow, executor, count, kill_at, backend = sys.argv[1:]
    env = {"KILL_AT": kill_at, "SUPERVISOR_PID": str(os.getpid())}
    runner = Runner(flow, show_output=False, executor=executor, env=env)
    running = await runner.async_run(count=int(count), max_workers=4)
    print("started", running.run.id, flush=True)
    await running.wait()
    print("ended", running.status, flush=True)

anyio.run(main, backend=sys.argv[5])
"""

_Key = tuple[str, int | None]


def _key(task: TaskRecord) -> _Key:
    return task.step, task.index


def _tasks(store: MetadataStore, run_id: str) -> list[TaskRecord]:
    return [
        task
        for step in store.list_steps(FLOW, run_id)
        for task in store.list_tasks(FLOW, run_id, step.step)
    ]


def _finished(store: MetadataStore, task: TaskRecord) -> bool:
    last = store.latest_attempt(task.flow, task.run_id, task.step, task.task_id)
    return last is not None and last.state == "succeeded"


def check_consistent(root: Path, run_id: str) -> tuple[set[_Key], bool]:
    """Check what the killed run left; return the tasks recorded as finished, and whether
    its start task was recorded.

    - the run and every attempt have a final state (the run's crash was detected);
    - every task's parents are recorded as finished (a task is recorded only after what
      it depends on);
    - every artifact a finished attempt names is in the blob store, whole.
    """
    blobs = blob_store(root)
    with metadata_store(root) as store:
        mark_crashed_runs(store, load_config(), FLOW)
        run = store.get_run(FLOW, run_id)
        assert run.status in ("crashed", "succeeded"), run
        tasks = _tasks(store, run_id)
        by_pathspec = {task.pathspec: task for task in tasks}
        finished: set[_Key] = set()
        for task in tasks:
            for parent in task.parent_pathspecs:
                assert _finished(store, by_pathspec[parent]), (task, parent)
            attempts = store.list_attempts(FLOW, run_id, task.step, task.task_id)
            assert all(a.state != "running" for a in attempts), attempts
            if not _finished(store, task):
                continue
            finished.add(_key(task))
            artifacts = store.list_artifacts(FLOW, run_id, task.step, task.task_id, 0)
            assert artifacts, task
            for artifact in artifacts:
                assert blobs.size(artifact.sha) == artifact.size, artifact
    return finished, any(task.step == "start" for task in tasks)


def _kill(supervisor: subprocess.Popen[str], delay: float | None) -> str:
    """Wait until the run exists, then until its task kills the supervisor (``delay``
    None) or ``delay`` seconds; return the run id."""
    assert supervisor.stdout is not None
    line = supervisor.stdout.readline()
    assert line.startswith("started "), line
    if delay is not None:
        time.sleep(delay)
        supervisor.send_signal(signal.SIGKILL)
    supervisor.wait(timeout=60)
    return line.split()[1]


def _reap(session: int) -> None:
    """Wait for the processes of the killed supervisor's session to go (its task
    processes follow it); kill what is left after 10 seconds."""
    deadline = time.monotonic() + 10
    while True:
        left = []
        for process in psutil.process_iter():
            try:
                if os.getsid(process.pid) == session and process.status() != "zombie":
                    left.append(process)
            except (OSError, psutil.Error):
                continue
        if not left:
            return
        if time.monotonic() > deadline:
            for process in left:
                process.kill()
            return
        time.sleep(0.05)


CASES = [
    pytest.param(executor, backend, mode, id=f"{executor}-{backend}-{mode}")
    for executor in ("fork", "spawn")
    for backend in ("asyncio", "trio")
    for mode in ("in-task", "timer")
]


@pytest.mark.parametrize(("executor", "backend", "mode"), CASES)
def test_a_killed_supervisor_leaves_a_store_that_resume_finishes(
    tideflow_root: Path, executor: str, backend: str, mode: str
) -> None:
    seeded = random.Random(f"{executor}-{backend}-{mode}")
    count = 24 if executor == "fork" else 8
    kill_at = seeded.randrange(1, count) if mode == "in-task" else -1
    delay = None if mode == "in-task" else seeded.uniform(0.05, 1.0 if executor == "fork" else 3.0)
    supervisor = subprocess.Popen(
        [sys.executable, "-c", _SUPERVISOR, str(FLOWS / "kill_foreach_flow.py")]
        + [executor, str(count), str(kill_at), backend],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        run_id = _kill(supervisor, delay)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
        if supervisor.stdout is not None:
            supervisor.stdout.close()
        _reap(supervisor.pid)
    finished, started = check_consistent(tideflow_root, run_id)
    if not started:
        # Killed before its start task was recorded: the parameters are recorded with it,
        # so the resume runs the flow with its defaults.
        count = DEFAULT_COUNT

    resumed = Runner(str(FLOWS / "kill_foreach_flow.py"), show_output=False, executor=executor)
    done = resumed.resume(origin_run_id=run_id)
    assert done.status == "successful", done.stderr
    every = {("start", None), ("join", None), ("end", None)} | {("body", i) for i in range(count)}
    with metadata_store(tideflow_root) as store:
        tasks = _tasks(store, done.run.id)
    cloned = {_key(task) for task in tasks if task.origin_pathspec is not None}
    ran = {_key(task) for task in tasks if task.origin_pathspec is None}
    assert cloned == finished
    assert ran == every - finished
    assert done.run.data.squares == [i * i for i in range(count)]

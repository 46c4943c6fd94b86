"""The blocking facade: Runner.run() from a plain thread, a worker thread of an async
application, and a thread whose event loop is already running.

These are plain ``def`` tests: the facade starts an event loop of its own (in a portal
thread), whatever the calling thread is doing. ``anyio_backend`` picks the backend of the
caller's loop, where there is one.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import anyio
import pytest
from runner_helpers import copy_flow, task_pids, wait_gone

from stored_runs import metadata_store
from tideflow import ExecutingRun, Runner

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("workdir")


def _run() -> ExecutingRun:
    with Runner("slowflow.py", show_output=False).run(seconds=1) as running:
        return running


def test_from_a_plain_thread() -> None:
    results: list[ExecutingRun] = []
    thread = threading.Thread(target=lambda: results.append(_run()))
    thread.start()
    thread.join(timeout=30)
    assert [running.status for running in results] == ["successful"]


def test_from_a_worker_thread_of_an_async_application(anyio_backend: str) -> None:
    async def main() -> ExecutingRun:
        return await anyio.to_thread.run_sync(_run)

    assert anyio.run(main, backend=anyio_backend).status == "successful"


def test_inside_a_running_event_loop(anyio_backend: str) -> None:
    """As in a notebook cell: the blocking call inside a coroutine, with no await."""

    async def main() -> ExecutingRun:
        running = _run()
        # The finished run can be read from this loop too.
        await running.wait()
        lines = [line async for _, line in running.stream_log("stdout")]
        assert lines[-1].endswith(f"Done! See the run with Run('{running.pathspec}').")
        return running

    running = anyio.run(main, backend=anyio_backend)
    assert running.status == "successful"
    assert running.run.data.secs == 1


def test_the_finished_run_is_readable_anywhere(workdir: Path) -> None:
    running = _run()

    async def read() -> list[str]:
        await running.wait(timeout=1)
        return [line async for _, line in running.stream_log("stdout")]

    lines = anyio.run(read)
    assert "\n".join(lines) + "\n" == running.stdout
    assert running.status == "successful"


def test_errors_come_through_unchanged() -> None:
    with pytest.raises(TypeError, match=r"^Parameter 'seconds' takes a value of type int"):
        Runner("slowflow.py").run(seconds="1")
    with pytest.raises(ValueError, match=r"^Unknown argument 'secs' for SlowFlow.resume\(\)"):
        Runner("slowflow.py").resume(secs=1)


def test_show_output(capsys: pytest.CaptureFixture[str]) -> None:
    """show_output (the default) echoes the console of a blocking run as it goes."""
    with Runner("slowflow.py").run(seconds=1) as running:
        pass
    captured = capsys.readouterr()
    assert captured.out == running.stdout
    assert captured.err == running.stderr
    # The async API never echoes.
    anyio.run(lambda: Runner("slowflow.py").async_run(seconds=0))
    assert capsys.readouterr().out == ""


CTRL_C_SCRIPT = """
from tideflow import Runner
try:
    Runner("runner_grandchild.py").run()
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
"""


def test_ctrl_c_stops_a_blocking_run(workdir: Path, flows_dir: Path, tideflow_root: Path) -> None:
    """Invariant: Ctrl-C in a script blocked in run() raises KeyboardInterrupt there, after
    the run's processes are gone and the run is recorded as cancelled."""
    copy_flow(flows_dir, workdir, "runner_grandchild")
    script = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=workdir,
    )
    assert script.stdout is not None
    pids: set[int] = set()
    for line in script.stdout:
        if match := re.search(r"grandchild (\d+)", line):
            pids = task_pids(line) | {int(match.group(1))}
            script.send_signal(signal.SIGINT)
            break
    rest = script.communicate(timeout=30)[0]
    assert script.returncode == 0
    assert rest.endswith("KeyboardInterrupt\n")
    assert wait_gone(pids) == set()
    with metadata_store(tideflow_root) as store:
        assert [run.status for run in store.list_runs("GrandchildFlow")] == ["cancelled"]

"""Fork host processes started before their flow is known: a first run's early host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import psutil
import pytest

from executors import host_processes
from tideflow import Runner
from tideflow._supervisor._supervisor import current_supervisor
from tideflow._worker._blank import start_host_process
from tideflow._worker._fork import ForkExecutor

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.skipif(os.name != "posix", reason="fork needs POSIX")


async def _fork_executor() -> ForkExecutor:
    executor = (await current_supervisor()).executor("fork", 2.0)
    assert isinstance(executor, ForkExecutor)
    return executor


def _where(flow: Path) -> dict[str, object]:
    return {
        "flow_source": str(flow),
        "flow_class": "HelloFlow",
        "sys_path": [str(flow.parent)],
        "env": dict(os.environ),
        "cwd": os.getcwd(),
    }


async def test_a_started_process_that_fits_becomes_the_flows_host(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """The executor takes the process over as the flow's host: it starts no other, and the
    run's tasks are forked from it."""
    executor = await _fork_executor()
    started = start_host_process(python=sys.executable, env=os.environ, cwd=os.getcwd())
    await executor.warm_up(**_where(flows_dir / "hello_flow.py"), started=started)
    assert started.taken
    running = await Runner(str(flows_dir / "hello_flow.py"), show_output=False).async_run()
    await running.wait()
    assert running.status == "successful"
    assert executor.host_pids() == [started.process.pid]
    assert executor.statistics().hosts_started == 1


async def test_a_started_process_that_does_not_fit_is_stopped(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """A process started in another environment is closed; the flow gets a host of its own."""
    executor = await _fork_executor()
    started = start_host_process(
        python=sys.executable, env={**os.environ, "OTHER": "1"}, cwd=os.getcwd()
    )
    await executor.warm_up(**_where(flows_dir / "hello_flow.py"), started=started)
    assert started.taken
    assert started.process.returncode is not None  # stopped and reaped
    running = await Runner(str(flows_dir / "hello_flow.py"), show_output=False).async_run()
    await running.wait()
    assert running.status == "successful"
    [host] = executor.host_pids()
    assert host != started.process.pid


_FIRST_RUN = textwrap.dedent(
    """
    import json, sys
    import psutil
    from tideflow import Runner
    from tideflow._supervisor._blocking import blocking_loop
    from tideflow._supervisor._supervisor import current_supervisor

    def hosts():
        return sorted(
            p.pid for p in psutil.Process().children()
            if any("tideflow._worker._host" in part for part in p.cmdline())
            and p.status() != psutil.STATUS_ZOMBIE
        )

    async def known():
        fork = (await current_supervisor())._executors.get("fork")
        return sorted(fork.host_pids()) if fork is not None else []

    try:
        run = Runner(sys.argv[1], show_output=False, executor="fork").run(**json.loads(sys.argv[2]))
        outcome = run.status
    except Exception as exc:
        outcome = type(exc).__name__
    print(json.dumps({"outcome": outcome, "hosts": hosts(), "known": blocking_loop().call(known)}))
    """
)


def _first_run(flow: Path, params: dict[str, object], cwd: Path) -> dict[str, object]:
    """A first run in a fresh interpreter: its outcome and the hosts it has afterwards."""
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_RUN, str(flow), json.dumps(params)],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
        timeout=120,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_a_first_run_uses_its_early_host(tideflow_root: Path, flows_dir: Path) -> None:
    """The first run of a process starts one host, early, and keeps it warm afterwards."""
    result = _first_run(flows_dir / "hello_flow.py", {}, tideflow_root.parent)
    assert result["outcome"] == "successful"
    assert len(result["hosts"]) == 1
    assert result["hosts"] == result["known"]


def test_a_first_run_whose_start_step_has_its_own_environment(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """The start step's ``@environment`` needs another host: the early one is stopped."""
    result = _first_run(flows_dir / "exec_decorated.py", {}, tideflow_root.parent)
    assert result["outcome"] == "successful"
    assert result["hosts"] == result["known"]  # no host process the executor does not own


def test_a_first_run_that_fails_to_start_leaves_no_host(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """A run refused before it starts (an unknown parameter) stops its early host."""
    result = _first_run(flows_dir / "hello_flow.py", {"no_such": 1}, tideflow_root.parent)
    assert result["outcome"] == "ValueError"
    assert result["hosts"] == result["known"] == []


_CONCURRENT_FIRST_RUNS = textwrap.dedent(
    """
    import json, sys
    import anyio
    from tideflow import Runner
    from tideflow._supervisor._supervisor import current_supervisor
    from tideflow._worker import _blank, _fork

    spawned = []
    start = _blank.start_host_process

    def counted(**kwargs):
        spawned.append(1)
        return start(**kwargs)

    _blank.start_host_process = _fork.start_host_process = counted  # every host starts here

    async def main():
        runs = []

        async def one():
            running = await Runner(sys.argv[1], show_output=False, executor="fork").async_run()
            await running.wait()
            runs.append(running.status)

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(one)
        fork = (await current_supervisor())._executors["fork"]
        started = fork.statistics().hosts_started
        print(json.dumps({"runs": runs, "started": started, "spawned": len(spawned)}))

    anyio.run(main, backend=sys.argv[2])
    """
)


def test_runs_launched_together_in_a_new_loop_start_one_host(
    tideflow_root: Path, flows_dir: Path, anyio_backend_name: str
) -> None:
    """Only the first run launched in an event loop starts a host early, even when the
    others are launched before the loop's supervisor exists; and whichever of them
    reaches the fork executor first takes that host over (under load, the first run
    launched is often not the first one ready)."""
    flow = str(flows_dir / "hello_flow.py")
    out = subprocess.run(
        [sys.executable, "-c", _CONCURRENT_FIRST_RUNS, flow, anyio_backend_name],
        capture_output=True,
        text=True,
        check=True,
        cwd=tideflow_root.parent,
        timeout=120,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"runs": ["successful"] * 8, "started": 1, "spawned": 1}


async def test_an_early_host_never_taken_is_closed(tideflow_root: Path) -> None:
    """Closing a started process that no executor took stops it and leaves no process."""
    before = {p.pid for p in host_processes()}
    started = start_host_process(python=sys.executable, env=os.environ, cwd=os.getcwd())
    pid = started.process.pid
    await started.aclose()
    assert started.process.returncode is not None
    assert pid not in {p.pid for p in host_processes()} - before
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

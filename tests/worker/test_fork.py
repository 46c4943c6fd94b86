"""The fork executor: warm hosts, their reuse and restart, their end, and task isolation."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
import psutil
import pytest

from executors import (
    descendant_pids,
    host_processes,
    task_processes,
    wait_for_file,
    wait_no_task_processes,
)
from stored_runs import metadata_store
from tideflow import Runner
from tideflow._datastore._artifacts import loads
from tideflow._datastore._cas import LocalBlobStore
from tideflow._messages import TaskSpec
from tideflow._supervisor._blocking import blocking_loop
from tideflow._supervisor._supervisor import current_supervisor
from tideflow._worker._fork import ForkExecutor

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.skipif(os.name != "posix", reason="fork needs POSIX")


@pytest.fixture(autouse=True)
def _warm_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hosts stay warm for a minute after a run, so the tests that look at a host after
    its run find it however slow the machine is (the tests of idle hosts set less)."""
    monkeypatch.setenv("TIDEFLOW_HOST_IDLE_TIMEOUT", "60")


async def _fork_executor() -> ForkExecutor:
    executor = (await current_supervisor()).executor("fork", 2.0)
    assert isinstance(executor, ForkExecutor)
    return executor


async def _run(flow: Path, **params: Any) -> Any:
    running = await Runner(str(flow), show_output=False, executor="fork").async_run(**params)
    await running.wait()
    return running


def _artifact(root: Path, pathspec: str, step: str, name: str) -> Any:
    flow, run_id = pathspec.split("/")
    with metadata_store(root) as store:
        [task] = store.list_tasks(flow, run_id, step)
        [ref] = [
            a for a in store.list_artifacts(flow, run_id, step, task.task_id, 0) if a.name == name
        ]
    return loads(LocalBlobStore(root).get(ref.sha))


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pids: list[int], deadline: float = 10.0) -> list[int]:
    """Wait until every pid is gone (or a zombie); return those that are not."""
    end = time.monotonic() + deadline
    while (left := [pid for pid in pids if not _gone(pid)]) and time.monotonic() < end:
        time.sleep(0.02)
    return left


async def test_runs_of_a_flow_share_one_host(tideflow_root: Path, flows_dir: Path) -> None:
    """Sequential and concurrent runs of one flow in one event loop use a single host."""
    flow = flows_dir / "hello_flow.py"
    first = await _run(flow)
    executor = await _fork_executor()
    [host] = executor.host_pids()
    second = await _run(flow)
    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(_run, flow)
    assert first.status == second.status == "successful"
    assert executor.host_pids() == [host]
    stats = executor.statistics()
    assert stats.hosts_started == 1
    assert stats.hosts == 1
    assert stats.running_tasks == 0


async def test_warm_up_starts_the_host_before_the_first_task(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """A warm-up starts the flow's host in the background; the run's tasks then use that
    host, and a second warm-up of the same flow starts none."""
    flow = flows_dir / "hello_flow.py"
    executor = await _fork_executor()
    where = {
        "flow_source": str(flow),
        "flow_class": "HelloFlow",
        "sys_path": [str(flow.parent)],
        "env": dict(os.environ),
        "cwd": os.getcwd(),
    }
    await executor.warm_up(**where)
    end = time.monotonic() + 60
    while time.monotonic() < end:  # the host says nothing when it is up: poll
        if executor.host_pids():
            break
        await anyio.sleep(0.02)
    await executor.warm_up(**where)
    [host] = executor.host_pids()
    run = await _run(flow)
    assert run.status == "successful"
    assert executor.host_pids() == [host]
    assert executor.statistics().hosts_started == 1


async def test_tasks_are_children_of_the_host_and_isolated(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """Each task is a fresh fork of the host: module state changed by one task is not seen
    by another, and random numbers differ between tasks."""
    flow = flows_dir / "exec_state.py"
    for _ in range(2):
        run = await _run(flow)
        assert run.status == "successful"
        pathspec = run._actor.pathspec
        seen = _artifact(tideflow_root, pathspec, "join", "seen_all")
        assert seen == [[0], [1], [2], [3]]
        draws = _artifact(tideflow_root, pathspec, "join", "draws")
        assert len(set(draws)) == 4
        pids = _artifact(tideflow_root, pathspec, "join", "pids")
        assert len(set(pids)) == 4
        parents = set(_artifact(tideflow_root, pathspec, "join", "parents"))
        assert parents == set((await _fork_executor()).host_pids())


async def test_changed_flow_file_gets_a_new_host(tideflow_root: Path, flows_dir: Path) -> None:
    """Editing the flow file starts a new host for the next run; the old one stops."""
    flow = tideflow_root.parent / "edited_flow.py"
    shutil.copy(flows_dir / "exec_linear.py", flow)
    first = await _run(flow)
    executor = await _fork_executor()
    [old] = executor.host_pids()
    flow.write_text(flow.read_text().replace('"-".join', '"+".join'))
    second = await _run(flow)
    assert first.status == second.status == "successful"
    assert _artifact(tideflow_root, first._actor.pathspec, "end", "final") == "start-a-b"
    assert _artifact(tideflow_root, second._actor.pathspec, "end", "final") == "start+a+b"
    [new] = executor.host_pids()
    assert new != old
    assert _gone(old)
    assert executor.statistics().hosts_started == 2


def test_hosts_stop_when_the_event_loop_ends(
    tideflow_root: Path, flows_dir: Path, anyio_backend_name: str
) -> None:
    """When the loop that ran the supervisor ends, its hosts are gone."""
    before = descendant_pids()
    pids: list[int] = []

    async def main() -> None:
        run = await _run(flows_dir / "hello_flow.py")
        assert run.status == "successful"
        pids.extend((await _fork_executor()).host_pids())

    anyio.run(main, backend=anyio_backend_name)
    assert len(pids) == 1
    assert _gone(pids[0])
    assert host_processes(before) == []


def test_blocking_run_keeps_its_host_until_the_loop_closes(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """Invariant: ``Runner.run()`` leaves its host warm for the next call; closing the
    blocking API's loop (as interpreter exit does) stops the host; a later call starts a
    loop and a host again."""
    before = descendant_pids()
    flow = str(flows_dir / "blocking_parent_flow.py")
    first = Runner(flow, show_output=False, executor="fork").run()
    host = first.run.data.parent_pid
    assert not _gone(host)
    assert wait_no_task_processes(before) == []
    blocking_loop().close()
    deadline = time.monotonic() + 10
    while not _gone(host) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(host)
    again = Runner(flow, show_output=False, executor="fork").run()
    assert again.status == "successful"
    assert again.run.data.parent_pid != host


async def test_flow_that_starts_threads_falls_back_to_spawn(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """A flow whose import starts a thread is not forked: its tasks run like spawn's."""
    run = await _run(flows_dir / "exec_threaded.py")
    assert run.status == "successful"
    stats = (await _fork_executor()).statistics()
    assert stats.hosts == 0
    assert stats.hosts_started == 1


async def test_host_killed_between_runs_is_replaced(tideflow_root: Path, flows_dir: Path) -> None:
    """A host that died while idle is replaced by the next task, which runs normally."""
    flow = flows_dir / "hello_flow.py"
    await _run(flow)
    executor = await _fork_executor()
    [old] = executor.host_pids()
    os.kill(old, signal.SIGKILL)
    assert await anyio.to_thread.run_sync(_wait_gone, [old]) == []
    run = await _run(flow)
    assert run.status == "successful"
    [new] = executor.host_pids()
    assert new != old


async def test_host_killed_during_a_task_fails_the_task(
    tideflow_root: Path, flows_dir: Path, tmp_path: Path
) -> None:
    """If the host dies mid-task, its child dies too and the task fails as a crash."""
    before = descendant_pids()
    pid_file = tmp_path / "pids.txt"
    runner = Runner(str(flows_dir / "exec_slow.py"), show_output=False, executor="fork")
    running = await runner.async_run(pid_file=str(pid_file), go_file=str(tmp_path / "never"))
    await anyio.to_thread.run_sync(wait_for_file, pid_file)
    [host] = (await _fork_executor()).host_pids()
    os.kill(host, signal.SIGKILL)
    with anyio.fail_after(30):
        await running.wait()
    assert running.status == "failed"
    assert "fork host" in running.stderr
    task_pids = [int(p) for p in pid_file.read_text().split()]
    # Killed by the time the run ends; the kernel may take a moment more to end them.
    assert await anyio.to_thread.run_sync(_wait_gone, task_pids) == []
    assert await anyio.to_thread.run_sync(wait_no_task_processes, before) == []


def _spec(flows_dir: Path, root: Path) -> TaskSpec:
    return TaskSpec(
        flow_name="HelloFlow",
        flow_source=str(flows_dir / "hello_flow.py"),
        flow_class="HelloFlow",
        root=str(root),
        run_id="1",
        step="start",
        task_id="1",
        attempt=0,
        parameters={},
        parameters_refs=[],
        inputs=[],
        sys_path=[str(flows_dir)],
    )


class _Sink:
    def __init__(self) -> None:
        self.pid: int | None = None
        self.lines: list[tuple[str, bytes]] = []

    async def started(self, pid: int) -> None:
        self.pid = pid

    async def lines(self, stream: str, lines: list[tuple[float, bytes]]) -> None:
        self.lines.extend((stream, line) for _, line in lines)


def _children(pid: int) -> list[int]:
    """The live children of ``pid`` (a child may end while they are listed)."""
    return [child for child in (p.pid for p in psutil.Process(pid).children()) if not _gone(child)]


def _wait_one_child(host: int, deadline: float = 10.0, *, gone: int | None = None) -> list[int]:
    """The host's children once only one is left (the spare) and ``gone`` (a task that
    reported) is not among them, or all of them at the end."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        children = _children(host)
        if len(children) == 1 and gone not in children:
            break
        time.sleep(0.02)
    return children


async def test_each_task_runs_in_a_child_forked_ahead_of_it(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """Between tasks the host keeps one child waiting, already a session of its own; the
    next task runs in it, with its own output; the spare goes with the host."""
    executor = ForkExecutor(idle_timeout=60)
    try:
        spec = _spec(flows_dir, tideflow_root)
        env = dict(os.environ)
        first = _Sink()
        outcome = await executor.run_task(spec, first, env=env, cwd=str(flows_dir))
        assert outcome.done is not None and outcome.done.ok
        [host] = executor.host_pids()
        # The first task's child may still be leaving, the next spare not forked yet.
        [spare] = await anyio.to_thread.run_sync(
            functools.partial(_wait_one_child, host, gone=first.pid)
        )
        assert spare != first.pid
        assert os.getsid(spare) == spare
        second = _Sink()
        spec = msgspec.structs.replace(spec, task_id="2")
        outcome = await executor.run_task(spec, second, env=env, cwd=str(flows_dir))
        assert outcome.done is not None and outcome.done.ok
        assert second.pid == spare
        [spare] = await anyio.to_thread.run_sync(_wait_one_child, host)
    finally:
        await executor.aclose()
    assert await anyio.to_thread.run_sync(_wait_gone, [host, spare]) == []


@pytest.mark.parametrize("hold_output", [False, True])
async def test_what_a_step_leaves_running_is_stopped(
    tideflow_root: Path, flows_dir: Path, hold_output: bool
) -> None:
    """A process a step started and left running is killed with the task's session, whether
    or not it keeps the task's output open; the task succeeds with its output."""
    runner = Runner(
        str(flows_dir / "exec_leftover.py"),
        show_output=False,
        executor="fork",
        env={"HOLD_OUTPUT": "1" if hold_output else "0"},
    )
    running = await runner.async_run()
    with anyio.fail_after(30):
        await running.wait()
    assert running.status == "successful"
    assert "started the sleeper" in running.stdout
    sleeper = _artifact(tideflow_root, running._actor.pathspec, "start", "sleeper")
    assert await anyio.to_thread.run_sync(_wait_gone, [sleeper]) == []


async def test_idle_host_exits_by_itself(tideflow_root: Path, flows_dir: Path) -> None:
    """A host without tasks for ``idle_timeout`` seconds exits; the next task starts a
    new one."""
    executor = ForkExecutor(idle_timeout=0.2)
    try:
        spec = _spec(flows_dir, tideflow_root)
        env = dict(os.environ)
        outcome = await executor.run_task(spec, _Sink(), env=env, cwd=str(flows_dir))
        assert outcome.done is not None and outcome.done.ok
        assert outcome.returncode == 0
        [host] = executor.host_pids()
        assert await anyio.to_thread.run_sync(_wait_gone, [host], 30.0) == []
        # The event loop learns of the exit once it has reaped the process (on asyncio,
        # a watcher thread's callback): a moment after the process became a zombie.
        end = time.monotonic() + 30
        while time.monotonic() < end:  # the exit says nothing: poll
            if not executor.host_pids():
                break
            await anyio.sleep(0.02)
        assert executor.host_pids() == []
        outcome = await executor.run_task(spec, _Sink(), env=env, cwd=str(flows_dir))
        assert outcome.done is not None and outcome.done.ok
        assert executor.statistics().hosts_started == 2
    finally:
        await executor.aclose()
    assert executor.host_pids() == []


_SUPERVISOR = textwrap.dedent(
    """
    import sys, anyio
    from tideflow import Runner

    async def main():
        runner = Runner(sys.argv[1], show_output=False, executor="fork")
        running = await runner.async_run(pid_file=sys.argv[2], go_file=sys.argv[3])
        async for _, line in running.stream_log("stdout"):
            if line.endswith("waiting for the go file"):
                print("ready", flush=True)
        await anyio.sleep_forever()

    anyio.run(main)
    """
)


def test_killed_supervisor_leaves_no_process(
    tideflow_root: Path, flows_dir: Path, tmp_path: Path
) -> None:
    """SIGKILL of the supervising process ends its host, the task and the task's child."""
    pid_file = tmp_path / "pids.txt"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SUPERVISOR,
            str(flows_dir / "exec_slow.py"),
            str(pid_file),
            str(tmp_path / "never"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        hosts = [
            p.pid for p in psutil.Process(process.pid).children() if "_host" in str(p.cmdline())
        ]
        assert len(hosts) == 1
        pids = [*hosts, *(int(p) for p in pid_file.read_text().split())]
        process.kill()
        process.wait()
        assert _wait_gone(pids) == []
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_import_tideflow_stays_light() -> None:
    """``import tideflow`` (what every flow file, task process and fork host does) loads
    neither anyio nor the client nor the Runner; they load on first use, under their
    public module name."""
    code = (
        "import sys, tideflow\n"
        "heavy = [m for m in ('anyio', 'tideflow._client', 'tideflow._runner') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from tideflow import Runner, Flow, sweep\n"
        "assert Runner.__module__ == Flow.__module__ == sweep.__module__ == 'tideflow'\n"
        "assert 'Runner' in dir(tideflow)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("executor", ["fork", "spawn"])
def test_a_default_run_imports_no_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, executor: str
) -> None:
    """A run with the default stores imports none of the optional extras' packages (nor
    the HTTP client of urllib.request), in the supervisor or in its task processes."""
    monkeypatch.delenv("TIDEFLOW_METADATA_URL", raising=False)
    monkeypatch.delenv("TIDEFLOW_DATASTORE_URL", raising=False)
    extras = ("obstore", "psycopg", "starlette", "hypercorn", "jinja2", "urllib.request")
    code = textwrap.dedent(
        f"""
        import sys
        from tideflow import Runner
        run = Runner(sys.argv[1], show_output=False, executor={executor!r},
                     root=sys.argv[2]).run()
        assert run.status == "successful", run.stderr
        found = [m for m in {extras!r} if m in sys.modules]
        assert not found, found
        """
    )
    flow = tmp_path / "modules_flow.py"
    flow.write_text(
        textwrap.dedent(
            f"""
            import sys
            from tideflow import FlowSpec, step

            class ModulesFlow(FlowSpec):
                @step
                def start(self):
                    self.next(self.end)

                @step
                def end(self):
                    self.found = [m for m in {extras!r} if m in sys.modules]
            """
        )
    )
    root = tmp_path / ".tideflow"
    subprocess.run([sys.executable, "-c", code, str(flow), str(root)], check=True, cwd=tmp_path)
    with metadata_store(root) as store:
        [run] = store.list_runs("ModulesFlow")
        [task] = store.list_tasks("ModulesFlow", run.run_id, "end")
        [ref] = [
            a
            for a in store.list_artifacts("ModulesFlow", run.run_id, "end", task.task_id, 0)
            if a.name == "found"
        ]
    assert loads(LocalBlobStore(root).get(ref.sha)) == []


async def _nothing_left(before: set[int], deadline: float = 5.0) -> list[psutil.Process]:
    """Wait up to ``deadline`` seconds, letting the event loop run, for every host and task
    process started since ``before`` to be gone; return what is left."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:  # the OS sends no event when a process ends: poll
        if not (left := host_processes(before) + task_processes(before)):
            return left
        await anyio.sleep(0.05)
    return host_processes(before) + task_processes(before)


@pytest.mark.parametrize("executor", ["fork", "spawn"])
@pytest.mark.parametrize("end", ["succeeded", "failed", "wait_timeout", "cancelled"])
async def test_no_process_lingers_after_a_run(
    tideflow_root: Path, flows_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    executor: str, end: str,
) -> None:  # fmt: skip
    """Invariant: a few seconds (the default host_idle_timeout, 2) after a run ends, however
    it ends, no tideflow process is left, while the event loop goes on."""
    monkeypatch.delenv("TIDEFLOW_HOST_IDLE_TIMEOUT")
    before = descendant_pids()
    if end in ("succeeded", "failed"):
        env = {"FAIL_STEP": "middle"} if end == "failed" else {}
        runner = Runner(
            str(flows_dir / "fail_linear_flow.py"), show_output=False, env=env, executor=executor
        )
        running = await runner.async_run()
        await running.wait()
        assert running.state.value == end
    else:
        runner = Runner(str(flows_dir / "exec_slow.py"), show_output=False, executor=executor)
        running = await runner.async_run(
            pid_file=str(tmp_path / "pids.txt"), go_file=str(tmp_path / "never")
        )
        await anyio.to_thread.run_sync(wait_for_file, tmp_path / "pids.txt")
        if end == "wait_timeout":
            await running.wait(timeout=0.5)
            assert running.state.value == "timeout"
        else:
            with anyio.move_on_after(0.5):
                await running.wait()
            assert running.state.value == "cancelled"
    assert await _nothing_left(before) == []


async def test_back_to_back_runs_stay_warm(tideflow_root: Path, flows_dir: Path) -> None:
    """With the default idle time, a run that follows another uses its host; the tasks of
    one run share a host even with host_idle_timeout=0, which ends it right after."""
    flow = str(flows_dir / "fail_linear_flow.py")
    before = descendant_pids()
    for _ in range(3):
        running = await Runner(flow, show_output=False, executor="fork").async_run()
        await running.wait()
        assert running.status == "successful"
    executor = await _fork_executor()
    assert executor.statistics().hosts_started == 1
    running = await Runner(
        flow, show_output=False, executor="fork", host_idle_timeout=0
    ).async_run()
    await running.wait()
    assert running.status == "successful"
    assert executor.statistics().hosts_started == 1  # start, middle and end: one host
    assert await _nothing_left(before, deadline=2.0) == []


_IDLE_LOOP_SHUTDOWN = """
import asyncio, gc, sys, time, warnings
warnings.simplefilter("error", ResourceWarning)
import anyio
from tideflow import Runner

flow, root, backend = sys.argv[1:]

async def one(mode):
    runner = Runner(flow, show_output=False, env={"CRASH_MODE": mode}, root=root)
    executing = await runner.async_run()
    await executing.wait()

async def runs():
    async with anyio.create_task_group() as tg:
        tg.start_soon(one, "segv")
        tg.start_soon(one, "exit")

if backend == "asyncio":
    # Like a module-wide test loop: the loop is not running for longer than the hosts'
    # idle timeout, so their watchers wake up only when it runs again.
    with asyncio.Runner() as loop:
        loop.run(runs())
        time.sleep(0.5)
        # The watchers start to close their hosts; the loop stops (and is shut down, its
        # tasks cancelled) while they do.
        loop.run(asyncio.sleep(0.005))
else:
    anyio.run(runs, backend=backend)
gc.collect()
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_hosts_are_closed_when_an_idle_loop_shuts_down(
    backend: str, flows_dir: Path, tmp_path: Path
) -> None:
    """Each host process is stopped and closed by its owner when the event loop ends, even
    if its idle timer fires during the shutdown: nothing is left to the garbage collector."""
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "dev",
            "-W",
            "error::ResourceWarning",
            "-c",
            _IDLE_LOOP_SHUTDOWN,
            str(flows_dir / "fail_crash_flow.py"),
            str(tmp_path / ".tideflow"),
            backend,
        ],
        env={**os.environ, "TIDEFLOW_USER": "tester", "TIDEFLOW_HOST_IDLE_TIMEOUT": "0.1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "ResourceWarning" not in result.stderr, result.stderr
    assert "is still running" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr

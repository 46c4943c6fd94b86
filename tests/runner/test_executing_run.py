"""ExecutingRun: status, output, stream_log positions, wait, and stopping a run cleanly.

Runs are real: flows from ``tests/flows`` run in task processes. The tests that stop a
run check the process tree afterwards: the task processes (each leads its own process
group) and a ``sleep 60`` started by a step must all be gone.
"""

from __future__ import annotations

import gc
import re
from typing import TYPE_CHECKING

import anyio
import pytest
from anyio.from_thread import start_blocking_portal
from runner_helpers import alive, copy_flow, task_pids, wait_gone

from executors import executor
from stored_runs import metadata_store
from tideflow import ExecutingRun, Runner

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("executor",)


def stored_status(root: Path, running: ExecutingRun) -> str:
    flow, run_id = running.pathspec.split("/")
    with metadata_store(root) as store:
        return store.get_run(flow, run_id).status


async def _pids_of_hanging_run(running: ExecutingRun) -> set[int]:
    """Read the console until the step has started its grandchild; return every pid seen."""
    async for _, line in running.stream_log("stdout"):
        if match := re.search(r"grandchild (\d+)", line):
            return task_pids(running.stdout) | {int(match.group(1))}
    raise AssertionError(f"the step never started its grandchild:\n{running.stderr}")


@pytest.fixture
def hanging(workdir: Path, flows_dir: Path) -> str:
    """A flow whose step starts ``sleep 60`` and then hangs."""
    return copy_flow(flows_dir, workdir, "runner_grandchild")


# -- what a run shows -------------------------------------------------------------------


async def test_no_public_constructor() -> None:
    with pytest.raises(TypeError, match=r"^ExecutingRun has no public constructor"):
        ExecutingRun()


async def test_status_while_running_and_after(workdir: Path, tideflow_root: Path) -> None:
    running = await Runner("slowflow.py").async_run(seconds=1)
    async with running:
        assert (running.status, running.returncode, running.state.value) == (
            "running",
            None,
            "running",
        )
        assert repr(running) == f"<ExecutingRun {running.pathspec} status=running>"
        assert await running.wait() is running
        assert (running.status, running.returncode, running.state.value) == (
            "successful",
            0,
            "succeeded",
        )
        assert stored_status(tideflow_root, running) == "succeeded"
        assert running.stdout.startswith("tideflow ")
        assert "0 seconds passed" in running.stdout
        assert running.stdout.endswith(f"Done! See the run with Run('{running.pathspec}').\n")
        assert running.stderr == ""
        assert running.run.data.secs == 1
        assert running.run.successful


async def test_failing_flow(workdir: Path, flows_dir: Path, tideflow_root: Path) -> None:
    flow = copy_flow(flows_dir, workdir, "runner_failflow")
    async with await Runner(flow).async_run() as running:
        await running.wait()
    assert (running.status, running.returncode) == ("failed", 1)
    assert stored_status(tideflow_root, running) == "failed"
    assert "about to fail" in running.stderr
    assert "ValueError: the start step fails on purpose" in running.stderr
    assert "Workflow failed." in running.stderr
    assert not running.run.successful


def test_failing_flow_blocking(workdir: Path, flows_dir: Path) -> None:
    flow = copy_flow(flows_dir, workdir, "runner_failflow")
    with Runner(flow, show_output=False).run() as running:
        assert (running.status, running.returncode) == ("failed", 1)


# -- stream_log ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
async def test_resume_from_every_position(workdir: Path, flows_dir: Path, stream: str) -> None:
    """Resuming from any yielded position gives exactly the lines after it, and the
    positions are byte offsets into the stream (non-ASCII lines included)."""
    flow = copy_flow(flows_dir, workdir, "runner_chatty")
    async with await Runner(flow).async_run(lines=15) as running:
        await running.wait()
    everything = [item async for item in running.stream_log(stream)]
    assert len(everything) >= 15
    data = getattr(running, stream).encode()
    start = 0
    for position, line in everything:
        assert data[start:position] == f"{line}\n".encode()
        start = position
    assert start == len(data)
    for index, (position, _) in enumerate(everything):
        rest = [item async for item in running.stream_log(stream, position=position)]
        assert rest == everything[index + 1 :]
    assert [item async for item in running.stream_log(stream, position=0)] == everything


async def test_resume_streaming_during_the_run(workdir: Path) -> None:
    """Stop reading mid-run and resume from the last position: nothing lost, nothing twice."""
    async with await Runner("slowflow.py", quiet=True).async_run(seconds=6) as running:
        seen: list[tuple[int, str]] = []
        async for item in running.stream_log("stdout"):
            seen.append(item)
            if item[1].endswith("1 seconds passed"):
                break
        assert running.status == "running"
        position = seen[-1][0]
        seen += [item async for item in running.stream_log("stdout", position=position)]
        assert running.status == "successful"
    assert seen == [item async for item in running.stream_log("stdout")]
    passed = [line for _, line in seen if line.endswith("seconds passed")]
    assert len(passed) == 6


async def test_stream_log_checks_its_arguments_at_once(workdir: Path) -> None:
    async with await Runner("slowflow.py").async_run(seconds=0) as running:
        with pytest.raises(ValueError, match=r"^stream_log\(\): stream must be 'stdout' or"):
            running.stream_log("stdin")
        with pytest.raises(TypeError, match=r"^stream_log\(position=\.\.\.\) takes an int"):
            running.stream_log("stdout", position="3")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"^stream_log\(position=\.\.\.\) must be at"):
            running.stream_log("stdout", position=-1)
        with pytest.raises(ValueError, match=r"^wait\(\): stream must be 'stdout' or"):
            await running.wait(stream="both")
        with pytest.raises(TypeError, match=r"^wait\(timeout=\.\.\.\) takes a number"):
            await running.wait(timeout="1")  # type: ignore[arg-type]
        await running.wait()


async def test_wait_echoes_the_stream(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    running = await Runner("slowflow.py").async_run(seconds=2)
    async with running:
        await running.wait(stream="stdout")
    assert capsys.readouterr().out == running.stdout
    # Once the run has ended, the stream is echoed whole.
    await running.wait(stream="stderr")
    assert capsys.readouterr().out == running.stderr


async def test_unfinished_iterators_need_no_closing(workdir: Path) -> None:
    """The guide's aiter/anext pattern leaves an iterator unfinished: no warning follows."""
    async with await Runner("slowflow.py").async_run(seconds=1) as running:
        first = await anext(aiter(running.stream_log("stdout")))
        assert first[1].startswith("tideflow ")
        await running.wait()
    gc.collect()


# -- stopping a run -------------------------------------------------------------------------


async def test_wait_timeout_stops_the_process_tree(
    hanging: str, executor: str, tideflow_root: Path
) -> None:
    """Invariant: after wait(timeout) the task processes and the grandchild are gone, and
    the run's stored state is ``timeout``."""
    running = await Runner(hanging).async_run()
    pids = await _pids_of_hanging_run(running)
    assert all(alive(pid) for pid in pids)
    with anyio.fail_after(10):
        assert await running.wait(timeout=0.05) is running
    assert (running.status, running.returncode) == ("timeout", -15)
    assert stored_status(tideflow_root, running) == "timeout"
    assert wait_gone(pids) == set()
    assert "Workflow timed out" in running.stderr


async def test_cancelling_the_caller_stops_the_run(
    hanging: str, executor: str, tideflow_root: Path
) -> None:
    """Invariant: when the caller's scope is cancelled mid-run, wait() stops the run before
    it returns: processes gone, stored state ``cancelled``."""
    running = await Runner(hanging).async_run()
    pids = await _pids_of_hanging_run(running)
    with anyio.move_on_after(0.05) as scope:
        await running.wait()
    assert scope.cancelled_caught
    assert running.state.value == "cancelled"
    assert (running.status, running.returncode) == ("failed", -2)
    assert stored_status(tideflow_root, running) == "cancelled"
    assert wait_gone(pids) == set()


async def test_leaving_async_with_stops_the_run(hanging: str, tideflow_root: Path) -> None:
    """Invariant: leaving ``async with`` mid-run (here by cancellation) returns only once
    the run has stopped."""
    with anyio.fail_after(10), anyio.CancelScope() as scope:
        async with await Runner(hanging).async_run() as running:
            pids = await _pids_of_hanging_run(running)
            scope.cancel()
            await anyio.sleep_forever()
    assert running.state.value == "cancelled"
    assert stored_status(tideflow_root, running) == "cancelled"
    assert wait_gone(pids) == set()


async def test_leaving_with_asks_the_run_to_stop(hanging: str, tideflow_root: Path) -> None:
    """Invariant: leaving a sync ``with`` mid-run asks the run to stop; it ends soon after
    with state ``cancelled``."""
    with await Runner(hanging).async_run() as running:
        pids = await _pids_of_hanging_run(running)
    with anyio.fail_after(10):
        await running.wait()
    assert running.state.value == "cancelled"
    assert wait_gone(pids) == set()


def test_the_end_of_the_event_loop_stops_the_run(
    hanging: str, anyio_backend: str, tideflow_root: Path
) -> None:
    """Invariant: a run still going when its event loop ends is stopped before the loop
    closes: processes gone, stored state ``cancelled``, status ``failed``."""
    pids: set[int] = set()

    async def main() -> ExecutingRun:
        running = await Runner(hanging).async_run()
        pids.update(await _pids_of_hanging_run(running))
        return running

    running = anyio.run(main, backend=anyio_backend)
    assert (running.status, running.state.value) == ("failed", "cancelled")
    assert stored_status(tideflow_root, running) == "cancelled"
    assert "Workflow cancelled" in running.stderr
    assert wait_gone(pids) == set()


async def test_dropping_a_running_run_warns(workdir: Path) -> None:
    holder = [await Runner("slowflow.py").async_run(seconds=1)]
    pathspec, actor = holder[0].pathspec, holder[0]._actor
    with pytest.warns(ResourceWarning, match=rf"^ExecutingRun {pathspec} was garbage collected"):
        holder.clear()
    await actor.stop()


async def test_waiting_from_another_event_loop(workdir: Path) -> None:
    """A running run belongs to the loop that started it; elsewhere, a clear error."""
    runner = Runner("slowflow.py")
    with start_blocking_portal() as portal:
        running = portal.call(lambda: runner.async_run(seconds=20))
        with pytest.raises(RuntimeError, match=r"^ExecutingRun.wait\(\) was called outside"):
            await running.wait()
        with pytest.raises(RuntimeError, match=r"^ExecutingRun.stream_log\(\) was called"):
            running.stream_log("stdout")
        # Leaving a sync ``with`` from another thread still reaches the run.
        await anyio.to_thread.run_sync(running.__exit__, None, None, None)
        portal.call(running.wait)
        assert running.state.value == "cancelled"
    # Once the run has ended, any loop may read it.
    lines = [line async for _, line in running.stream_log("stderr")]
    assert lines[-1].endswith("Workflow cancelled: its tasks were stopped.")

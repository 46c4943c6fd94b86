"""Runner: what it accepts, what it refuses at once, and many runs at the same time."""

from __future__ import annotations

import os
import re
import sys
import time
from typing import TYPE_CHECKING

import anyio
import pytest
from runner_helpers import copy_flow

from executors import executor
from stored_runs import metadata_store
from tideflow import ExecutingRun, Runner
from tideflow._exceptions import FlowDefinitionError, FlowFileNotFound

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("executor",)

BROKEN_FLOWS = {
    "syntax": (
        "from tideflow import FlowSpec, step\nclass Broken(FlowSpec)\n    pass\n",
        r"line 2: The flow file does not parse",
    ),
    "import": (
        "import not_a_module_anywhere\n",
        (
            r"Importing the flow file failed: ModuleNotFoundError: No module named "
            r"'not_a_module_anywhere'"
        ),
    ),
    "graph": (
        (
            "from tideflow import FlowSpec, step\n"
            "class Broken(FlowSpec):\n"
            "    @step\n"
            "    def start(self):\n"
            "        self.next(self.nowhere)\n"
            "    @step\n"
            "    def end(self):\n"
            "        pass\n"
        ),
        r"Step 'start' specifies a self.next\(\) transition to an unknown step, 'nowhere'",
    ),
}


def runs_in_store(root: Path) -> int:
    if not (root / "metadata.db").exists():
        return 0
    with metadata_store(root) as store:
        return sum(len(store.list_runs(flow)) for flow in ("SlowFlow", "Broken"))


# -- refused before anything starts ---------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(BROKEN_FLOWS))
async def test_broken_flow_fails_at_once(workdir: Path, tideflow_root: Path, kind: str) -> None:
    """A flow that cannot load raises from async_run and run with its own error text,
    without waiting for file_read_timeout, and no run is created."""
    text, message = BROKEN_FLOWS[kind]
    (workdir / "broken.py").write_text(text)
    runner = Runner("broken.py", file_read_timeout=3600)
    started = time.monotonic()
    with pytest.raises(FlowDefinitionError, match=message):
        await runner.async_run()
    with pytest.raises(FlowDefinitionError, match=message):
        await anyio.to_thread.run_sync(runner.run)
    assert time.monotonic() - started < 5
    assert runs_in_store(tideflow_root) == 0


async def test_unknown_arguments(workdir: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"^Unknown option 'pylnt' for Runner\(\): valid options are branch, config, "
        r"config_value, dask_address, datastore, datastore_url, decospecs, environment, "
        r"executor, host_idle_timeout, metadata, metadata_url, production, progress, pylint, "
        r"quiet, "
        r"root, task_limit, username\.$",
    ):
        Runner("slowflow.py", pylnt=False)
    with pytest.raises(
        ValueError,
        match=r"^Unknown argument 'secs' for SlowFlow.run\(\): valid arguments are seconds, "
        r"max_num_splits, max_workers, run_id_file, tags, user_namespace\.$",
    ):
        await Runner("slowflow.py").async_run(secs=3)
    with pytest.raises(ValueError, match=r"^Unknown argument 'seconds' for SlowFlow.resume\(\)"):
        await Runner("slowflow.py").async_resume(seconds=3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"seconds": "3"}, r"^Parameter 'seconds' takes a value of type int, got str"),
        ({"seconds": 2.5}, r"^Parameter 'seconds' takes a value of type int, got float"),
        ({"max_workers": "2"}, r"^SlowFlow.run\(\): 'max_workers' must be int, not str"),
        ({"tags": [1]}, r"^SlowFlow.run\(\): tags are strings, not int: 1\.$"),
        ({"tags": 7}, r"^SlowFlow.run\(\): 'tags' must be list, tuple or str, not int"),
    ],
)
async def test_wrong_types_fail_before_anything_starts(
    workdir: Path, tideflow_root: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        await Runner("slowflow.py").async_run(**options)
    assert runs_in_store(tideflow_root) == 0


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"pylint": "no"}, TypeError, r"^Runner\(\): 'pylint' must be bool, not str"),
        ({"show_output": 1}, TypeError, r"^Runner\(show_output=\.\.\.\) takes a bool"),
        ({"env": {"X": 1}}, TypeError, r"^Runner\(env=\.\.\.\) takes a dict of str to str"),
        ({"cwd": "no/such/dir"}, ValueError, r"^Runner\(cwd=\.\.\.\): 'no/such/dir' is not a"),
        ({"file_read_timeout": 0}, ValueError, r"^Runner\(file_read_timeout=\.\.\.\) must be"),
        (
            {"executor": "thread"},
            ValueError,
            r"^Runner\(\): executor must be 'spawn', 'fork' or 'dask'",
        ),
        ({"metadata": "service"}, ValueError, r"^Runner\(\): metadata='service' is not"),
    ],
)
def test_runner_checks_its_options(
    workdir: Path, options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Runner("slowflow.py", **options)  # type: ignore[arg-type]


def test_runner_checks_the_flow_argument() -> None:
    with pytest.raises(TypeError, match=r"^Runner\(\) takes a flow file path, a FlowSpec"):
        Runner(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^Runner\(\) takes a FlowSpec subclass, not"):
        Runner(dict)  # type: ignore[arg-type]


def test_a_missing_flow_file_is_a_file_not_found_error(workdir: Path) -> None:
    """Runner('missing.py') raises FileNotFoundError (a tideflow error too) naming the
    file, before any run starts."""
    path = re.escape(str(workdir / "missing.py"))
    with pytest.raises(FileNotFoundError, match=rf"^Flow file {path} does not exist\. ") as info:
        Runner("missing.py")
    assert isinstance(info.value, FlowFileNotFound)
    assert info.value.filename == str(workdir / "missing.py")
    assert runs_in_store(workdir / ".tideflow") == 0


async def test_a_flow_file_deleted_before_the_run(workdir: Path) -> None:
    """A flow file that vanished between Runner() and async_run() gives the same error."""
    flow = workdir / "gone.py"
    flow.write_text((workdir / "slowflow.py").read_text())
    runner = Runner(str(flow))
    flow.unlink()
    with pytest.raises(FileNotFoundError, match=rf"^Flow file {re.escape(str(flow))} "):
        await runner.async_run()


async def test_file_read_timeout(workdir: Path) -> None:
    """A flow that takes longer to load than file_read_timeout: TimeoutError, promptly."""
    (workdir / "sluggish.py").write_text("import time\ntime.sleep(1)\n")
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"did not start within file_read_timeout=0\.2 "):
        await Runner("sluggish.py", file_read_timeout=0.2).async_run()
    assert time.monotonic() - started < 0.9


# -- what runs --------------------------------------------------------------------------------


async def test_flow_class_and_module_reference(
    workdir: Path, flows_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond the reference: a FlowSpec subclass, or ``"module:Class"``."""
    monkeypatch.syspath_prepend(str(flows_dir))
    from runner_slowflow import SlowFlow

    for flow in (SlowFlow, "runner_slowflow:SlowFlow"):
        async with await Runner(flow).async_run(seconds=1) as running:
            await running.wait()
        assert running.status == "successful", running.stderr
        assert running.run.data.secs == 1
    with pytest.raises(FlowDefinitionError, match=r"^Cannot import module 'no_such_module'"):
        await Runner("no_such_module:Flow").async_run()


async def test_quiet_cwd_and_run_id_file(
    workdir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "slowflow.py").write_bytes((workdir / "slowflow.py").read_bytes())
    runner = Runner("slowflow.py", cwd=elsewhere, quiet=True)
    async with await runner.async_run(seconds=1, run_id_file="run-id") as running:
        await running.wait()
    assert running.status == "successful"
    assert not running.stdout.startswith("tideflow ")
    assert "Done!" not in running.stdout
    assert (elsewhere / "run-id").read_text() == running.pathspec.split("/")[1]


async def test_two_runners_with_different_env(
    workdir: Path, flows_dir: Path, executor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run sees its own ``env``; os.environ is left alone."""
    monkeypatch.delenv("X", raising=False)
    flow = copy_flow(flows_dir, workdir, "runner_envflow")
    before = dict(os.environ)
    first = await Runner(flow, env={"X": "first"}).async_run()
    second = await Runner(flow, env={"X": "second"}).async_run()
    third = await Runner(flow).async_run()
    for running, value in ((first, "first"), (second, "second"), (third, "<unset>")):
        async with running:
            await running.wait()
        assert f"X={value}\n" in running.stdout
        assert running.run.data.x == value
    assert dict(os.environ) == before


async def test_twenty_concurrent_runs(workdir: Path, executor: str, anyio_backend: str) -> None:
    if (executor, anyio_backend) == ("spawn", "trio"):
        pytest.skip("40 fresh interpreters take seconds: spawn is tested on asyncio only")
    results: list[ExecutingRun] = []

    async def one(index: int) -> None:
        async with await Runner("slowflow.py", quiet=True).async_run(seconds=index % 3) as running:
            await running.wait()
        results.append(running)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for index in range(20):
                tg.start_soon(one, index)
    assert [running.status for running in results] == ["successful"] * 20
    assert len({running.pathspec for running in results}) == 20


async def test_runner_context_managers(workdir: Path) -> None:
    async with Runner("slowflow.py") as runner:
        running = await runner.async_run(seconds=0)
        await running.wait()
    with Runner("slowflow.py") as runner:
        assert repr(runner) == "<Runner 'slowflow.py'>"
    assert running.status == "successful"
    assert sys.modules.get("slowflow") is None

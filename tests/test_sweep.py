"""tideflow.sweep and the limits every run of a supervisor shares."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import anyio
import pytest

import tideflow
from executors import descendant_pids, wait_no_task_processes
from tideflow import Runner, sweep
from tideflow._exceptions import TideflowError
from tideflow._supervisor._supervisor import current_supervisor

if TYPE_CHECKING:
    from pathlib import Path


def _runner(flows_dir: Path, name: str = "exec_overlap.py", **options: Any) -> Runner:
    return Runner(str(flows_dir / name), show_output=False, **options)


async def test_every_combination_of_a_grid_runs(tideflow_root: Path, flows_dir: Path) -> None:
    """A mapping of value lists runs every combination once; each run is finished when
    the caller gets it."""
    grid = {"n": [1, 2, 3], "label": ["a", "b"], "pause": [0.0]}
    results = []
    async with sweep(_runner(flows_dir), grid, max_concurrent=3) as runs:
        async for run in runs:
            assert run.status == "successful"
            results.append(run.run.data.result)
    assert sorted(results) == ["a:1", "a:2", "a:3", "b:1", "b:2", "b:3"]


async def test_runs_are_started_with_backpressure(tideflow_root: Path, flows_dir: Path) -> None:
    """At most ``max_concurrent`` runs exist that the caller has not taken yet."""
    supervisor = await current_supervisor()
    grid = ({"n": 1, "pause": 0.01, "label": str(i)} for i in range(7))
    seen = []
    async with sweep(_runner(flows_dir), grid, max_concurrent=2) as runs:
        async for run in runs:
            assert supervisor.statistics().runs <= 2
            seen.append(run.run.data.result)
    assert sorted(seen) == sorted(f"{i}:1" for i in range(7))
    assert supervisor.statistics().runs == 0


async def test_failed_runs_are_yielded(tideflow_root: Path, flows_dir: Path) -> None:
    """A run that fails is handed over like the others, with its status."""
    grid = {"how": ["raise", "none"]}
    statuses = []
    async with sweep(_runner(flows_dir, "exec_crash.py"), grid) as runs:
        statuses.extend([run.status async for run in runs])
    assert sorted(statuses) == ["failed", "successful"]


async def test_leaving_early_stops_the_other_runs(tideflow_root: Path, flows_dir: Path) -> None:
    """Leaving the block after the first run stops the runs still running; no task
    process stays and no run is left running."""
    before = descendant_pids()
    grid = [{"n": 1, "pause": 0.0, "label": "quick"}] + [
        {"n": 2, "pause": 30.0, "label": f"slow{i}"} for i in range(3)
    ]
    async with sweep(_runner(flows_dir), grid, max_concurrent=4) as runs:
        async for run in runs:
            assert run.run.data.result == "quick:1"
            break
    assert (await current_supervisor()).statistics().runs == 0
    assert await anyio.to_thread.run_sync(wait_no_task_processes, before) == []


async def test_a_bad_parameter_set_raises_and_stops_the_sweep(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """An invalid parameter set raises its own error (not an exception group) at once."""
    grid = [{"n": 1, "pause": 30.0}, {"no_such_parameter": 1}]
    with pytest.raises(ValueError, match=r"^Unknown argument 'no_such_parameter'"):
        async with sweep(_runner(flows_dir), grid) as runs:
            async for _ in runs:
                pass
    assert (await current_supervisor()).statistics().runs == 0


async def test_an_empty_grid_yields_nothing(tideflow_root: Path, flows_dir: Path) -> None:
    """No parameter sets, no runs."""
    async with sweep(_runner(flows_dir), []) as runs:
        assert [run async for run in runs] == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_concurrent": 0}, ValueError, r"^sweep\(\): max_concurrent must be at least 1"),
        ({"max_concurrent": 1.5}, TypeError, r"^sweep\(\): max_concurrent must be an int"),
    ],
)
async def test_bad_sweep_arguments(
    flows_dir: Path, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    """Wrong arguments are refused before any run starts."""
    with pytest.raises(error, match=match):
        async with sweep(_runner(flows_dir), [{}], **kwargs):
            pass


async def test_a_grid_value_must_be_a_list(flows_dir: Path) -> None:
    """A single value where a list belongs is refused with the fix."""
    with pytest.raises(TypeError, match=r"^sweep\(\): grid\['label'\] must be a list"):
        async with sweep(_runner(flows_dir), {"label": "abc"}):
            pass


def _overlaps(spans: list[tuple[float, float]]) -> bool:
    spans = sorted(spans)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


async def test_task_limit_is_shared_by_all_runs(tideflow_root: Path, flows_dir: Path) -> None:
    """With ``task_limit=1`` no two tasks run at once, within a run or across runs."""
    runner = _runner(flows_dir, task_limit=1)
    spans: list[tuple[float, float]] = []

    async def one(label: str) -> None:
        running = await runner.async_run(n=3, pause=0.05, label=label)
        await running.wait()
        assert running.status == "successful"
        spans.extend(running.run.data.spans)

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, "a")
        tg.start_soon(one, "b")
    assert len(spans) == 6
    assert not _overlaps(spans)
    stats = (await current_supervisor()).statistics()
    assert stats.task_cap == 1


async def test_task_limit_default_allows_parallel_tasks(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """Without a limit set, tasks of a foreach run side by side."""
    running = await _runner(flows_dir).async_run(n=4, pause=0.5)
    await running.wait()
    assert _overlaps(running.run.data.spans)
    assert (await current_supervisor()).statistics().task_cap >= 4


def test_task_limit_must_be_positive(tideflow_root: Path, flows_dir: Path) -> None:
    """``task_limit`` below 1 is refused before the run starts."""
    with pytest.raises(ValueError, match=r"^task_limit must be at least 1, got 0\.$"):
        _runner(flows_dir, task_limit=0).run()


def test_task_limit_from_the_environment(
    tideflow_root: Path, flows_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``TIDEFLOW_TASK_LIMIT`` sets the limit; a value that is not an integer is refused."""
    monkeypatch.setenv("TIDEFLOW_TASK_LIMIT", "many")
    with pytest.raises(TideflowError, match=r"^TIDEFLOW_TASK_LIMIT must be an integer"):
        _runner(flows_dir).run()
    # The cap is set by the first run of an event loop, and blocking calls share one loop
    # per process: start a fresh process, as a user's script is.
    import subprocess
    import sys

    monkeypatch.setenv("TIDEFLOW_TASK_LIMIT", "1")
    script = (
        "import sys; from tideflow import Runner; "
        "run = Runner(sys.argv[1], show_output=False).run(n=3, pause=0.05); "
        "assert run.status == 'successful', run.status"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(flows_dir / "exec_overlap.py")],
        check=True,
        capture_output=True,
    )
    run = tideflow.Flow("ExecOverlapFlow").latest_run
    assert run is not None and run.successful
    assert not _overlaps(run.data.spans)


def test_sweep_is_exported() -> None:
    """``tideflow.sweep`` is public."""
    assert tideflow.sweep is sweep
    assert sweep.__module__ == "tideflow"


def test_task_limit_applies_on_the_command_line(
    tideflow_root: Path, flows_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``TIDEFLOW_TASK_LIMIT`` holds for ``python flow.py run`` too."""
    import subprocess
    import sys

    monkeypatch.setenv("TIDEFLOW_TASK_LIMIT", "1")
    command = [sys.executable, str(flows_dir / "exec_overlap.py"), "--quiet", "run"]
    subprocess.run([*command, "--n", "3", "--pause", "0.05"], check=True, capture_output=True)
    run = tideflow.Flow("ExecOverlapFlow").latest_run
    assert run is not None and run.successful
    assert not _overlaps(run.data.spans)

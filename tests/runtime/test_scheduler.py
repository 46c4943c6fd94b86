"""The scheduler, end to end: real task processes (spawn executor), real stores.

Each flow of ``tests/flows`` runs once per anyio backend; all of them run at the same time
in one module-scoped fixture, and the tests read what the runs stored: tasks, attempts,
artifact values, the console lines.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from executors import executor  # noqa: F401  (fixture)
from stored_runs import metadata_store
from tideflow import Runner
from tideflow._config import load_config
from tideflow._datastore._artifacts import dumps, loads
from tideflow._datastore._cas import LocalBlobStore
from tideflow._exceptions import TaskFailed
from tideflow._flow._parameter import ParameterContext, resolve_parameters
from tideflow._messages import ArtifactRef
from tideflow._metadata import AttemptRecord
from tideflow._runtime._loader import load_flow
from tideflow._runtime._recorder import Recorder
from tideflow._runtime._scheduler import RunPlan, Scheduler
from tideflow._stores._bundle import open_stores
from tideflow._worker._spawn import SpawnExecutor

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

FLOWS = Path(__file__).resolve().parent.parent / "flows"
USER = "tester"


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Module-scoped, so that the flows run once per backend, not once per test."""
    backend: str = request.param
    return backend


class Lines:
    """A console that keeps the lines it is given."""

    def __init__(self) -> None:
        self.streams: dict[str, list[str]] = {"stdout": [], "stderr": []}

    async def write(self, stream: str, lines: list[str]) -> None:
        self.streams[stream].extend(lines)


@dataclass
class StoredTask:
    step: str
    task_id: str
    index: int | None
    parents: tuple[str, ...]
    attempts: list[AttemptRecord]
    artifacts: dict[str, Any]

    @property
    def state(self) -> str:
        return self.attempts[-1].state


@dataclass
class Outcome:
    ok: bool
    run_id: str
    failures: list[TaskFailed]
    console: Lines
    steps: dict[str, list[StoredTask]] = field(default_factory=dict)

    def only(self, step: str) -> StoredTask:
        (task,) = self.steps[step]
        return task


def read_run(root: Path, flow: str, run_id: str) -> dict[str, list[StoredTask]]:
    """Every task of a run with its attempts and the artifact values of its last attempt."""
    blobs = LocalBlobStore(root)
    steps: dict[str, list[StoredTask]] = {}
    with metadata_store(root) as store:
        for step in store.list_steps(flow, run_id):
            tasks = []
            for task in store.list_tasks(flow, run_id, step.step):
                attempts = store.list_attempts(flow, run_id, step.step, task.task_id)
                records = store.list_artifacts(
                    flow, run_id, step.step, task.task_id, attempts[-1].attempt
                )
                values = {r.name: loads(blobs.get(r.sha), r.name) for r in records}
                tasks.append(
                    StoredTask(
                        step.step,
                        task.task_id,
                        task.index,
                        task.parent_pathspecs,
                        attempts,
                        values,
                    )
                )
            steps[step.step] = sorted(tasks, key=lambda t: (t.index or 0, int(t.task_id)))
    return steps


async def run_flow(
    root: Path,
    file: str,
    parameters: dict[str, Any] | None = None,
    *,
    max_workers: int = 16,
    max_num_splits: int = 100,
) -> Outcome:
    """Run a flow of ``tests/flows`` with a Scheduler of its own; return what it stored."""
    loaded = load_flow(FLOWS / file)
    names = list(loaded.cls._tf_parameters())
    values = resolve_parameters(
        loaded.cls._tf_parameters(),
        parameters or {},
        from_text=False,
        context=ParameterContext(loaded.name, USER, names),
    )
    blobs = LocalBlobStore(root)
    refs = []
    for name, value in values.items():
        data = dumps(value, name)
        refs.append(ArtifactRef(name, blobs.put(data), len(data)))
    console = Lines()
    stores = open_stores(load_config(root=str(root)))
    metadata = stores.metadata
    try:
        record = await anyio.to_thread.run_sync(
            lambda: metadata.create_run(loaded.name, user=USER, system_tags=(f"user:{USER}",))
        )
        plan = RunPlan(
            flow_name=loaded.name,
            flow_source=loaded.source,
            flow_class=loaded.cls.__name__,
            run_id=record.run_id,
            root=str(root),
            username=USER,
            namespace=f"user:{USER}",
            tags=record.system_tags,
            parameters=values,
            parameters_refs=refs,
            max_workers=max_workers,
            max_num_splits=max_num_splits,
            env=dict(os.environ),
            cwd=str(root.parent),
            sys_path=loaded.sys_path,
        )
        recorder = Recorder(stores, console)
        scheduler = Scheduler(
            plan, loaded.graph, stores=stores, executor=SpawnExecutor(), events=recorder
        )
        async with anyio.create_task_group() as tg:
            await tg.start(recorder.run)
            ok = await scheduler.run()
            await recorder.aclose()
    finally:
        stores.close()
    steps = read_run(root, loaded.name, record.run_id)
    return Outcome(ok, record.run_id, list(scheduler.failures), console, steps)


RUNS: dict[str, tuple[str, dict[str, Any], dict[str, int]]] = {
    "linear": ("flow_linear.py", {}, {}),
    "branches": ("flow_branches.py", {}, {}),
    "foreach": ("flow_foreach.py", {"count": 4}, {}),
    "nested": ("flow_nested_foreach.py", {}, {}),
    "failing": ("flow_failing.py", {}, {}),
    "conflict": ("flow_conflict.py", {}, {}),
    "one_worker": ("flow_foreach.py", {"count": 3}, {"max_workers": 1}),
    "too_many_splits": ("flow_foreach.py", {"count": 5}, {"max_num_splits": 3}),
    "empty_foreach": ("flow_foreach.py", {"count": 0}, {}),
}


@pytest.fixture(scope="module")
async def runs(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Outcome]]:
    """Every run of RUNS, started together in one store."""
    root = tmp_path_factory.mktemp("scheduler") / ".tideflow"
    outcomes: dict[str, Outcome] = {}

    async def one(key: str) -> None:
        file, parameters, options = RUNS[key]
        outcomes[key] = await run_flow(root, file, parameters, **options)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for key in RUNS:
                tg.start_soon(one, key)
    yield outcomes


async def test_linear_steps_pass_artifacts_along(runs: dict[str, Outcome]) -> None:
    outcome = runs["linear"]
    assert outcome.ok
    assert outcome.failures == []
    assert list(outcome.steps) == ["end", "middle", "start"]  # newest first
    start, middle, end = (outcome.only(step) for step in ("start", "middle", "end"))
    assert {k: v for k, v in start.artifacts.items() if k != "seen"} == {
        "x": 1,
        "keep": "kept",
        "gone": "deleted in middle",
    }
    # Names starting with "_" are not stored, and so not seen by the next step.
    assert "_private" not in start.artifacts
    assert middle.artifacts["had_private"] is False
    # A replaced artifact takes its new value; a deleted one is gone from then on.
    assert middle.artifacts["x"] == 2
    assert "gone" not in middle.artifacts
    assert middle.artifacts["keep"] == "kept"
    assert end.artifacts["total"] == 20
    assert end.artifacts["still_gone"] is True
    assert end.artifacts["keep"] == "kept"
    for task in (start, middle, end):
        assert task.state == "succeeded"
        assert len(task.attempts) == 1
    assert middle.parents == (f"LinearFlow/{outcome.run_id}/start/{start.task_id}",)


async def test_current_inside_tasks(runs: dict[str, Outcome]) -> None:
    outcome = runs["linear"]
    for step in ("start", "middle", "end"):
        task = outcome.only(step)
        assert task.artifacts["seen"] == {
            "flow_name": "LinearFlow",
            "run_id": outcome.run_id,
            "step_name": step,
            "task_id": task.task_id,
            "pathspec": f"LinearFlow/{outcome.run_id}/{step}/{task.task_id}",
            "retry_count": 0,
            "origin_run_id": None,
            "namespace": f"user:{USER}",
            "username": USER,
            "is_running_flow": True,
        }


async def test_static_branches_and_join(runs: dict[str, Outcome]) -> None:
    outcome = runs["branches"]
    assert outcome.ok
    assert outcome.only("left").artifacts["value"] == "L"
    assert outcome.only("right").artifacts["value"] == "R"
    join = outcome.only("join")
    assert join.artifacts["by_name"] == {"left": "L", "right": "R"}
    # Inputs come in the order of the split's self.next(), whichever finished first.
    assert join.artifacts["in_order"] == ["L", "R"]
    assert join.artifacts["count"] == 2
    # merge_artifacts carried over what agrees (or exists in one branch only).
    assert join.artifacts["same"] == "equal"
    assert join.artifacts["only_left"] == 10
    assert join.artifacts["origin"] == "start"
    assert "value" not in join.artifacts
    assert len(join.parents) == 2
    assert outcome.only("end").artifacts["summary"] == ("start", "equal", 10, (1, 2, 3))


async def test_merge_conflict_fails_the_join(runs: dict[str, Outcome]) -> None:
    outcome = runs["conflict"]
    assert not outcome.ok
    join = outcome.only("join")
    assert join.state == "failed"
    exception = join.attempts[-1].exception
    assert exception is not None
    assert exception.type.endswith("UnhandledInMergeArtifactsException")
    assert re.match(
        r"^Step 'join' cannot merge artifact\(s\) whose values differ between inputs: value\. ",
        exception.message,
    )
    assert "end" not in outcome.steps


async def test_foreach_runs_a_task_per_item(runs: dict[str, Outcome]) -> None:
    outcome = runs["foreach"]
    assert outcome.ok
    body = outcome.steps["body"]
    assert [task.index for task in body] == [0, 1, 2, 3]
    assert [task.artifacts["item"] for task in body] == [f"item-{i}" for i in range(4)]
    assert [task.artifacts["position"] for task in body] == [0, 1, 2, 3]
    join = outcome.only("join")
    assert join.artifacts["collected"] == [(i, f"item-{i}") for i in range(4)]
    assert join.artifacts["squares"] == [0, 1, 4, 9]
    assert join.index is None
    assert len(join.parents) == 4
    # Parameters are artifacts of every task.
    assert all(task.artifacts["count"] == 4 for task in body)
    assert outcome.only("end").artifacts["count"] == 4


async def test_nested_foreach(runs: dict[str, Outcome]) -> None:
    outcome = runs["nested"]
    assert outcome.ok
    assert [t.artifacts["letter"] for t in outcome.steps["outer"]] == ["a", "b"]
    inner = outcome.steps["inner"]
    assert sorted(t.artifacts["pair"] for t in inner) == ["a1", "a2", "a3", "b1", "b2", "b3"]
    for task in inner:
        letter, number = task.artifacts["pair"]
        outer_index = "ab".index(letter)
        # (index, number of splits, item) of every foreach around the task, outermost first.
        assert task.artifacts["stack"] == [
            (outer_index, 2, letter),
            (int(number) - 1, 3, int(number)),
        ]
        assert task.index == int(number) - 1
    # One inner join per outer item, each with the index of its outer item.
    join_inner = outcome.steps["join_inner"]
    assert [t.index for t in join_inner] == [0, 1]
    assert [t.artifacts["pairs"] for t in join_inner] == [["a1", "a2", "a3"], ["b1", "b2", "b3"]]
    assert outcome.only("join_outer").artifacts["table"] == [
        ["a1", "a2", "a3"],
        ["b1", "b2", "b3"],
    ]


async def test_failing_step_stops_the_run_and_keeps_what_finished(
    runs: dict[str, Outcome],
) -> None:
    outcome = runs["failing"]
    assert not outcome.ok
    (failure,) = outcome.failures
    boom = outcome.only("boom")
    assert failure.pathspec == f"FailingFlow/{outcome.run_id}/boom/{boom.task_id}"
    assert failure.message == "ValueError: the boom step failed on purpose"
    assert failure.traceback is not None
    assert 'raise ValueError("the boom step failed on purpose")' in failure.traceback

    assert boom.state == "failed"
    exception = boom.attempts[-1].exception
    assert exception is not None
    assert (exception.type, exception.message) == (
        "ValueError",
        "the boom step failed on purpose",
    )
    assert exception.traceback.startswith("Traceback (most recent call last):")
    assert "flow_failing.py" in exception.traceback
    assert exception.traceback.rstrip().endswith("ValueError: the boom step failed on purpose")
    assert boom.attempts[-1].exit_code == 0
    # A failed task keeps what it set before it raised (and what it inherited).
    assert boom.artifacts["partial"] == "set before the failure"
    # What finished before (or alongside) the failure stays stored.
    assert outcome.only("start").artifacts["before"] == "stored before the failure"
    fine = outcome.only("fine")
    assert fine.state == "succeeded"
    assert fine.artifacts["fine_value"] == 7
    # Nothing was scheduled after the failure.
    assert "join" not in outcome.steps
    assert "end" not in outcome.steps
    failed_lines = [line for line in outcome.console.streams["stderr"] if "Task failed" in line]
    assert len(failed_lines) == 1
    assert failed_lines[0].endswith("Task failed: ValueError: the boom step failed on purpose")


async def test_max_workers_one_runs_tasks_one_at_a_time(runs: dict[str, Outcome]) -> None:
    serial = runs["one_worker"]
    assert serial.ok
    attempts = sorted(
        (task.attempts[0] for tasks in serial.steps.values() for task in tasks),
        key=lambda a: a.started_at,
    )
    for before, after in itertools.pairwise(attempts):
        assert before.finished_at is not None
        assert after.started_at >= before.finished_at, (before, after)
    # With the default limit, the foreach bodies overlap.
    body = [task.attempts[0] for task in runs["foreach"].steps["body"]]
    assert max(a.started_at for a in body) < min(a.finished_at or 0 for a in body)


async def test_foreach_over_the_split_limit_fails(runs: dict[str, Outcome]) -> None:
    outcome = runs["too_many_splits"]
    assert not outcome.ok
    (failure,) = outcome.failures
    assert re.match(
        r"^tideflow\.exception\.TideflowError: Step 'start' starts a foreach over 5 items, "
        r"more than the "
        r"limit of 3\. Raise it with --max-num-splits 5 \(or max_num_splits=5 in "
        r"Runner\.run\(\)\)\.$",
        failure.message,
    ), failure.message
    assert outcome.only("start").state == "failed"
    assert "body" not in outcome.steps


async def test_empty_foreach_fails(runs: dict[str, Outcome]) -> None:
    outcome = runs["empty_foreach"]
    assert not outcome.ok
    (failure,) = outcome.failures
    assert failure.message.endswith(
        "Step 'start' starts a foreach over 'items', which is empty: a foreach needs at least "
        "one item."
    )


async def test_console_lines_carry_the_task_prefix(runs: dict[str, Outcome]) -> None:
    outcome = runs["linear"]
    stdout = outcome.console.streams["stdout"]
    prefix = (
        rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{{3}} \[{outcome.run_id}/start/\d+ \(pid \d+\)\] "
    )
    assert any(re.match(prefix + r"Task is starting\.$", line) for line in stdout)
    assert any(re.match(prefix + r"Task finished successfully\.$", line) for line in stdout)


async def test_foreach_tasks_name_their_item_in_the_prefix(runs: dict[str, Outcome]) -> None:
    """Each line of a foreach task names its item index; nested ones name every level."""
    outcome = runs["foreach"]
    stdout = outcome.console.streams["stdout"]
    for task in outcome.steps["body"]:
        prefix = rf"\[{outcome.run_id}/body/{task.task_id} item {task.index} \(pid \d+\)\] "
        assert any(re.search(prefix + r"Task finished successfully\.$", line) for line in stdout)
    assert not any(re.search(r"/(start|join|end)/\d+ item", line) for line in stdout)
    nested = runs["nested"]
    lines = nested.console.streams["stdout"]
    assert any(re.search(r"/\d+ items \d+, \d+ \(pid \d+\)\] ", line) for line in lines)


async def test_a_failing_foreach_task_names_its_item(tideflow_root: Path, flows_dir: Path) -> None:
    """The traceback and the failure line of a foreach task name its item index."""
    runner = Runner(
        str(flows_dir / "fail_foreach_flow.py"), show_output=False, env={"FAIL_ITEMS": "2"}
    )
    async with await runner.async_run() as running:
        await running.wait()
    assert running.status == "failed"
    task = next(t for t in running.run["body"] if t.index == 2)
    failed = [line for line in running.stderr.splitlines() if "Task failed" in line]
    assert len(failed) == 1
    assert re.search(
        rf"\[{running.run.id}/body/{task.id} item 2 \(pid \d+\)\] Task failed: RuntimeError: "
        r"planned failure for item 2$",
        failed[0],
    )
    raised = [line for line in running.stderr.splitlines() if "] RuntimeError:" in line]
    assert raised
    assert all(f"/body/{task.id} item 2 (pid " in line for line in raised)


def test_attempts_record_the_task_process_id(tideflow_root: Path, flows_dir: Path) -> None:
    """Each finished attempt stores the pid of the process that ran it."""
    running = Runner(str(flows_dir / "hello_flow.py"), show_output=False).run()
    flow, run_id = running.run.pathspec.split("/")
    with metadata_store(tideflow_root) as store:
        attempts = [
            attempt
            for step in store.list_steps(flow, run_id)
            for task in store.list_tasks(flow, run_id, step.step)
            for attempt in store.list_attempts(flow, run_id, step.step, task.task_id)
        ]
    assert attempts and all(isinstance(a.pid, int) and a.pid > 0 for a in attempts)


def test_a_task_starts_once_the_store_holds_what_it_may_read(
    tideflow_root: Path,
    flows_dir: Path,
    executor: str,  # noqa: F811
) -> None:
    """A task may read its own run through the client: it starts only once the store
    holds its own record and its inputs' ends, however slow the store is to write them
    (here another process holds the database's write lock for a second)."""
    if os.environ.get("TIDEFLOW_METADATA_URL"):
        pytest.skip("the test holds the SQLite database's write lock")
    runner = Runner(str(flows_dir / "reads_own_run_flow.py"), show_output=False, executor=executor)
    run = runner.run()
    assert run.status == "successful", run.stderr
    end = run.run["end"].task
    assert end.data.seen == "from start"
    assert end.data.me == end.pathspec

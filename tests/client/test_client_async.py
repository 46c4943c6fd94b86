"""The async client, on asyncio and on trio: the same answers as the blocking client."""

from __future__ import annotations

import pickle
import re
from typing import TYPE_CHECKING

import pytest

from tideflow import (
    AsyncDataArtifact,
    AsyncFlow,
    AsyncFlows,
    AsyncRun,
    AsyncStep,
    AsyncTask,
    Run,
    Task,
    namespace,
)
from tideflow.exception import InvalidPathspec, NamespaceMismatch, NotFound, TagError

if TYPE_CHECKING:
    from conftest import ClientRuns


async def test_navigate_a_run(client_runs: ClientRuns) -> None:
    """Flow -> latest run -> steps -> tasks -> data, all awaited."""
    flow = await AsyncFlow("ClientTrainFlow")
    assert flow.name == "ClientTrainFlow" and repr(flow) == "AsyncFlow('ClientTrainFlow')"
    run = await flow.fetch_latest_run()
    assert run is not None and run.pathspec == client_runs.train
    assert run.user_tags == {"prod", "v1"} and run.code is None and run.trigger is None
    assert await run.fetch_successful() and await run.fetch_finished()
    assert await run.fetch_finished_at() == Run(client_runs.train).finished_at
    end = await run.fetch_end_task()
    assert end is not None and await run.fetch_finished_at() == await end.fetch_finished_at()
    data = await run.fetch_data()
    assert data is not None and data.result == 60 and data.results == [10, 20, 30]
    assert [step.id async for step in run] == ["end", "join", "train_model", "start"]
    assert [step.id async for step in run.steps()] == ["end", "join", "train_model", "start"]
    step = await run["train_model"]
    assert isinstance(step, AsyncStep) and step.name == "train_model"
    assert await run.contains("train_model") and not await run.contains("nope")
    tasks = [task async for task in step.tasks()]
    assert sorted(task.index for task in tasks) == [0, 1, 2]  # type: ignore[type-var]
    assert [task.id async for task in step] == [task.id for task in tasks]
    assert await step.fetch_successful()
    assert await step.fetch_finished_at() == Run(client_runs.train)["train_model"].finished_at
    assert (await step.fetch_environment_info())["runtime"] == "dev"
    assert (await step.fetch_task()) == tasks[0]
    assert [r.pathspec async for r in flow.runs("prod")] == [client_runs.train]
    assert [r.pathspec async for r in flow] == [client_runs.train]
    assert await flow.fetch_latest_successful_run() == run
    end = await run.fetch_end_task()
    assert end is not None and end.parent.parent == run


async def test_tasks(client_runs: ClientRuns) -> None:
    """Every task accessor of the async client."""
    run = await AsyncRun(client_runs.train)
    step = await run["train_model"]
    task = next(t for t in [t async for t in step.tasks()] if t.index == 1)
    assert isinstance(task, AsyncTask)
    assert (await task.fetch_data()).result == 20
    data = await task.fetch_data("model")
    assert data.model == {"weight": 1.0} and data.accuracy == pytest.approx(0.7)
    artifacts = await task.fetch_artifacts()
    assert isinstance(artifacts.model, AsyncDataArtifact)
    assert await artifacts.model.fetch_data() == {"weight": 1.0}
    assert re.fullmatch(r"[0-9a-f]{64}", artifacts.model.sha) and artifacts.model.size > 0
    assert artifacts.model.finished_at == artifacts.model.created_at
    assert [a.id async for a in task] == ["accuracy", "alpha", "model", "params", "result"]
    assert await task.fetch_successful() and await task.fetch_finished()
    assert await task.fetch_exception() is None
    assert await task.fetch_finished_at() is not None
    assert await task.fetch_stdout() == "training 2\n"
    assert await task.fetch_stderr() == "warning 2\n"
    assert await task.fetch_stdout_size() == 11 and await task.fetch_stderr_size() == 10
    assert [line async for _, line in task.loglines("stdout")] == ["training 2"]
    assert await task.fetch_current_attempt() == 0
    assert task.runtime_name == "dev" and task.code is None
    assert (await task.fetch_environment_info())["runtime"] == "dev"
    assert (await task.fetch_metadata_dict())["ds-root"] == str(client_runs.root)
    assert {m.name for m in await task.fetch_metadata()} >= {"attempt", "ds-root"}
    assert task.parent_task_pathspecs == [f"{client_runs.train}/start/1"]
    (parent,) = await task.fetch_parent_tasks()
    assert parent.pathspec == f"{client_runs.train}/start/1"
    (child,) = await task.fetch_child_tasks()
    assert [child.pathspec] == await task.fetch_child_task_pathspecs()
    assert child.id == (await (await run["join"]).fetch_task()).id  # type: ignore[union-attr]


async def test_attempts_and_failures(client_runs: ClientRuns) -> None:
    """Attempts and exceptions, asynchronously."""
    first = await AsyncTask(f"{client_runs.retry}/start/1", attempt=0)
    assert repr(first) == f"AsyncTask('{client_runs.retry}/start/1', attempt=0)"
    assert not await first.fetch_successful()
    assert str(await first.fetch_exception()) == "ValueError: the first attempt fails"
    assert await first.fetch_stdout() == "attempt 0\n"
    latest = await AsyncTask(f"{client_runs.retry}/start/1")
    assert await latest.fetch_current_attempt() == 1
    failed = await AsyncRun(client_runs.fail)
    assert not await failed.fetch_successful() and await failed.fetch_data() is None
    assert await failed.fetch_end_task() is None
    artifact = await AsyncDataArtifact(f"{client_runs.retry}/start/1/attempt_seen")
    assert await artifact.fetch_data() == 1


async def test_errors(client_runs: ClientRuns) -> None:
    """Malformed pathspecs fail at once; missing objects when awaited."""
    with pytest.raises(InvalidPathspec, match=r"^'nope' is not a Run pathspec"):
        AsyncRun("nope")
    with pytest.raises(NotFound, match=r"^Run 'ClientTrainFlow/999' does not exist$"):
        await AsyncRun("ClientTrainFlow/999")
    with pytest.raises(NamespaceMismatch, match=r"^Run '.+' is not in the current namespace"):
        await AsyncRun(client_runs.other_train)
    run = await AsyncRun(client_runs.train)
    with pytest.raises(KeyError):
        await run["nope"]
    flow = AsyncFlow("ClientTrainFlow")
    with pytest.raises(
        RuntimeError,
        match=r"^AsyncFlow\('ClientTrainFlow'\) has not been looked up yet: write `obj = await AsyncFlow\('ClientTrainFlow'\)`",
    ):
        flow.created_at  # noqa: B018
    assert await flow is flow and await flow is flow


async def test_namespaces_and_tags(client_runs: ClientRuns, tag_run: Run) -> None:
    """The namespace applies to the async client too; tags are edited with await."""
    namespace("user:other")
    assert [r.pathspec async for r in (await AsyncFlow("ClientTrainFlow")).runs()] == [
        client_runs.other_train
    ]
    assert await (await AsyncRun(client_runs.other_train)).is_in_namespace()
    assert await (await AsyncFlow("ClientTrainFlow")).is_in_namespace()
    assert [f.name async for f in AsyncFlows()] == ["ClientTrainFlow"]
    assert (await AsyncFlows()["ClientTrainFlow"]).name == "ClientTrainFlow"
    for name in ("Nope", "HelloFlow"):  # HelloFlow has no run of user:other
        with pytest.raises(KeyError):
            await AsyncFlows()[name]
    namespace(None)
    run = await AsyncRun(tag_run.pathspec)
    await run.add_tag("a")
    await run.add_tags(["b", "c"])
    await run.remove_tag("a")
    await run.remove_tags(["b"])
    await run.replace_tag("c", "d")
    await run.replace_tags(["d"], ["e", "f"])
    assert run.user_tags == {"e", "f"} == Run(tag_run.pathspec).user_tags
    with pytest.raises(TagError, match=r"^Tag 'runtime:dev' of run "):
        await run.remove_tag("runtime:dev")


async def test_pickle(client_runs: ClientRuns) -> None:
    """Async objects pickle like the blocking ones, once looked up, and come back looked up."""
    task = await AsyncTask(f"{client_runs.retry}/start/1", attempt=1)
    back = pickle.loads(pickle.dumps(task))
    assert back == task and type(back) is AsyncTask and repr(back) == repr(task)
    assert await back.fetch_stdout() == "attempt 1\n"
    with pytest.raises(RuntimeError, match=r"^AsyncRun\('.+'\) has not been looked up yet"):
        pickle.dumps(AsyncRun(client_runs.train))


async def test_async_and_sync_agree(client_runs: ClientRuns) -> None:
    """Both clients give the same pathspecs, times and tags for the same objects."""
    sync = Task(f"{client_runs.train}/start/1")
    task = await AsyncTask(sync.pathspec)
    assert (task.pathspec, task.created_at, task.tags, task.index) == (
        sync.pathspec,
        sync.created_at,
        sync.tags,
        sync.index,
    )
    assert await task.fetch_finished_at() == sync.finished_at

"""The async client: ``AsyncFlow``, ``AsyncRun``, ``AsyncStep``, ``AsyncTask``,
``AsyncDataArtifact`` and ``AsyncFlows``.

They wrap the same nodes as the blocking client and call them in worker threads with
``anyio.to_thread.run_sync``, so they work under asyncio and trio and never block the
event loop. An object is looked up by awaiting it: ``run = await AsyncRun('F/123')``.
What the blocking client reads as a property that may touch the store is a coroutine
method here, named ``fetch_<property>``: ``await run.fetch_successful()``. Properties that
only read what the object already holds (``id``, ``pathspec``, ``tags``...) are the same.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Self, TypeVar

import anyio.to_thread

from .._exceptions import NamespaceMismatch, NotFound, TaskException
from .._metadata._tags import one_tag, some_tags
from ._common import ClientObject
from ._data import Metadata, TaskArtifacts, TaskData
from ._namespace import get_namespace
from ._nodes import (
    ArtifactNode,
    FlowNode,
    Node,
    RunNode,
    StepNode,
    TaskNode,
    list_flows,
    open_node,
    to_datetime,
)
from ._pathspec import split_pathspec

if TYPE_CHECKING:
    import os
    from collections.abc import AsyncIterator, Callable, Generator, Iterable
    from datetime import datetime

    from .._config import Config

__all__ = (
    "AsyncDataArtifact",
    "AsyncFlow",
    "AsyncFlows",
    "AsyncRun",
    "AsyncStep",
    "AsyncTask",
    "async_wrap",
)

T = TypeVar("T")


async def _call(func: Callable[..., T], *args: Any) -> T:
    """Run a blocking node call in a worker thread."""
    return await anyio.to_thread.run_sync(func, *args)


class _AsyncObject(ClientObject):
    """An async client object: a node, called in worker threads.

    Created by a constructor, it is looked up when first awaited (``await AsyncRun(...)``);
    created by another object's method, it is ready at once.
    """

    __slots__ = ("_args", "_async_node")
    _args: tuple[object, int | None, bool, str | os.PathLike[str] | Config | None]
    _async_node: Node | None

    def __init__(
        self,
        pathspec: str | None = None,
        attempt: int | None = None,
        *,
        _namespace_check: bool = True,
        _root: str | os.PathLike[str] | Config | None = None,
    ) -> None:
        split_pathspec(self._NODE.KIND, pathspec)
        self._args = (pathspec, attempt, _namespace_check, _root)
        self._async_node = None

    @classmethod
    def _from_node(cls, node: Node) -> Self:
        obj = cls.__new__(cls)
        obj._args = (node.pathspec, node.attempt, False, str(node.handle.root))
        obj._async_node = node
        return obj

    def __await__(self) -> Generator[Any, None, Self]:
        """Look the object up in the store (in a worker thread) and return it.

        :raises NotFound: if it does not exist.
        :raises NamespaceMismatch: if it is not in the current namespace.
        """
        return self._open().__await__()

    async def _open(self) -> Self:
        if self._async_node is None:
            pathspec, attempt, check, root = self._args
            find = functools.partial(
                open_node, self._NODE, pathspec, attempt, namespace_check=check, root=root
            )
            self._async_node = await _call(find)
        return self

    @property
    def _node(self) -> Node:
        if self._async_node is None:
            name, pathspec = type(self).__name__, self._args[0]
            raise RuntimeError(
                f"{name}({pathspec!r}) has not been looked up yet: write "
                f"`obj = await {name}({pathspec!r})` before using it."
            )
        return self._async_node

    def _wrap(self, node: Node) -> Any:
        return async_wrap(node)

    def __repr__(self) -> str:
        if self._async_node is None:
            pathspec, attempt = self._args[0], self._args[1]
            extra = "" if attempt is None else f", attempt={attempt}"
            return f"{type(self).__name__}({pathspec!r}{extra})"
        return super().__repr__()

    async def is_in_namespace(self) -> bool:
        """Return whether this object is in the current namespace (a flow is when one of
        its runs is)."""
        return await _call(self._node.in_namespace, get_namespace())


class _AsyncParent(_AsyncObject):
    """An async client object that has children: a flow, run, step or task."""

    __slots__ = ()

    async def _children(self) -> AsyncIterator[Any]:
        for node in await _call(self._node.children):
            yield async_wrap(node)

    def __aiter__(self) -> AsyncIterator[Any]:
        """Iterate over the children, newest first: ``async for step in run``."""
        return self._children()

    async def _child(self, id: str) -> Any:
        try:
            return async_wrap(await _call(self._node.child, id))
        except NotFound as exc:
            raise KeyError(id) from exc

    def __getitem__(self, id: str) -> Any:
        """Return an awaitable of the child ``id``: ``step = await run['start']``.

        :raises KeyError: (when awaited) if there is no such child.
        """
        return self._child(id)

    async def contains(self, id: str) -> bool:
        """Return whether the child ``id`` exists (the async ``id in obj``)."""
        return await _call(self._node.has_child, id)


async def _wrap_all(nodes: Iterable[Node]) -> AsyncIterator[Any]:
    for node in nodes:
        yield async_wrap(node)


class AsyncFlow(_AsyncParent):
    """The async :class:`~tideflow.Flow`: ``flow = await AsyncFlow('HelloFlow')``."""

    __slots__ = ()
    _NODE = FlowNode

    @property
    def name(self) -> str:
        """The flow's name."""
        return self.id

    async def fetch_latest_run(self) -> AsyncRun | None:
        """The newest run in the current namespace, finished or not; ``None`` if none."""
        node = self._node
        assert isinstance(node, FlowNode)
        found = await _call(node.latest_run)
        return None if found is None else AsyncRun._from_node(found)

    async def fetch_latest_successful_run(self) -> AsyncRun | None:
        """The newest successful run in the current namespace; ``None`` if none."""
        node = self._node
        assert isinstance(node, FlowNode)
        found = await _call(functools.partial(node.latest_run, successful=True))
        return None if found is None else AsyncRun._from_node(found)

    async def runs(self, *tags: str) -> AsyncIterator[AsyncRun]:
        """Iterate over the runs in the current namespace that carry every tag in ``tags``,
        newest first."""
        node = self._node
        assert isinstance(node, FlowNode)
        async for run in _wrap_all(await _call(node.runs, tags)):
            yield run


class AsyncRun(_AsyncParent):
    """The async :class:`~tideflow.Run`: ``run = await AsyncRun('HelloFlow/1763...')``."""

    __slots__ = ()
    _NODE = RunNode

    @property
    def _run(self) -> RunNode:
        node = self._node
        assert isinstance(node, RunNode)
        return node

    async def fetch_data(self, *names: str) -> TaskData | None:
        """The artifacts of the ``end`` task, read now (only ``names``, if given);
        ``None`` before the task runs."""
        return await _call(self._run.data, names)

    async def fetch_successful(self) -> bool:
        """Whether the run ended successfully."""
        return await _call(self._run.successful)

    async def fetch_status(self) -> str:
        """The run's stored state: running, succeeded, failed, cancelled, timeout, crashed."""
        return await _call(self._run.status)

    async def fetch_finished(self) -> bool:
        """Whether the run's ``end`` step completed (successfully or not).

        A run that failed, crashed or was cancelled before ``end`` is not finished; its
        ``status`` says which.
        """
        return await _call(self._run.finished)

    async def fetch_finished_at(self) -> datetime | None:
        """When the ``end`` task completed (UTC): exactly its ``finished_at``; ``None``
        until ``end`` has completed."""
        return await _call(self._run.finished_at)

    async def fetch_end_task(self) -> AsyncTask | None:
        """The task of the ``end`` step; ``None`` before it starts."""
        found = await _call(self._run.end_task)
        return None if found is None else AsyncTask._from_node(found)

    @property
    def code(self) -> None:
        """Always ``None``: tideflow runs code where it is."""
        return None

    @property
    def trigger(self) -> None:
        """Always ``None``: runs are started by hand."""
        return None

    def steps(self, *tags: str) -> AsyncIterator[AsyncStep]:
        """Iterate over the steps, newest first (``tags`` are ignored, as in the reference)."""
        return self._children()

    async def add_tag(self, tag: str) -> None:
        """Add a user tag (see :meth:`tideflow.Run.add_tag`)."""
        await _call(self._run.edit_tags, (), [one_tag("add_tag", tag)])

    async def add_tags(self, tags: Iterable[str]) -> None:
        """Add user tags (see :meth:`tideflow.Run.add_tags`)."""
        await _call(self._run.edit_tags, (), tags)

    async def remove_tag(self, tag: str) -> None:
        """Remove a user tag (see :meth:`tideflow.Run.remove_tag`)."""
        await _call(self._run.edit_tags, [one_tag("remove_tag", tag)], ())

    async def remove_tags(self, tags: Iterable[str]) -> None:
        """Remove user tags (see :meth:`tideflow.Run.remove_tags`)."""
        await _call(self._run.edit_tags, tags, ())

    async def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> None:
        """Remove a tag, then add one, atomically (see :meth:`tideflow.Run.replace_tag`)."""
        await _call(
            self._run.edit_tags,
            [one_tag("replace_tag", tag_to_remove)],
            [one_tag("replace_tag", tag_to_add)],
        )

    async def replace_tags(
        self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]
    ) -> None:
        """Remove tags, then add tags, atomically (see :meth:`tideflow.Run.replace_tags`)."""
        await _call(self._run.edit_tags, *some_tags(tags_to_remove, tags_to_add))


class AsyncStep(_AsyncParent):
    """The async :class:`~tideflow.Step`: ``step = await AsyncStep('HelloFlow/1763.../start')``."""

    __slots__ = ()
    _NODE = StepNode

    @property
    def _step(self) -> StepNode:
        node = self._node
        assert isinstance(node, StepNode)
        return node

    @property
    def name(self) -> str:
        """The step's name."""
        return self.id

    async def fetch_task(self) -> AsyncTask | None:
        """A task of the step: its only one, or the newest of a foreach body."""
        found = await _call(self._step.any_task)
        return None if found is None else AsyncTask._from_node(found)

    async def tasks(self, *tags: str) -> AsyncIterator[AsyncTask]:
        """Iterate over the tasks, newest first (none unless the run carries every tag)."""
        async for task in _wrap_all(await _call(self._step.tasks, tags)):
            yield task

    async def fetch_finished_at(self) -> datetime | None:
        """When the last task of the step ended; ``None`` while one still runs."""
        return await _call(self._step.finished_at)

    async def fetch_successful(self) -> bool:
        """Whether every task of the step succeeded."""
        return await _call(self._step.successful)

    async def fetch_environment_info(self) -> dict[str, str]:
        """Where the step's tasks ran (see :attr:`tideflow.Task.environment_info`)."""
        return await _call(self._step.environment_info)

    async def fetch_parent_steps(self) -> list[AsyncStep]:
        """The steps right before this one in the graph (see
        :attr:`tideflow.Step.parent_steps`)."""
        parents, _ = await _call(self._step.neighbours)
        return [AsyncStep._from_node(node) for node in parents]

    async def fetch_child_steps(self) -> list[AsyncStep]:
        """The steps right after this one in the graph (see
        :attr:`tideflow.Step.child_steps`)."""
        _, children = await _call(self._step.neighbours)
        return [AsyncStep._from_node(node) for node in children]


class AsyncTask(_AsyncParent):
    """The async :class:`~tideflow.Task`: ``task = await AsyncTask('F/1763.../start/1')``."""

    __slots__ = ()
    _NODE = TaskNode

    @property
    def _task(self) -> TaskNode:
        node = self._node
        assert isinstance(node, TaskNode)
        return node

    async def fetch_data(self, *names: str) -> TaskData:
        """The artifact values, read now (only ``names``, if given; others are read when
        first used)."""
        return await _call(self._task.data, names)

    async def fetch_artifacts(self) -> TaskArtifacts[AsyncDataArtifact]:
        """The artifacts as :class:`AsyncDataArtifact` objects."""
        nodes = await _call(self._task.artifacts)
        return TaskArtifacts(
            self.pathspec, {n.name: AsyncDataArtifact._from_node(n) for n in nodes}
        )

    async def fetch_metadata(self) -> list[Metadata]:
        """The metadata events (see :attr:`tideflow.Task.metadata`)."""
        records = await _call(self._task.metadata)
        return [
            Metadata(r.name, r.value, to_datetime(r.created_at), r.type, self) for r in records
        ]

    async def fetch_metadata_dict(self) -> dict[str, str]:
        """The latest value of each metadata name."""
        return await _call(self._task.metadata_dict)

    async def fetch_successful(self) -> bool:
        """Whether the attempt succeeded."""
        return await _call(self._task.successful)

    async def fetch_status(self) -> str | None:
        """The attempt's stored state; ``None`` before it starts."""
        return await _call(self._task.status)

    async def fetch_finished(self) -> bool:
        """Whether the attempt has ended."""
        return await _call(self._task.finished)

    async def fetch_finished_at(self) -> datetime | None:
        """When the attempt ended (UTC); ``None`` while it runs."""
        return await _call(self._task.finished_at)

    async def fetch_exception(self) -> TaskException | None:
        """What the attempt raised, if it failed."""
        return await _call(self._task.exception)

    @property
    def runtime_name(self) -> str | None:
        """The runtime the task ran on: ``'dev'`` for local runs."""
        return self._task.runtime_name

    async def fetch_stdout(self) -> str:
        """The attempt's standard output so far."""
        return await _call(self._task.log_text, "stdout")

    async def fetch_stdout_size(self) -> int:
        """The size of the standard output so far, in bytes."""
        return await _call(self._task.log_size, "stdout")

    async def fetch_stderr(self) -> str:
        """The attempt's standard error so far."""
        return await _call(self._task.log_text, "stderr")

    async def fetch_stderr_size(self) -> int:
        """The size of the standard error so far, in bytes."""
        return await _call(self._task.log_size, "stderr")

    async def fetch_current_attempt(self) -> int:
        """The attempt described: the one given, else the latest one started."""
        return await _call(self._task.current_attempt)

    @property
    def code(self) -> None:
        """Always ``None``: tideflow runs code where it is."""
        return None

    async def fetch_environment_info(self) -> dict[str, str]:
        """Where the attempt ran (see :attr:`tideflow.Task.environment_info`)."""
        return await _call(self._task.environment_info)

    @property
    def index(self) -> int | None:
        """The task's index in the innermost foreach around it; ``None`` outside one."""
        return self._task.index

    @property
    def parent_task_pathspecs(self) -> list[str]:
        """The pathspecs of the tasks whose output this task took as input."""
        return list(self._task.parent_task_pathspecs)

    async def fetch_parent_tasks(self) -> list[AsyncTask]:
        """The tasks whose output this task took as input."""
        return [AsyncTask._from_node(n) for n in await _call(self._task.parent_tasks)]

    async def fetch_child_tasks(self) -> list[AsyncTask]:
        """The tasks that took this task's output as input."""
        return [AsyncTask._from_node(n) for n in await _call(self._task.child_tasks)]

    async def fetch_child_task_pathspecs(self) -> list[str]:
        """The pathspecs of the tasks that took this task's output as input."""
        return await _call(self._task.child_task_pathspecs)

    async def loglines(
        self, stream: str, as_unicode: bool = True, meta_dict: dict[str, Any] | None = None
    ) -> AsyncIterator[tuple[datetime, Any]]:
        """Iterate over ``(utc_timestamp, line)`` of a log, so far.

        :raises ValueError: if ``stream`` is not ``stdout`` or ``stderr``.
        """
        lines = await _call(lambda: list(self._task.loglines(stream, as_unicode)))
        for line in lines:
            yield line


class AsyncDataArtifact(_AsyncObject):
    """The async :class:`~tideflow.DataArtifact`."""

    __slots__ = ()
    _NODE = ArtifactNode

    @property
    def _artifact(self) -> ArtifactNode:
        node = self._node
        assert isinstance(node, ArtifactNode)
        return node

    async def fetch_data(self) -> Any:
        """The artifact's value, read from the datastore."""
        return await _call(self._artifact.value)

    @property
    def sha(self) -> str:
        """The SHA-256 key of the stored value."""
        return self._artifact.sha

    @property
    def size(self) -> int:
        """The size of the stored value, in bytes."""
        return self._artifact.size

    @property
    def finished_at(self) -> datetime:
        """When the artifact was stored (UTC)."""
        return self._artifact.finished_at


class AsyncFlows:
    """The async :class:`~tideflow.Flows`: ``async for flow in AsyncFlows()``."""

    __slots__ = ("_namespace_check", "_root")

    def __init__(
        self,
        *,
        _namespace_check: bool = True,
        _root: str | os.PathLike[str] | Config | None = None,
    ) -> None:
        self._namespace_check = _namespace_check
        self._root = _root

    def __repr__(self) -> str:
        return "AsyncFlows()"

    async def fetch_flows(self) -> list[AsyncFlow]:
        """The flows, by name, that have a run in the current namespace."""
        nodes = await _call(list_flows, self._root, self._namespace_check)
        return [AsyncFlow._from_node(n) for n in nodes]

    async def __aiter__(self) -> AsyncIterator[AsyncFlow]:
        """Iterate over the flows, by name."""
        for flow in await self.fetch_flows():
            yield flow

    async def _get(self, name: str) -> AsyncFlow:
        try:
            return await AsyncFlow(name, _namespace_check=self._namespace_check, _root=self._root)
        except (NotFound, NamespaceMismatch) as exc:
            raise KeyError(name) from exc

    def __getitem__(self, name: str) -> Any:
        """Return an awaitable of the flow ``name``; awaiting raises :exc:`KeyError` if it
        has never run, or has no run in the current namespace."""
        return self._get(name)


_ASYNC: dict[type[Node], type[_AsyncObject]] = {
    FlowNode: AsyncFlow,
    RunNode: AsyncRun,
    StepNode: AsyncStep,
    TaskNode: AsyncTask,
    ArtifactNode: AsyncDataArtifact,
}


def async_wrap(node: Node) -> Any:
    """The async client object for ``node``."""
    return _ASYNC[type(node)]._from_node(node)

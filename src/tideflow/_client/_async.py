"""The async client: ``AsyncFlow``, ``AsyncRun``, ``AsyncStep``, ``AsyncTask``,
``AsyncDataArtifact`` and ``AsyncFlows``.

Each class is the async twin of a blocking class (``class AsyncRun(..., twin=Run)``): it
gets the async attribute of each query the blocking class declares, named by the rule in
``_queries`` (property ``x`` that reads the store: ``await obj.fetch_x()``; children and
listings: async iterators; methods: coroutines). The nodes are called in worker threads
with ``anyio.to_thread.run_sync``, so the client works under asyncio and trio and never
blocks the event loop. An object is looked up by awaiting it: ``await AsyncRun('F/123')``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, ClassVar, Self

import anyio.to_thread

from .._exceptions import NamespaceMismatch, NotFound
from ._common import ClientObject, FlowListing, LookUp
from ._nodes import Node, open_node
from ._pathspec import split_pathspec
from ._queries import Query, build_async
from ._sync import DataArtifact, Flow, Run, Step, Task

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Coroutine, Generator


__all__ = (
    "AsyncDataArtifact",
    "AsyncFlow",
    "AsyncFlows",
    "AsyncRun",
    "AsyncStep",
    "AsyncTask",
    "async_wrap",
)


class _AsyncObject(ClientObject):
    """An async client object: a node, called in worker threads.

    Created by a constructor, it is looked up when first awaited (``await AsyncRun(...)``);
    created by another object's method, it is ready at once.
    """

    __slots__ = ("_args", "_async_node")
    _args: LookUp
    _async_node: Node | None
    #: The async class of each kind of node, and the queries of each class's twin.
    _FACES: ClassVar[dict[type[Node], type[_AsyncObject]]] = {}
    _twin_queries: ClassVar[dict[str, Query[Any]]] = {}

    def __init_subclass__(cls, twin: type[ClientObject] | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if twin is not None:
            cls._NODE = twin._NODE
            build_async(cls, twin)
            _AsyncObject._FACES.setdefault(cls._NODE, cls)

    def _look_up(self, args: LookUp) -> None:
        split_pathspec(self._NODE.KIND, args[0])  # a malformed one fails at once
        self._args = args
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
            self._async_node = await anyio.to_thread.run_sync(find)
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

    def _many(self, items: list[Any]) -> list[Any]:
        return items

    def __repr__(self) -> str:
        if self._async_node is None:
            pathspec, attempt = self._args[0], self._args[1]
            extra = "" if attempt is None else f", attempt={attempt}"
            return f"{type(self).__name__}({pathspec!r}{extra})"
        return super().__repr__()

    def __getattr__(self, name: str) -> Any:
        """Only reached for a name the object does not have: say what the async name is.

        Typed ``Any`` for type checkers, since the async attributes are built at run time.
        """
        query = type(self)._twin_queries.get(name)
        if query is not None and query.async_name() != name:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}: the async "
                f"client reads it with `await obj.{query.async_name()}()`."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class _AsyncParent(_AsyncObject):
    """An async client object that has children: a flow, run, step or task."""

    __slots__ = ()

    async def _children(self) -> AsyncIterator[Any]:
        for node in await anyio.to_thread.run_sync(self._node.children):
            yield async_wrap(node)

    def __aiter__(self) -> AsyncIterator[Any]:
        """Iterate over the children, newest first: ``async for step in run``."""
        return self._children()

    async def _child(self, id: str) -> Any:
        try:
            return async_wrap(await anyio.to_thread.run_sync(self._node.child, id))
        except NotFound as exc:
            raise KeyError(id) from exc

    def __getitem__(self, id: str) -> Coroutine[Any, Any, Any]:
        """Return an awaitable of the child ``id``: ``step = await run['start']``.

        :raises KeyError: (when awaited) if there is no such child.
        """
        return self._child(id)

    async def contains(self, id: str) -> bool:
        """Return whether the child ``id`` exists (the async ``id in obj``)."""
        return await anyio.to_thread.run_sync(self._node.has_child, id)


class AsyncFlow(_AsyncParent, twin=Flow):
    """The async :class:`~tideflow.Flow`: ``flow = await AsyncFlow('HelloFlow')``;
    ``await flow.fetch_latest_run()``, ``async for run in flow.runs('prod')``."""

    __slots__ = ()


class AsyncRun(_AsyncParent, twin=Run):
    """The async :class:`~tideflow.Run`: ``run = await AsyncRun('HelloFlow/1763...')``;
    ``await run.fetch_successful()``, ``await run.fetch_data()``, ``async for step in run``."""

    __slots__ = ()


class AsyncStep(_AsyncParent, twin=Step):
    """The async :class:`~tideflow.Step`: ``step = await AsyncStep('HelloFlow/1763.../start')``;
    ``await step.fetch_task()``, ``async for task in step.tasks()``."""

    __slots__ = ()


class AsyncTask(_AsyncParent, twin=Task):
    """The async :class:`~tideflow.Task`: ``task = await AsyncTask('F/1763.../start/1')``;
    ``await task.fetch_stdout()``, ``async for stamp, line in task.loglines('stdout')``."""

    __slots__ = ()


class AsyncDataArtifact(_AsyncObject, twin=DataArtifact):
    """The async :class:`~tideflow.DataArtifact`: ``await artifact.fetch_data()``."""

    __slots__ = ()


class AsyncFlows(FlowListing):
    """The async :class:`~tideflow.Flows`: ``async for flow in AsyncFlows()``."""

    __slots__ = ()

    async def fetch_flows(self) -> list[AsyncFlow]:
        """The flows, by name, that have a run in the current namespace."""
        nodes = await anyio.to_thread.run_sync(self._list)
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

    def __getitem__(self, name: str) -> Coroutine[Any, Any, AsyncFlow]:
        """Return an awaitable of the flow ``name``; awaiting raises :exc:`KeyError` if it
        has never run, or has no run in the current namespace."""
        return self._get(name)


def async_wrap(node: Node) -> Any:
    """The async client object for ``node``."""
    return _AsyncObject._FACES[type(node)]._from_node(node)

"""``current``: what a running step can learn about itself.

The values live in a :class:`contextvars.ContextVar` set by the task runner, never in a
global singleton; outside a task every property is ``None`` and ``is_running_flow`` is
``False``.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import msgspec

from ._hooks import client_object

__all__ = ("Current", "ParallelInfo", "TaskInfo", "current", "task_info")


class ParallelInfo(msgspec.Struct, frozen=True):
    """``current.parallel`` in a ``@parallel`` step: which of the ``num_nodes`` tasks
    this is (``node_index``, 0 for the control task) and the address of the control
    task's machine (``main_ip``)."""

    main_ip: str = "127.0.0.1"
    num_nodes: int = 1
    node_index: int = 0
    control_task_id: str | None = None


class TaskInfo(msgspec.Struct, frozen=True, kw_only=True):
    """The identity of the running task, as ``current`` reports it."""

    flow_name: str
    run_id: str
    step_name: str
    task_id: str
    retry_count: int = 0
    origin_run_id: str | None = None
    username: str | None = None
    namespace: str | None = None
    tags: tuple[str, ...] = ()
    parameter_names: tuple[str, ...] = ()
    project_name: str | None = None
    branch_name: str | None = None
    is_production: bool | None = None
    project_flow_name: str | None = None
    #: The store folder, for the client objects ``current.run`` and ``current.task``.
    root: str = ""
    parallel: ParallelInfo | None = None

    @property
    def pathspec(self) -> str:
        """``Flow/run/step/task``."""
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"


task_info: ContextVar[TaskInfo | None] = ContextVar("tideflow_task_info", default=None)


class Current:
    """Read-only view of the running task: ``from tideflow import current``."""

    __slots__ = ()

    def _get(self, name: str) -> Any:
        info = task_info.get()
        return None if info is None else getattr(info, name)

    @property
    def is_running_flow(self) -> bool:
        """Whether this code runs inside a step of a flow."""
        return task_info.get() is not None

    @property
    def flow_name(self) -> str | None:
        """The name of the running flow."""
        return self._get("flow_name")  # type: ignore[no-any-return]

    @property
    def run_id(self) -> str | None:
        """The id of the running run."""
        return self._get("run_id")  # type: ignore[no-any-return]

    @property
    def step_name(self) -> str | None:
        """The name of the running step."""
        return self._get("step_name")  # type: ignore[no-any-return]

    @property
    def task_id(self) -> str | None:
        """The id of the running task."""
        return self._get("task_id")  # type: ignore[no-any-return]

    @property
    def pathspec(self) -> str | None:
        """``Flow/run/step/task`` of the running task."""
        return self._get("pathspec")  # type: ignore[no-any-return]

    @property
    def retry_count(self) -> int:
        """Which attempt this is: 0 for the first, 1 for the first retry, ..."""
        return self._get("retry_count") or 0

    @property
    def origin_run_id(self) -> str | None:
        """For a resumed run, the id of the run it resumes; else ``None``."""
        return self._get("origin_run_id")  # type: ignore[no-any-return]

    @property
    def username(self) -> str | None:
        """The user who started the run."""
        return self._get("username")  # type: ignore[no-any-return]

    @property
    def namespace(self) -> str | None:
        """The namespace of the run, ``user:<name>``."""
        return self._get("namespace")  # type: ignore[no-any-return]

    @property
    def tags(self) -> tuple[str, ...]:
        """The run's tags (user and system)."""
        return self._get("tags") or ()

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """The attribute names of the flow's parameters."""
        return self._get("parameter_names") or ()

    @property
    def project_name(self) -> str | None:
        """With ``@project``: the project's name; else ``None``."""
        return self._get("project_name")  # type: ignore[no-any-return]

    @property
    def branch_name(self) -> str | None:
        """With ``@project``: the run's branch (``user.<name>``, ``test.<b>``, ``prod``)."""
        return self._get("branch_name")  # type: ignore[no-any-return]

    @property
    def is_production(self) -> bool | None:
        """With ``@project``: whether the run was started with ``--production``."""
        return self._get("is_production")  # type: ignore[no-any-return]

    @property
    def project_flow_name(self) -> str | None:
        """With ``@project``: ``<project>.<branch>.<FlowName>``."""
        return self._get("project_flow_name")  # type: ignore[no-any-return]

    @property
    def card(self) -> Any:
        """The running step's cards: ``current.card.append(Markdown("# Hello"))``.

        ``None`` outside a running step; see the cards guide.
        """
        from .._cards._context import card_collector

        collector = card_collector.get()
        info = task_info.get()
        if collector is None and info is not None:
            # A step without @card: what it appends is dropped (with one note on stderr).
            from .._cards._collector import CardCollector

            collector = CardCollector([], None, info.step_name)
            card_collector.set(collector)
        return collector

    @property
    def run(self) -> Any:
        """The running run, as a client :class:`~tideflow.Run` (``None`` outside a task)."""
        info = task_info.get()
        if info is None:
            return None
        return client_object("run", f"{info.flow_name}/{info.run_id}", info.root or None)

    @property
    def task(self) -> Any:
        """The running task, as a client :class:`~tideflow.Task` (``None`` outside a task).

        Its artifacts are those of the tasks before it; its own are stored when the step
        ends.
        """
        info = task_info.get()
        if info is None:
            return None
        return client_object("task", info.pathspec, info.root or None)

    @property
    def parallel(self) -> ParallelInfo:
        """In a ``@parallel`` step, ``node_index``, ``num_nodes`` and ``main_ip``; elsewhere
        a single node (index 0 of 1)."""
        info = task_info.get()
        if info is None or info.parallel is None:
            return ParallelInfo()
        return info.parallel

    @property
    def is_parallel(self) -> bool:
        """Whether this task is one of the tasks of a ``@parallel`` step."""
        info = task_info.get()
        return info is not None and info.parallel is not None

    def __repr__(self) -> str:
        info = task_info.get()
        return f"<current {info.pathspec if info else '(not in a running flow)'}>"


#: The running task's identity; see :class:`Current`.
current = Current()

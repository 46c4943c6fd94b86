"""The blocking client, and the declaration of every client query.

``Flow``, ``Run``, ``Step``, ``Task`` and ``DataArtifact`` declare their queries here, once
(see ``_queries`` for the kinds and the naming rule); the async classes in ``_async`` are
built from these same declarations. Each object wraps a node and calls it in the caller's
thread: the queries are short indexed reads and small file reads, so they work the same in
a script, a worker thread or a coroutine, where they hold the loop for that long (the
reference pages read ``running.run.data`` inside ``async def main()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from .._exceptions import NamespaceMismatch, NotFound, TaskException
from ._common import ClientObject, FlowListing, LookUp
from ._data import ChildList, Metadata, TaskArtifacts, TaskData
from ._nodes import FlowNode, Node, RunNode, StepNode, TaskNode, open_node, to_datetime
from ._queries import (
    Children,
    Held,
    Listing,
    Read,
    Values,
    build_blocking,
    children,
    declared,
    each,
    held,
    listing,
    many,
    method,
    one,
    read,
    values,
    wrapped,
)
from ._task_nodes import ArtifactNode

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime


__all__ = ("ChildList", "DataArtifact", "Flow", "Flows", "Run", "Step", "Task", "wrap")

C = TypeVar("C")


class _Object(ClientObject):
    """A blocking client object: a node, called in the caller's thread."""

    __slots__ = ("_node",)
    _node: Node
    #: The blocking class of each kind of node.
    _FACES: ClassVar[dict[type[Node], type[_Object]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        build_blocking(cls)
        if "_NODE" in vars(cls):  # a subclass adding queries keeps the node's class
            _Object._FACES.setdefault(cls._NODE, cls)

    def _look_up(self, args: LookUp) -> None:
        pathspec, attempt, check, root = args
        self._node = open_node(self._NODE, pathspec, attempt, namespace_check=check, root=root)

    @classmethod
    def _from_node(cls, node: Node) -> Self:
        obj = cls.__new__(cls)
        obj._node = node
        return obj

    def _wrap(self, node: Node) -> Any:
        return wrap(node)

    def _many(self, items: list[Any]) -> Iterator[Any]:
        return iter(items)

    if not TYPE_CHECKING:  # a hint at run time; type checkers report the name themselves

        def __getattr__(self, name: str) -> Any:
            query = name.startswith("fetch_") and declared(type(self)).get(name[6:])
            hint = ""
            if isinstance(query, Read):
                hint = (
                    f": {name}() is the async client's name; this blocking object reads "
                    f".{query.name}, or use Async{type(self).__name__}."
                )
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}{hint}")


class _Parent(_Object, Generic[C]):
    """A blocking client object that has children: a flow, run, step or task."""

    __slots__ = ()

    def __iter__(self) -> Iterator[C]:
        """Iterate over the children, newest first (a task's artifacts by name)."""
        return iter([wrap(node) for node in self._node.children()])

    def __getitem__(self, id: str) -> C:
        """Return the child ``id``.

        :raises KeyError: if there is no such child.
        """
        try:
            return wrap(self._node.child(id))  # type: ignore[no-any-return]
        except NotFound as exc:
            raise KeyError(id) from exc

    def __contains__(self, id: object) -> bool:
        """Return whether the child ``id`` exists."""
        return isinstance(id, str) and self._node.has_child(id)


class Flow(_Parent["Run"]):
    """A flow: every run of one ``FlowSpec`` subclass. ``Flow('HelloFlow')``.

    Iterating a flow gives its runs in the current namespace, newest first, and
    ``flow[run_id]`` checks the run against the namespace as ``Run(pathspec)`` does.

    :param pathspec: the flow's name.
    :raises NotFound: if the flow has never run.
    :raises NamespaceMismatch: if none of its runs is in the current namespace.
    """

    __slots__ = ()
    _NODE = FlowNode

    name: Held[str] = held(lambda node: node.name, "The flow's name.")
    latest_run: Read[Run | None] = read(
        FlowNode.latest_run,
        "The newest run in the current namespace, finished or not; ``None`` if none.",
        to=one,
    )
    latest_successful_run: Read[Run | None] = read(
        lambda node: node.latest_run(successful=True),
        "The newest successful run in the current namespace; ``None`` if none.",
        to=one,
    )
    runs: Children[Run] = children(
        FlowNode.runs,
        "The runs in the current namespace, newest first: ``flow.runs(*tags)`` keeps those "
        "that carry every tag in ``tags``.",
    )


class Run(_Parent["Step"]):
    """One run of a flow. ``Run('HelloFlow/1763480462110811')``.

    Iterating a run gives its steps, newest first. Properties that can change while the run
    is going (``successful``, ``finished``, ``data``...) ask the store again on each use.

    :param pathspec: ``'FlowName/RunID'``.
    :param attempt: accepted for compatibility; only tasks and artifacts have attempts.
    :raises InvalidPathspec: if ``pathspec`` does not look like ``'FlowName/RunID'``.
    :raises NotFound: if the run does not exist.
    :raises NamespaceMismatch: if the run is not in the current namespace.
    """

    __slots__ = ()
    _NODE = RunNode

    data: Values[TaskData | None] = values(
        RunNode.data,
        "The artifacts of the ``end`` task (``run.data.my_var``); ``None`` before it runs.",
    )
    successful = read(RunNode.successful, "Whether the run ended successfully.")
    status = read(
        RunNode.status,
        "The run's stored state (beyond the reference): ``running``, ``succeeded``, "
        "``failed``, ``cancelled``, ``timeout`` or ``crashed`` (its supervisor vanished).",
    )
    finished = read(
        RunNode.finished,
        """Whether the run's ``end`` step completed (successfully or not).

        A run that failed, crashed or was cancelled before ``end`` is not finished; its
        ``status`` says which.""",
    )
    finished_at = read(
        RunNode.finished_at,
        "When the ``end`` task completed (UTC): exactly its ``finished_at``; ``None`` until "
        "``end`` has completed.",
    )
    end_task: Read[Task | None] = read(
        RunNode.end_task, "The task of the ``end`` step; ``None`` before it starts.", to=one
    )
    code = held(
        lambda node: None,
        "The run's code package: always ``None``, tideflow runs code where it is.",
    )
    trigger = held(
        lambda node: None,
        "The events that triggered the run: always ``None`` (runs are started by hand).",
    )
    steps: Children[Step] = children(
        lambda node, tags: node.steps(),
        "The steps, newest first. ``run.steps()`` is the reference's legacy alias of "
        "iterating the run; its tag arguments are ignored.",
    )
    add_tag = method(
        RunNode.add_tag,
        """Add a user tag. Adding a tag that is already a system tag does nothing.

        :raises TagError: if the tag is not a non-empty string of at most 500 characters,
            or the run would have more than 50 user tags.""",
    )
    add_tags = method(
        RunNode.add_tags,
        "Add user tags; system tags among them are left out. See :meth:`add_tag`.",
    )
    remove_tag = method(
        RunNode.remove_tag,
        """Remove a user tag. Removing a tag the run does not have does nothing.

        :raises TagError: if the tag is a system tag.""",
    )
    remove_tags = method(RunNode.remove_tags, "Remove user tags. See :meth:`remove_tag`.")
    replace_tag = method(
        RunNode.replace_tag,
        "Remove a tag, then add one, atomically: both happen or neither does.",
    )
    replace_tags = method(
        RunNode.replace_tags,
        """Remove tags, then add tags, atomically. See :meth:`add_tag` and
        :meth:`remove_tag` for the rules.

        :raises TagError: if there is no tag to remove and none to add.""",
    )


class Step(_Parent["Task"]):
    """A step of a run: the tasks that ran its function. ``Step('HelloFlow/1763.../start')``.

    Iterating a step gives its tasks, newest first (several for a foreach body).

    :param pathspec: ``'FlowName/RunID/StepName'``.
    :param attempt: accepted for compatibility; only tasks and artifacts have attempts.
    """

    __slots__ = ()
    _NODE = StepNode

    name: Held[str] = held(StepNode.name, "The step's name.")
    task: Read[Task | None] = read(
        StepNode.any_task,
        "A task of the step: its only one, or the newest of a foreach body.",
        to=one,
    )
    tasks: Children[Task] = children(
        StepNode.tasks,
        "The tasks, newest first: ``step.tasks(*tags)``, ``for task in step.tasks``, "
        "``step.tasks[0]``. With tags, none unless the run carries every one.",
    )
    finished_at = read(
        StepNode.finished_at,
        "When the last task of the step ended; ``None`` while one still runs.",
    )
    successful = read(StepNode.successful, "Whether every task of the step succeeded.")
    environment_info = read(
        StepNode.environment_info,
        "Where the step's tasks ran (see :attr:`Task.environment_info`).",
    )
    parent_steps: Read[Iterator[Step]] = read(
        lambda node: node.neighbours()[0],
        "The steps that come right before this one in the flow's graph (those the run has: "
        "the cases a switch did not take have no step).",
        to=each,
    )
    child_steps: Read[Iterator[Step]] = read(
        lambda node: node.neighbours()[1],
        "The steps that come right after this one in the flow's graph (those the run has).",
        to=each,
    )
    control_tasks: Listing[..., Task] = listing(
        StepNode.control_tasks,
        "The control tasks of a ``@parallel`` step (node 0 of each group); with tags, none "
        "unless the run carries every one.",
        to=wrapped,
    )


def _metadata(obj: Any, records: Any) -> list[Metadata]:
    return [Metadata(r.name, r.value, to_datetime(r.created_at), r.type, obj) for r in records]


def _artifacts(obj: Any, nodes: Any) -> TaskArtifacts[Any]:
    return TaskArtifacts(obj.pathspec, {node.name: obj._wrap(node) for node in nodes})


class Task(_Parent["DataArtifact"]):
    """One task of a step, at its latest attempt or at ``attempt``.

    ``Task('HelloFlow/1763.../start/1')``. Iterating a task gives its artifacts as
    :class:`DataArtifact` objects. Without ``attempt``, the status, logs and artifacts are
    those of the latest attempt that started, asked for again while it may still change.

    :param pathspec: ``'FlowName/RunID/StepName/TaskID'``.
    :param attempt: the attempt to describe (0 is the first); default: the latest.
    :raises NotFound: if the task, or that attempt of it, does not exist.
    """

    __slots__ = ()
    _NODE = TaskNode

    data: Values[TaskData] = values(
        TaskNode.data,
        "The artifact values: ``task.data.my_var`` (a missing name raises :exc:`AttributeError`).",
    )
    artifacts: Read[TaskArtifacts[DataArtifact]] = read(
        TaskNode.artifacts,
        "The artifacts as :class:`DataArtifact` objects: ``task.artifacts.my_var.sha``.",
        to=_artifacts,
    )
    metadata: Read[list[Metadata]] = read(
        TaskNode.metadata,
        "The metadata events of every attempt (of the given attempt only, if one was).",
        to=_metadata,
    )
    metadata_dict = read(
        TaskNode.metadata_dict,
        "The latest value of each metadata name, such as ``ds-root`` or ``attempt``.",
    )
    successful = read(TaskNode.successful, "Whether the attempt succeeded.")
    status = read(
        TaskNode.status,
        "The attempt's stored state (beyond the reference): ``running``, ``succeeded``, "
        "``failed``, ``cancelled``, ``timeout`` or ``crashed``; ``None`` before it starts.",
    )
    finished = read(TaskNode.finished, "Whether the attempt has ended, successfully or not.")
    finished_at = read(
        TaskNode.finished_at, "When the attempt ended (UTC); ``None`` while it runs."
    )
    exception: Read[TaskException | None] = read(
        TaskNode.exception,
        "What the attempt raised, if it failed: ``.type``, ``.message``, ``.traceback``.",
    )
    runtime_name: Held[str | None] = held(
        TaskNode.runtime_name, "The runtime the task ran on: ``'dev'`` for local runs."
    )
    stdout: Read[str] = read(
        lambda node: node.log_text("stdout"),
        "The attempt's standard output so far (all of it once it ended).",
    )
    stdout_size: Read[int] = read(
        lambda node: node.log_size("stdout"), "The size of :attr:`stdout` in bytes, so far."
    )
    stderr: Read[str] = read(
        lambda node: node.log_text("stderr"),
        "The attempt's standard error so far (all of it once it ended).",
    )
    stderr_size: Read[int] = read(
        lambda node: node.log_size("stderr"), "The size of :attr:`stderr` in bytes, so far."
    )
    current_attempt = read(
        TaskNode.current_attempt,
        "The attempt described: the one given, else the latest one started (0 before the first).",
    )
    attempt = read(TaskNode.current_attempt, "Same as :attr:`current_attempt`.")
    code = held(
        lambda node: None,
        "The task's code package: always ``None``, tideflow runs code where it is.",
    )
    environment_info = read(
        TaskNode.environment_info,
        "Where the attempt ran: ``runtime``, ``python_version``, ``executor`` (and "
        "``platform`` when recorded).",
    )
    index: Held[int | None] = held(
        TaskNode.index,
        "The task's index in the innermost foreach around it; ``None`` outside one.",
    )
    parent_tasks: Read[Iterator[Task]] = read(
        TaskNode.parent_tasks, "The tasks whose output this task took as input.", to=each
    )
    child_tasks: Read[Iterator[Task]] = read(
        TaskNode.child_tasks, "The tasks that took this task's output as input.", to=each
    )
    parent_task_pathspecs: Held[Iterator[str]] = held(
        lambda node: node.parent_task_pathspecs, "The pathspecs of :attr:`parent_tasks`.", to=many
    )
    child_task_pathspecs: Read[Iterator[str]] = read(
        TaskNode.child_task_pathspecs, "The pathspecs of :attr:`child_tasks`.", to=many
    )
    loglines: Listing[..., tuple[datetime, Any]] = listing(
        TaskNode.loglines,
        """Return an iterator over ``(utc_timestamp, line)`` of a log, so far.

        :param stream: ``'stdout'`` or ``'stderr'``.
        :param as_unicode: ``False`` gives each line as bytes.
        :param meta_dict: accepted for compatibility; unused.
        :raises ValueError: if ``stream`` is not ``stdout`` or ``stderr``.""",
    )


class DataArtifact(_Object):
    """One artifact of a task attempt: ``DataArtifact('HelloFlow/1763.../start/1/x')``.

    :param pathspec: ``'FlowName/RunID/StepName/TaskID/ArtifactName'``.
    :param attempt: the task attempt; default: the latest.
    """

    __slots__ = ()
    _NODE = ArtifactNode

    data: Read[Any] = read(ArtifactNode.value, "The artifact's value, read from the datastore.")
    sha: Held[str] = held(ArtifactNode.sha, "The SHA-256 key of the stored value.")
    size: Held[int] = held(ArtifactNode.size, "The size of the stored value, in bytes.")
    finished_at: Held[datetime] = held(
        ArtifactNode.finished_at, "When the artifact was stored (UTC)."
    )


class Flows(FlowListing):
    """Every flow of the store, as :class:`Flow` objects: ``for flow in Flows()``.

    Iteration gives the flows, by name, that have a run in the current namespace
    (every flow under ``namespace(None)``). ``Metaflow`` is another name for this class.

    :param _namespace_check: ``False`` lists every flow whatever the namespace.
    :param _root: the store folder (default: found as for every client object).
    """

    __slots__ = ()

    @property
    def flows(self) -> list[Flow]:
        """The flows, by name."""
        return list(self)

    def __iter__(self) -> Iterator[Flow]:
        """Iterate over the flows, by name."""
        return iter([Flow._from_node(node) for node in self._list()])

    def __getitem__(self, name: str) -> Flow:
        """Return the flow ``name``.

        :raises KeyError: if there is no such flow (in the current namespace, unless the
            listing skips the check).
        """
        try:
            return Flow(name, _namespace_check=self._namespace_check, _root=self._root)
        except (NotFound, NamespaceMismatch) as exc:
            raise KeyError(name) from exc

    def __contains__(self, name: object) -> bool:
        """Return whether the flow ``name`` is listed: it has a run in the namespace."""
        try:
            self[name]  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            return False
        return True


def wrap(node: Node) -> Any:
    """The blocking client object for ``node``."""
    return _Object._FACES[type(node)]._from_node(node)

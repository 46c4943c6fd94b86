"""Messages that cross a process boundary, as msgspec Structs.

The worker protocol is: the child sends :class:`Ready`, the parent sends a
:class:`TaskSpec`, the child runs the step and sends :class:`TaskDone`. Frames are
length-prefixed msgpack (see :mod:`._worker._framing`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._flow._transition import ForeachFrame, Transition

__all__ = (
    "ArtifactRef",
    "ErrorInfo",
    "ForeachFrame",
    "InputTask",
    "Ready",
    "TaskDone",
    "TaskSpec",
    "Transition",
    "WorkerMessage",
)


class ArtifactRef(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """An artifact of a task: its name, the content hash of its pickle, and its size."""

    name: str
    sha: str
    size: int


class ErrorInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An exception raised inside a task, as text."""

    type: str
    message: str
    traceback: str = ""
    #: The step was interrupted by its ``@timeout``.
    timed_out: bool = False


class InputTask(msgspec.Struct, frozen=True, kw_only=True):
    """One task whose artifacts a new task reads: its pathspec, step and artifacts."""

    pathspec: str
    step: str
    artifacts: list[ArtifactRef]


class TaskSpec(msgspec.Struct, frozen=True, kw_only=True, tag="task"):
    """Everything a worker needs to run one attempt of one task."""

    flow_name: str
    #: Path of the flow file, or ``module:Class`` when the flow is imported by name.
    flow_source: str
    flow_class: str
    root: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    parameters: dict[str, Any]
    parameters_refs: list[ArtifactRef]
    inputs: list[InputTask]
    stack: list[ForeachFrame] = []
    username: str = ""
    namespace: str | None = None
    origin_run_id: str | None = None
    tags: list[str] = []
    max_num_splits: int = 100
    sys_path: list[str] = []
    #: ``--with`` specs of the run, for the decorators that act in the task (@card, @secrets).
    decospecs: list[str] = []
    #: Where artifacts are stored (``None``: the blob folder of ``root``).
    datastore_url: str | None = None
    #: ``@catch(var=...)``: the artifact set to ``None`` when the step succeeds.
    catch_var: str | None = None
    #: In a ``@parallel`` step: the task id of the control task (node 0).
    parallel_control: str | None = None
    #: ``@timeout``: the seconds after which the step is interrupted.
    timeout: float | None = None
    #: ``@resources``: what the task asks for (``cpu``, ``memory`` in MB, ``gpu``), for an
    #: executor that places tasks on machines; the local ones ignore it.
    resources: dict[str, float] = {}


class Ready(msgspec.Struct, frozen=True, tag="ready"):
    """The worker is up and waits for its :class:`TaskSpec`."""

    pid: int


class TaskDone(msgspec.Struct, frozen=True, kw_only=True, tag="done"):
    """The outcome of a task attempt, sent by the worker before it exits.

    A failed attempt still carries the artifacts its step set before it raised.
    """

    ok: bool
    artifacts: list[ArtifactRef] = []
    transition: Transition | None = None
    error: ErrorInfo | None = None


WorkerMessage = Ready | TaskDone | TaskSpec

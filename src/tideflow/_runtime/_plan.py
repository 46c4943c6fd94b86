"""What the scheduler is given: the plan of a run and of each task ready to run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from .._flow._decorators import StepDecorator
from .._messages import ArtifactRef, ForeachFrame, InputTask

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("RunPlan", "TaskPlan", "group_key", "is_parallel", "stack_key")


class RunPlan(msgspec.Struct, frozen=True, kw_only=True):
    """Everything fixed about a run before its first task starts."""

    flow_name: str
    flow_source: str
    flow_class: str
    run_id: str
    root: str
    username: str
    namespace: str | None
    tags: tuple[str, ...]
    parameters: dict[str, Any]
    parameters_refs: list[ArtifactRef]
    max_workers: int = 16
    max_num_splits: int = 100
    decospecs: tuple[StepDecorator, ...] = ()
    env: dict[str, str] = {}
    cwd: str = "."
    sys_path: list[str] = []
    origin_run_id: str | None = None
    #: Where task processes store artifacts (``None``: the blob folder of ``root``).
    datastore_url: str | None = None


class TaskPlan(msgspec.Struct, frozen=True, kw_only=True):
    """A task ready to run: its step, its input tasks and the foreach frames around it."""

    step: str
    inputs: list[InputTask]
    stack: tuple[ForeachFrame, ...] = ()


def stack_key(stack: Sequence[ForeachFrame]) -> tuple[tuple[str, int], ...]:
    """The foreach position of a task: ``(step, index)`` of each frame, outermost first."""
    return tuple((frame.step, frame.index) for frame in stack)


def is_parallel(plan: TaskPlan) -> bool:
    """Whether ``plan`` is one of the tasks of ``num_parallel`` (its frame has no variable)."""
    return bool(plan.stack) and not plan.stack[-1].var


def group_key(plan: TaskPlan) -> tuple[Any, ...]:
    """The group of ``@parallel`` tasks ``plan`` belongs to."""
    return (plan.step, stack_key(plan.stack[:-1]))

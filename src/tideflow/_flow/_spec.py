"""``FlowSpec``: the base class of every flow.

A subclass declares parameters (class attributes) and steps (``@step`` methods). Calling
the class at ``__main__`` runs the command line. In a task, the worker builds the object
with :meth:`FlowSpec._tf_for_task` and binds it to the artifacts of its input tasks:
attribute reads load artifacts lazily, attribute writes become the task's new artifacts.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .._exceptions import (
    FlowDefinitionError,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
)
from ._config import Config, DelayedValue
from ._graph import FlowGraph, build_graph
from ._hooks import command_line
from ._parameter import Parameter
from ._transition import ForeachFrame, Transition

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

__all__ = ("ArtifactSource", "FlowSpec", "Inputs")


class ArtifactSource(Protocol):
    """Where a task's inherited artifacts come from: names, content hashes and values."""

    def names(self) -> Sequence[str]:
        """The names of the available artifacts."""
        ...

    def sha(self, name: str) -> str:
        """The content hash of an artifact; raises ``KeyError`` when absent."""
        ...

    def load(self, name: str) -> Any:
        """The value of an artifact; raises ``KeyError`` when absent."""
        ...


#: Names a parameter cannot take: FlowSpec's own methods, and the options of run().
_RESERVED = frozenset(
    {
        "next",
        "input",
        "index",
        "merge_artifacts",
        "foreach_stack",
        "tag",
        "tags",
        "namespace",
        "max_workers",
        "max-workers",
        "max_num_splits",
        "max-num-splits",
        "run_id_file",
        "run-id-file",
        "user_namespace",
        "origin_run_id",
        "step_to_rerun",
    }
)


class FlowSpec:
    """Base class of flows. Subclass it, add ``@step`` methods and :class:`Parameter`\\ s.

    ``MyFlow()`` at ``if __name__ == '__main__':`` runs the command line
    (``python myflow.py run``); ``use_cli=False`` builds a plain object.
    """

    def __init__(self, use_cli: bool = True) -> None:
        if use_cli:
            sys.exit(command_line(type(self)))

    # -- class-level description -------------------------------------------------------

    @classmethod
    def _tf_graph(cls) -> FlowGraph:
        """The validated graph of this flow class (built once per class)."""
        cached: FlowGraph | None = cls.__dict__.get("_tf_graph_cache")
        if cached is None:
            cached = build_graph(cls)
            cls._tf_check_parameters(cached)
            type.__setattr__(cls, "_tf_graph_cache", cached)
        return cached

    @classmethod
    def _tf_parameters(cls) -> dict[str, Parameter]:
        """The flow's parameters, by attribute name, in definition order."""
        return {
            attribute: value
            for klass in reversed(cls.__mro__)
            for attribute, value in vars(klass).items()
            if isinstance(value, Parameter)
        }

    @classmethod
    def _tf_constants(cls) -> dict[str, Any]:
        """The flow's class-level constants (``int_const = 123``): every attribute of the
        class that is not private, a method, a property, a class, a parameter or a
        configuration. They are stored as artifacts of every task, and a step cannot assign
        them."""
        own = set(dir(FlowSpec))
        constants = {}
        for name in dir(cls):
            if name.startswith("_") or name in own:
                continue
            value = inspect.getattr_static(cls, name)
            if isinstance(
                value,
                (Parameter, Config, DelayedValue, property, type, classmethod, staticmethod),
            ):
                continue
            if callable(value):
                continue
            constants[name] = value
        return constants

    @classmethod
    def _tf_check_parameters(cls, graph: FlowGraph) -> None:
        seen: dict[str, str] = {}
        for attribute, parameter in cls._tf_parameters().items():
            problem = None
            if attribute in _RESERVED or parameter.name in _RESERVED:
                problem = f"'{attribute}' is a reserved name"
            elif attribute in graph or parameter.name in graph:
                problem = f"'{parameter.name}' is also the name of a step"
            elif parameter.name in seen:
                problem = f"'{parameter.name}' is used by two parameters"
            if problem:
                raise FlowDefinitionError(
                    f"Parameter {problem}: give the parameter another name.",
                    file=graph.file or None,
                )
            seen[parameter.name] = attribute

    @property
    def name(self) -> str:
        """The name of the flow (its class name)."""
        return type(self).__name__

    # -- task binding (used by the worker) ---------------------------------------------

    @classmethod
    def _tf_for_task(
        cls,
        *,
        step: str,
        parameters: Mapping[str, Any],
        source: ArtifactSource | None,
        stack: Sequence[ForeachFrame] = (),
        item_value: Callable[[int], Any] | None = None,
    ) -> FlowSpec:
        """A flow object bound to one task's inputs.

        ``item_value(level)`` loads the item of the foreach at ``level`` of ``stack``
        (0 is the outermost) that this task handles.
        """
        flow = cls.__new__(cls)
        state = flow.__dict__
        state["_tf_parameters"] = dict(parameters)
        state["_tf_source"] = source
        state["_tf_step"] = step
        state["_tf_stack"] = tuple(stack)
        state["_tf_item_value"] = item_value
        state["_tf_transition"] = None
        state["_tf_loaded"] = {}
        state["_tf_merged"] = {}
        state["_tf_merge_sources"] = {}
        state["_tf_deleted"] = set()
        return flow

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: the name may be an inherited artifact.
        if name.startswith(("__", "_tf_")):
            raise AttributeError(name)
        state = self.__dict__
        if name not in state.get("_tf_deleted", ()):
            merged_from = state.get("_tf_merge_sources", {}).get(name)
            source = merged_from if merged_from is not None else state.get("_tf_source")
            if source is not None:
                try:
                    sha = source.sha(name)
                except KeyError:
                    pass
                else:
                    value = source.load(name)
                    state[name] = value
                    state["_tf_loaded"][name] = sha
                    return value
        step = state.get("_tf_step")
        where = f" in step '{step}'" if step else ""
        raise AttributeError(
            f"Flow {type(self).__name__} has no attribute or artifact '{name}'{where}."
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_") and name in type(self)._tf_constant_names():
            raise AttributeError(
                f"Cannot assign self.{name} in step '{self.__dict__.get('_tf_step')}': "
                f"{name} is a constant of {type(self).__name__} (a class attribute), the same "
                "in every task. Assign the value to an attribute with another name."
            )
        object.__setattr__(self, name, value)

    @classmethod
    def _tf_constant_names(cls) -> frozenset[str]:
        cached: frozenset[str] | None = cls.__dict__.get("_tf_constant_cache")
        if cached is None:
            cached = frozenset(cls._tf_constants())
            type.__setattr__(cls, "_tf_constant_cache", cached)
        return cached

    def __delattr__(self, name: str) -> None:
        if name in self.__dict__:
            del self.__dict__[name]
        elif (
            self.__dict__.get("_tf_source") is None
            or name not in self.__dict__["_tf_source"].names()
        ):
            raise AttributeError(name)
        self.__dict__.setdefault("_tf_deleted", set()).add(name)
        self.__dict__.get("_tf_loaded", {}).pop(name, None)

    # -- what a step calls ---------------------------------------------------------------

    def next(
        self,
        *steps: Callable[..., Any] | Mapping[Any, Callable[..., Any]],
        foreach: str | None = None,
        num_parallel: int | None = None,
        condition: str | None = None,
    ) -> None:
        """Say which step(s) run after this one.

        ``self.next(self.b)`` goes on to one step, ``self.next(self.b, self.c)`` branches,
        ``self.next(self.body, foreach='items')`` runs ``body`` once per item,
        ``self.next(self.train, num_parallel=4)`` runs the ``@parallel`` step ``train``
        as four tasks at once, and ``self.next({'a': self.a, 'b': self.b},
        condition='choice')`` goes on to the step that the value of ``self.choice`` names.
        """
        state = self.__dict__
        step = state.get("_tf_step")
        if state.get("_tf_transition") is not None:
            raise FlowDefinitionError(
                "self.next() was called twice: a step calls it once, as its last line.",
                step=step,
            )
        if condition is not None:
            state["_tf_transition"] = self._tf_switch(steps, condition)
            return
        names = [_step_name_of(target, step) for target in steps]
        num_splits = None
        if num_parallel is not None:
            if isinstance(num_parallel, bool) or not isinstance(num_parallel, int):
                raise FlowDefinitionError(
                    f"num_parallel must be a whole number of tasks, not {num_parallel!r}.",
                    step=step,
                )
            if num_parallel < 1:
                raise FlowDefinitionError(
                    f"num_parallel={num_parallel} starts no task: ask for at least 1.",
                    step=step,
                )
            state["_tf_transition"] = Transition(tuple(names), None, num_parallel, parallel=True)
            return
        if foreach is not None:
            num_splits = self._tf_foreach_size(foreach)
        state["_tf_transition"] = Transition(tuple(names), foreach, num_splits)

    def _tf_foreach_size(self, foreach: str) -> int:
        step = self.__dict__.get("_tf_step")
        try:
            values = getattr(self, foreach)
        except AttributeError as exc:
            raise FlowDefinitionError(
                f"foreach='{foreach}' names no attribute: set self.{foreach} to a list "
                "before calling self.next().",
                step=step,
            ) from exc
        try:
            return len(values)
        except TypeError as exc:
            raise FlowDefinitionError(
                f"The foreach variable '{foreach}' holds a value of type "
                f"{type(values).__name__}, which has no length: use a list or another "
                "sequence.",
                step=step,
            ) from exc

    def _tf_switch(self, steps: Sequence[Any], condition: str) -> Transition:
        """The transition of ``self.next({...}, condition=...)``: the step chosen."""
        step = self.__dict__.get("_tf_step")
        if len(steps) != 1 or not isinstance(steps[0], Mapping) or not steps[0]:
            raise FlowDefinitionError(
                "With condition=, self.next() takes one dict mapping each value of "
                f"self.{condition} to a step, as in self.next({{'a': self.a, 'b': self.b}}, "
                f"condition='{condition}').",
                step=step,
            )
        cases = steps[0]
        try:
            value = getattr(self, condition)
        except AttributeError as exc:
            raise FlowDefinitionError(
                f"The switch condition self.{condition} is not set: assign it in step "
                f"'{step}' (or earlier) before calling self.next().",
                step=step,
            ) from exc
        try:
            chosen = cases[value]
        except (KeyError, TypeError):
            raise FlowDefinitionError(
                f"The switch condition self.{condition} is {value!r}, which is not one of "
                f"the cases {list(cases)}: set it to one of them, or add a case for it.",
                step=step,
            ) from None
        return Transition((_step_name_of(chosen, step),), condition=condition)

    @property
    def input(self) -> Any:
        """In a foreach, the item of the foreach variable this task handles."""
        getter = self.__dict__.get("_tf_item_value")
        stack = self.__dict__.get("_tf_stack") or ()
        return None if getter is None or not stack else getter(len(stack) - 1)

    @property
    def index(self) -> int | None:
        """In a foreach, the index of the item this task handles; else ``None``."""
        stack = self.__dict__.get("_tf_stack") or ()
        return stack[-1].index if stack else None

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``(index, num_splits, value)`` for each enclosing foreach, outermost first."""
        stack = self.__dict__.get("_tf_stack") or ()
        getter = self.__dict__.get("_tf_item_value")
        return [
            (frame.index, frame.num_splits, None if getter is None else getter(level))
            for level, frame in enumerate(stack)
        ]

    def merge_artifacts(
        self,
        inputs: Inputs,
        include: Sequence[str] | None = None,
        exclude: Sequence[str] | None = None,
    ) -> None:
        """In a join, carry over the artifacts whose values agree across ``inputs``.

        Artifacts already set in the join are left alone. Artifacts whose values differ
        raise :class:`~tideflow.exception.UnhandledInMergeArtifactsException` unless
        excluded (or set first); ``include`` naming an artifact no input has raises
        :class:`~tideflow.exception.MissingInMergeArtifactsException`. Either way nothing
        is merged.
        """
        step = self.__dict__.get("_tf_step")
        if not isinstance(inputs, Inputs):
            raise FlowDefinitionError(
                "merge_artifacts() takes the join's inputs: self.merge_artifacts(inputs).",
                step=step,
            )
        if include and exclude:
            raise FlowDefinitionError(
                "merge_artifacts() takes include or exclude, not both.", step=step
            )
        parameters = set(self.__dict__.get("_tf_parameters", {}))
        candidates: dict[str, list[tuple[str, ArtifactSource]]] = {}
        for flow in inputs:
            source = flow.__dict__.get("_tf_source")
            if source is None:
                continue
            for name in source.names():
                if name.startswith("_") or name in parameters:
                    continue
                candidates.setdefault(name, []).append((source.sha(name), source))
        wanted = set(include) if include else set(candidates) - set(exclude or ())
        conflicts = []
        merged: dict[str, tuple[str, ArtifactSource]] = {}
        for name in sorted(wanted & set(candidates)):
            if name in self.__dict__:
                continue
            if len({sha for sha, _ in candidates[name]}) > 1:
                conflicts.append(name)
            else:
                merged[name] = candidates[name][0]
        if conflicts:
            raise UnhandledInMergeArtifactsException(
                f"Step '{step}' cannot merge artifact(s) whose values differ between inputs: "
                f"{', '.join(conflicts)}. Set them in the join (self.x = ...) before calling "
                "merge_artifacts(), or leave them out with exclude=[...]. Nothing was merged.",
                conflicts,
            )
        missing = sorted(n for n in set(include or ()) - set(candidates) if n not in self.__dict__)
        if missing:
            raise MissingInMergeArtifactsException(
                f"merge_artifacts(include=...) names artifact(s) no input has: "
                f"{', '.join(missing)}. Nothing was merged.",
                missing,
            )
        # All or nothing: the artifacts are merged only once every check passed.
        for name, (sha, source) in merged.items():
            self.__dict__["_tf_merged"][name] = sha
            self.__dict__["_tf_merge_sources"][name] = source


def _step_name_of(target: Any, step: str | None) -> str:
    func = getattr(target, "__func__", target)
    if not getattr(func, "__tf_step__", False):
        raise FlowDefinitionError(
            f"self.next() takes steps, as in self.next(self.end); got {target!r}.",
            step=step,
        )
    return str(func.__name__)


class Inputs:
    """The inputs of a join step: one flow object per incoming task.

    Iterate over it, index it, or (for branches) read ``inputs.<step_name>``.
    """

    def __init__(self, flows: Sequence[FlowSpec]) -> None:
        self._flows = list(flows)
        self._by_step = {flow.__dict__.get("_tf_step"): flow for flow in self._flows}

    def __iter__(self) -> Iterator[FlowSpec]:
        return iter(self._flows)

    def __len__(self) -> int:
        return len(self._flows)

    def __getitem__(self, index: int) -> FlowSpec:
        return self._flows[index]

    def __getattr__(self, name: str) -> FlowSpec:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._by_step[name]
        except KeyError:
            raise AttributeError(
                f"This join has no input from a step named '{name}'; its inputs come from: "
                f"{', '.join(str(s) for s in self._by_step)}."
            ) from None

    def __repr__(self) -> str:
        return f"<Inputs of {len(self._flows)} tasks>"

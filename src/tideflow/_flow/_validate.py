"""Checks of a flow graph, one function per check.

Each check raises :class:`FlowDefinitionError` naming the step, the file and the line, and
saying what to do. :func:`validate` runs them in an order where each may rely on the
previous ones, and returns the nodes completed with ``in_funcs``, ``split_parents`` and
``matching_join``.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import msgspec

from .._exceptions import FlowDefinitionError

if TYPE_CHECKING:
    from ._graph import StepNode

__all__ = ("validate",)


def validate(cls: type, file: str, nodes: dict[str, StepNode]) -> dict[str, StepNode]:
    """Validate the parsed steps of ``cls`` and complete their split information."""
    check_start_and_end(cls, file, nodes)
    check_transitions(nodes)
    check_unknown_targets(nodes)
    check_acyclic(nodes)
    check_reachable(nodes)
    check_parallel(nodes)
    nodes = _with_in_funcs(nodes)
    return assign_splits(nodes)


def _error(node: StepNode, message: str, *, at_next: bool = False) -> FlowDefinitionError:
    """The error for ``node``: its step, file, and the line of its ``def`` (or, with
    ``at_next``, of its ``self.next()`` call)."""
    line = node.next_line if at_next else node.line
    return FlowDefinitionError(message, step=node.name, file=node.file, line=line)


def _class_line(cls: type) -> int | None:
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return None


def check_start_and_end(cls: type, file: str, nodes: dict[str, StepNode]) -> None:
    """A flow has a ``start`` and an ``end`` step."""
    for name, role in (("start", "begins"), ("end", "ends")):
        if name not in nodes:
            raise FlowDefinitionError(
                f"Flow {cls.__name__} has no '{name}' step. Every flow {role} with a step "
                f"named {name}: add `@step` `def {name}(self): ...`.",
                file=file or None,
                line=_class_line(cls),
            )
    if nodes["start"].is_join:
        raise _error(
            nodes["start"], "The start step cannot take inputs: write `def start(self):`."
        )


def check_transitions(nodes: dict[str, StepNode]) -> None:
    """Every step but ``end`` calls ``self.next()``; ``end`` does not."""
    for node in nodes.values():
        if node.name == "end" and node.out_funcs:
            raise _error(
                node,
                "The end step must not call self.next(): it is the last step of the flow. "
                "Remove the call, or rename the step.",
                at_next=True,
            )
        if node.name != "end" and not node.out_funcs:
            raise _error(
                node,
                f"Step '{node.name}' does not call self.next(). Add self.next(self.<step>) "
                "as its last line to say which step runs after it (use self.next(self.end) "
                "to finish the flow).",
            )


def check_unknown_targets(nodes: dict[str, StepNode]) -> None:
    """Every transition goes to a step of the flow."""
    for node in nodes.values():
        for target in node.out_funcs:
            if target not in nodes:
                # Imported here: only a broken flow needs it, and every run validates.
                import difflib

                known = ", ".join(sorted(nodes))
                close = difflib.get_close_matches(target, list(nodes), n=1, cutoff=0.5)
                guess = f" Did you mean self.next(self.{close[0]})?" if close else ""
                raise _error(
                    node,
                    f"Step '{node.name}' specifies a self.next() transition to an unknown "
                    f"step, '{target}'.{guess} The steps are: {known}. Check the name, and "
                    "that the step has @step.",
                    at_next=True,
                )


def check_acyclic(nodes: dict[str, StepNode]) -> None:
    """The graph has no cycle, except through a switch (a step that loops back)."""
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        node = nodes[name]
        for target in node.out_funcs:
            if node.type == "switch":
                continue  # a switch may go back: the loop ends when the condition says so
            if state.get(target) == 1:
                cycle = path[path.index(target) :] if target in path else []
                shown = " -> ".join(dict.fromkeys([*cycle, name, target])) + f" -> {target}"
                raise _error(
                    node,
                    f"Step '{name}' closes a cycle ({shown}): flows must be acyclic. Use a "
                    "foreach to repeat work, or a switch to loop until a condition holds: "
                    f"self.next({{'again': self.{target}, 'done': self.end}}, "
                    "condition='status').",
                    at_next=True,
                )
            if target not in state:
                visit(target, [*path, name])
        state[name] = 2

    for name in nodes:
        if name not in state:
            visit(name, [])


def check_reachable(nodes: dict[str, StepNode]) -> None:
    """Every step can be reached from ``start``."""
    seen: set[str] = set()
    stack = ["start"]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(nodes[name].out_funcs)
    for name, node in nodes.items():
        if name not in seen:
            raise _error(
                node,
                f"Step '{name}' is never reached from start. Remove it, or add a "
                f"self.next(self.{name}) transition to it from another step.",
            )


def _with_in_funcs(nodes: dict[str, StepNode]) -> dict[str, StepNode]:
    incoming: dict[str, list[str]] = {name: [] for name in nodes}
    for node in nodes.values():
        for target in node.out_funcs:
            incoming[target].append(node.name)
    return {name: _replace(node, in_funcs=tuple(incoming[name])) for name, node in nodes.items()}


def _replace(node: StepNode, **changes: object) -> StepNode:
    return msgspec.structs.replace(node, **changes)


def check_parallel(nodes: dict[str, StepNode]) -> None:
    """``num_parallel`` goes to a ``@parallel`` step, and that step is followed by a join."""
    for node in nodes.values():
        targets = [nodes[t] for t in node.out_funcs]
        for target in targets:
            has_decorator = any(d.name == "parallel" for d in target.decorators)
            if node.parallel and not has_decorator:
                raise _error(
                    target,
                    f"Step '{target.name}' is started with num_parallel by step '{node.name}' "
                    f"but has no @parallel decorator: add @parallel above @step.",
                )
            if has_decorator and not node.parallel:
                raise _error(
                    node,
                    f"Step '{target.name}' has @parallel but step '{node.name}' does not start "
                    f"it with num_parallel: write self.next(self.{target.name}, num_parallel=N).",
                    at_next=True,
                )
        if any(d.name == "parallel" for d in node.decorators) and (
            len(targets) != 1 or not targets[0].is_join
        ):
            raise _error(
                node,
                f"Step '{node.name}' has @parallel, so the step after it must be a join "
                f"that takes its tasks: `def {node.out_funcs[0]}(self, inputs):`.",
                at_next=True,
            )


class _Place(msgspec.Struct, frozen=True):
    """Where a step sits: the open splits around it and the branch taken in each."""

    stack: tuple[str, ...]
    branches: tuple[str, ...]


def assign_splits(nodes: dict[str, StepNode]) -> dict[str, StepNode]:
    """Pair every split with its join and record the open splits around each step.

    A step reached from several steps must be a join (it takes ``inputs``), unless every
    way in comes from the same branch: those are the alternatives of a switch.
    """
    places: dict[str, _Place] = {}
    matching: dict[str, str] = {}

    def walk(name: str, place: _Place, came_from: str | None) -> None:
        node = nodes[name]
        arriving = place
        if node.is_join:
            place = _close(nodes, node, place, matching)
        known = places.get(name)
        if known is not None:
            if known != place:
                _bad_meeting(nodes, node, came_from, arriving)
            return
        places[name] = place
        for target in node.out_funcs:
            inner = place
            if node.type in ("split", "foreach"):
                inner = _Place((*place.stack, name), (*place.branches, target))
            walk(target, inner, name)

    walk("start", _Place((), ()), None)
    if places["end"].stack:
        _unjoined(nodes, places["end"].stack[-1])
    for split in (n for n in nodes.values() if n.type in ("split", "foreach")):
        if split.name not in matching:
            _unjoined(nodes, split.name)
    return {
        name: _replace(
            node,
            split_parents=places[name].stack,
            split_branches=places[name].branches,
            matching_join=matching.get(name),
        )
        for name, node in nodes.items()
    }


def _close(
    nodes: dict[str, StepNode], node: StepNode, place: _Place, matching: dict[str, str]
) -> _Place:
    """The place after the join ``node``, which closes the innermost open split."""
    name = node.name
    if not place.stack:
        raise _error(
            node,
            f"Step '{name}' takes inputs but joins no split: no foreach or branch is open "
            f"when it runs. Write `def {name}(self):` instead.",
        )
    split = place.stack[-1]
    if matching.setdefault(split, name) != name:
        _mismatched_join(nodes, split, matching[split], name)
    return _Place(place.stack[:-1], place.branches[:-1])


def _bad_meeting(
    nodes: dict[str, StepNode], node: StepNode, came_from: str | None, place: _Place
) -> None:
    name = node.name
    if not node.is_join and len(node.in_funcs) > 1:
        raise _error(
            node,
            f"Step '{name}' is reached from {len(node.in_funcs)} steps "
            f"({', '.join(node.in_funcs)}) but does not take inputs. Join the branches "
            f"with `def {name}(self, inputs):`.",
        )
    raise _error(
        node,
        f"Step '{name}' is reached from inside different splits ({came_from} and another "
        "branch). Join each split before its branches meet.",
    )


def _unjoined(nodes: dict[str, StepNode], split: str) -> None:
    node = nodes[split]
    what = f"foreach over '{node.foreach_param}'" if node.type == "foreach" else "branches"
    raise _error(
        node,
        f"The {what} started in step '{split}' is never joined. Add a join step "
        "(`def join(self, inputs):`) that every branch reaches before the end step.",
        at_next=True,
    )


def _mismatched_join(nodes: dict[str, StepNode], split: str, first: str, second: str) -> None:
    node = nodes[second]
    raise _error(
        node,
        f"The branches of step '{split}' end in two different joins, '{first}' and "
        f"'{second}'. Every branch of a split must reach the same join step.",
    )

"""The flow graph: one :class:`StepNode` per step, built from the flow class's source.

The transitions come from each step's ``self.next(...)`` call, read from its source with
:mod:`ast`; nothing of the flow runs. :func:`build_graph` validates the result
(see :mod:`._validate`) and raises :class:`FlowDefinitionError` with the step, file, line
and fix.
"""

from __future__ import annotations

import ast
import copy
import inspect
import textwrap
from typing import TYPE_CHECKING, Any

import msgspec

from .._exceptions import FlowDefinitionError
from ._decorators import StepDecorator, decorators_of
from ._step import is_step

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ("FlowGraph", "StepNode", "build_graph", "step_functions")


class StepNode(msgspec.Struct, frozen=True, kw_only=True):
    """One step of a flow.

    ``type`` says how the step goes on: ``linear``, ``split`` (static branches),
    ``foreach`` or ``end``; ``is_join`` says whether it takes ``inputs``. ``split_parents`` lists the open splits around the step,
    outermost first; a split's ``matching_join`` is the step that closes it.
    """

    name: str
    type: str
    out_funcs: tuple[str, ...]
    in_funcs: tuple[str, ...] = ()
    foreach_param: str | None = None
    is_join: bool = False
    doc: str = ""
    file: str = ""
    line: int = 0
    next_line: int = 0
    decorators: tuple[StepDecorator, ...] = ()
    split_parents: tuple[str, ...] = ()
    matching_join: str | None = None


class FlowGraph:
    """The validated graph of a flow: steps by name, in a stable order from ``start``."""

    def __init__(self, flow_name: str, file: str, nodes: dict[str, StepNode]) -> None:
        self.flow_name = flow_name
        self.file = file
        self.nodes = nodes
        self.sorted_nodes = _topological(nodes)

    def __getitem__(self, name: str) -> StepNode:
        return self.nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[StepNode]:
        return (self.nodes[name] for name in self.sorted_nodes)

    def __repr__(self) -> str:
        return f"<FlowGraph {self.flow_name}: {' '.join(self.sorted_nodes)}>"

    def with_decorators(self, change: Callable[[StepDecorator], StepDecorator]) -> FlowGraph:
        """A copy of the graph with ``change`` applied to every decorator of every step."""
        new = copy.copy(self)
        new.nodes = {
            name: msgspec.structs.replace(
                node, decorators=tuple(change(d) for d in node.decorators)
            )
            for name, node in self.nodes.items()
        }
        return new

    def signature(self) -> list[tuple[str, str, tuple[str, ...], str | None]]:
        """The shape of the graph, for comparing two versions of a flow (resume)."""
        return [(n.name, n.type, n.out_funcs, n.foreach_param) for n in self]


def _topological(nodes: dict[str, StepNode]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()
    indegree = dict.fromkeys(nodes, 0)
    for node in nodes.values():
        for out in node.out_funcs:
            if out in indegree:
                indegree[out] += 1
    ready = [n for n in ("start",) if n in nodes]
    while ready:
        name = ready.pop(0)
        if name in seen:
            continue
        seen.add(name)
        order.append(name)
        for out in nodes[name].out_funcs:
            if out in indegree:
                indegree[out] -= 1
                if indegree[out] == 0:
                    ready.append(out)
    order.extend(sorted(set(nodes) - seen))
    return order


def step_functions(cls: type) -> dict[str, Any]:
    """The step functions of a flow class (its own and inherited), by name."""
    steps: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if is_step(value):
                steps[name] = value
            elif name in steps:
                del steps[name]
    return steps


class _Transition(msgspec.Struct, frozen=True):
    targets: tuple[str, ...]
    foreach: str | None
    line: int


def _step_source(cls: type, name: str, func: Any) -> tuple[str, int, ast.FunctionDef]:
    """The file, the first line and the parsed ``def`` of a step function."""
    file = inspect.getsourcefile(func) or func.__code__.co_filename
    try:
        lines, first = inspect.getsourcelines(func)
    except (OSError, TypeError) as exc:
        raise FlowDefinitionError(
            f"Cannot read the source of step '{name}' of {cls.__name__}: tideflow builds the "
            "graph from the flow's source. Define the flow in a .py file (or a notebook "
            "cell) rather than with exec().",
            step=name,
            file=file,
        ) from exc
    tree = ast.parse(textwrap.dedent("".join(lines)))
    fdef = next(
        n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    )
    def_line = first + fdef.lineno - 1  # the `def` line itself, below any decorators
    if isinstance(fdef, ast.AsyncFunctionDef):
        raise FlowDefinitionError(
            f"Step '{name}' is `async def`: steps are plain functions. Write `def {name}(self):`.",
            step=name,
            file=file,
            line=def_line,
        )
    nargs = len(fdef.args.args)
    if nargs not in (1, 2) or fdef.args.vararg or fdef.args.kwonlyargs:
        raise FlowDefinitionError(
            f"Step '{name}' must take `self` (or `self, inputs` for a join step), not "
            f"{nargs} arguments.",
            step=name,
            file=file,
            line=def_line,
        )
    return file, first, fdef


def _parse_step(cls: type, name: str, func: Any) -> StepNode:
    file, first, fdef = _step_source(cls, name, func)
    transitions = [
        _read_next(call, name, file, first) for call in ast.walk(fdef) if _is_next_call(call)
    ]
    if len({(t.targets, t.foreach) for t in transitions}) > 1:
        raise FlowDefinitionError(
            f"Step '{name}' calls self.next() with different transitions; a step has exactly "
            "one transition. Move the choice into the data, or split the step.",
            step=name,
            file=file,
            line=transitions[1].line,
        )
    transition = transitions[0] if transitions else None
    out = transition.targets if transition else ()
    foreach = transition.foreach if transition else None
    if name == "end":
        kind = "end"
    elif foreach is not None:
        kind = "foreach"
    elif len(out) > 1:
        kind = "split"
    else:
        kind = "linear"
    return StepNode(
        name=name,
        type=kind,
        out_funcs=out,
        foreach_param=foreach,
        is_join=len(fdef.args.args) == 2,
        doc=inspect.cleandoc(func.__doc__ or ""),
        file=file,
        line=first + fdef.lineno - 1,
        next_line=transition.line if transition else 0,
        decorators=decorators_of(func),
    )


def _is_next_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "next"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "self"
    )


def _read_next(call: Any, step: str, file: str, first: int) -> _Transition:
    line = first + call.lineno - 1
    targets = []
    for arg in call.args:
        if not (
            isinstance(arg, ast.Attribute)
            and isinstance(arg.value, ast.Name)
            and arg.value.id == "self"
        ):
            raise FlowDefinitionError(
                f"Step '{step}' passes {ast.unparse(arg)} to self.next(): pass steps as "
                "self.<step_name>, as in self.next(self.end).",
                step=step,
                file=file,
                line=line,
            )
        targets.append(arg.attr)
    foreach = None
    for keyword in call.keywords:
        if (
            keyword.arg == "foreach"
            and isinstance(keyword.value, ast.Constant)
            and isinstance(keyword.value.value, str)
        ):
            foreach = keyword.value.value
        else:
            raise FlowDefinitionError(
                f"Step '{step}' passes an unsupported argument to self.next(): "
                f"{ast.unparse(keyword)}. Only foreach='attribute_name' is supported.",
                step=step,
                file=file,
                line=line,
            )
    if not targets:
        raise FlowDefinitionError(
            f"Step '{step}' calls self.next() without a step: name the next step, as in "
            "self.next(self.end).",
            step=step,
            file=file,
            line=line,
        )
    if foreach is not None and len(targets) != 1:
        raise FlowDefinitionError(
            f"Step '{step}' starts a foreach over '{foreach}' into {len(targets)} steps: a "
            "foreach goes to exactly one step, as in self.next(self.body, foreach='items').",
            step=step,
            file=file,
            line=line,
        )
    return _Transition(tuple(targets), foreach, line)


def _class_file(cls: type, nodes: dict[str, StepNode]) -> str:
    """The file that defines ``cls``, or else that of its steps.

    A class of ``__main__`` without ``__file__`` (a Jupyter kernel, ``python -c``) has no
    file of its own; its steps' code still names the cell they come from.
    """
    try:
        return inspect.getsourcefile(cls) or ""
    except (OSError, TypeError):
        own = [n.file for n in nodes.values() if n.file and n.name in vars(cls)]
        return own[0] if own else next((n.file for n in nodes.values() if n.file), "")


def build_graph(cls: type) -> FlowGraph:
    """Build and validate the graph of a flow class."""
    from ._validate import validate

    functions = step_functions(cls)
    nodes = {name: _parse_step(cls, name, func) for name, func in functions.items()}
    file = _class_file(cls, nodes)
    nodes = validate(cls, file, nodes)
    return FlowGraph(cls.__name__, file, nodes)

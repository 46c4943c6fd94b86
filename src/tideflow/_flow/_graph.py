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
    ``foreach`` (also ``num_parallel``, with ``parallel`` set), ``switch`` (one of
    ``switch_cases``, chosen by the value of the artifact ``condition``) or ``end``;
    ``is_join`` says whether it takes ``inputs``. ``split_parents`` lists the open splits
    around the step, outermost first, and ``split_branches`` the branch of each that leads
    to the step; a split's ``matching_join`` is the step that closes it.
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
    split_branches: tuple[str, ...] = ()
    matching_join: str | None = None
    condition: str | None = None
    #: ``(case value, step)`` pairs of a switch, in the order of the dict.
    switch_cases: tuple[tuple[Any, str], ...] = ()
    #: For ``num_parallel``: the literal number of tasks, or 0 when it is an expression.
    num_parallel: int = 0
    parallel: bool = False


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

    def signature(self) -> list[tuple[Any, ...]]:
        """The shape of the graph, for comparing two versions of a flow (resume).

        One ``(name, type, out_funcs, foreach_param)`` entry per step; a switch adds its
        condition and its cases.
        """
        shape: list[tuple[Any, ...]] = []
        for n in self:
            if n.type == "switch":
                cases = [[repr(value), target] for value, target in n.switch_cases]
                shape.append((n.name, n.type, n.out_funcs, n.condition, cases))
            else:
                shape.append((n.name, n.type, n.out_funcs, n.foreach_param))
        return shape


def back_edges(nodes: dict[str, StepNode]) -> set[tuple[str, str]]:
    """The transitions that go back to an earlier step (a recursive switch), found from
    ``start`` depth first."""
    found: set[tuple[str, str]] = set()
    state: dict[str, int] = {}
    stack: list[tuple[str, int]] = [("start", 0)] if "start" in nodes else []
    if stack:
        state["start"] = 1
    while stack:
        name, position = stack.pop()
        out = [t for t in nodes[name].out_funcs if t in nodes]
        if position < len(out):
            stack.append((name, position + 1))
            target = out[position]
            if state.get(target) == 1:
                found.add((name, target))
            elif target not in state:
                state[target] = 1
                stack.append((target, 0))
        else:
            state[name] = 2
    return found


def _topological(nodes: dict[str, StepNode]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()
    back = back_edges(nodes)
    indegree = dict.fromkeys(nodes, 0)
    for node in nodes.values():
        for out in node.out_funcs:
            if out in indegree and (node.name, out) not in back:
                indegree[out] += 1
    ready = [n for n in ("start",) if n in nodes]
    while ready:
        name = ready.pop(0)
        if name in seen:
            continue
        seen.add(name)
        order.append(name)
        for out in nodes[name].out_funcs:
            if out in indegree and (name, out) not in back:
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


class _Transition(msgspec.Struct, frozen=True, kw_only=True):
    targets: tuple[str, ...]
    foreach: str | None = None
    line: int
    condition: str | None = None
    cases: tuple[tuple[Any, str], ...] = ()
    num_parallel: int | None = None

    def shape(self) -> tuple[Any, ...]:
        parallel = None if self.num_parallel is None else "parallel"
        return (self.targets, self.foreach, self.condition, self.cases, parallel)


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
    if len({t.shape() for t in transitions}) > 1:
        raise FlowDefinitionError(
            f"Step '{name}' calls self.next() with different transitions; a step has exactly "
            "one transition. To choose the next step at run time, use a switch: "
            "self.next({'a': self.a, 'b': self.b}, condition='choice').",
            step=name,
            file=file,
            line=transitions[1].line,
        )
    transition = transitions[0] if transitions else None
    out = transition.targets if transition else ()
    if name == "end":
        kind = "end"
    elif transition is not None and transition.condition is not None:
        kind = "switch"
    elif transition is not None and (
        transition.foreach is not None or transition.num_parallel is not None
    ):
        kind = "foreach"
    elif len(out) > 1:
        kind = "split"
    else:
        kind = "linear"
    return StepNode(
        name=name,
        type=kind,
        out_funcs=out,
        foreach_param=transition.foreach if transition else None,
        is_join=len(fdef.args.args) == 2,
        doc=inspect.cleandoc(func.__doc__ or ""),
        file=file,
        line=first + fdef.lineno - 1,
        next_line=transition.line if transition else 0,
        decorators=decorators_of(func),
        condition=transition.condition if transition else None,
        switch_cases=transition.cases if transition else (),
        num_parallel=(transition.num_parallel or 0) if transition else 0,
        parallel=transition is not None and transition.num_parallel is not None,
    )


def _is_next_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "next"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "self"
    )


def _step_name(node: ast.AST) -> str | None:
    """``x`` for the expression ``self.x``, else ``None``."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    ):
        return node.attr
    return None


class _Where(msgspec.Struct, frozen=True):
    step: str
    file: str
    line: int

    def error(self, message: str) -> FlowDefinitionError:
        return FlowDefinitionError(message, step=self.step, file=self.file, line=self.line)


def _read_next(call: Any, step: str, file: str, first: int) -> _Transition:
    where = _Where(step, file, first + call.lineno - 1)
    keywords = {keyword.arg: keyword.value for keyword in call.keywords}
    unknown = [k for k in call.keywords if k.arg not in ("foreach", "condition", "num_parallel")]
    if unknown:
        raise where.error(
            f"Step '{step}' passes an unsupported argument to self.next(): "
            f"{ast.unparse(unknown[0])}. self.next() takes foreach='attribute_name', "
            "num_parallel=N or condition='attribute_name'."
        )
    if len(keywords) > 1:
        raise where.error(
            f"Step '{step}' passes {' and '.join(sorted(map(str, keywords)))} to self.next(): "
            "a transition is a foreach, a num_parallel or a switch, not a mix of them."
        )
    if "condition" in keywords or (len(call.args) == 1 and isinstance(call.args[0], ast.Dict)):
        return _read_switch(call, keywords.get("condition"), where)
    targets = []
    for arg in call.args:
        target = _step_name(arg)
        if target is None:
            raise where.error(
                f"Step '{step}' passes {ast.unparse(arg)} to self.next(): pass steps as "
                "self.<step_name>, as in self.next(self.end)."
            )
        targets.append(target)
    if not targets:
        raise where.error(
            f"Step '{step}' calls self.next() without a step: name the next step, as in "
            "self.next(self.end)."
        )
    foreach = None
    num_parallel = None
    if "foreach" in keywords:
        value = keywords["foreach"]
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            raise where.error(
                f"Step '{step}' passes foreach={ast.unparse(value)} to self.next(): foreach "
                "takes the name of an attribute as a string, as in foreach='items'."
            )
        foreach = value.value
    if "num_parallel" in keywords:
        value = keywords["num_parallel"]
        literal = isinstance(value, ast.Constant) and isinstance(value.value, int)
        num_parallel = value.value if literal else 0
    if (foreach is not None or num_parallel is not None) and len(targets) != 1:
        what = f"a foreach over '{foreach}'" if foreach else "num_parallel tasks"
        raise where.error(
            f"Step '{step}' starts {what} into {len(targets)} steps: a foreach goes to "
            "exactly one step, as in self.next(self.body, foreach='items')."
        )
    return _Transition(
        targets=tuple(targets), foreach=foreach, line=where.line, num_parallel=num_parallel
    )


def _read_switch(call: Any, condition: ast.AST | None, where: _Where) -> _Transition:
    """``self.next({"a": self.a, "b": self.b}, condition="choice")``."""
    step = where.step
    example = "self.next({'a': self.a, 'b': self.b}, condition='choice')"
    if condition is None:
        raise where.error(
            f"Step '{step}' passes a dict to self.next() without condition=: a switch names "
            f"the attribute whose value picks the step, as in {example}."
        )
    if not (isinstance(condition, ast.Constant) and isinstance(condition.value, str)):
        raise where.error(
            f"Step '{step}' passes condition={ast.unparse(condition)} to self.next(): "
            f"condition takes the name of an attribute as a string, as in {example}."
        )
    if len(call.args) != 1 or not isinstance(call.args[0], ast.Dict) or not call.args[0].keys:
        raise where.error(
            f"Step '{step}' has an invalid switch: with condition=, self.next() takes one "
            f"non-empty dict mapping each value of self.{condition.value} to a step, as in "
            f"{example}."
        )
    cases: dict[Any, str] = {}
    for key, value in zip(call.args[0].keys, call.args[0].values, strict=True):
        if not isinstance(key, ast.Constant) or isinstance(key.value, bytes):
            shown = "**" + ast.unparse(value) if key is None else ast.unparse(key)
            raise where.error(
                f"Step '{step}' uses {shown} as a switch case: the keys of a switch are "
                "literal strings, numbers or booleans, as in {'yes': self.a, 'no': self.b}."
            )
        target = _step_name(value)
        if target is None:
            raise where.error(
                f"Step '{step}' maps the switch case {key.value!r} to {ast.unparse(value)}: "
                "map each case to a step, as self.<step_name>."
            )
        cases[key.value] = target
    if len(cases) < 2:
        raise where.error(
            f"Step '{step}' is a switch with {len(cases)} case: a switch chooses between at "
            f"least two steps. Use self.next(self.{next(iter(cases.values()))}) instead."
        )
    return _Transition(
        targets=tuple(dict.fromkeys(cases.values())),
        line=where.line,
        condition=condition.value,
        cases=tuple(cases.items()),
    )


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

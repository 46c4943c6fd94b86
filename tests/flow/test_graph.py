"""The flow graph: one StepNode per step, read from the flow class's source.

Every transition kind (linear, static branch, foreach, nested foreach, join) is checked
node by node, with the split bookkeeping the scheduler relies on.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tideflow import FlowSpec, catch, retry, step
from tideflow._exceptions import FlowDefinitionError
from tideflow._flow._graph import FlowGraph, StepNode, build_graph, step_functions

THIS_FILE = str(Path(__file__).resolve())


def line_of(marker: str) -> int:
    """The line of this file that ends with ``# line: <marker>``."""
    for number, text in enumerate(Path(__file__).read_text().splitlines(), start=1):
        if text.rstrip().endswith(f"# line: {marker}"):
            return number
    raise AssertionError(f"no line marked {marker!r}")


class LinearFlow(FlowSpec):
    """Three steps in a row."""

    @step
    def start(self):  # line: linear-start
        """The first step."""
        self.x = 1
        self.next(self.middle)  # line: linear-start-next

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        """The last step."""


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.b2)

    @step
    def b2(self):
        self.next(self.join)

    @step
    def c(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class NestedFlow(FlowSpec):
    @step
    def start(self):
        self.outer = [1, 2]
        self.next(self.split_outer, foreach="outer")

    @step
    def split_outer(self):
        self.inner = "ab"
        self.next(self.branch, foreach="inner")

    @step
    def branch(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.next(self.join_branch)

    @step
    def right(self):
        self.next(self.join_branch)

    @step
    def join_branch(self, inputs):
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def node(cls: type[FlowSpec], name: str) -> StepNode:
    return build_graph(cls)[name]


def test_linear_nodes() -> None:
    graph = build_graph(LinearFlow)
    assert isinstance(graph, FlowGraph)
    assert graph.flow_name == "LinearFlow"
    assert graph.file == THIS_FILE
    assert graph.sorted_nodes == ["start", "middle", "end"]
    assert [n.name for n in graph] == ["start", "middle", "end"]
    start = graph["start"]
    assert start == StepNode(
        name="start",
        type="linear",
        out_funcs=("middle",),
        in_funcs=(),
        doc="The first step.",
        file=THIS_FILE,
        line=line_of("linear-start"),
        next_line=line_of("linear-start-next"),
    )
    assert graph["middle"].type == "linear"
    assert graph["middle"].in_funcs == ("start",)
    end = graph["end"]
    assert (end.type, end.out_funcs, end.in_funcs, end.next_line) == ("end", (), ("middle",), 0)
    assert end.doc == "The last step."
    assert "middle" in graph
    assert "nope" not in graph
    assert repr(graph) == "<FlowGraph LinearFlow: start middle end>"


def test_static_branch_nodes() -> None:
    graph = build_graph(BranchFlow)
    start = graph["start"]
    assert start.type == "split"
    assert start.out_funcs == ("a", "b", "c")
    assert start.matching_join == "join"
    assert start.split_parents == ()
    for name in ("a", "b", "b2", "c"):
        assert graph[name].type == "linear"
        assert graph[name].split_parents == ("start",)
        assert not graph[name].is_join
    join = graph["join"]
    assert join.is_join
    assert join.type == "linear"
    assert join.in_funcs == ("a", "b2", "c")
    assert join.split_parents == ()
    assert graph.sorted_nodes.index("join") > graph.sorted_nodes.index("b2")
    assert graph.sorted_nodes[-1] == "end"


def test_foreach_nodes() -> None:
    graph = build_graph(ForeachFlow)
    start = graph["start"]
    assert (start.type, start.out_funcs, start.foreach_param) == ("foreach", ("body",), "items")
    assert start.matching_join == "join"
    body = graph["body"]
    assert (body.type, body.split_parents, body.foreach_param) == ("linear", ("start",), None)
    join = graph["join"]
    assert join.is_join
    assert join.in_funcs == ("body",)
    assert join.split_parents == ()
    assert graph.sorted_nodes == ["start", "body", "join", "end"]


def test_nested_foreach_nodes() -> None:
    graph = build_graph(NestedFlow)
    expected = {
        # name: (type, foreach_param, split_parents, matching_join, is_join)
        "start": ("foreach", "outer", (), "join_outer", False),
        "split_outer": ("foreach", "inner", ("start",), "join_inner", False),
        "branch": ("split", None, ("start", "split_outer"), "join_branch", False),
        "left": ("linear", None, ("start", "split_outer", "branch"), None, False),
        "right": ("linear", None, ("start", "split_outer", "branch"), None, False),
        "join_branch": ("linear", None, ("start", "split_outer"), None, True),
        "join_inner": ("linear", None, ("start",), None, True),
        "join_outer": ("linear", None, (), None, True),
        "end": ("end", None, (), None, False),
    }
    actual = {
        n.name: (n.type, n.foreach_param, n.split_parents, n.matching_join, n.is_join)
        for n in graph
    }
    assert actual == expected
    assert graph.sorted_nodes[0] == "start"
    assert graph.sorted_nodes[-1] == "end"


def test_signature_describes_the_shape() -> None:
    assert build_graph(ForeachFlow).signature() == [
        ("start", "foreach", ("body",), "items"),
        ("body", "linear", ("join",), None),
        ("join", "linear", ("end",), None),
        ("end", "end", (), None),
    ]


def test_graph_is_built_once_per_class() -> None:
    assert ForeachFlow._tf_graph() is ForeachFlow._tf_graph()


class DecoratedFlow(FlowSpec):
    @retry(times=2)
    @step
    def start(self):  # line: decorated-start
        self.next(self.end)

    @catch(
        var="problem",
    )
    @step
    def end(self):  # line: decorated-end
        pass


def test_nodes_carry_decorators_and_the_def_line() -> None:
    graph = build_graph(DecoratedFlow)
    assert [d.name for d in graph["start"].decorators] == ["retry"]
    assert graph["start"].decorators[0].attributes == {
        "times": 2,
        "minutes_between_retries": None,
    }
    assert graph["end"].decorators[0].attributes["var"] == "problem"
    # The line is the one of `def`, not of the decorators above it.
    assert graph["start"].line == line_of("decorated-start")
    assert graph["end"].line == line_of("decorated-end")


class BaseFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class ChildFlow(BaseFlow):
    @step
    def start(self):
        self.next(self.extra)

    @step
    def extra(self):
        self.next(self.end)


def test_steps_are_inherited_and_overridden() -> None:
    assert list(step_functions(ChildFlow)) == ["start", "end", "extra"]
    graph = build_graph(ChildFlow)
    assert graph.sorted_nodes == ["start", "extra", "end"]
    assert graph["end"].in_funcs == ("extra",)


# -- reading self.next() -------------------------------------------------------------------


class NextWithoutStep(FlowSpec):
    @step
    def start(self):
        self.next()  # line: next-empty

    @step
    def end(self):
        pass


class NextWithString(FlowSpec):
    @step
    def start(self):
        self.next("end")  # line: next-string

    @step
    def end(self):
        pass


class NextWithUnknownKeyword(FlowSpec):
    @step
    def start(self):
        self.next(self.end, parallel=3)  # line: next-keyword

    @step
    def end(self):
        pass


class ForeachIntoTwoSteps(FlowSpec):
    @step
    def start(self):
        self.xs = [1]
        self.next(self.a, self.b, foreach="xs")  # line: foreach-two

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class TwoTransitions(FlowSpec):
    @step
    def start(self):
        if self.index:
            self.next(self.a)
        else:
            self.next(self.end)  # line: two-transitions

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class AsyncStep(FlowSpec):
    @step
    async def start(self):  # line: async-step
        self.next(self.end)

    @step
    def end(self):
        pass


class TooManyArguments(FlowSpec):
    @step
    def start(self, inputs, extra):  # line: too-many
        self.next(self.end)

    @step
    def end(self):
        pass


@pytest.mark.parametrize(
    ("cls", "step_name", "marker", "message"),
    [
        (
            NextWithoutStep,
            "start",
            "next-empty",
            (
                r"Step 'start' calls self\.next\(\) without a step: name the next step, as in "
                r"self\.next\(self\.end\)\."
            ),
        ),
        (
            NextWithString,
            "start",
            "next-string",
            r"Step 'start' passes 'end' to self\.next\(\): pass steps as self\.<step_name>",
        ),
        (
            NextWithUnknownKeyword,
            "start",
            "next-keyword",
            (
                r"Step 'start' passes an unsupported argument to self\.next\(\): parallel=3\. "
                r"self\.next\(\) takes foreach='attribute_name', num_parallel=N or "
                r"condition='attribute_name'\."
            ),
        ),
        (
            ForeachIntoTwoSteps,
            "start",
            "foreach-two",
            (
                r"Step 'start' starts a foreach over 'xs' into 2 steps: a foreach goes to exactly "
                r"one step"
            ),
        ),
        (
            TwoTransitions,
            "start",
            "two-transitions",
            (
                r"Step 'start' calls self\.next\(\) with different transitions; a step has "
                r"exactly one transition\."
            ),
        ),
        (
            AsyncStep,
            "start",
            "async-step",
            (
                r"Step 'start' is `async def`: steps are plain functions\. "
                r"Write `def start\(self\):`\."
            ),
        ),
        (
            TooManyArguments,
            "start",
            "too-many",
            (
                r"Step 'start' must take `self` \(or `self, inputs` for a join step\), not 3 "
                r"arguments\."
            ),
        ),
    ],
)
def test_unreadable_transitions(
    cls: type[FlowSpec], step_name: str, marker: str, message: str
) -> None:
    line = line_of(marker)
    where = rf"^step '{step_name}' in {re.escape(THIS_FILE)}, line {line}: "
    with pytest.raises(FlowDefinitionError, match=where + message) as info:
        build_graph(cls)
    assert (info.value.step, info.value.file, info.value.line) == (step_name, THIS_FILE, line)


# -- switches ----------------------------------------------------------------------------


class SwitchLoopFlow(FlowSpec):
    @step
    def start(self):
        self.count = 0
        self.next(self.loop)

    @step
    def loop(self):
        self.count += 1
        self.status = "again" if self.count < 3 else "done"
        self.next({"again": self.loop, "done": self.a}, condition="status")

    @step
    def a(self):
        self.next(self.b, self.c)

    @step
    def b(self):
        self.pick = 1
        self.next({1: self.d, 2: self.e}, condition="pick")

    @step
    def c(self):
        self.next(self.join)

    @step
    def d(self):
        self.next(self.join)

    @step
    def e(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_switch_nodes() -> None:
    """A switch has its condition and cases; its cases meet without a join; a loop is
    allowed through a switch and does not disturb the order of the steps."""
    graph = build_graph(SwitchLoopFlow)
    loop = graph["loop"]
    assert (loop.type, loop.condition) == ("switch", "status")
    assert loop.switch_cases == (("again", "loop"), ("done", "a"))
    assert loop.out_funcs == ("loop", "a")
    assert graph["loop"].in_funcs == ("start", "loop")
    assert graph["b"].switch_cases == ((1, "d"), (2, "e"))
    assert graph["d"].split_parents == ("a",)
    assert graph["d"].split_branches == ("b",)
    assert graph["e"].split_branches == ("b",)
    assert graph["c"].split_branches == ("c",)
    assert graph["a"].matching_join == "join"
    assert graph.sorted_nodes == ["start", "loop", "a", "b", "c", "d", "e", "join", "end"]
    signature = {entry[0]: entry[1:] for entry in graph.signature()}
    assert signature["loop"] == (
        "switch",
        ("loop", "a"),
        "status",
        [["'again'", "loop"], ["'done'", "a"]],
    )


def test_the_switch_chooses_at_run_time() -> None:
    flow = SwitchLoopFlow._tf_for_task(step="b", parameters={}, source=None)
    flow.pick = 2
    flow.next({1: flow.d, 2: flow.e}, condition="pick")
    transition = flow.__dict__["_tf_transition"]
    assert (transition.targets, transition.condition) == (("e",), "pick")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, r"^step 'b': The switch condition self\.pick is not set: assign it in step 'b'"),
        (
            3,
            r"^step 'b': The switch condition self\.pick is 3, which is not one of the cases \[1, 2\]",
        ),
    ],
)
def test_a_switch_without_a_matching_value(value: int | None, message: str) -> None:
    flow = SwitchLoopFlow._tf_for_task(step="b", parameters={}, source=None)
    if value is not None:
        flow.pick = value
    with pytest.raises(FlowDefinitionError, match=message):
        flow.next({1: flow.d, 2: flow.e}, condition="pick")

"""Validation of flow graphs: each error's message, and that it names step, file and line.

Every bad flow is a class of this module, so the graph reads its source from this file;
the expected line is marked with a ``# line: <marker>`` comment.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from tideflow import FlowSpec, Parameter, step
from tideflow._exceptions import FlowDefinitionError
from tideflow._flow._graph import build_graph

THIS_FILE = str(Path(__file__).resolve())
FILE = re.escape(THIS_FILE)


def line_of(marker: str) -> int:
    """The line of this file that ends with ``# line: <marker>``."""
    for number, text in enumerate(Path(__file__).read_text().splitlines(), start=1):
        if text.rstrip().endswith(f"# line: {marker}"):
            return number
    raise AssertionError(f"no line marked {marker!r}")


def expect(cls: type[FlowSpec], step_name: str | None, marker: str, message: str) -> None:
    """Building the graph of ``cls`` fails with ``message``, located at ``marker``."""
    line = line_of(marker)
    where = f"step '{step_name}' in " if step_name else ""
    pattern = rf"^{where}{FILE}, line {line}: {message}"
    with pytest.raises(FlowDefinitionError, match=pattern) as info:
        build_graph(cls)
    error = info.value
    assert (error.step, error.file, error.line) == (step_name, THIS_FILE, line)
    # The error survives a trip through pickle (it crosses process boundaries).
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.step, copy.line) == (str(error), error.step, error.line)


# -- no start, no end ------------------------------------------------------------------------


class NoStart(FlowSpec):  # line: no-start
    @step
    def begin(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class NoEnd(FlowSpec):  # line: no-end
    @step
    def start(self):
        self.next(self.finish)

    @step
    def finish(self):
        pass


def test_no_start() -> None:
    expect(
        NoStart,
        None,
        "no-start",
        r"Flow NoStart has no 'start' step\. Every flow begins with a step named start: "
        r"add `@step` `def start\(self\): \.\.\.`\.$",
    )


def test_no_end() -> None:
    expect(
        NoEnd,
        None,
        "no-end",
        r"Flow NoEnd has no 'end' step\. Every flow ends with a step named end: "
        r"add `@step` `def end\(self\): \.\.\.`\.$",
    )


class StartTakesInputs(FlowSpec):
    @step
    def start(self, inputs):  # line: start-inputs
        self.next(self.end)

    @step
    def end(self):
        pass


def test_start_takes_no_inputs() -> None:
    expect(
        StartTakesInputs,
        "start",
        "start-inputs",
        r"The start step cannot take inputs: write `def start\(self\):`\.$",
    )


# -- transitions -----------------------------------------------------------------------------


class MissingNext(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @step
    def work(self):  # line: missing-next
        self.result = 42

    @step
    def end(self):
        pass


class EndCallsNext(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.next(self.start)  # line: end-next


class UnknownTarget(FlowSpec):
    @step
    def start(self):
        self.next(self.tarin)  # line: unknown-target

    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_step_without_next() -> None:
    expect(
        MissingNext,
        "work",
        "missing-next",
        r"Step 'work' does not call self\.next\(\)\. Add self\.next\(self\.<step>\) as its "
        r"last line to say which step runs after it \(use self\.next\(self\.end\) to finish "
        r"the flow\)\.$",
    )


def test_end_must_not_call_next() -> None:
    expect(
        EndCallsNext,
        "end",
        "end-next",
        r"The end step must not call self\.next\(\): it is the last step of the flow\.",
    )


def test_transition_to_unknown_step() -> None:
    expect(
        UnknownTarget,
        "start",
        "unknown-target",
        r"Step 'start' specifies a self\.next\(\) transition to an unknown step, 'tarin'\. "
        r"Did you mean self\.next\(self\.train\)\? The steps are: end, start, train\. Check "
        r"the name, and that the step has @step\.$",
    )


class MisspelledEnd(FlowSpec):
    @step
    def start(self):
        self.next(self.ned)  # line: misspelled-end

    @step
    def end(self):
        pass


def test_a_misspelled_step_suggests_the_right_one() -> None:
    """``self.next(self.ned)`` suggests ``end``."""
    expect(
        MisspelledEnd,
        "start",
        "misspelled-end",
        r"Step 'start' specifies a self\.next\(\) transition to an unknown step, 'ned'\. "
        r"Did you mean self\.next\(self\.end\)\? The steps are: end, start\.",
    )


class FarTarget(FlowSpec):
    @step
    def start(self):
        self.next(self.xyzzy)  # line: far-target

    @step
    def end(self):
        pass


def test_no_suggestion_for_a_name_unlike_any_step() -> None:
    expect(
        FarTarget,
        "start",
        "far-target",
        r"Step 'start' specifies a self\.next\(\) transition to an unknown step, 'xyzzy'\. "
        r"The steps are: end, start\.",
    )


class PlainMethodTarget(FlowSpec):
    @step
    def start(self):
        self.next(self.helper)  # line: plain-method

    def helper(self):
        pass

    @step
    def end(self):
        pass


def test_transition_to_a_method_without_step() -> None:
    expect(
        PlainMethodTarget,
        "start",
        "plain-method",
        r"Step 'start' specifies a self\.next\(\) transition to an unknown step, 'helper'\.",
    )


# -- joins -----------------------------------------------------------------------------------


class JoinWithoutInputs(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self):  # line: join-no-inputs
        self.next(self.end)

    @step
    def end(self):
        pass


class InputsWithoutSplit(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self, inputs):  # line: inputs-no-split
        self.next(self.end)

    @step
    def end(self):
        pass


class MismatchedJoins(FlowSpec):
    @step
    def start(self):
        self.next(self.x, self.y)

    @step
    def x(self):
        self.next(self.p, self.q)

    @step
    def p(self):
        self.next(self.join_p)

    @step
    def q(self):
        self.next(self.join_q)

    @step
    def join_p(self, inputs):
        self.next(self.join)

    @step
    def join_q(self, inputs):  # line: second-join
        self.next(self.join)

    @step
    def y(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_join_that_does_not_take_inputs() -> None:
    expect(
        JoinWithoutInputs,
        "join",
        "join-no-inputs",
        r"Step 'join' is reached from 2 steps \(a, b\) but does not take inputs\. Join the "
        r"branches with `def join\(self, inputs\):`\.$",
    )


def test_inputs_without_a_split() -> None:
    expect(
        InputsWithoutSplit,
        "middle",
        "inputs-no-split",
        r"Step 'middle' takes inputs but joins no split: no foreach or branch is open when "
        r"it runs\. Write `def middle\(self\):` instead\.$",
    )


def test_branches_ending_in_different_joins() -> None:
    expect(
        MismatchedJoins,
        "join_q",
        "second-join",
        r"The branches of step 'x' end in two different joins, 'join_p' and 'join_q'\. "
        r"Every branch of a split must reach the same join step\.$",
    )


# -- foreach ---------------------------------------------------------------------------------


class ForeachWithoutJoin(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.body, foreach="items")  # line: foreach-no-join

    @step
    def body(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_foreach_without_join() -> None:
    expect(
        ForeachWithoutJoin,
        "start",
        "foreach-no-join",
        r"The foreach over 'items' started in step 'start' is never joined\. Add a join "
        r"step \(`def join\(self, inputs\):`\) that every branch reaches before the end "
        r"step\.$",
    )


# -- reachability and cycles -----------------------------------------------------------------


class Unreachable(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def orphan(self):  # line: orphan
        self.next(self.end)

    @step
    def end(self):
        pass


class Cycle(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b)

    @step
    def b(self):
        self.next(self.a)  # line: cycle

    @step
    def end(self):
        pass


class SelfLoop(FlowSpec):
    @step
    def start(self):
        self.next(self.start)  # line: self-loop

    @step
    def end(self):
        pass


def test_unreachable_step() -> None:
    expect(
        Unreachable,
        "orphan",
        "orphan",
        r"Step 'orphan' is never reached from start\. Remove it, or add a "
        r"self\.next\(self\.orphan\) transition to it from another step\.$",
    )


def test_cycle() -> None:
    expect(
        Cycle,
        "b",
        "cycle",
        r"Step 'b' closes a cycle \(a -> b -> a\): flows must be acyclic\. Use a foreach to "
        r"repeat work, or a switch to loop until a condition holds: "
        r"self\.next\(\{'again': self\.a, 'done': self\.end\}, condition='status'\)\.$",
    )


def test_step_that_goes_to_itself() -> None:
    expect(
        SelfLoop,
        "start",
        "self-loop",
        r"Step 'start' closes a cycle \(start -> start\): flows must be acyclic\.",
    )


# -- parameters ------------------------------------------------------------------------------


class ParameterNamedLikeAStep(FlowSpec):
    epochs = Parameter("train", default=1)

    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class ReservedParameter(FlowSpec):
    index = Parameter("index", default=1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class SameParameterTwice(FlowSpec):
    first = Parameter("alpha", default=1)
    second = Parameter("alpha", default=2)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (ReservedParameter, r"Parameter 'index' is a reserved name: give the parameter"),
        (SameParameterTwice, r"Parameter 'alpha' is used by two parameters: give the"),
        (ParameterNamedLikeAStep, r"Parameter 'train' is also the name of a step: give the"),
    ],
)
def test_bad_parameter_names(cls: type[FlowSpec], message: str) -> None:
    with pytest.raises(FlowDefinitionError, match=rf"^{FILE}: {message}"):
        cls._tf_graph()


def test_valid_flow_passes() -> None:
    class Fine(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert build_graph(Fine).sorted_nodes == ["start", "end"]


# -- switches --------------------------------------------------------------------------------


class SwitchWithoutCondition(FlowSpec):
    @step
    def start(self):
        self.next({"a": self.end, "b": self.end})  # line: switch-no-condition

    @step
    def end(self):
        pass


class SwitchWithOneCase(FlowSpec):
    @step
    def start(self):
        self.next({"a": self.end}, condition="x")  # line: switch-one-case

    @step
    def end(self):
        pass


class SwitchWithVariableKey(FlowSpec):
    @step
    def start(self):
        key = "a"
        self.next({key: self.end, "b": self.end}, condition="x")  # line: switch-key

    @step
    def end(self):
        pass


class SwitchWithForeach(FlowSpec):
    @step
    def start(self):
        self.next({"a": self.end}, condition="x", foreach="y")  # line: switch-foreach

    @step
    def end(self):
        pass


class SwitchIntoOtherBranch(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next({"x": self.b, "y": self.join}, condition="c")

    @step
    def b(self):  # line: switch-other-branch
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


@pytest.mark.parametrize(
    ("cls", "step_name", "marker", "message"),
    [
        (
            SwitchWithoutCondition,
            "start",
            "switch-no-condition",
            (
                r"Step 'start' passes a dict to self\.next\(\) without condition=: a switch names "
                r"the attribute whose value picks the step"
            ),
        ),
        (
            SwitchWithOneCase,
            "start",
            "switch-one-case",
            (
                r"Step 'start' is a switch with 1 case: a switch chooses between at least two "
                r"steps\. Use self\.next\(self\.end\) instead\.$"
            ),
        ),
        (
            SwitchWithVariableKey,
            "start",
            "switch-key",
            (
                r"Step 'start' uses key as a switch case: the keys of a switch are literal "
                r"strings, numbers or booleans"
            ),
        ),
        (
            SwitchWithForeach,
            "start",
            "switch-foreach",
            (
                r"Step 'start' passes condition and foreach to self\.next\(\): a transition is a "
                r"foreach, a num_parallel or a switch, not a mix of them\.$"
            ),
        ),
        (
            SwitchIntoOtherBranch,
            "b",
            "switch-other-branch",
            r"Step 'b' is reached from 2 steps \(start, a\) but does not take inputs\.",
        ),
    ],
)
def test_bad_switches(cls: type[FlowSpec], step_name: str, marker: str, message: str) -> None:
    expect(cls, step_name, marker, message)

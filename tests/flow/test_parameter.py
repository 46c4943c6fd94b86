"""Parameters: types, defaults, required values, separators, parsing and type errors."""

from __future__ import annotations

from typing import Any

import pytest

from tideflow import FlowSpec, JSONType, Parameter, step
from tideflow._exceptions import ParameterError
from tideflow._flow._parameter import ParameterContext, resolve_parameters

CONTEXT = ParameterContext("ParamFlow", "tester", ["alpha"])


@pytest.mark.parametrize(
    ("parameter", "type_name"),
    [
        (Parameter("s", default="text"), "str"),
        (Parameter("n", default=3), "int"),
        (Parameter("x", default=0.5), "float"),
        (Parameter("flag", default=False), "bool"),
        (Parameter("j", default={"a": 1}), "JSON"),
        (Parameter("j", default=[1, 2]), "JSON"),
        (Parameter("nothing"), "str"),
        (Parameter("call", default=lambda ctx: 5), "str"),
        (Parameter("typed", type=int), "int"),
        (Parameter("typed", type=float, default=1), "float"),
        (Parameter("typed", type=JSONType, default="[1]"), "JSON"),
        (Parameter("typed", type=bool), "bool"),
    ],
)
def test_type_comes_from_type_else_from_the_default(parameter: Parameter, type_name: str) -> None:
    assert parameter.type_name == type_name
    assert parameter.is_flag == (type_name == "bool")


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        (str, "hello world", "hello world"),
        (str, "", ""),
        (int, "42", 42),
        (int, "-7", -7),
        (float, "2.5", 2.5),
        (float, "3", 3.0),
        (float, "1e-3", 0.001),
        (bool, "true", True),
        (bool, "True", True),
        (bool, "yes", True),
        (bool, "1", True),
        (bool, "false", False),
        (bool, "no", False),
        (bool, "0", False),
        (JSONType, '{"a": [1, 2]}', {"a": [1, 2]}),
        (JSONType, "[1, 2.5, null]", [1, 2.5, None]),
        (JSONType, '"text"', "text"),
        (JSONType, "7", 7),
    ],
)
def test_command_line_text_is_parsed(kind: Any, text: str, value: Any) -> None:
    parsed = Parameter("p", type=kind).convert(text, from_text=True)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        (int, "1.5", "int"),
        (int, "many", "int"),
        (float, "fast", "float"),
        (bool, "maybe", "bool"),
        (JSONType, "{not json}", "JSON"),
    ],
)
def test_text_that_does_not_parse_raises_parameter_error(
    kind: Any, text: str, expected: str
) -> None:
    pattern = rf"^Invalid value '{text}' for parameter 'p': expected {expected}\.$"
    with pytest.raises(ParameterError, match=pattern):
        Parameter("p", type=kind).convert(text, from_text=True)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (str, "x", "x"),
        (int, 3, 3),
        (float, 2.5, 2.5),
        (float, 2, 2.0),
        (bool, True, True),
        (JSONType, {"k": [1, 2]}, {"k": [1, 2]}),
        (JSONType, '{"k": 1}', {"k": 1}),
        (JSONType, (1, 2), [1, 2]),
    ],
)
def test_python_values_are_checked(kind: Any, value: Any, expected: Any) -> None:
    converted = Parameter("p", type=kind).convert(value, from_text=False)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (int, "3", r"^Parameter 'p' takes a value of type int, got str \('3'\)\.$"),
        (int, 2.5, r"^Parameter 'p' takes a value of type int, got float \(2\.5\)\.$"),
        (int, True, r"^Parameter 'p' takes a value of type int, got bool \(True\)\.$"),
        (float, "1.0", r"^Parameter 'p' takes a value of type float, got str \('1\.0'\)\.$"),
        (bool, 1, r"^Parameter 'p' takes a value of type bool, got int \(1\)\.$"),
        (str, 5, r"^Parameter 'p' takes a value of type str, got int \(5\)\.$"),
        (JSONType, {1, 2}, r"^Parameter 'p' takes a JSON-serialisable value, got set\.$"),
    ],
)
def test_python_values_of_the_wrong_type_raise_type_error(
    kind: Any, value: Any, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        Parameter("p", type=kind).convert(value, from_text=False)


def test_separator_splits_text_into_a_list() -> None:
    parameter = Parameter("labels", default="a, b", separator=",")
    assert parameter.type_name == "str"
    assert parameter.convert("x,y , z", from_text=True) == ["x", "y", "z"]
    assert parameter.convert("one", from_text=True) == ["one"]
    assert parameter.convert("p,q", from_text=False) == ["p", "q"]
    assert parameter.convert(("p", "q"), from_text=False) == ["p", "q"]
    assert parameter.default_value(CONTEXT) == ["a", "b"]
    assert parameter.to_text(["p", "q"]) == "p,q"
    with pytest.raises(TypeError, match=r"^Parameter 'labels' takes a value of type str"):
        parameter.convert([1, 2], from_text=False)


def test_separator_needs_a_str_parameter() -> None:
    with pytest.raises(
        ParameterError,
        match=r"^Parameter 'n' has a separator, which needs type=str \(the value is split "
        r"into a list of strings\)\.$",
    ):
        Parameter("n", default=1, separator=",")


def test_default_value_and_callable_default() -> None:
    assert Parameter("n", default=3).default_value(CONTEXT) == 3
    assert Parameter("x", type=float, default=1).default_value(CONTEXT) == 1.0
    assert Parameter("j", type=JSONType, default='{"a": 1}').default_value(CONTEXT) == {"a": 1}
    assert Parameter("none").default_value(CONTEXT) is None

    seen: list[ParameterContext] = []

    def owner(context: ParameterContext) -> str:
        seen.append(context)
        return f"{context.user_name}@{context.flow_name}"

    parameter = Parameter("owner", default=owner)
    assert parameter.default_value(CONTEXT) == "tester@ParamFlow"
    (context,) = seen
    assert (context.flow_name, context.user_name) == (CONTEXT.flow_name, CONTEXT.user_name)
    assert context.parameter_name == "owner"  # the parameter whose default is asked for
    assert CONTEXT.parameter_names == ["alpha"]
    typed = Parameter("count", type=int, default=lambda context: 7)
    assert typed.default_value(CONTEXT) == 7


def test_callable_default_of_the_wrong_type() -> None:
    parameter = Parameter("count", type=int, default=lambda context: "seven")
    with pytest.raises(TypeError, match=r"^Parameter 'count' takes a value of type int"):
        parameter.default_value(CONTEXT)


def test_to_text_round_trips() -> None:
    assert Parameter("j", type=JSONType).to_text({"a": [1]}) == '{"a": [1]}'
    assert Parameter("n", default=1).to_text(5) == "5"
    assert Parameter("b", default=True).to_text(False) == "False"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: Parameter(""),
            r"^A Parameter needs a non-empty name, as in Parameter\('alpha'\)\.$",
        ),
        (
            lambda: Parameter("p", defualt=3),
            (
                r"^Parameter 'p' got unknown argument\(s\): defualt\. Valid arguments are default, "
                r"type, help, required, separator and show_default\.$"
            ),
        ),
        (
            lambda: Parameter("p", type=list),
            (
                r"^Parameter 'p' has unsupported type <class 'list'>: use one of str, int, float, "
                r"bool, JSON\.$"
            ),
        ),
    ],
)
def test_bad_declarations(make: Any, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        make()


class ParamFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, help="Learning rate")
    dataset = Parameter("dataset", required=True)
    size = Parameter("size", type=int, default=lambda context: len(context.flow_name))
    labels = Parameter("labels", default="a,b", separator=",")
    config = Parameter("config", type=JSONType, default="{}")
    verbose = Parameter("verbose", default=False)
    renamed = Parameter("batch-size", default=8)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_flow_parameters_in_definition_order() -> None:
    parameters = ParamFlow._tf_parameters()
    assert list(parameters) == [
        "alpha",
        "dataset",
        "size",
        "labels",
        "config",
        "verbose",
        "renamed",
    ]
    assert parameters["renamed"].name == "batch-size"
    assert parameters["renamed"].attribute == "renamed"
    assert ParamFlow.alpha is parameters["alpha"]


def test_resolve_from_text_and_defaults() -> None:
    context = ParameterContext("ParamFlow", "tester", list(ParamFlow._tf_parameters()))
    values = resolve_parameters(
        ParamFlow._tf_parameters(),
        {"dataset": "iris", "batch-size": "16", "verbose": "true", "config": '{"k": 2}'},
        from_text=True,
        context=context,
    )
    assert values == {
        "alpha": 0.5,
        "dataset": "iris",
        "size": 9,
        "labels": ["a", "b"],
        "config": {"k": 2},
        "verbose": True,
        "renamed": 16,
    }


def test_resolve_python_values() -> None:
    values = resolve_parameters(
        ParamFlow._tf_parameters(),
        {"dataset": "wine", "alpha": 1, "labels": ["x"]},
        from_text=False,
        context=CONTEXT,
    )
    assert values["alpha"] == 1.0
    assert values["labels"] == ["x"]
    with pytest.raises(TypeError, match=r"^Parameter 'alpha' takes a value of type float"):
        resolve_parameters(
            ParamFlow._tf_parameters(),
            {"dataset": "wine", "alpha": "fast"},
            from_text=False,
            context=CONTEXT,
        )


def test_required_parameter_is_missing() -> None:
    with pytest.raises(
        ParameterError,
        match=r"^Parameter 'dataset' is required: pass --dataset VALUE \(or dataset=\.\.\. to "
        r"Runner\.run\(\)\)\.$",
    ):
        resolve_parameters(ParamFlow._tf_parameters(), {}, from_text=True, context=CONTEXT)


def test_parameters_are_read_only_artifacts() -> None:
    flow = ParamFlow._tf_for_task(
        step="start", parameters={"alpha": 0.25, "dataset": "iris"}, source=None
    )
    assert flow.alpha == 0.25
    assert flow.dataset == "iris"
    with pytest.raises(
        AttributeError,
        match=r"^Parameter 'alpha' is read-only: assign the value to an attribute with "
        r"another name instead\.$",
    ):
        flow.alpha = 1.0
    assert flow.alpha == 0.25


def test_parameter_outside_a_task() -> None:
    flow = ParamFlow(use_cli=False)
    assert flow.alpha == 0.5
    # A callable default is only called when a run starts.
    assert flow.size is None
    assert repr(ParamFlow.alpha) == "Parameter('alpha', type=float, default=0.5)"

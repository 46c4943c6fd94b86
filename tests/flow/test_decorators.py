"""Step decorators: bare and called forms, their place around @step, and --with specs."""

from __future__ import annotations

from typing import Any

import pytest

from tideflow import (
    card,
    catch,
    environment,
    parallel,
    resources,
    retry,
    secrets,
    step,
    timeout,
)
from tideflow._exceptions import DecoratorError, FlowDefinitionError
from tideflow._flow._decorators import (
    DECORATORS,
    StepDecorator,
    decorators_of,
    make_decorator,
    parse_decospec,
    with_decospecs,
)

VALID_LIST = (
    r"Valid decorators are: retry\(times=3, minutes_between_retries=None\), "
    r"catch\(var=None, print_exception=True\), timeout\(seconds=0, minutes=0, hours=0\), "
    r"environment\(vars=\{\}\), resources\(cpu=1, memory=4096, gpu=0\), "
    r"card\(type='default', id=None, options=\{\}, timeout=45, save_errors=True, "
    r"refresh_interval=5, customize=False\), secrets\(sources=\[\], role=None\), parallel\(\)\.$"
)


def names(func: Any) -> list[str]:
    return [decorator.name for decorator in decorators_of(func)]


def test_bare_form_takes_the_defaults() -> None:
    @retry
    @step
    def start(self: Any) -> None: ...

    assert decorators_of(start) == (
        StepDecorator("retry", {"times": 3, "minutes_between_retries": None}),
    )


def test_called_form_overrides_defaults() -> None:
    @timeout(minutes=2)
    @step
    def start(self: Any) -> None: ...

    (decorator,) = decorators_of(start)
    assert decorator.attributes == {"seconds": 0, "minutes": 2, "hours": 0}
    assert decorator.timeout_seconds == 120.0


def test_empty_call_is_the_bare_form() -> None:
    @catch()
    @step
    def start(self: Any) -> None: ...

    assert decorators_of(start)[0].attributes == {"var": None, "print_exception": True}


def test_above_and_below_step_keep_source_order() -> None:
    @retry(times=1)
    @catch(var="problem")
    @step
    def above(self: Any) -> None: ...

    @step
    @retry(times=1)
    @catch(var="problem")
    def below(self: Any) -> None: ...

    @retry(times=1)
    @step
    @catch(var="problem")
    def around(self: Any) -> None: ...

    assert names(above) == names(below) == names(around) == ["retry", "catch"]
    assert decorators_of(above) == decorators_of(below) == decorators_of(around)


def test_every_decorator_is_exported() -> None:
    @retry
    @catch
    @timeout(seconds=1)
    @environment(vars={"A": "1"})
    @resources(cpu=2, memory=512)
    @card
    @secrets(sources=["env:DB_"])
    @parallel
    @step
    def start(self: Any) -> None: ...

    assert names(start) == list(DECORATORS)
    assert decorators_of(start)[4].attributes == {"cpu": 2, "memory": 512, "gpu": 0}
    assert decorators_of(start)[-1].attributes == {}


def test_decorators_do_not_change_the_function() -> None:
    def start(self: Any) -> str:
        return "ran"

    decorated = retry(step(start))
    assert decorated is start
    assert decorated(None) == "ran"


def test_a_decorator_applied_twice() -> None:
    with pytest.raises(
        DecoratorError, match=r"^@retry is applied twice to step 'start': keep one\.$"
    ):

        @retry
        @retry(times=1)
        @step
        def start(self: Any) -> None: ...


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(
        DecoratorError,
        match=r"^Use @retry or @retry\(key=value, \.\.\.\), with keyword arguments only\.$",
    ):
        retry(2)


def test_unknown_argument_lists_the_valid_ones() -> None:
    with pytest.raises(
        DecoratorError,
        match=r"^@retry got unknown argument\(s\) attempts\. Valid arguments are: times "
        r"\(default 3\), minutes_between_retries \(default None\)\.$",
    ):
        retry(attempts=2)


@pytest.mark.parametrize(
    ("name", "attributes", "message"),
    [
        ("retry", {"times": -1}, r"^@retry: times must be a whole number >= 0, got -1\.$"),
        ("retry", {"times": 1.5}, r"^@retry: times must be a whole number >= 0, got 1\.5\.$"),
        ("retry", {"times": True}, r"^@retry: times must be a whole number >= 0, got True\.$"),
        (
            "retry",
            {"minutes_between_retries": "soon"},
            r"^@retry: minutes_between_retries must be a number >= 0, got 'soon'\.$",
        ),
        ("timeout", {"seconds": "5"}, r"^@timeout: seconds must be a number >= 0, got '5'\.$"),
        ("catch", {"var": "not ok"}, r"^@catch: var must be an attribute name, got 'not ok'\.$"),
        (
            "environment",
            {"vars": {"A": 1}},
            r"^@environment: vars must be a dict of strings, as in vars=\{'KEY': 'value'\}\.$",
        ),
        ("resources", {"gpu": -2}, r"^@resources: gpu must be a number >= 0, got -2\.$"),
    ],
)
def test_bad_values(name: str, attributes: dict[str, Any], message: str) -> None:
    with pytest.raises(DecoratorError, match=message):
        make_decorator(name, attributes)


def test_unknown_decorator_lists_the_valid_ones() -> None:
    with pytest.raises(
        DecoratorError, match=r"^Unknown step decorator 'kubernetes'\. " + VALID_LIST
    ):
        make_decorator("kubernetes", {})


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("retry", StepDecorator("retry", {"times": 3, "minutes_between_retries": None})),
        (
            "retry:times=2,minutes_between_retries=0.5",
            StepDecorator("retry", {"times": 2, "minutes_between_retries": 0.5}),
        ),
        (
            " retry : times = 1 ",
            StepDecorator("retry", {"times": 1, "minutes_between_retries": None}),
        ),
        ("catch:var=problem", StepDecorator("catch", {"var": "problem", "print_exception": True})),
        (
            "catch:var=oops,print_exception=false",
            StepDecorator("catch", {"var": "oops", "print_exception": False}),
        ),
        (
            'environment:vars={"A": "1", "B": "2"}',
            StepDecorator("environment", {"vars": {"A": "1", "B": "2"}}),
        ),
        ("timeout:hours=1", StepDecorator("timeout", {"seconds": 0, "minutes": 0, "hours": 1})),
    ],
)
def test_parse_decospec(spec: str, expected: StepDecorator) -> None:
    assert parse_decospec(spec) == expected


def test_spec_round_trips() -> None:
    decorator = parse_decospec('environment:vars={"A": "1"}')
    assert decorator.spec == 'environment:vars={"A": "1"}'
    assert parse_decospec(decorator.spec) == decorator
    assert parse_decospec("retry:times=1").spec == "retry:times=1,minutes_between_retries=null"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("kubernetes", r"^Unknown step decorator 'kubernetes'\. " + VALID_LIST),
        ("kubernetes:cpu=2", r"^Unknown step decorator 'kubernetes'\. " + VALID_LIST),
        (
            "retry:times",
            r"^Cannot read 'times' in decorator spec 'retry:times': write NAME:key=value,\.\.\.$",
        ),
        (
            "retry:=2",
            r"^Cannot read '=2' in decorator spec 'retry:=2': write NAME:key=value,\.\.\.$",
        ),
        (
            "retry:count=2",
            (
                r"^@retry got unknown argument\(s\) count\. Valid arguments are: times \(default 3\), "
                r"minutes_between_retries \(default None\)\.$"
            ),
        ),
        ("retry:times=-3", r"^@retry: times must be a whole number >= 0, got -3\.$"),
    ],
)
def test_bad_decospecs(spec: str, message: str) -> None:
    with pytest.raises(DecoratorError, match=message):
        parse_decospec(spec)


def test_with_decospecs_keeps_the_steps_own() -> None:
    own = (parse_decospec("retry:times=1"),)
    extra = (parse_decospec("retry:times=5"), parse_decospec("catch"))
    combined = with_decospecs(own, extra)
    assert [d.name for d in combined] == ["retry", "catch"]
    assert combined[0].attributes["times"] == 1


def test_step_decorates_functions_only() -> None:
    with pytest.raises(
        FlowDefinitionError,
        match=r"^@step decorates functions only, got 3\. Write @step directly above "
        r"`def name\(self\):`\.$",
    ):
        step(3)  # type: ignore[type-var]

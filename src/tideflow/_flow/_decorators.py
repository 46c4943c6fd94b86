"""Step decorators: ``@retry``, ``@catch``, ``@timeout``, ``@environment``, ``@resources``,
``@card`` and ``@secrets``.

A decorator here only records what was asked, as a :class:`StepDecorator` on the step
function; the runtime gives it meaning. The same records come from ``--with NAME:k=v``
on the command line and ``decospecs=[...]`` in ``Runner``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

import msgspec

from .._exceptions import DecoratorError, ParameterError
from ._config import has_delayed, resolve_delayed

__all__ = (
    "DECORATORS",
    "StepDecorator",
    "card",
    "catch",
    "decorators_of",
    "environment",
    "parallel",
    "parse_decospec",
    "resolve_decorator",
    "resources",
    "retry",
    "secrets",
    "timeout",
    "with_decospecs",
)

F = TypeVar("F", bound=Callable[..., Any])

#: Every decorator name and its arguments with their defaults.
DECORATORS: Mapping[str, Mapping[str, Any]] = {
    "retry": {"times": 3, "minutes_between_retries": None},
    "catch": {"var": None, "print_exception": True},
    "timeout": {"seconds": 0, "minutes": 0, "hours": 0},
    "environment": {"vars": {}},
    "resources": {"cpu": 1, "memory": 4096, "gpu": 0},
    "card": {
        "type": "default",
        "id": None,
        "options": {},
        "timeout": 45,
        "save_errors": True,
        "refresh_interval": 5,
        "customize": False,
    },
    "secrets": {"sources": [], "role": None},
    "parallel": {},
}

#: Decorators a step may carry more than once (told apart by their ``id``).
_REPEATABLE = frozenset({"card"})

_ATTR = "__tf_decorators__"


class StepDecorator(msgspec.Struct, frozen=True):
    """One decorator attached to a step: its name and its arguments (defaults filled in)."""

    name: str
    attributes: dict[str, Any]

    @property
    def spec(self) -> str:
        """The decorator as a ``--with`` spec, such as ``retry:times=2``."""
        args = ",".join(f"{k}={json.dumps(v)}" for k, v in self.attributes.items())
        return f"{self.name}:{args}" if args else self.name

    @property
    def timeout_seconds(self) -> float:
        """For ``timeout``: the total number of seconds."""
        a = self.attributes
        return float(a["seconds"]) + 60 * float(a["minutes"]) + 3600 * float(a["hours"])


def _valid_list() -> str:
    return ", ".join(
        f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
        for name, args in DECORATORS.items()
    )


def make_decorator(name: str, attributes: Mapping[str, Any]) -> StepDecorator:
    """Build a checked :class:`StepDecorator`; raises :class:`DecoratorError` on bad input."""
    if name not in DECORATORS:
        raise DecoratorError(
            f"Unknown step decorator '{name}'. Valid decorators are: {_valid_list()}."
        )
    defaults = DECORATORS[name]
    unknown = sorted(set(attributes) - set(defaults))
    if unknown:
        raise DecoratorError(
            f"@{name} got unknown argument(s) {', '.join(unknown)}. Valid arguments are: "
            f"{', '.join(f'{k} (default {v!r})' for k, v in defaults.items())}."
        )
    values = {**defaults, **attributes}
    if not has_delayed(values):
        # Values from a Config are checked once the run's configurations are known.
        _check(name, values)
    return StepDecorator(name, dict(values))


def resolve_decorator(decorator: StepDecorator, scope: Mapping[str, Any]) -> StepDecorator:
    """``decorator`` with its Config-derived arguments evaluated (``scope``: the configs).

    :raises DecoratorError: if an evaluated argument is invalid, or cannot be evaluated.
    """
    if not has_delayed(decorator.attributes):
        return decorator
    try:
        values = resolve_delayed(decorator.attributes, scope)
    except ParameterError as exc:
        raise DecoratorError(f"@{decorator.name}: {exc}") from exc
    _check(decorator.name, values)
    return StepDecorator(decorator.name, values)


def _number(name: str, key: str, value: Any, *, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
        kind = "a whole number" if integer else "a number"
        raise DecoratorError(f"@{name}: {key} must be {kind} >= 0, got {value!r}.")


def _check(name: str, values: Mapping[str, Any]) -> None:
    if name == "retry":
        _number(name, "times", values["times"], integer=True)
        if values["minutes_between_retries"] is not None:
            _number(name, "minutes_between_retries", values["minutes_between_retries"])
    elif name == "catch":
        var = values["var"]
        if var is not None and (not isinstance(var, str) or not var.isidentifier()):
            raise DecoratorError(f"@catch: var must be an attribute name, got {var!r}.")
    elif name == "timeout":
        for key in ("seconds", "minutes", "hours"):
            _number(name, key, values[key])
    elif name == "environment":
        env = values["vars"]
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise DecoratorError(
                "@environment: vars must be a dict of strings, as in vars={'KEY': 'value'}."
            )
    elif name == "resources":
        _number(name, "cpu", values["cpu"])
        _number(name, "memory", values["memory"])
        _number(name, "gpu", values["gpu"])
    elif name == "card":
        _check_card(values)
    elif name == "secrets":
        _check_secrets(values)


def _check_card(values: Mapping[str, Any]) -> None:
    if not isinstance(values["type"], str) or not values["type"]:
        raise DecoratorError(f"@card: type must be a card type name, got {values['type']!r}.")
    card_id = values["id"]
    if card_id is not None and (not isinstance(card_id, str) or not card_id.isidentifier()):
        raise DecoratorError(
            f"@card: id must be a name made of letters, digits and _, got {card_id!r}."
        )
    if not isinstance(values["options"], dict):
        raise DecoratorError("@card: options must be a dict.")
    _number("card", "timeout", values["timeout"])
    _number("card", "refresh_interval", values["refresh_interval"])


def _check_secrets(values: Mapping[str, Any]) -> None:
    sources = values["sources"]
    if not isinstance(sources, (list, tuple)) or not all(
        isinstance(s, (str, dict)) for s in sources
    ):
        raise DecoratorError(
            "@secrets: sources must be a list of secret ids or {'type': ..., 'id': ...} "
            "dicts, as in sources=['env:DB_'] or sources=[{'type': 'file', 'id': 'db.json'}]."
        )
    for source in sources:
        if isinstance(source, dict) and not {"type", "id"} <= set(source):
            raise DecoratorError(
                f"@secrets: the source {source!r} needs both 'type' and 'id' keys."
            )


def decorators_of(func: Callable[..., Any]) -> tuple[StepDecorator, ...]:
    """The decorators attached to a step function, in the order they were written."""
    return tuple(getattr(func, _ATTR, ()))


def _attach(func: F, decorator: StepDecorator) -> F:
    existing = list(getattr(func, _ATTR, ()))
    if decorator.name in _REPEATABLE:
        same = [d for d in existing if d.name == decorator.name]
        if any(d.attributes.get("id") == decorator.attributes.get("id") for d in same):
            raise DecoratorError(
                f"@{decorator.name} is applied twice to step '{func.__name__}' with the same "
                f"id ({decorator.attributes.get('id')!r}): give each one its own id=..."
            )
    elif any(d.name == decorator.name for d in existing):
        raise DecoratorError(
            f"@{decorator.name} is applied twice to step '{func.__name__}': keep one."
        )
    # Decorators apply bottom-up, above @step or below it: the one applied last was
    # written first, so putting each in front keeps the order of the source.
    existing.insert(0, decorator)
    setattr(func, _ATTR, tuple(existing))
    return func


def _decorator_factory(name: str, guide: str = "failures") -> Any:
    @overload
    def factory(func: F, /) -> F: ...
    @overload
    def factory(**attributes: Any) -> Callable[[F], F]: ...
    def factory(func: Any = None, /, **attributes: Any) -> Any:
        if func is not None:
            if attributes or not callable(func):
                raise DecoratorError(
                    f"Use @{name} or @{name}(key=value, ...), with keyword arguments only."
                )
            return _attach(func, make_decorator(name, {}))
        decorator = make_decorator(name, attributes)
        return lambda f: _attach(f, decorator)

    factory.__name__ = factory.__qualname__ = name
    args = ", ".join(f"{k}={v!r}" for k, v in DECORATORS[name].items())
    factory.__doc__ = f"Step decorator ``@{name}({args})``; see the {guide} guide."
    return factory


retry = _decorator_factory("retry")
catch = _decorator_factory("catch")
timeout = _decorator_factory("timeout")
environment = _decorator_factory("environment")
resources = _decorator_factory("resources")
card = _decorator_factory("card", "cards")
secrets = _decorator_factory("secrets", "secrets")
parallel = _decorator_factory("parallel")


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_decospec(spec: str) -> StepDecorator:
    """Parse a ``--with`` spec: ``NAME`` or ``NAME:key=value,key=value``.

    Values are read as JSON where they parse (``2``, ``true``, ``{"A": "1"}``), else as text.
    """
    name, _, rest = spec.strip().partition(":")
    attributes: dict[str, Any] = {}
    if rest.strip():
        for part in _split_args(rest):
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise DecoratorError(
                    f"Cannot read '{part}' in decorator spec '{spec}': write NAME:key=value,..."
                )
            attributes[key.strip()] = _parse_value(value.strip())
    return make_decorator(name.strip(), attributes)


def _split_args(text: str) -> list[str]:
    """Split on commas that are not inside brackets or quotes (JSON values may hold commas)."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if current:
        parts.append("".join(current))
    return [p for p in parts if p.strip()]


def with_decospecs(
    own: Iterable[StepDecorator], specs: Iterable[StepDecorator]
) -> tuple[StepDecorator, ...]:
    """A step's decorators plus those from ``--with``; the step's own take precedence."""
    result = list(own)
    names = {d.name for d in result}
    result.extend(d for d in specs if d.name not in names)
    return tuple(result)

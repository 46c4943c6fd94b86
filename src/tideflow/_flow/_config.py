"""``Config`` and ``config_expr``: configuration fixed when a run starts.

A :class:`Config` is declared as a class attribute of a flow, like a parameter. Its value
is read once, before the run exists, from a file (``--config NAME PATH``, the ``default``
path), from a value (``--config-value NAME JSON``, ``default_value``) or from the Runner's
``config`` / ``config_value`` keywords. Every step reads it as a read-only
:class:`ConfigValue` (``self.cfg.db.host``), and it is stored with the run as an artifact.

Because the value is known before any step runs, decorator arguments can use it:
``@timeout(seconds=cfg.timeout)`` or ``@retry(times=config_expr("cfg.retries + 1"))``.
At class definition those are :class:`DelayedValue`\\ s; :func:`resolve_delayed` replaces
them with their values when the run starts.
"""

from __future__ import annotations

import builtins
import importlib
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .._exceptions import ParameterError

__all__ = (
    "Config",
    "ConfigValue",
    "DelayedValue",
    "check_declaration",
    "config_expr",
    "config_scope",
    "configs_of",
    "has_delayed",
    "resolve_configs",
    "resolve_delayed",
)


def check_declaration(kind: str, name: object, unknown: Mapping[str, object], valid: str) -> None:
    """Refuse a ``Parameter`` or ``Config`` (``kind``) declared without a name, or with
    keyword arguments it does not take (``unknown``); ``valid`` lists the ones it takes.

    :raises ParameterError: naming the problem.
    """
    if not isinstance(name, str) or not name.strip():
        example = "'config'" if kind == "Config" else "'alpha'"
        raise ParameterError(f"A {kind} needs a non-empty name, as in {kind}({example}).")
    if unknown:
        listed = ", ".join(sorted(unknown))
        raise ParameterError(
            f"{kind} '{name}' got unknown argument(s): {listed}. Valid arguments are {valid}."
        )


class ConfigValue(Mapping[str, Any]):
    """A read-only configuration: a mapping whose keys are also attributes.

    ``value.db.host`` and ``value["db"]["host"]`` read the same item; nested mappings are
    :class:`ConfigValue`\\ s too. Setting an item or attribute raises ``TypeError``.
    :meth:`to_dict` gives a plain, mutable copy.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return _wrap(self._data[name])
        except KeyError:
            keys = ", ".join(sorted(self._data)) or "none"
            raise AttributeError(
                f"The configuration has no key '{name}'; its keys are: {keys}."
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"A configuration is read-only: cannot set '{name}'.")

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError(f"A configuration is read-only: cannot set '{key}'.")

    def __delattr__(self, name: str) -> None:
        raise TypeError(f"A configuration is read-only: cannot delete '{name}'.")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ConfigValue):
            return bool(self._data == other._data)
        if isinstance(other, Mapping):
            return bool(self._data == dict(other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(json.dumps(self._data, sort_keys=True, default=str))

    def __repr__(self) -> str:
        return f"ConfigValue({self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ConfigValue, (self._data,))

    def to_dict(self) -> dict[str, Any]:
        """A plain (mutable, deep) copy of the configuration as dicts and lists."""
        copied: dict[str, Any] = json.loads(json.dumps(self._data))
        return copied


def _wrap(value: Any) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, ConfigValue):
        return ConfigValue(value)
    if isinstance(value, list):
        return tuple(_wrap(item) for item in value)
    return value


class DelayedValue:
    """A value known only once the run's configurations are: ``cfg.x`` or ``config_expr``.

    Use it as a decorator argument (or a parameter default); it is evaluated when the run
    starts, with every configuration of the flow in scope by its attribute and its name.
    """

    __slots__ = ("_expression", "_globals")

    def __init__(self, expression: str, scope: Mapping[str, Any] | None = None) -> None:
        self._expression = expression
        self._globals = dict(scope or {})

    def __getattr__(self, name: str) -> DelayedValue:
        if name.startswith("_"):
            raise AttributeError(name)
        return DelayedValue(f"({self._expression}).{name}", self._globals)

    def __getitem__(self, key: Any) -> DelayedValue:
        return DelayedValue(f"({self._expression})[{key!r}]", self._globals)

    def __repr__(self) -> str:
        return f"config_expr({self._expression!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Module globals do not pickle; an expression needing them is evaluated first.
        return (DelayedValue, (self._expression,))

    @property
    def expression(self) -> str:
        """The Python expression this value evaluates."""
        return self._expression

    def evaluate(self, configs: Mapping[str, Any]) -> Any:
        """Evaluate the expression with ``configs`` (name to :class:`ConfigValue`) in scope.

        :raises ParameterError: if the expression fails, naming it and the error.
        """
        scope = {**self._globals, "__builtins__": builtins, **configs}
        try:
            value = eval(self._expression, scope)
        except Exception as exc:
            unset = sorted(name for name, value in configs.items() if value is None)
            hint = (
                f"the configuration(s) {', '.join(unset)} have no value: give a file or a value"
                if unset
                else "check the configuration's keys"
            )
            raise ParameterError(
                f"Cannot evaluate config_expr({self._expression!r}): "
                f"{type(exc).__name__}: {exc}; {hint}."
            ) from exc
        if isinstance(value, ConfigValue):
            return value.to_dict()
        if isinstance(value, tuple):
            return [item.to_dict() if isinstance(item, ConfigValue) else item for item in value]
        return value


def config_expr(expr: str) -> DelayedValue:
    """A value computed from the flow's configurations when the run starts.

    ``@retry(times=config_expr("cfg.retries + 1"))``: the expression may use every
    :class:`Config` of the flow (by attribute or by name) and the names the flow's module
    imports.

    :param expr: a Python expression.
    """
    if not isinstance(expr, str) or not expr.strip():
        raise ParameterError('config_expr takes an expression as text: config_expr("cfg.x").')
    caller = sys._getframe(1).f_globals
    return DelayedValue(expr.strip(), caller)


def has_delayed(value: Any) -> bool:
    """Whether ``value`` is, or holds (in lists and dicts), a :class:`DelayedValue`."""
    if isinstance(value, DelayedValue):
        return True
    if isinstance(value, (list, tuple)):
        return any(has_delayed(item) for item in value)
    if isinstance(value, dict):
        return any(has_delayed(item) for item in value.values())
    return False


def resolve_delayed(value: Any, configs: Mapping[str, Any]) -> Any:
    """``value`` with every :class:`DelayedValue` in it evaluated against ``configs``."""
    if isinstance(value, DelayedValue):
        return value.evaluate(configs)
    if isinstance(value, list):
        return [resolve_delayed(item, configs) for item in value]
    if isinstance(value, tuple):
        return tuple(resolve_delayed(item, configs) for item in value)
    if isinstance(value, dict):
        return {key: resolve_delayed(item, configs) for key, item in value.items()}
    return value


class Config:
    """A configuration of the flow, read when a run starts; a class attribute of a flow.

    The value comes from, in order: ``--config NAME PATH`` / ``Runner(config={NAME: PATH})``
    (a file), ``--config-value NAME JSON`` / ``Runner(config_value={NAME: value})``,
    the file at ``default`` (if it exists), then ``default_value``. Giving both a file and
    a value is an error; so is no value for a ``required`` configuration.

    :param name: the configuration's name, as the command line gives it.
    :param default: the path of the file to read when none is given (or a callable taking
        a :class:`~tideflow._flow._parameter.ParameterContext` and returning the path).
    :param default_value: the value when no file is found: a dict, JSON text, or a
        callable returning one.
    :param help: the help text of the command line.
    :param required: whether a run without a value for it is refused.
    :param parser: turns the file's text (or a value given as text) into a dict: a
        callable, or the dotted name of one (``"yaml.safe_load"``); JSON by default.
    """

    def __init__(
        self,
        name: str,
        default: str | Callable[[Any], str] | None = None,
        default_value: str | Mapping[str, Any] | Callable[[Any], Any] | None = None,
        help: str | None = None,
        required: bool | None = None,
        parser: str | Callable[[str], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        check_declaration(
            "Config", name, kwargs, "default, default_value, help, required and parser"
        )
        self.name = name
        self.default = default
        self.default_value = default_value
        self.help = help
        self.required = bool(required)
        self.parser = parser
        #: The class attribute this configuration is bound to.
        self.attribute: str = name

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        state = obj.__dict__
        cache = state.setdefault("_tf_config_cache", {})
        if self.attribute not in cache:
            raw = state.get("_tf_parameters", {}).get(self.attribute)
            cache[self.attribute] = None if raw is None else ConfigValue(raw)
        return cache[self.attribute]

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(
            f"Config '{self.name}' is read-only: assign the value to an attribute with "
            "another name instead."
        )

    def __getattr__(self, name: str) -> DelayedValue:
        # ``cfg.timeout`` at class level, in a decorator argument.
        if name.startswith("_"):
            raise AttributeError(name)
        return DelayedValue(f"{self.attribute}.{name}")

    def __getitem__(self, key: Any) -> DelayedValue:
        return DelayedValue(f"{self.attribute}[{key!r}]")

    def __repr__(self) -> str:
        return f"Config({self.name!r}, default={self.default!r})"

    # -- reading the value ------------------------------------------------------------

    def parse(self, text: str, where: str) -> dict[str, Any]:
        """Parse configuration text with the parser (JSON by default).

        :raises ParameterError: if the text does not parse into a mapping.
        """
        parser = _parser(self)
        try:
            value = parser(text)
        except Exception as exc:
            raise ParameterError(
                f"Config '{self.name}': cannot parse {where}: {type(exc).__name__}: {exc}."
            ) from exc
        return self._checked(value, where)

    def _checked(self, value: Any, where: str) -> dict[str, Any]:
        if isinstance(value, ConfigValue):
            value = value.to_dict()
        if not isinstance(value, Mapping):
            raise ParameterError(
                f"Config '{self.name}': {where} holds a {type(value).__name__}, not a "
                "mapping: a configuration is a JSON object (or what its parser returns)."
            )
        try:
            checked: dict[str, Any] = json.loads(json.dumps(dict(value)))
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"Config '{self.name}': {where} is not JSON-serialisable ({exc})."
            ) from exc
        return checked

    def read_file(self, path: str | Path, cwd: str) -> dict[str, Any]:
        """Read and parse the configuration file at ``path`` (relative to ``cwd``).

        :raises ParameterError: if the file cannot be read or parsed.
        """
        full = Path(cwd, path)
        try:
            text = full.read_text(encoding="utf-8")
        except OSError as exc:
            raise ParameterError(
                f"Config '{self.name}': cannot read the file {full} ({exc.strerror}). "
                "Pass the path of an existing file."
            ) from exc
        return self.parse(text, f"the file {full}")

    def from_value(self, value: Any) -> dict[str, Any]:
        """A value given directly: a mapping, or text for the parser.

        :raises ParameterError: if it is neither.
        """
        if isinstance(value, (str, bytes)):
            text = value.decode() if isinstance(value, bytes) else value
            return self.parse(text, "the value given")
        return self._checked(value, "the value given")

    def default_config(self, context: Any, cwd: str, flow_dir: str | None) -> Any:
        """The value when none was given: the ``default`` file, else ``default_value``."""
        path = self.default(context) if callable(self.default) else self.default
        if path:
            for base in (cwd, flow_dir):
                if base is not None and Path(base, path).is_file():
                    return self.read_file(path, base)
        value = self.default_value
        if callable(value):
            value = value(context)
        if value is None or value == "":
            return None
        return self.from_value(value)


def _parser(config: Config) -> Callable[[str], Any]:
    parser = config.parser
    if parser is None:
        return json.loads
    if callable(parser):
        return parser
    module, _, attribute = str(parser).rpartition(".")
    try:
        found = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ParameterError(
            f"Config '{config.name}': parser {parser!r} cannot be imported ({exc}). Give a "
            "callable or the dotted name of one, as in parser='yaml.safe_load'."
        ) from exc
    if not callable(found):
        raise ParameterError(f"Config '{config.name}': parser {parser!r} is not callable.")
    return found  # type: ignore[no-any-return]


def configs_of(cls: type) -> dict[str, Config]:
    """The configurations of a flow class, by attribute name, in definition order."""
    return {
        attribute: value
        for klass in reversed(cls.__mro__)
        for attribute, value in vars(klass).items()
        if isinstance(value, Config)
    }


def _pairs(what: str, value: Any) -> dict[str, Any]:
    """``{name: x}`` from a mapping or a sequence of ``(name, x)`` pairs."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    try:
        return {str(name): item for name, item in value}
    except (TypeError, ValueError):
        raise TypeError(
            f"{what} takes a dict {{name: value}} or a list of (name, value) pairs, not {value!r}."
        ) from None


def resolve_configs(
    configs: Mapping[str, Config],
    *,
    files: Any = None,
    values: Any = None,
    context: Any = None,
    cwd: str = ".",
    flow_dir: str | None = None,
) -> dict[str, Any]:
    """Read every configuration of a flow, keyed by attribute; plain dicts (or ``None``).

    ``files`` and ``values`` map configuration names to a path and to a value.

    :raises ParameterError: for an unknown name, both a file and a value, a missing
        required configuration, or a value that cannot be read.
    """
    files = _pairs("config", files)
    values = _pairs("config_value", values)
    by_name = {config.name: config for config in configs.values()}
    for name in [*files, *values]:
        if name not in by_name:
            valid = ", ".join(by_name) or "none (the flow declares no Config)"
            raise ParameterError(f"Unknown configuration '{name}': the flow's are {valid}.")
    result: dict[str, Any] = {}
    for attribute, config in configs.items():
        if config.name in files and config.name in values:
            raise ParameterError(
                f"Config '{config.name}' was given both a file and a value: give one."
            )
        if config.name in files:
            value = config.read_file(str(files[config.name]), cwd)
        elif config.name in values:
            value = config.from_value(values[config.name])
        else:
            value = config.default_config(context, cwd, flow_dir)
        if value is None and config.required:
            raise ParameterError(
                f"Config '{config.name}' is required: pass --config {config.name} PATH or "
                f"--config-value {config.name} JSON (config= or config_value= in Runner)."
            )
        result[attribute] = value
    return result


def config_scope(
    configs: Mapping[str, Config], values: Mapping[str, Any]
) -> dict[str, ConfigValue | None]:
    """The names a delayed value sees: each configuration by attribute and by name."""
    scope: dict[str, ConfigValue | None] = {}
    for attribute, config in configs.items():
        raw = values.get(attribute)
        wrapped = None if raw is None else ConfigValue(raw)
        scope[attribute] = wrapped
        if config.name.isidentifier():
            scope.setdefault(config.name, wrapped)
    return scope

"""Flow parameters: typed, read-only values given when a run starts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._exceptions import ParameterError
from ._config import DelayedValue, check_declaration

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("JSONType", "Parameter", "ParameterContext", "env_variable", "resolve_parameters")


class _JSONTypeClass:
    """Marker type: the parameter's value is parsed from JSON text."""

    name = "JSON"

    def __repr__(self) -> str:
        return "JSONType"

    def __reduce__(self) -> str:
        return "JSONType"


#: Use as ``Parameter(..., type=JSONType)`` for a value given as JSON text.
JSONType = _JSONTypeClass()

_TYPE_NAMES: dict[object, str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    JSONType: "JSON",
}


class ParameterContext:
    """What a callable default receives: the flow name, the user, the flow's parameters
    and ``parameter_name``, the name of the parameter whose default is asked for."""

    def __init__(
        self,
        flow_name: str,
        user_name: str,
        parameter_names: list[str],
        parameter_name: str | None = None,
        *,
        cwd: str | None = None,
        configs: Mapping[str, Any] | None = None,
    ) -> None:
        self.flow_name = flow_name
        self.user_name = user_name
        self.parameter_names = parameter_names
        #: The folder relative paths (IncludeFile, Config files) are read from.
        self.cwd = cwd
        #: The run's configurations, by attribute (empty while they are being read).
        self.configs: Mapping[str, Any] = dict(configs or {})
        self.parameter_name = parameter_name

    def for_parameter(self, name: str) -> ParameterContext:
        """The same context, for the default of the parameter ``name``."""
        return ParameterContext(
            self.flow_name,
            self.user_name,
            self.parameter_names,
            name,
            cwd=self.cwd,
            configs=self.configs,
        )

    def __repr__(self) -> str:
        return (
            f"ParameterContext(flow_name={self.flow_name!r}, user_name={self.user_name!r}, "
            f"parameter_name={self.parameter_name!r})"
        )


class Parameter:
    """A flow parameter, declared as a class attribute of a :class:`FlowSpec`.

    ``Parameter('seconds', default=3)`` makes ``--seconds`` a command-line option, a
    keyword argument of ``Runner.run()``, and ``self.<attribute>`` a read-only artifact of
    every task. The type is taken from ``type``, else from the default, else ``str``.
    ``default`` may be a callable taking a :class:`ParameterContext`.
    """

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: Any = None,
        help: str | None = None,
        required: bool = False,
        separator: str | None = None,
        show_default: bool = True,
        **kwargs: Any,
    ) -> None:
        valid = "default, type, help, required, separator and show_default"
        check_declaration("Parameter", name, kwargs, valid)
        self.name = name
        self.default = default
        self.help = help
        self.required = bool(required)
        self.separator = separator
        self.show_default = show_default
        self.type = self._infer_type(type, default)
        self._declared = type is not None
        if separator is not None and self.type is not str:
            raise ParameterError(
                f"Parameter '{name}' has a separator, which needs type=str (the value is split "
                "into a list of strings)."
            )
        #: The class attribute this parameter is bound to (set by FlowSpec).
        self.attribute: str = name

    def _infer_type(self, declared: Any, default: Any) -> Any:
        if declared is not None:
            if declared not in _TYPE_NAMES:
                valid = ", ".join(_TYPE_NAMES.values())
                raise ParameterError(
                    f"Parameter '{self.name}' has unsupported type {declared!r}: use one of {valid}."
                )
            return declared
        if callable(default) or default is None or isinstance(default, DelayedValue):
            return str
        for kind in (bool, int, float, str):
            if type(default) is kind:
                return kind
        return JSONType

    @property
    def type_name(self) -> str:
        """The type's name as shown in help texts: str, int, float, bool or JSON."""
        return _TYPE_NAMES[self.type]

    @property
    def is_flag(self) -> bool:
        """Whether the command line takes this parameter as a ``--name/--no-name`` flag."""
        return self.type is bool

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        values: Mapping[str, Any] | None = obj.__dict__.get("_tf_parameters")
        if values is None or self.attribute not in values:
            return self.default if not callable(self.default) else None
        return values[self.attribute]

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(
            f"Parameter '{self.name}' is read-only: assign the value to an attribute with "
            "another name instead."
        )

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, type={self.type_name}, default={self.default!r})"

    def default_value(self, context: ParameterContext | None = None) -> Any:
        """The default, with a callable default called (with ``context``)."""
        if isinstance(self.default, DelayedValue):
            scope = context.configs if context is not None else {}
            value = self.default.evaluate(scope)
            # Without a declared type, a default from the configs keeps its own type.
            return self.convert(value, from_text=False) if self._declared else value
        if callable(self.default):
            if context is not None:
                context = context.for_parameter(self.name)
            return self.convert(self.default(context), from_text=False)
        if self.default is None:
            return None
        return self.convert(self.default, from_text=False)

    def convert(self, value: Any, *, from_text: bool) -> Any:
        """Turn a command-line string (``from_text``) or a Python value into the typed value.

        Raises :class:`ParameterError` for text that does not parse, and :class:`TypeError`
        for a Python value of the wrong type.
        """
        if from_text:
            return self._parse_text(value)
        return self._check_value(value)

    def _parse_text(self, text: str) -> Any:
        kind = self.type
        try:
            if kind is JSONType:
                return json.loads(text)
            if kind is bool:
                lowered = text.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError(text)
            if kind is str and self.separator is not None:
                return [part.strip() for part in text.split(self.separator)]
            return kind(text)
        except ValueError as exc:
            raise ParameterError(
                f"Invalid value {text!r} for parameter '{self.name}': expected {self.type_name}."
            ) from exc

    def _check_value(self, value: Any) -> Any:
        kind = self.type
        if kind is JSONType:
            if isinstance(value, str):
                return self._parse_text(value)
            try:
                return json.loads(json.dumps(value))
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"Parameter '{self.name}' takes a JSON-serialisable value, got "
                    f"{type(value).__name__}."
                ) from exc
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if kind is str and self.separator is not None:
            if isinstance(value, str):
                return self._parse_text(value)
            if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                return list(value)
        if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
            raise TypeError(
                f"Parameter '{self.name}' takes a value of type {self.type_name}, got "
                f"{type(value).__name__} ({value!r})."
            )
        return value

    def to_text(self, value: Any) -> str:
        """Render a typed value as it would be written on the command line."""
        if self.type is JSONType:
            return json.dumps(value)
        if self.separator is not None and isinstance(value, list):
            return self.separator.join(value)
        return str(value)


def env_variable(name: str) -> str:
    """The environment variable that gives a default to the parameter ``name``."""
    return "TIDEFLOW_RUN_" + name.upper().replace("-", "_")


def resolve_parameters(
    parameters: Mapping[str, Parameter],
    given: Mapping[str, Any],
    *,
    from_text: bool,
    context: ParameterContext | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Resolve every parameter of a flow to its typed value, keyed by attribute name.

    ``given`` is keyed by parameter name (``--name`` / ``run(name=...)``). A parameter not
    given takes the value of the environment variable ``TIDEFLOW_RUN_<NAME>`` in ``env``
    (the name upper-cased, ``-`` as ``_``; read as command-line text), else its default.
    Missing required parameters raise :class:`ParameterError`; unknown names are the
    caller's concern.
    """
    values: dict[str, Any] = {}
    for attribute, parameter in parameters.items():
        variable = env_variable(parameter.name)
        if parameter.name in given and given[parameter.name] is not None:
            values[attribute] = parameter.convert(given[parameter.name], from_text=from_text)
        elif env is not None and variable in env:
            values[attribute] = parameter.convert(env[variable], from_text=True)
        elif parameter.required:
            raise ParameterError(
                f"Parameter '{parameter.name}' is required: pass --{parameter.name} VALUE "
                f"(or {parameter.name}=... to Runner.run())."
            )
        else:
            values[attribute] = parameter.default_value(context)
    return values

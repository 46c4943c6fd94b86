"""tideflow: an async-first, actor-style workflow orchestrator."""

from ._flow._current import current as current
from ._flow._decorators import catch as catch
from ._flow._decorators import environment as environment
from ._flow._decorators import resources as resources
from ._flow._decorators import retry as retry
from ._flow._decorators import timeout as timeout
from ._flow._parameter import JSONType as JSONType
from ._flow._parameter import Parameter as Parameter
from ._flow._spec import FlowSpec as FlowSpec
from ._flow._step import step as step
from ._runner import ExecutingRun as ExecutingRun
from ._runner import NBRunner as NBRunner
from ._runner import Runner as Runner
from ._version import __version__ as __version__

__all__ = (
    "ExecutingRun",
    "FlowSpec",
    "JSONType",
    "NBRunner",
    "Parameter",
    "Runner",
    "__version__",
    "catch",
    "current",
    "environment",
    "resources",
    "retry",
    "step",
    "timeout",
)


def _fix_module_names(namespace: dict[str, object], public: str) -> None:
    """Show public objects under their public module (``tideflow.Runner``, not ``tideflow._runner``).

    Tracebacks, reprs and documentation then name the path users import from.
    """
    for name in namespace.get("__all__", ()):  # type: ignore[attr-defined]
        value = namespace[name]
        module = getattr(value, "__module__", "")
        if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
            if isinstance(module, str) and module.startswith(f"{__name__}._"):
                try:
                    value.__module__ = public
                except (AttributeError, TypeError):
                    pass


_fix_module_names(globals(), __name__)
del _fix_module_names

"""tideflow: an async-first, actor-style workflow orchestrator."""

from ._client import AsyncDataArtifact as AsyncDataArtifact
from ._client import AsyncFlow as AsyncFlow
from ._client import AsyncFlows as AsyncFlows
from ._client import AsyncRun as AsyncRun
from ._client import AsyncStep as AsyncStep
from ._client import AsyncTask as AsyncTask
from ._client import DataArtifact as DataArtifact
from ._client import Flow as Flow
from ._client import Flows as Flows
from ._client import Metaflow as Metaflow
from ._client import Run as Run
from ._client import Step as Step
from ._client import Task as Task
from ._client import default_namespace as default_namespace
from ._client import get_namespace as get_namespace
from ._client import namespace as namespace
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
from ._sweep import sweep as sweep
from ._version import __version__ as __version__

__all__ = (
    "AsyncDataArtifact",
    "AsyncFlow",
    "AsyncFlows",
    "AsyncRun",
    "AsyncStep",
    "AsyncTask",
    "DataArtifact",
    "ExecutingRun",
    "Flow",
    "FlowSpec",
    "Flows",
    "JSONType",
    "Metaflow",
    "NBRunner",
    "Parameter",
    "Run",
    "Runner",
    "Step",
    "Task",
    "__version__",
    "catch",
    "current",
    "default_namespace",
    "environment",
    "get_namespace",
    "namespace",
    "resources",
    "retry",
    "step",
    "sweep",
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

"""tideflow: an async-first, actor-style workflow orchestrator."""

import typing as _typing

from ._exceptions import ArtifactError as ArtifactError
from ._exceptions import ClientLookupError as ClientLookupError
from ._exceptions import FlowDefinitionError as FlowDefinitionError
from ._exceptions import NamespaceMismatch as NamespaceMismatch
from ._exceptions import NotFound as NotFound
from ._exceptions import ParameterError as ParameterError
from ._exceptions import RunError as RunError
from ._exceptions import StoreError as StoreError
from ._exceptions import TaskException as TaskException
from ._exceptions import TaskFailed as TaskFailed
from ._exceptions import TideflowError as TideflowError
from ._exceptions import UsageError as UsageError
from ._flow._config import Config as Config
from ._flow._config import config_expr as config_expr
from ._flow._current import current as current
from ._flow._decorators import card as card
from ._flow._decorators import catch as catch
from ._flow._decorators import environment as environment
from ._flow._decorators import parallel as parallel
from ._flow._decorators import resources as resources
from ._flow._decorators import retry as retry
from ._flow._decorators import secrets as secrets
from ._flow._decorators import timeout as timeout
from ._flow._hooks import install as _install_hooks
from ._flow._includefile import IncludeFile as IncludeFile
from ._flow._parameter import JSONType as JSONType
from ._flow._parameter import Parameter as Parameter
from ._flow._project import project as project
from ._flow._spec import FlowSpec as FlowSpec
from ._flow._step import step as step
from ._version import __version__ as __version__

if _typing.TYPE_CHECKING:
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
    from ._runner import ExecutingRun as ExecutingRun
    from ._runner import NBRunner as NBRunner
    from ._runner import Runner as Runner
    from ._sweep import sweep as sweep

__all__ = (
    "ArtifactError",
    "AsyncDataArtifact",
    "AsyncFlow",
    "AsyncFlows",
    "AsyncRun",
    "AsyncStep",
    "AsyncTask",
    "ClientLookupError",
    "Config",
    "DataArtifact",
    "ExecutingRun",
    "Flow",
    "FlowDefinitionError",
    "FlowSpec",
    "Flows",
    "IncludeFile",
    "JSONType",
    "Metaflow",
    "NBRunner",
    "NamespaceMismatch",
    "NotFound",
    "Parameter",
    "ParameterError",
    "Run",
    "RunError",
    "Runner",
    "Step",
    "StoreError",
    "Task",
    "TaskException",
    "TaskFailed",
    "TideflowError",
    "UsageError",
    "__version__",
    "card",
    "catch",
    "config_expr",
    "current",
    "default_namespace",
    "environment",
    "get_namespace",
    "namespace",
    "parallel",
    "project",
    "resources",
    "retry",
    "secrets",
    "step",
    "sweep",
    "timeout",
)


#: Names loaded on first use, and the module each comes from. Flow files import tideflow
#: in every task process, and need none of these: leaving them out of ``import tideflow``
#: makes each task process (and fork host) start tens of milliseconds sooner.
_LAZY = {
    "AsyncDataArtifact": "._client",
    "AsyncFlow": "._client",
    "AsyncFlows": "._client",
    "AsyncRun": "._client",
    "AsyncStep": "._client",
    "AsyncTask": "._client",
    "DataArtifact": "._client",
    "Flow": "._client",
    "Flows": "._client",
    "Metaflow": "._client",
    "Run": "._client",
    "Step": "._client",
    "Task": "._client",
    "default_namespace": "._client",
    "get_namespace": "._client",
    "namespace": "._client",
    "ExecutingRun": "._runner",
    "NBRunner": "._runner",
    "Runner": "._runner",
    "sweep": "._sweep",
}


def _command_line(flow: type[FlowSpec]) -> int:
    """``MyFlow()`` at ``__main__``: the command line (installed in the definition layer)."""
    from ._cli import flow_main

    return flow_main(flow)


def _client_object(kind: str, pathspec: str, root: str | None) -> object:
    """``current.run`` / ``current.task``: a client object (installed in the definition layer)."""
    from . import _client

    cls = _client.Run if kind == "run" else _client.Task
    return cls(pathspec, _namespace_check=False, _root=root)


_install_hooks(command_line=_command_line, client_object=_client_object)


def __getattr__(name: str) -> object:
    """Load a name of :data:`_LAZY` on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    _show_public(value)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def _show_public(value: object) -> None:
    """Show ``value`` under ``tideflow`` (``tideflow.Runner``, not ``tideflow._runner``).

    Tracebacks, reprs and documentation then name the path users import from.
    """
    module = getattr(value, "__module__", "")
    if isinstance(value, type) and issubclass(value, BaseException):
        return  # exceptions keep the name tracebacks print: tideflow.exception.X
    named = isinstance(value, type) or callable(value) and hasattr(value, "__qualname__")
    if named and isinstance(module, str) and module.startswith(f"{__name__}."):
        try:
            value.__module__ = __name__
        except (AttributeError, TypeError):
            pass


for _name in __all__:
    if _name not in _LAZY:
        _show_public(globals()[_name])
del _name

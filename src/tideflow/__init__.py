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

"""The client API: read every past and running flow, run, step, task and artifact.

``Flow``, ``Run``, ``Step``, ``Task`` and ``DataArtifact`` block their caller for the
length of a store read; ``AsyncFlow``, ``AsyncRun``, ``AsyncStep``, ``AsyncTask`` and
``AsyncDataArtifact`` do the same reads in worker threads, under asyncio or trio. See the
client guide for the object hierarchy, namespaces and tags.
"""

# Explicit re-exports: `from ._module import Name as Name` marks each name as public.
# ruff: noqa: PLC0414

from ._client import AsyncDataArtifact as AsyncDataArtifact
from ._client import AsyncFlow as AsyncFlow
from ._client import AsyncFlows as AsyncFlows
from ._client import AsyncRun as AsyncRun
from ._client import AsyncStep as AsyncStep
from ._client import AsyncTask as AsyncTask
from ._client import ChildList as ChildList
from ._client import DataArtifact as DataArtifact
from ._client import Flow as Flow
from ._client import Flows as Flows
from ._client import Metadata as Metadata
from ._client import Metaflow as Metaflow
from ._client import Run as Run
from ._client import Step as Step
from ._client import Task as Task
from ._client import TaskArtifacts as TaskArtifacts
from ._client import TaskData as TaskData
from ._client import TaskException as TaskException
from ._client import default_namespace as default_namespace
from ._client import get_namespace as get_namespace
from ._client import namespace as namespace

__all__ = (
    "AsyncDataArtifact",
    "AsyncFlow",
    "AsyncFlows",
    "AsyncRun",
    "AsyncStep",
    "AsyncTask",
    "ChildList",
    "DataArtifact",
    "Flow",
    "Flows",
    "Metadata",
    "Metaflow",
    "Run",
    "Step",
    "Task",
    "TaskArtifacts",
    "TaskData",
    "TaskException",
    "default_namespace",
    "get_namespace",
    "namespace",
)

# Names that tideflow's own __init__ does not export still show this module, not a private
# one, in reprs, tracebacks and pickles.
for _value in [globals()[_name] for _name in __all__]:
    if getattr(_value, "__module__", "").startswith("tideflow._"):
        _value.__module__ = __name__
del _value

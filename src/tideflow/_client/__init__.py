"""The client API: every past and running flow, run, step, task and artifact.

Public through :mod:`tideflow` and :mod:`tideflow.client`.
"""

from __future__ import annotations

from .._exceptions import TaskException
from ._async import AsyncDataArtifact, AsyncFlow, AsyncFlows, AsyncRun, AsyncStep, AsyncTask
from ._data import Metadata, TaskArtifacts, TaskData
from ._namespace import default_namespace, get_namespace, namespace
from ._sync import ChildList, DataArtifact, Flow, Flows, Run, Step, Task

#: The reference API's name for :class:`Flows`.
Metaflow = Flows

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

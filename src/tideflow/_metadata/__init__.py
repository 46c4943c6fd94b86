"""The metadata store: runs, steps, tasks, attempts, tags, artifacts and metadata events."""

from __future__ import annotations

from ._records import (
    ATTEMPT_STATES,
    RUN_STATUSES,
    ArtifactRecord,
    AttemptRecord,
    ExceptionInfo,
    MetadataRecord,
    RunRecord,
    StepRecord,
    TaskRecord,
)
from ._sqlite import SQLiteMetadataStore

__all__ = (
    "ATTEMPT_STATES",
    "RUN_STATUSES",
    "ArtifactRecord",
    "AttemptRecord",
    "ExceptionInfo",
    "MetadataRecord",
    "RunRecord",
    "SQLiteMetadataStore",
    "StepRecord",
    "TaskRecord",
)

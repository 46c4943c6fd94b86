"""Read back what a run stored: its record, and each task with its attempts, artifact
values (of the last attempt), metadata and logs. Used by the failure, resume and CLI tests.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tideflow._datastore._artifacts import loads
from tideflow._logs import log_path, read_text
from tideflow._metadata import AttemptRecord, RunRecord, TaskRecord
from tideflow._stores._bundle import open_datastore, open_metadata

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tideflow._stores._interfaces import BlobStore, MetadataStore

__all__ = ("StoredRun", "StoredTask", "blob_store", "latest_run", "metadata_store", "read_run")


@contextmanager
def metadata_store(root: Path) -> Iterator[MetadataStore]:
    """The metadata store the runs of the test used: SQLite in ``root``, or the database
    ``TIDEFLOW_METADATA_URL`` names (see ``TIDEFLOW_TEST_METADATA`` in conftest.py)."""
    store = open_metadata(os.environ.get("TIDEFLOW_METADATA_URL"), root=Path(root))
    try:
        yield store
    finally:
        store.close()


@dataclass
class StoredTask:
    """One task of a stored run."""

    root: Path
    record: TaskRecord
    attempts: list[AttemptRecord]
    artifacts: dict[str, Any]
    metadata: dict[str, str]

    @property
    def state(self) -> str:
        return self.attempts[-1].state if self.attempts else "not started"

    @property
    def last(self) -> AttemptRecord:
        return self.attempts[-1]

    def log(self, stream: str = "stdout", attempt: int | None = None) -> str:
        r = self.record
        number = self.last.attempt if attempt is None else attempt
        return read_text(log_path(self.root, r.flow, r.run_id, r.step, r.task_id, number, stream))


@dataclass
class StoredRun:
    """A stored run and its tasks by step (each step's tasks by foreach index, then id)."""

    record: RunRecord
    steps: dict[str, list[StoredTask]]

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def only(self, step: str) -> StoredTask:
        (task,) = self.steps[step]
        return task


def blob_store(root: Path) -> BlobStore:
    """The blob store the runs of ``root`` use: the local one, or the one
    ``TIDEFLOW_DATASTORE_URL`` names (the suite's object-storage pass sets it).
    """
    blobs, logs = open_datastore(os.environ.get("TIDEFLOW_DATASTORE_URL"), root=root)
    logs.close()
    return blobs


def latest_run(root: Path, flow: str) -> RunRecord:
    """The newest run of ``flow`` in ``root``."""
    with metadata_store(root) as store:
        run = store.latest_run(flow)
    assert run is not None, f"{flow} has no run in {root}"
    return run


def read_run(root: Path, flow: str, run_id: str | None = None) -> StoredRun:
    """Every task of a run (the newest one by default)."""
    blobs = blob_store(root)
    steps: dict[str, list[StoredTask]] = {}
    with metadata_store(root) as store:
        run = store.get_run(flow, run_id) if run_id else store.latest_run(flow)
        assert run is not None, f"{flow} has no run in {root}"
        for step in store.list_steps(flow, run.run_id):
            tasks = []
            for task in store.list_tasks(flow, run.run_id, step.step):
                attempts = store.list_attempts(flow, run.run_id, step.step, task.task_id)
                number = attempts[-1].attempt if attempts else 0
                records = store.list_artifacts(flow, run.run_id, step.step, task.task_id, number)
                metadata = store.list_metadata(flow, run.run_id, step.step, task.task_id, number)
                tasks.append(
                    StoredTask(
                        root,
                        task,
                        attempts,
                        {r.name: loads(blobs.get(r.sha), r.name) for r in records},
                        {m.name: m.value for m in metadata},
                    )
                )
            tasks.sort(key=lambda t: (t.record.index or 0, int(t.record.task_id)))
            steps[step.step] = tasks
    return StoredRun(run, steps)

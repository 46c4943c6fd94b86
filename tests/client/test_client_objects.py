"""What every client object does: repr, equality, pickling, docstrings, speed."""

from __future__ import annotations

import inspect
import pickle
import time
from typing import TYPE_CHECKING

import tideflow.client
import tideflow.exception
from stored_runs import blob_store, metadata_store
from tideflow import DataArtifact, Flow, Run, Step, Task, namespace
from tideflow._datastore._artifacts import dumps
from tideflow._metadata import ArtifactRecord, AttemptRecord, TaskRecord
from tideflow._stores._interfaces import BlobStore, MetadataStore

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from conftest import ClientRuns


def every_kind(runs: ClientRuns) -> list[object]:
    task = f"{runs.retry}/start/1"
    return [
        Flow("ClientRetryFlow"),
        Run(runs.retry),
        Step(f"{runs.retry}/start"),
        Task(task),
        Task(task, attempt=0),
        DataArtifact(f"{task}/attempt_seen"),
        DataArtifact(f"{task}/attempt_seen", attempt=1),
    ]


def test_repr(client_runs: ClientRuns) -> None:
    """A repr is the constructor call that gives the object back."""
    for obj in every_kind(client_runs):
        assert eval(repr(obj), vars(tideflow.client)) == obj


def test_pickle(client_runs: ClientRuns) -> None:
    """Objects pickle by pathspec, attempt and root; unpickling skips the namespace check."""
    objects = every_kind(client_runs)
    blobs = [pickle.dumps(obj) for obj in objects]
    namespace("user:nobody")
    for obj, blob in zip(objects, blobs, strict=True):
        back = pickle.loads(blob)
        assert back == obj and type(back) is type(obj) and repr(back) == repr(obj)
    assert pickle.loads(blobs[-1]).data == 1


def test_pickle_keeps_the_root(
    client_runs: ClientRuns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An object unpickled elsewhere still reads the store it came from."""
    blob = pickle.dumps(Run(client_runs.train))
    monkeypatch.setenv("TIDEFLOW_ROOT", str(tmp_path / ".tideflow"))
    assert pickle.loads(blob).data.result == 60


def test_equality_and_hash(client_runs: ClientRuns) -> None:
    """Two objects for the same pathspec, attempt and root are equal."""
    assert Run(client_runs.train) == Run(client_runs.train)
    assert len({Run(client_runs.train), Run(client_runs.train), Run(client_runs.retry)}) == 2
    assert Run(client_runs.train) != Flow("ClientTrainFlow")
    assert Task(f"{client_runs.retry}/start/1") != Task(f"{client_runs.retry}/start/1", attempt=1)


def test_the_explicit_root_wins(
    client_runs: ClientRuns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``_root`` names the store folder whatever the environment says."""
    monkeypatch.setenv("TIDEFLOW_ROOT", str(tmp_path / ".tideflow"))
    assert Run(client_runs.train, _root=client_runs.root).successful
    assert Run(client_runs.train, _root=str(client_runs.root)).successful


DOCUMENTED_DUNDERS = ("__iter__", "__aiter__", "__getitem__", "__contains__", "__await__")


def test_every_public_name_documents_itself() -> None:
    """Every class, function, method and property of tideflow.client has a docstring."""
    for name in tideflow.client.__all__:
        value = getattr(tideflow.client, name)
        assert (value.__doc__ or "").strip(), name
        if not isinstance(value, type):
            continue
        for cls in value.__mro__:
            if not cls.__module__.startswith("tideflow"):
                continue
            for attr, member in vars(cls).items():
                if attr.startswith("_") and attr not in DOCUMENTED_DUNDERS:
                    continue
                if inspect.isfunction(member) or isinstance(member, property):
                    assert (member.__doc__ or "").strip(), f"{name}.{attr} ({cls.__name__})"


def test_classes_show_their_public_module() -> None:
    """Client classes show tideflow (exported there) or tideflow.client."""
    assert Run.__module__ == "tideflow"
    assert tideflow.client.TaskData.__module__ == "tideflow.client"
    assert tideflow.client.TaskException is tideflow.exception.TaskException
    assert tideflow.client.TaskException.__module__ == "tideflow.exception"


def test_data_of_100_runs_is_fast(tideflow_root: Path) -> None:
    """``run.data.x`` reads the right value for each of 100 runs of a flow.

    The runs are written straight into the stores (100 real runs would take a minute);
    the read path is the same. How fast it is, is measured by
    benchmarks/bench_client_data.py, not here: the machines running the suite are shared.
    The store is the test's own (``tideflow_root``), not the package's shared runs.
    """
    root = tideflow_root
    blobs = blob_store(root)  # local, or the suite's object storage
    with metadata_store(root) as store:
        for number in range(100):
            write_finished_run(store, blobs, number)
    namespace(None)
    runs = list(Flow("FastFlow", _root=root).runs())
    values = [run.data.x for run in runs]  # type: ignore[union-attr]
    assert values == list(range(99, -1, -1))


def write_finished_run(store: MetadataStore, blobs: BlobStore, number: int) -> None:
    """Record a finished run of FastFlow whose end task stored ``x = number``."""
    run = store.create_run("FastFlow", user="tester", system_tags=["user:tester"])
    key = {"flow": "FastFlow", "run_id": run.run_id, "step": "end", "task_id": "1"}
    now = time.time()
    store.add_task(TaskRecord(**key, created_at=now))
    store.start_attempt(AttemptRecord(**key, attempt=0, state="running", started_at=now))
    data = dumps(number, "x")
    artifact = ArtifactRecord(
        **key, attempt=0, name="x", sha=blobs.put(data), size=len(data), created_at=now
    )
    store.record_task_end(**key, attempt=0, state="succeeded", artifacts=[artifact])
    store.finish_run("FastFlow", run.run_id, "succeeded")


def test_latest_successful_run_skips_newer_runs_by_index(tideflow_root: Path) -> None:
    """The newest successful run of the namespace is found past hundreds of newer runs
    (failed, running, or another user's); benchmarks/bench_latest_successful.py measures
    that it takes one indexed query. The store is the test's own (``tideflow_root``)."""
    root = tideflow_root
    with metadata_store(root) as store:
        old = store.create_run("SweepFlow", user="tester", system_tags=["user:tester"])
        store.finish_run("SweepFlow", old.run_id, "succeeded")
        theirs = store.create_run("SweepFlow", user="other", system_tags=["user:other"])
        store.finish_run("SweepFlow", theirs.run_id, "succeeded")
        for number in range(300):
            run = store.create_run("SweepFlow", user="tester", system_tags=["user:tester"])
            if number % 2:
                store.finish_run("SweepFlow", run.run_id, "failed")
    flow = Flow("SweepFlow", _root=root)
    found = flow.latest_successful_run
    assert found is not None and found.id == old.run_id
    assert flow.latest_run is not None and flow.latest_run.id == run.run_id
    namespace(None)
    assert flow.latest_successful_run.id == theirs.run_id  # type: ignore[union-attr]

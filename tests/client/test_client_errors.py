"""Missing objects, malformed pathspecs and missing children: the errors and their words."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import pytest

import tideflow.exception
from tideflow import DataArtifact, Flow, Run, Step, Task
from tideflow.exception import (
    InvalidPathspec,
    MetaflowException,
    MetaflowInvalidPathspec,
    MetaflowNotFound,
    NotFound,
    TideflowError,
)

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import ClientRuns


def test_missing_objects(client_runs: ClientRuns) -> None:
    """Each missing object raises NotFound naming its pathspec."""
    run = client_runs.train
    cases = [
        (Flow, "NoSuchFlow", r"^Flow 'NoSuchFlow' does not exist$"),
        (Run, "ClientTrainFlow/999", r"^Run 'ClientTrainFlow/999' does not exist$"),
        (Run, "NoSuchFlow/1", r"^Run 'NoSuchFlow/1' does not exist$"),
        (Run, "ClientTrainFlow/abc", r"^Run 'ClientTrainFlow/abc' does not exist$"),
        (Step, f"{run}/nope", rf"^Step '{re.escape(run)}/nope' does not exist$"),
        (Task, f"{run}/start/99", rf"^Task '{re.escape(run)}/start/99' does not exist$"),
        (Task, f"{run}/nope/1", rf"^Step '{re.escape(run)}/nope' does not exist$"),
        (
            DataArtifact,
            f"{run}/start/1/nope",
            rf"^Artifact '{re.escape(run)}/start/1/nope' does not exist$",
        ),
    ]
    for cls, pathspec, pattern in cases:
        with pytest.raises(NotFound, match=pattern):
            cls(pathspec)
    with pytest.raises(MetaflowNotFound):
        Run("ClientTrainFlow/999")
    with pytest.raises(LookupError):
        Run("ClientTrainFlow/999")


def test_malformed_pathspecs(client_runs: ClientRuns) -> None:
    """A pathspec of the wrong shape raises InvalidPathspec showing the right shape."""
    cases = [
        (Flow, "A/1", "Flow", "FlowName"),
        (Run, "ClientTrainFlow", "Run", "FlowName/RunID"),
        (Run, "A/1/start", "Run", "FlowName/RunID"),
        (Step, "A//start", "Step", "FlowName/RunID/StepName"),
        (Task, "A/1/start", "Task", "FlowName/RunID/StepName/TaskID"),
        (
            DataArtifact,
            "A/1/start/1",
            "DataArtifact",
            "FlowName/RunID/StepName/TaskID/ArtifactName",
        ),
    ]
    for cls, pathspec, kind, shape in cases:
        pattern = rf"^'{re.escape(pathspec)}' is not a {kind} pathspec: a {kind} pathspec looks like '{shape}'\.$"
        with pytest.raises(InvalidPathspec, match=pattern):
            cls(pathspec)
    with pytest.raises(
        InvalidPathspec,
        match=r"^Run\(\) needs a pathspec: a Run pathspec looks like 'FlowName/RunID'\.$",
    ):
        Run()
    with pytest.raises(
        InvalidPathspec, match=r"^123 is not a Task pathspec: a Task pathspec is a string"
    ):
        Task(123)  # type: ignore[arg-type]
    with pytest.raises(MetaflowInvalidPathspec):
        Run("bad")
    with pytest.raises(ValueError):
        Run("bad")


def test_missing_children_raise_key_error(client_runs: ClientRuns) -> None:
    """obj[id] raises KeyError for a missing child; ``in`` says False."""
    flow, run = Flow("ClientTrainFlow"), Run(client_runs.train)
    task = run["start"].task
    assert task is not None
    for parent, missing in [(flow, "999"), (run, "nope"), (run["start"], "7"), (task, "nope")]:
        with pytest.raises(KeyError) as info:
            parent[missing]
        assert info.value.args == (missing,)
        assert isinstance(info.value.__cause__, NotFound)
        assert missing not in parent
    assert 3 not in run  # type: ignore[operator]


@pytest.mark.skipif(
    os.environ.get("TIDEFLOW_TEST_METADATA") == "postgres",
    reason="the metadata is in PostgreSQL, not in the root",
)
def test_no_store_at_the_root(tmp_path: Path) -> None:
    """A root without a store: the object does not exist, and nothing is created."""
    root = tmp_path / "nothing-here" / ".tideflow"
    with pytest.raises(
        NotFound,
        match=rf"^Run 'HelloFlow/1' does not exist: there is no tideflow store at {re.escape(str(root))}\. ",
    ):
        Run("HelloFlow/1", _root=root)
    assert not root.exists()
    assert list(tideflow.Flows(_root=root)) == []


def test_exception_module() -> None:
    """tideflow.exception has every error class, and the reference's names for them."""
    from tideflow import _exceptions

    for name in _exceptions.__all__:
        assert getattr(tideflow.exception, name) is getattr(_exceptions, name)
    assert MetaflowNotFound is NotFound
    assert MetaflowException is TideflowError
    assert tideflow.exception.MetaflowNamespaceMismatch is tideflow.exception.NamespaceMismatch
    assert tideflow.exception.MetaflowTaggingError is tideflow.exception.TagError
    assert issubclass(NotFound, TideflowError) and issubclass(InvalidPathspec, ValueError)

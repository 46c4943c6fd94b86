"""Turning Runner arguments into a checked request: run options reach the run."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

import pytest

from tideflow import FlowSpec, Runner, current, step
from tideflow._runtime._loader import load_flow
from tideflow._runtime._request import build_request, check_top_level

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def workdir(tideflow_root: Path, flows_dir: Path) -> Path:
    """The test's working folder, holding ``slowflow.py`` (and a fresh store)."""
    folder = tideflow_root.parent
    shutil.copy(flows_dir / "runner_slowflow.py", folder / "slowflow.py")
    return folder


class NamespaceFlow(FlowSpec):
    """Keeps the namespace its steps see."""

    @step
    def start(self):
        self.seen = current.namespace
        self.next(self.end)

    @step
    def end(self):
        pass


@pytest.mark.parametrize(
    ("user_namespace", "expected"),
    [(None, "user:tester"), ("team:ml", "team:ml"), ("", None)],
)
def test_user_namespace_reaches_the_steps(
    tideflow_root: Path, user_namespace: str | None, expected: str | None
) -> None:
    options = {} if user_namespace is None else {"user_namespace": user_namespace}
    with Runner(NamespaceFlow, show_output=False).run(**options) as running:
        assert running.status == "successful", running.stderr
        assert running.run.data.seen == expected


def test_request_fields(tideflow_root: Path, workdir: Path) -> None:
    request = build_request(
        load_flow("slowflow.py"),
        top_level=check_top_level({"quiet": True, "decospecs": ["retry:times=1"]}),
        options={"seconds": 2, "tags": "one", "max_workers": 3, "user_namespace": "x"},
        env={"X": "1"},
        cwd=os.getcwd(),
    )
    assert request.parameters == {"secs": 2}
    assert request.tags == ("one",)
    assert (request.max_workers, request.quiet, request.namespace) == (3, True, "x")
    assert [d.name for d in request.decospecs] == ["retry"]
    assert request.env["X"] == "1"
    assert "X" not in os.environ or os.environ["X"] != "1"
    assert request.root == tideflow_root


def test_bounds(workdir: Path) -> None:
    with pytest.raises(ValueError, match=r"^SlowFlow.run\(\): max_workers must be at least 1"):
        Runner("slowflow.py").run(max_workers=0)
    with pytest.raises(ValueError, match=r"^SlowFlow.run\(\): tags are non-empty strings"):
        Runner("slowflow.py").run(tags=[""])

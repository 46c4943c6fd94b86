"""@project: the branch a run belongs to, what current says, and the project tags."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from executors import executor
from feature_runs import copy_flow, run_flow
from tideflow import FlowSpec, Runner, project, step
from tideflow._exceptions import FlowDefinitionError, ParameterError
from tideflow._flow._project import project_info

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("executor",)


@project(name="demo")
class Demo(FlowSpec):
    @step
    def start(self) -> None:
        self.next(self.end)

    @step
    def end(self) -> None:
        pass


@pytest.mark.parametrize(
    ("branch", "production", "expected"),
    [
        (None, False, "user.alice"),
        ("feature", False, "test.feature"),
        (None, True, "prod"),
        ("canary", True, "prod.canary"),
    ],
)
def test_branch_names(branch: str | None, production: bool, expected: str) -> None:
    info = project_info(Demo, "alice", branch, production)
    assert info is not None
    assert info.branch_name == expected
    assert info.is_production is production
    assert info.project_flow_name == f"demo.{expected}.Demo"


def test_decorator_defaults() -> None:
    """``@project(branch=..., production=...)`` set the branch when no option does."""

    @project(name="demo", branch="shared", production=True)
    class Defaults(FlowSpec):
        pass

    info = project_info(Defaults, "alice")
    assert info is not None and info.branch_name == "prod.shared"
    override = project_info(Defaults, "alice", branch="mine")
    assert override is not None and override.branch_name == "prod.mine"


def test_bad_uses_are_refused() -> None:
    with pytest.raises(FlowDefinitionError, match=r"^@project: name must be lowercase letters"):
        project(name="My Project")
    with pytest.raises(FlowDefinitionError, match=r'^Write @project\(name="\.\.\."\)'):
        project(Demo)
    with pytest.raises(ParameterError, match=r"^--branch applies to flows decorated with @proj"):
        project_info(FlowSpec, "alice", "x")
    with pytest.raises(ParameterError, match=r"^--branch takes letters, digits"):
        project_info(Demo, "alice", "a b")


async def test_project_in_current_and_tags(tideflow_root: Path, executor: str) -> None:
    """Steps see the project and branch; the run carries the project's system tags."""
    folder = tideflow_root.parent
    running = await run_flow(folder, "project_flow.py")
    assert running.status == "successful", running.stderr
    run = running.run
    assert run.data.project == {
        "project_name": "recommender",
        "branch_name": "user.tester",
        "is_production": False,
        "project_flow_name": "recommender.user.tester.ProjectFlow",
    }
    assert {"project:recommender", "project_branch:user.tester"} <= run.system_tags
    running = await run_flow(
        folder, "project_flow.py", top={"branch": "nightly", "production": True}
    )
    assert running.run.data.project["branch_name"] == "prod.nightly"
    assert running.run.data.project["is_production"] is True
    assert "project_branch:prod.nightly" in running.run.system_tags


async def test_branch_without_project_is_refused(tideflow_root: Path) -> None:
    path = copy_flow(tideflow_root.parent, "config_flow.py")
    with pytest.raises(ParameterError, match=r"^--production applies to flows decorated"):
        await Runner(str(path), production=True).async_run()


def test_command_line_options(tideflow_root: Path) -> None:
    folder = tideflow_root.parent
    path = copy_flow(folder, "project_flow.py")
    done = subprocess.run(
        [sys.executable, str(path), "--branch", "x", "run"],
        check=False,
        capture_output=True,
        text=True,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [sys.executable, str(path), "tag", "list"],
        check=False,
        capture_output=True,
        text=True,
        cwd=folder,
    )
    assert "project_branch:test.x" in listed.stdout


async def test_project_name_from_a_config(tideflow_root: Path) -> None:
    """``@project(name=config_expr(...))`` is named when the run starts; a bad name from
    the config is refused then."""
    folder = tideflow_root.parent
    running = await run_flow(folder, "project_config_flow.py")
    assert running.status == "successful", running.stderr
    assert running.run.data.project_name == "from_config"
    assert "project:from_config" in running.run.system_tags
    path = folder / "project_config_flow.py"
    with pytest.raises(ParameterError, match=r"^@project: name must be lowercase letters"):
        await Runner(str(path), config_value={"deploy": {"project": "Bad Name"}}).async_run()

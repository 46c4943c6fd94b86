"""Checks of the project's own layout: packaging metadata and the documented test command."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def test_console_script() -> None:
    """``tideflow`` on the command line calls the CLI's ``main``."""
    project = load_pyproject()["project"]
    assert isinstance(project, dict)
    assert project["scripts"] == {"tideflow": "tideflow._cli:main"}


def test_python_requirement() -> None:
    """The package declares the Python version the code is written for."""
    project = load_pyproject()["project"]
    assert isinstance(project, dict)
    assert project["requires-python"] == ">=3.11"


def test_test_group_has_both_backends() -> None:
    """The test group brings trio, so the suite can run on both anyio backends."""
    groups = load_pyproject()["dependency-groups"]
    assert isinstance(groups, dict)
    names = {
        re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0] for requirement in groups["test"]
    }
    assert {"pytest", "trio", "coverage"} <= names


def test_readme_and_ci_share_the_test_command() -> None:
    """The test command in README.md is exactly the one ``.ci/run`` runs."""
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    match = re.search(r"^TEST_COMMAND='([^']+)'$", script, re.MULTILINE)
    assert match is not None, ".ci/run no longer defines TEST_COMMAND"
    readme_lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert match.group(1) in readme_lines


async def test_async_tests_run_on_the_requested_backend(anyio_backend: str) -> None:
    """Each async test really runs inside the event loop its backend parameter names."""
    if anyio_backend == "trio":
        import trio

        trio.lowlevel.current_trio_token()
    else:
        import asyncio

        asyncio.get_running_loop()


def test_tideflow_root_fixture(tideflow_root: Path, tmp_path: Path) -> None:
    """The store fixture isolates the environment and the working directory."""
    import os

    assert tideflow_root == tmp_path / ".tideflow"
    assert os.environ["TIDEFLOW_ROOT"] == str(tideflow_root)
    assert os.environ["TIDEFLOW_USER"] == "tester"
    assert Path.cwd() == tmp_path


def test_flows_dir_fixture(flows_dir: Path) -> None:
    """The example flows used by the tests are where the fixture says."""
    assert (flows_dir / "hello_flow.py").is_file()


def test_the_package_is_typed() -> None:
    """``py.typed`` ships inside the package, and the classifiers say so."""
    import importlib.resources

    assert (importlib.resources.files("tideflow") / "py.typed").is_file()
    assert (ROOT / "src" / "tideflow" / "py.typed").is_file()
    project = load_pyproject()["project"]
    assert isinstance(project, dict)
    assert "Typing :: Typed" in project["classifiers"]
    wheel = load_pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]  # type: ignore[index]
    assert wheel == {"packages": ["src/tideflow"]}  # nothing excluded: py.typed goes in


def test_the_license_file_matches_pyproject() -> None:
    """pyproject says Apache-2.0, and LICENSE holds that license's text."""
    project = load_pyproject()["project"]
    assert isinstance(project, dict)
    assert project["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text


def test_readme_states_platforms_and_python_versions() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Supported platforms" in readme
    assert "Linux and macOS" in readme and "POSIX" in readme
    assert "CPython 3.11 or newer" in readme

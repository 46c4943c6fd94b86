"""Development tasks: ``nox -s tests lint typecheck docs examples bench``.

Every session installs its tools from ``[dependency-groups]`` in pyproject.toml, so the
versions are written down in one place. ``nox`` alone runs every session except ``bench``.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck", "docs", "examples"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
LINT_PATHS = ("src", "tests", "examples", "benchmarks", "noxfile.py")


def _groups(*names: str) -> tuple[str, ...]:
    """Return the requirements of the named dependency groups."""
    return nox.project.dependency_groups(PYPROJECT, *names)


def _existing(paths: tuple[str, ...]) -> list[str]:
    """Keep the paths that exist, so a folder with nothing in it yet is not an error."""
    return [path for path in paths if (ROOT / path).exists()]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite on the installed package under coverage, on asyncio and trio.

    Arguments after ``--`` go to pytest, e.g. ``nox -s tests -- -k graph -x``.
    """
    # A regular (not editable) install: the suite runs against what a user would get.
    session.install(".", *_groups("test"))
    session.run("coverage", "erase")
    session.run("coverage", "run", "--parallel-mode", "-m", "pytest", *session.posargs)
    session.run("coverage", "combine")
    session.run("coverage", "report")


@nox.session
def lint(session: nox.Session) -> None:
    """Check the code with ruff's linter and its formatter."""
    session.install(*_groups("lint"))
    paths = _existing(LINT_PATHS)
    session.run("ruff", "check", *session.posargs, *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    """Check types with mypy in strict mode (the package and this noxfile)."""
    session.install("-e", ".", *_groups("typecheck"))
    session.run("mypy", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML documentation; any Sphinx warning fails the build."""
    session.install("-e", ".", *_groups("docs"))
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session
def examples(session: nox.Session) -> None:
    """Run every script in ``examples/`` and fail if any of them fails."""
    session.install(".[dask]")  # runner_dask.py
    session.run("python", "examples/run_examples.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks; arguments after ``--`` go to ``benchmarks/run_all.py``."""
    session.install(".", *_groups("bench"))
    session.run("python", "benchmarks/run_all.py", *session.posargs)

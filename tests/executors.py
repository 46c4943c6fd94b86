"""Run a test on every executor, and look for task processes left behind.

Import the fixture into a test module to run its tests once per executor::

    from executors import executor  # noqa: F401  (a fixture)

    def test_something(tideflow_root, executor):  # runs with spawn, then with fork
        ...

or for a whole module: ``pytestmark = pytest.mark.usefixtures("executor")`` after the
import. The fixture sets ``TIDEFLOW_EXECUTOR``, so every Runner and CLI call in the test
uses that executor without being told; it returns the executor's name.

Fork hosts (``python -c "...tideflow._worker._host..."``) stay warm while their event loop runs
(for a module-scoped async fixture, that is the whole module): they are not task
processes. :func:`task_processes` leaves them out, so "no process left behind" checks
hold on both executors; :func:`host_processes` finds them. Pass the pids that existed
before the test (:func:`descendant_pids`) to ignore processes other tests left running,
such as the ``multiprocessing`` resource tracker.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import psutil
import pytest

if TYPE_CHECKING:
    from collections.abc import Collection
    from pathlib import Path

__all__ = (
    "EXECUTORS",
    "descendant_pids",
    "executor",
    "host_processes",
    "is_host",
    "module_anyio_backend",
    "module_executor",
    "task_processes",
    "wait_for_file",
    "wait_no_task_processes",
)

#: The executors available on this platform.
EXECUTORS: tuple[str, ...] = ("spawn", "fork") if os.name == "posix" else ("spawn",)


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once per executor (``spawn``, ``fork``) via ``TIDEFLOW_EXECUTOR``."""
    name: str = request.param
    monkeypatch.setenv("TIDEFLOW_EXECUTOR", name)
    return name


@pytest.fixture(scope="module", params=["asyncio", "trio"], name="anyio_backend")
def module_anyio_backend(request: pytest.FixtureRequest) -> str:
    """``anyio_backend`` for a module whose flows run once per backend in module-scoped
    fixtures, not once per test (import it into the module)."""
    backend: str = request.param
    return backend


@pytest.fixture(scope="module", params=["fork", "spawn"], name="executor")
def module_executor(request: pytest.FixtureRequest) -> str:
    """``executor`` for a module whose module-scoped fixtures run every flow on both
    executors (import it into the module); it returns the name and sets nothing."""
    name: str = request.param
    return name


def is_host(process: psutil.Process) -> bool:
    """Whether ``process`` is a fork host."""
    try:
        return any("tideflow._worker._host" in part for part in process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _descendants() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)


def descendant_pids() -> set[int]:
    """The pids of every process below this one now: take it before a test starts
    processes, and pass it as ``before`` to the functions below."""
    return {p.pid for p in _descendants()}


def host_processes(before: Collection[int] = ()) -> list[psutil.Process]:
    """The live fork hosts below this process, except those in ``before``."""
    return [p for p in _descendants() if p.pid not in before and is_host(p) and _alive(p)]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def task_processes(before: Collection[int] = ()) -> list[psutil.Process]:
    """Every live process below this one that is not a fork host (task processes and
    whatever they started; children of a fork host count), except those in ``before``."""
    return [p for p in _descendants() if p.pid not in before and not is_host(p) and _alive(p)]


def wait_no_task_processes(
    before: Collection[int] = (), deadline: float = 10.0
) -> list[psutil.Process]:
    """Wait up to ``deadline`` seconds for :func:`task_processes` to be empty; return what
    is left (empty when all went). Processes end asynchronously, so this polls the OS."""
    end = time.monotonic() + deadline
    while (left := task_processes(before)) and time.monotonic() < end:
        time.sleep(0.02)
    return left


def wait_for_file(path: Path, deadline: float = 30.0) -> str:
    """Wait up to ``deadline`` seconds for ``path`` to hold text written by a task process;
    return the text. Blocking: call it with ``anyio.to_thread.run_sync`` from async tests."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if path.exists() and (text := path.read_text()):
            return text
        time.sleep(0.01)
    raise TimeoutError(f"{path} was not written within {deadline} seconds")

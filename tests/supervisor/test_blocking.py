"""The blocking API's event loop: one per process, kept between calls, stopped at exit."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import psutil
import pytest

from tideflow import Runner
from tideflow._supervisor._blocking import blocking_loop

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.skipif(os.name != "posix", reason="fork hosts need POSIX")


def test_further_run_calls_reuse_the_warm_host(tideflow_root: Path, flows_dir: Path) -> None:
    """Invariant: separate run() calls (even of separate Runners) fork from one warm host."""
    flow = str(flows_dir / "blocking_parent_flow.py")
    first = Runner(flow, show_output=False, executor="fork").run().run.data.parent_pid
    second = Runner(flow, show_output=False, executor="fork").run().run.data.parent_pid
    assert first == second
    assert first != os.getpid()  # a host, not this process
    assert psutil.Process(first).is_running()


def test_run_calls_from_many_threads_share_the_loop(tideflow_root: Path, flows_dir: Path) -> None:
    """Blocking calls made at once from several threads all complete, in one loop thread."""
    results: list[str] = []

    def call() -> None:
        results.append(Runner(str(flows_dir / "hello_flow.py"), show_output=False).run().status)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == ["successful"] * 4
    assert sum(t.name == "tideflow-blocking" for t in threading.enumerate()) == 1
    assert repr(blocking_loop()) == "<BlockingLoop running>"


EXIT_SCRIPT = """
import sys, psutil
from tideflow import Runner
assert Runner(sys.argv[1], show_output=False, executor="fork").run().status == "successful"

def command(process):
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # a task process that has just ended (a zombie, or gone)
        return ""

hosts = [p.pid for p in psutil.Process().children(recursive=True)
         if "tideflow._worker._host" in command(p)]
print(" ".join(map(str, hosts)), flush=True)
"""


def test_interpreter_exit_stops_the_loop_and_its_hosts(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """Invariant: a script that used run() exits at once, and its warm hosts go with it."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(flows_dir / "hello_flow.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    hosts = [int(pid) for pid in done.stdout.split()]
    assert hosts, "the run was expected to start a fork host"
    deadline = time.monotonic() + 10
    while any(psutil.pid_exists(pid) for pid in hosts) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in hosts if psutil.pid_exists(pid)] == []

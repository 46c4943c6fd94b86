"""The watchdog that kills a task's process group when its supervisor's socket closes."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

SCRIPT = textwrap.dedent(
    """
    import socket, subprocess, sys, time
    from tideflow._worker._lifeline import Lifeline

    ours, theirs = socket.socketpair()
    lifeline = Lifeline(ours).start()
    child = subprocess.Popen(["sleep", "60"])  # in our process group
    print(child.pid, flush=True)
    if sys.argv[1] == "release":
        lifeline.release()
    theirs.close()  # as when the supervisor dies
    time.sleep(0.5)
    child.kill()
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")
@pytest.mark.parametrize(("mode", "returncode"), [("watch", -signal.SIGKILL), ("release", 0)])
def test_closed_socket_kills_the_process_group(mode: str, returncode: int) -> None:
    """Invariant: once the other end closes, the group (the step's children too) is gone;
    after release() the task may end normally."""
    process = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        start_new_session=True,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert process.returncode == returncode, process.stderr
    grandchild = int(process.stdout.split()[0])
    assert _dead(grandchild)


def _dead(pid: int) -> bool:
    """Whether ``pid`` is gone or a zombie (its new parent may not have reaped it yet)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False

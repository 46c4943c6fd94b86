"""Start ``tideflow ui`` as a real process on a free port, and stop it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ("running_ui",)


@contextmanager
def running_ui(root: Path, *args: str, backend: str = "asyncio") -> Iterator[str]:
    """Serve the UI over ``root`` on 127.0.0.1 and a free port; yield its URL.

    At exit the server gets SIGINT and must stop cleanly (exit code 0).
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "tideflow", "ui", "--root", str(root), "--port", "0"]
        + ["--backend", backend, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TIDEFLOW_USER": "tester"},
    )
    try:
        assert process.stdout is not None
        url = None
        for line in process.stdout:
            found = re.search(r"on (http://\S+) ", line)
            if found:
                url = found.group(1)
                break
        assert url is not None, process.stderr.read() if process.stderr else ""
        yield url
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

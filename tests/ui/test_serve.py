"""``tideflow ui``: a real server process on 127.0.0.1, under asyncio and trio."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("hypercorn", reason="the ui extra is not installed")

import httpx

from .conftest import UiStore
from .server import running_ui


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_serves_pages_and_stops_on_ctrl_c(ui_store: UiStore, backend: str) -> None:
    with running_ui(ui_store.root, backend=backend) as url:
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, timeout=10) as client:
            assert "UiFlow" in client.get("/").text
            run = client.get(f"/runs/UiFlow/{ui_store.succeeded}")
            assert run.status_code == 200 and 'data-step="end"' in run.text
            with client.stream("GET", f"/runs/UiFlow/{ui_store.succeeded}/events") as events:
                assert events.headers["content-type"].startswith("text/event-stream")
                assert "event: end" in events.read().decode()


def test_another_host_prints_a_warning(ui_store: UiStore) -> None:
    """A host other than the loopback names needs saying so (127.0.0.2 stays on this
    machine); a port in use is a one-line error."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.2", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = subprocess.run(
            [sys.executable, "-m", "tideflow", "ui", "--host", "127.0.0.2", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    warning, error = process.stderr.splitlines()
    assert warning.startswith("warning: serving on 127.0.0.2: anyone who can reach")
    assert error == f"error: cannot serve on 127.0.0.2:{port}: Address already in use"
    assert process.returncode == 1


def test_a_bad_port_is_a_usage_error() -> None:
    process = subprocess.run(
        [sys.executable, "-m", "tideflow", "ui", "--port", "99999"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert process.returncode == 2
    assert "expected a port number from 0 to 65535, got '99999'" in process.stderr


def test_missing_extra_names_it(tmp_path: Path) -> None:
    code = (
        "import sys\nsys.modules['starlette'] = None\n"
        "from tideflow._cli import main\nsys.exit(main(['ui']))\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "TIDEFLOW_USER": "tester"},
    )
    assert process.returncode == 1
    assert process.stderr == (
        "error: tideflow ui needs the web extra, which is not installed. Install it with: "
        "pip install 'tideflow[ui]'\n"
    )


def test_help_lists_the_options() -> None:
    process = subprocess.run(
        [sys.executable, "-m", "tideflow", "ui", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert process.returncode == 0
    for option in ("--root", "--port", "--open", "--host"):
        assert option in process.stdout

"""``--metadata-url`` and ``--datastore-url``: every command reads and writes where they say."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tideflow._cli import main

FLOW_FILE = str(Path(__file__).resolve().parent.parent / "flows" / "flow_output.py")
HELLO = str(Path(__file__).resolve().parent.parent / "flows" / "hello_flow.py")


def test_run_then_read_through_the_urls(
    tideflow_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [
        "--metadata-url",
        f"sqlite://{tmp_path / 'db' / 'runs.db'}",
        f"--datastore-url={(tmp_path / 'files').as_uri()}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEFLOW_")}
    env |= {"TIDEFLOW_USER": "tester", "TIDEFLOW_ROOT": str(tideflow_root)}
    ran = subprocess.run(
        [sys.executable, HELLO, "--quiet", *urls, "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    # The root keeps only what stays on the machine (run locks), never metadata or blobs.
    assert not (tideflow_root / "metadata.db").exists()
    assert not (tideflow_root / "blobs").exists()

    assert main(["runs", *urls]) == 0
    out = capsys.readouterr().out
    [run_id] = re.findall(r"^HelloFlow/(\d+)\s+succeeded", out, re.MULTILINE)
    assert main(["runs", "--metadata-url", f"sqlite://{tmp_path / 'other.db'}"]) == 0
    assert capsys.readouterr().out.startswith("No runs found")

    assert main(["dump", HELLO, *urls, f"{run_id}/start"]) == 0
    assert "    message = 'hello'\n" in capsys.readouterr().out
    assert main(["tag", HELLO, *urls, "add", "--run-id", run_id, "kept"]) == 0
    assert "kept" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["run", HELLO, "--metadata-url", "nope://x"],
        ["runs", "--metadata-url", "nope://x"],
        ["dump", HELLO, "--metadata-url=nope://x", "1/start"],
    ],
    ids=["run", "runs", "dump"],
)
def test_an_unknown_scheme_is_one_error_line(
    tideflow_root: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "error: argument --metadata-url: the URL 'nope://x' has an unknown scheme nope://: use "
        "one of sqlite://, postgresql://, postgres://. Run with --help to see the options.\n"
    )
    assert not tideflow_root.exists()


def test_an_unknown_datastore_scheme(
    tideflow_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", HELLO, "--datastore-url", "gs://b"]) == 2
    assert "use one of file://, s3://." in capsys.readouterr().err

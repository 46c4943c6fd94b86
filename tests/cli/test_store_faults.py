"""Stores that cannot be written or are damaged: still readable, or one clear error line.

A read-only store is made real with ``tests/read_only.py`` (a read-only bind mount as
root), and the commands run in a child process that sees it so.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from read_only import run_read_only
from tideflow import Runner
from tideflow._cli import main

FLOWS = Path(__file__).resolve().parent.parent / "flows"
HELLO = str(FLOWS / "hello_flow.py")
OUTPUT = str(FLOWS / "flow_output.py")

#: Reads a store the way a user does, printing what each reader gave.
READERS = """\
import sys
from tideflow import Flow, namespace
from tideflow._cli import main
hello, output, hello_id, output_id = sys.argv[1:]
main(["runs"])
main(["logs", output, f"{output_id}/start", "--stdout"])
main(["dump", hello, f"{hello_id}/start"])
namespace(None)
run = Flow("HelloFlow").latest_run
print("client:", run.id, run.successful, run.data.message, run["start"].task.stdout == "")
print("output:", Flow("OutputFlow")[output_id]["end"].task.stdout.strip())
"""


@dataclass
class Store:
    folder: Path
    hello_id: str
    output_id: str


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEFLOW_")}
    return env | {"TIDEFLOW_USER": "tester", "TIDEFLOW_EXECUTOR": "spawn", "HOME": str(folder)}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A project folder whose store holds a run of HelloFlow and one of OutputFlow."""
    folder = tmp_path_factory.mktemp("project")
    root = folder / ".tideflow"
    ids = []
    for flow in (HELLO, OUTPUT):
        with Runner(flow, show_output=False, root=str(root), username="tester") as runner:
            ids.append(runner.run().run.id)
    return Store(folder, *ids)


def test_a_read_only_store_is_fully_readable(store: Store) -> None:
    argv = [sys.executable, "-c", READERS, HELLO, OUTPUT, store.hello_id, store.output_id]
    ran = run_read_only(store.folder, argv, cwd=store.folder, env=_env(store.folder))
    assert ran.stderr == ""
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("RUN ")
    assert {line.split()[0] for line in lines[1:3]} == {
        f"HelloFlow/{store.hello_id}",
        f"OutputFlow/{store.output_id}",
    }
    assert "py-stdout-line" in lines
    assert "    message = 'hello'" in lines
    assert f"client: {store.hello_id} True hello True" in lines
    assert lines[-1] == "output: end-line"


def test_a_run_on_a_read_only_store_is_one_error_line(store: Store) -> None:
    ran = run_read_only(
        store.folder, [sys.executable, HELLO, "run"], cwd=store.folder, env=_env(store.folder)
    )
    assert ran.returncode == 1
    assert ran.stderr == (
        f"error: The metadata database {store.folder}/.tideflow/metadata.db is read-only: runs "
        "cannot be recorded there; choose another store root with TIDEFLOW_ROOT or --root (or "
        "a database with TIDEFLOW_METADATA_URL or --metadata-url).\n"
    )


def test_an_empty_read_only_folder(tmp_path: Path) -> None:
    env = _env(tmp_path)
    ran = run_read_only(
        tmp_path, [sys.executable, "-m", "tideflow", "runs"], cwd=tmp_path, env=env
    )
    assert (ran.returncode, ran.stderr) == (0, "")
    assert ran.stdout == f"No runs found in {tmp_path}/.tideflow.\n"
    ran = run_read_only(tmp_path, [sys.executable, HELLO, "run"], cwd=tmp_path, env=env)
    assert ran.returncode == 1
    assert ran.stderr == (
        f"error: Cannot create the store folder {tmp_path}/.tideflow: Read-only file system. "
        "To record runs, choose another store root with TIDEFLOW_ROOT or --root (or a "
        "database with TIDEFLOW_METADATA_URL or --metadata-url).\n"
    )


def _newer(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 7")
    conn.close()


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda path: path.write_bytes(b""), "is empty (0 bytes), so it holds no runs"),
        (lambda path: path.write_bytes(b"?" * 5000), "is damaged (file is not a database)"),
        (_newer, "has schema version 7, but this version of tideflow reads version 1"),
    ],
    ids=["empty", "garbage", "newer"],
)
def test_a_damaged_database_is_one_error_line(
    tideflow_root: Path, capsys: pytest.CaptureFixture[str], damage: object, problem: str
) -> None:
    with Runner(HELLO, show_output=False) as runner:
        run_id = runner.run().run.id
    database = tideflow_root / "metadata.db"
    damage(database)  # type: ignore[operator]
    for argv in (["run", HELLO, "--quiet"], ["runs"], ["dump", HELLO, f"{run_id}/start"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: The metadata database {database} {problem}"), err
        assert err.count("\n") == 1


@pytest.mark.parametrize(
    "pathspec", ["99999999999999999999999/start", "1\udcff/start", "1/st\udcffart"]
)
def test_lookups_of_impossible_pathspecs_are_not_found(
    tideflow_root: Path, capsys: pytest.CaptureFixture[str], pathspec: str
) -> None:
    with Runner(HELLO, show_output=False) as runner:
        runner.run()
    assert main(["dump", HELLO, pathspec]) in (1, 2)
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "does not exist" in err
    assert err.count("\n") == 1

"""``tideflow db upgrade`` and ``tideflow db copy``, against a real PostgreSQL server.

A local SQLite history (a failed run and the run that resumed it) is copied into a fresh
schema of the module's database; the copy is read back through the client.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import psycopg
import pytest

from tideflow import Flow, Runner, default_namespace, namespace
from tideflow._cli import main
from tideflow._metadata import SQLiteMetadataStore
from tideflow._metadata._postgres import PostgresMetadataStore

FLOWS = Path(__file__).resolve().parent.parent / "flows"
FLOW = "FailForeachFlow"
_SCHEMAS = itertools.count(1)


@pytest.fixture(scope="module")
def local_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("db")
    root, marker = folder / ".tideflow", folder / "marker"
    runner = Runner(
        str(FLOWS / "fail_foreach_flow.py"),
        show_output=False,
        root=str(root),
        env={"TIDEFLOW_USER": "tester", "FAIL_ITEMS": "1", "FAIL_MARKER": str(marker)},
    )
    assert runner.run().status == "failed"
    marker.touch()
    assert runner.resume().status == "successful"
    return root


@pytest.fixture
def target(postgres_url: str) -> str:
    return f"{postgres_url}&schema=copy{next(_SCHEMAS)}"


def db(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["db", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_upgrade_creates_then_reports_up_to_date(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = target.replace("&", "&")
    code, out, _ = db(capsys, "upgrade", "--url", target)
    assert (code, out) == (0, f"Created the tideflow tables in {shown} (schema version 1).\n")
    code, out, _ = db(capsys, "upgrade", "--url", target)
    assert (code, out) == (0, f"{shown} is up to date (schema version 1).\n")


def test_copy_keeps_run_ids_and_is_idempotent(
    local_root: Path,
    target: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = f"sqlite://{(local_root / 'metadata.db').as_posix()}"
    code, out, err = db(capsys, "copy", "--from", source, "--to", target)
    assert (code, err) == (0, "")
    assert out == f"Copied 2 runs from {local_root / 'metadata.db'} to {target}.\n"
    with SQLiteMetadataStore(local_root) as lite, PostgresMetadataStore(target) as pg:
        assert pg.list_runs(FLOW) == lite.list_runs(FLOW)
        for run in lite.list_runs(FLOW):
            for step in lite.list_steps(FLOW, run.run_id):
                assert pg.list_tasks(FLOW, run.run_id, step.step) == lite.list_tasks(
                    FLOW, run.run_id, step.step
                )
                for task in lite.list_tasks(FLOW, run.run_id, step.step):
                    args = (FLOW, run.run_id, step.step, task.task_id)
                    assert pg.list_attempts(*args) == lite.list_attempts(*args)
                    assert pg.list_metadata(*args) == lite.list_metadata(*args)
                    assert pg.list_artifacts(*args, 0) == lite.list_artifacts(*args, 0)
        newest = int(lite.list_runs(FLOW)[0].run_id)
        succeeded = lite.latest_run(FLOW, successful=True)
        assert succeeded is not None
        later = pg.create_run(FLOW, user="tester", system_tags=["user:tester"], now=1.0)
        assert int(later.run_id) == newest + 1  # the counter moved past the copied ids
    code, out, _ = db(capsys, "copy", "--from", source, "--to", target)
    assert (
        out
        == f"Copied 0 runs from {local_root / 'metadata.db'} to {target} (2 were there already).\n"
    )
    # The client reads the copied history, artifacts from the local blobs.
    monkeypatch.setenv("TIDEFLOW_ROOT", str(local_root))
    monkeypatch.setenv("TIDEFLOW_METADATA_URL", target)
    namespace(None)
    try:
        assert Flow(FLOW).latest_successful_run.id == succeeded.run_id
    finally:
        default_namespace()


def test_copy_refuses_a_conflicting_run(
    local_root: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = f"sqlite://{(local_root / 'metadata.db').as_posix()}"
    assert db(capsys, "copy", "--from", source, "--to", target)[0] == 0
    schema = target.rpartition("schema=")[2]
    with psycopg.connect(target.rpartition("&")[0], autocommit=True) as conn:
        conn.execute(f"UPDATE {schema}.runs SET created_at = created_at + 1")
        conn.execute(f"DELETE FROM {schema}.metadata")
    code, _, err = db(capsys, "copy", "--from", source, "--to", target)
    assert code == 1
    assert err.startswith(f"error: db copy: run '{FLOW}/")
    assert err.endswith(
        f"exists in {target} and is another run (it started at another time or by another user); nothing was copied.\n"
    )
    with psycopg.connect(target.rpartition("&")[0]) as conn:
        assert conn.execute(f"SELECT count(*) FROM {schema}.metadata").fetchone() == (0,)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["copy", "--to", "sqlite:///x.db"],
            "error: tideflow db: --to must be a postgresql:// URL, not 'sqlite:///x.db'",
        ),
        (
            ["copy", "--from", "file:///x", "--to", "postgresql:///x"],
            "error: tideflow db copy: --from must be sqlite:///path/metadata.db, not 'file:///x'",
        ),
        (
            ["upgrade"],
            (
                "error: tideflow db: name the PostgreSQL database with --url postgresql://... or "
                "TIDEFLOW_METADATA_URL"
            ),
        ),
    ],
)
def test_bad_arguments_are_one_line(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TIDEFLOW_METADATA_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = db(capsys, *args)
    assert (code, err) == (2, f"{message}\n")


def test_copy_from_nothing(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = db(capsys, "copy", "--from", f"sqlite://{tmp_path}/none.db", "--to", target)
    assert (code, err) == (
        1,
        f"error: db copy: there is no SQLite database at {tmp_path}/none.db\n",
    )

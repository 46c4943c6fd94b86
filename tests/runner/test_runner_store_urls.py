"""``Runner(..., metadata_url=..., datastore_url=...)``: a run stored where its URLs say."""

from __future__ import annotations

from pathlib import Path

import pytest

from tideflow import Runner
from tideflow._exceptions import StoreError
from tideflow._metadata import SQLiteMetadataStore

FLOWS = Path(__file__).resolve().parent.parent / "flows"


def test_a_run_is_stored_and_read_where_the_urls_say(tideflow_root: Path, tmp_path: Path) -> None:
    database = tmp_path / "db" / "runs.db"
    files = tmp_path / "files"
    runner = Runner(
        str(FLOWS / "hello_flow.py"),
        show_output=False,
        metadata_url=f"sqlite://{database}",
        datastore_url=files.as_uri(),
    )
    with runner:
        run = runner.run().run
    assert run.successful
    assert run.data.message == "hello"
    assert run["start"].task.stdout == ""
    with SQLiteMetadataStore(tmp_path, path=database) as store:
        assert [r.run_id for r in store.list_runs("HelloFlow")] == [run.id]
    assert list((files / "blobs").iterdir())
    assert not (tideflow_root / "metadata.db").exists()
    assert not (tideflow_root / "blobs").exists()


@pytest.mark.parametrize("kind", ["metadata", "datastore"])
def test_an_unknown_scheme_is_refused_when_the_runner_is_made(
    tideflow_root: Path, kind: str
) -> None:
    known = "sqlite://, postgresql://, postgres://" if kind == "metadata" else "file://, s3://"
    with pytest.raises(
        StoreError,
        match=rf"^Runner\(\): {kind}_url 'nope://x' has an unknown scheme nope://: use one of "
        rf"{known}\.$",
    ):
        Runner(str(FLOWS / "hello_flow.py"), **{f"{kind}_url": "nope://x"})


def test_an_unknown_scheme_in_the_environment_is_refused_before_the_run(
    tideflow_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIDEFLOW_DATASTORE_URL", "ftp://host/x")
    runner = Runner(str(FLOWS / "hello_flow.py"), show_output=False)
    with pytest.raises(
        StoreError, match=r"^TIDEFLOW_DATASTORE_URL 'ftp://host/x' has an unknown scheme ftp://"
    ):
        runner.run()
    assert not tideflow_root.exists()

"""Task logs in S3: written locally, live; parts while running; the whole log at the end."""

from __future__ import annotations

import secrets
from pathlib import Path

import obstore
import pytest

from s3server import S3Server, raw_store
from tideflow._datastore._s3logs import PART_BYTES, S3LogStore
from tideflow._stores._bundle import open_datastore
from tideflow._stores._interfaces import LogKey

KEY = LogKey(flow="LogFlow", run_id="7", step="start", task_id="1", attempt=0, stream="stdout")


@pytest.fixture
def s3_url(s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_bucket}/l-{secrets.token_hex(4)}"


def log_store(url: str, root: Path) -> S3LogStore:
    _, logs = open_datastore(url, root=root)
    assert isinstance(logs, S3LogStore)
    return logs


def object_names(server: S3Server, bucket: str, url: str) -> list[str]:
    prefix = url.split("/", 3)[3]
    raw = raw_store(server, bucket)
    return sorted(meta["path"] for batch in obstore.list(raw, prefix) for meta in batch)


def test_a_log_is_live_locally_and_in_the_bucket_after_close(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    store = log_store(s3_url, tmp_path / "here")
    writer = store.open_writer(KEY)
    writer.write_lines([(1.5, b"first"), (2.5, b"second")])
    assert store.read_text(KEY) == "first\nsecond\n"  # live, from the local file
    elsewhere = log_store(s3_url, tmp_path / "elsewhere")
    assert elsewhere.read_text(KEY) == ""  # nothing uploaded yet: no part is due
    writer.close()
    store.close()
    prefix = s3_url.split("/", 3)[3]
    assert object_names(s3_server, s3_bucket, s3_url) == [
        f"{prefix}/logs/LogFlow/7/start/1/0.stdout.log"
    ]
    assert elsewhere.read_text(KEY) == "first\nsecond\n"
    assert [line.text for line in elsewhere.read_from(KEY)] == [b"first", b"second"]
    local = [line.position for line in store.read_from(KEY)]
    assert [line.position for line in elsewhere.read_from(KEY, local[0])] == local[1:]
    assert [text for _, text in elsewhere.read_log(KEY)] == [b"first", b"second"]
    assert elsewhere.log_size(KEY) == len("first\nsecond\n")
    elsewhere.close()


def test_a_long_log_goes_up_in_parts_while_it_is_written(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    store = log_store(s3_url, tmp_path / "here")
    writer = store.open_writer(KEY)
    line = b"x" * 1000
    count = PART_BYTES // 1000 + 10
    writer.write_lines([(float(i), line) for i in range(count)])
    store.drain()
    elsewhere = log_store(s3_url, tmp_path / "elsewhere")
    assert len(elsewhere.read_log(KEY)) == count  # the machine could die now
    writer.write_lines([(9e9, b"last")])
    writer.close()
    store.close()
    names = object_names(s3_server, s3_bucket, s3_url)
    assert [name.rsplit("/", 1)[1] for name in names] == ["0.stdout.log"]  # parts deleted
    assert elsewhere.read_log(KEY)[-1][1] == b"last"
    elsewhere.close()


def test_copy_copies_in_the_bucket(s3_url: str, tmp_path: Path) -> None:
    store = log_store(s3_url, tmp_path / "here")
    with_writer = store.open_writer(KEY)
    with_writer.write_lines([(1.0, b"cloned")])
    with_writer.close()
    store.drain()
    target = LogKey(
        flow="LogFlow", run_id="8", step="start", task_id="1", attempt=0, stream="stdout"
    )
    elsewhere = log_store(s3_url, tmp_path / "elsewhere")
    elsewhere.copy(KEY, target)
    elsewhere.copy(target.__class__(**{**_fields(KEY), "run_id": "99"}), target)  # no log: no-op
    third = log_store(s3_url, tmp_path / "third")
    assert third.read_text(target) == "cloned\n"
    for each in (store, elsewhere, third):
        each.close()


def _fields(key: LogKey) -> dict[str, object]:
    return {name: getattr(key, name) for name in key.__struct_fields__}


def test_a_failed_upload_is_sent_by_the_next_store(
    s3_url: str, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the server unreachable the log stays local and marked; it goes up later."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    down = log_store(s3_url + "?timeout=2", tmp_path / "here")
    writer = down.open_writer(KEY)
    writer.write_lines([(1.0, b"kept")])
    writer.close()
    down.close()
    assert list((tmp_path / "here" / "cache" / "log-uploads").iterdir())
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    up = log_store(s3_url, tmp_path / "here")
    other = up.open_writer(KEY.__class__(**{**_fields(KEY), "stream": "stderr"}))
    other.close()
    up.close()
    assert not list((tmp_path / "here" / "cache" / "log-uploads").iterdir())
    assert log_store(s3_url, tmp_path / "elsewhere").read_text(KEY) == "kept\n"

"""The S3 blob store against a real SeaweedFS server: layout, atomic writes, digests, cache."""

from __future__ import annotations

import hashlib
import os
import random
import re
import secrets
import subprocess
import sys
import threading
from pathlib import Path

import obstore
import pytest

from s3server import S3Server, raw_store
from tideflow._datastore._s3 import S3BlobStore
from tideflow._exceptions import ArtifactError, StoreError
from tideflow._stores._bundle import open_datastore


@pytest.fixture
def s3_url(s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh prefix in the module's bucket, with the AWS variables pointing at the server."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_bucket}/t-{secrets.token_hex(4)}"


def blob_store(url: str, root: Path) -> S3BlobStore:
    blobs, logs = open_datastore(url, root=root)
    logs.close()
    assert isinstance(blobs, S3BlobStore)
    return blobs


def key_of(url: str, sha: str) -> str:
    prefix = url.split("/", 3)[3].split("?")[0]
    return f"{prefix}/blobs/{sha[:2]}/{sha[2:]}"


def random_bytes(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def test_put_get_exists_size_and_key_layout(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    store = blob_store(s3_url, tmp_path)
    data = b"hello tideflow"
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.url == s3_url
    meta = obstore.head(raw_store(s3_server, s3_bucket), key_of(s3_url, sha))
    assert meta["size"] == 9 + len(data)  # the local store's header, then the bytes
    fresh = blob_store(s3_url + "?cache_size=0", tmp_path / "other")
    assert fresh.get(sha) == data
    assert fresh.exists(sha)
    assert fresh.size(sha) == len(data)
    assert not fresh.exists(hashlib.sha256(b"absent").hexdigest())
    assert not fresh.exists("not-a-key")


def test_a_missing_blob_and_a_malformed_key_say_so(s3_url: str, tmp_path: Path) -> None:
    store = blob_store(s3_url, tmp_path)
    sha = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(ArtifactError, match=rf"^Blob {sha} does not exist at s3://"):
        store.get(sha)
    with pytest.raises(ArtifactError, match=rf"^Blob {sha} does not exist"):
        store.size(sha)
    with pytest.raises(ArtifactError, match=r"^'zz' is not a blob key"):
        store.get("zz")


def test_a_stored_key_is_never_overwritten(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """Writes are conditional: an object already under a key is left as it is."""
    data = b"first writer"
    sha = hashlib.sha256(data).hexdigest()
    raw = raw_store(s3_server, s3_bucket)
    obstore.put(raw, key_of(s3_url, sha), b"\x00" + len(data).to_bytes(8, "little") + data)
    etag = obstore.head(raw, key_of(s3_url, sha))["e_tag"]
    assert blob_store(s3_url, tmp_path).put(data) == sha
    assert obstore.head(raw, key_of(s3_url, sha))["e_tag"] == etag


def test_concurrent_writers_of_one_blob_agree(s3_url: str, tmp_path: Path) -> None:
    store = blob_store(s3_url + "?cache_size=0", tmp_path)
    data = random_bytes(100_000, seed=3)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(store.put(data))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert blob_store(s3_url + "?cache_size=0", tmp_path / "b").get(results[0]) == data


@pytest.mark.parametrize("kind", ["random", "compressible"])
def test_large_blobs_go_up_in_parts_and_come_back_whole(
    kind: str, s3_url: str, tmp_path: Path
) -> None:
    size = 40 << 20
    data = random_bytes(size, seed=1) if kind == "random" else b"tideflow " * (size // 9)
    store = blob_store(s3_url + "?cache_size=0", tmp_path)
    sha = store.put(data)
    reader = blob_store(s3_url + "?cache_size=0", tmp_path / "reader")
    assert reader.size(sha) == len(data)
    assert reader.get(sha) == data
    assert not any(p.is_file() for p in (tmp_path / "reader").rglob("*"))  # nothing kept


def test_put_many_returns_keys_in_order(s3_url: str, tmp_path: Path) -> None:
    blobs = [random_bytes(5000 + i, seed=i) for i in range(20)]
    store = blob_store(s3_url, tmp_path)
    keys = store.put_many(blobs)
    assert keys == [hashlib.sha256(b).hexdigest() for b in blobs]
    reader = blob_store(s3_url + "?cache_size=0", tmp_path / "r")
    assert [reader.get(k) for k in keys] == blobs


@pytest.mark.parametrize("size", [50_000, 20 << 20])
def test_a_truncated_object_is_detected(
    size: int, s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    data = random_bytes(size, seed=5)
    store = blob_store(s3_url, tmp_path)
    sha = store.put(data)
    raw = raw_store(s3_server, s3_bucket)
    whole = bytes(obstore.get(raw, key_of(s3_url, sha)).bytes())
    obstore.put(raw, key_of(s3_url, sha), whole[: len(whole) // 2])
    reader = blob_store(s3_url + "?cache_size=0", tmp_path / "r")
    with pytest.raises(
        ArtifactError,
        match=rf"^Blob {sha} at s3://{s3_bucket}/.* is damaged: .*\. It was removed from the "
        "bucket, so the next run that stores this value writes it again",
    ):
        reader.get(sha)
    assert not reader.exists(sha)
    assert blob_store(s3_url, tmp_path / "w").put(data) == sha, "a later run stores it again"
    assert blob_store(s3_url + "?cache_size=0", tmp_path / "r2").get(sha) == data


def test_a_write_replaces_a_damaged_object_only(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """A write that finds its key taken checks the object: another writer's valid encoding
    of the same blob stays; a damaged one is replaced, conditionally on its ETag."""
    raw = raw_store(s3_server, s3_bucket)
    data = b"tideflow " * 1000  # compressible: this writer stores it compressed
    sha = hashlib.sha256(data).hexdigest()
    key = key_of(s3_url, sha)
    obstore.put(raw, key, b"\x00" + len(data).to_bytes(8, "little") + data)  # valid, raw
    etag = obstore.head(raw, key)["e_tag"]
    assert blob_store(s3_url, tmp_path / "a").put(data) == sha
    assert obstore.head(raw, key)["e_tag"] == etag, "a valid object is never rewritten"
    obstore.put(raw, key, b"\x00" + len(data).to_bytes(8, "little") + data[:-1] + b"?")
    assert blob_store(s3_url, tmp_path / "b").put(data) == sha
    assert obstore.head(raw, key)["e_tag"] != etag
    assert blob_store(s3_url + "?cache_size=0", tmp_path / "c").get(sha) == data


def test_a_flipped_byte_is_detected(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    data = b"x" * 100
    sha = blob_store(s3_url, tmp_path).put(data)
    raw = raw_store(s3_server, s3_bucket)
    obstore.put(raw, key_of(s3_url, sha), b"\x00" + (100).to_bytes(8, "little") + b"y" * 100)
    with pytest.raises(ArtifactError, match="do not match their SHA-256 digest"):
        blob_store(s3_url + "?cache_size=0", tmp_path / "r").get(sha)


def test_reading_twice_downloads_once(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """The second read comes from the local cache: it works with the object gone."""
    small, large = random_bytes(10_000, seed=7), random_bytes(20 << 20, seed=8)
    keys = blob_store(s3_url, tmp_path / "writer").put_many([small, large])
    reader = blob_store(s3_url, tmp_path / "reader")
    assert [reader.get(k) for k in keys] == [small, large]
    raw = raw_store(s3_server, s3_bucket)
    obstore.delete(raw, [key_of(s3_url, k) for k in keys])
    again = blob_store(s3_url, tmp_path / "reader")  # another process would do the same
    assert [again.get(k) for k in keys] == [small, large]
    assert again.size(keys[1]) == len(large)


def test_the_cache_stays_within_its_bound(s3_url: str, tmp_path: Path) -> None:
    store = blob_store(s3_url + "?cache_size=1MB", tmp_path)
    for i in range(40):
        store.put(random_bytes(100_000, seed=100 + i))
    cached = sum(p.stat().st_size for p in store.cache.folder.rglob("*") if p.is_file())
    assert 0 < cached <= 1 << 20


def test_a_damaged_cache_file_is_a_miss(s3_url: str, tmp_path: Path) -> None:
    data = random_bytes(10_000, seed=9)
    store = blob_store(s3_url, tmp_path)
    sha = store.put(data)
    path = store.cache.path(sha)
    path.write_bytes(b"garbage")
    assert blob_store(s3_url, tmp_path).get(sha) == data
    assert path.read_bytes() == data


def test_a_missing_bucket_is_one_line(s3_url: str, tmp_path: Path) -> None:
    store = blob_store("s3://no-such-bucket-here/p", tmp_path)
    with pytest.raises(
        StoreError,
        match=r"^The bucket 'no-such-bucket-here' does not exist at http://127\.0\.0\.1:\d+ "
        r"\(cannot write s3://no-such-bucket-here/p/blobs/.*\): create it",
    ) as info:
        store.put(b"data")
    assert "\n" not in str(info.value)
    with pytest.raises(StoreError, match=r"^The bucket 'no-such-bucket-here' does not exist"):
        store.get(hashlib.sha256(b"x").hexdigest())


def test_wrong_credentials_are_access_denied(
    s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    store = blob_store(s3_url, tmp_path)
    with pytest.raises(
        StoreError, match=r"^Access denied to s3://[a-z0-9-]+/t-\w+/blobs/\w\w/\w+ at http://"
    ) as info:
        store.put(b"data")
    assert "AWS_SECRET_ACCESS_KEY" in str(info.value)
    assert "\n" not in str(info.value)


def test_an_unreachable_endpoint_is_one_line(
    s3_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    store = blob_store(s3_url + "?timeout=2", tmp_path)
    with pytest.raises(
        StoreError,
        match=r"^Cannot reach the S3 endpoint http://127\.0\.0\.1:9 to write s3://.*/blobs/\S+ "
        r"\(no connection\): is the server running\? Check AWS_ENDPOINT_URL\.$",
    ):
        store.put(b"data")


def test_without_the_extra_an_s3_url_names_it(tmp_path: Path) -> None:
    """A process where obstore cannot be imported gets the one-line install hint."""
    code = (
        "import sys; sys.modules['obstore'] = None\n"
        "from pathlib import Path\n"
        "from tideflow._stores._bundle import open_datastore\n"
        "from tideflow._exceptions import StoreError\n"
        "try:\n"
        "    open_datastore('s3://bucket/prefix', root=Path('.'))\n"
        "except StoreError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert re.fullmatch(
        r"TIDEFLOW_DATASTORE_URL s3:// needs the optional extra 's3': "
        r"pip install 'tideflow\[s3\]'\n",
        out.stdout,
    )

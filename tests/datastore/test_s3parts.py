"""Large blobs in S3 against a real SeaweedFS server: raw or compressed storage, parallel
ranged reads, objects cut short or changed while read, calls from asyncio and trio."""

from __future__ import annotations

import hashlib
import random
import secrets
from pathlib import Path

import anyio
import obstore
import pytest

from s3server import S3Server, raw_store
from tideflow._datastore._s3 import S3BlobStore
from tideflow._datastore._s3parts import PART_SIZE, read_parts
from tideflow._exceptions import ArtifactError, StoreError
from tideflow._stores._bundle import open_datastore

#: Three parts and a bit: a first read, then ranged reads.
SIZE = 3 * PART_SIZE + 12345


@pytest.fixture
def s3_url(s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh prefix in the module's bucket, with the AWS variables pointing at the server."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_bucket}/p-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def random_blob() -> bytes:
    return random.Random(11).randbytes(SIZE)


def half_entropy(data: bytes) -> bytes:
    """Bytes that zlib compresses to roughly half: still several parts once compressed."""
    return data.translate(bytes(i & 15 for i in range(256)))


def blob_store(url: str, root: Path) -> S3BlobStore:
    blobs, logs = open_datastore(url, root=root)
    logs.close()
    assert isinstance(blobs, S3BlobStore)
    return blobs


def key_of(url: str, sha: str) -> str:
    prefix = url.split("/", 3)[3].split("?")[0]
    return f"{prefix}/blobs/{sha[:2]}/{sha[2:]}"


def test_a_large_incompressible_blob_is_stored_raw_a_compressible_one_compressed(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path, random_blob: bytes
) -> None:
    raw = raw_store(s3_server, s3_bucket)
    store = blob_store(s3_url + "?cache_size=0", tmp_path)
    for data, encoding in ((random_blob, 0), (half_entropy(random_blob), 1)):
        sha = store.put(data)
        key = key_of(s3_url, sha)
        head = bytes(obstore.get_range(raw, key, start=0, length=9))
        assert head == bytes([encoding]) + len(data).to_bytes(8, "little")
        size = obstore.head(raw, key)["size"]
        assert size == 9 + len(data) if encoding == 0 else PART_SIZE < size < len(data)
        assert blob_store(s3_url + "?cache_size=0", tmp_path / f"r{encoding}").get(sha) == data


def test_parallel_ranged_reads_give_the_object_in_order(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path, random_blob: bytes
) -> None:
    sha = blob_store(s3_url, tmp_path).put(random_blob)
    raw = raw_store(s3_server, s3_bucket)
    key = key_of(s3_url, sha)
    stored = bytes(obstore.get(raw, key).bytes())
    first = obstore.get(raw, key, options={"range": (0, PART_SIZE)})
    head = first.bytes()
    for window in (1, 2, 8):
        seen: list[int] = []
        parts = read_parts(
            raw,
            key,
            head,
            size=first.meta["size"],
            e_tag=first.meta["e_tag"],
            where=key,
            sink=lambda start, part, seen=seen: seen.append(start),
            window=window,
        )
        assert b"".join(bytes(part) for part in parts) == stored
        assert sorted(seen) == list(range(PART_SIZE, len(stored), PART_SIZE))


def test_an_object_replaced_while_read_is_a_transfer_error(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path, random_blob: bytes
) -> None:
    """Every later part is conditional on the first response's ETag: parts of two versions
    are never mixed, and the new version is left alone."""
    sha = blob_store(s3_url, tmp_path).put(random_blob)
    raw = raw_store(s3_server, s3_bucket)
    key = key_of(s3_url, sha)
    first = obstore.get(raw, key, options={"range": (0, PART_SIZE)})
    meta = first.meta
    parts = read_parts(raw, key, first.bytes(), size=meta["size"], e_tag=meta["e_tag"], where=key)
    next(parts)
    obstore.put(raw, key, bytes(obstore.get(raw, key).bytes())[:-1] + b"!")
    with pytest.raises(StoreError, match=r"changed while it was read .*: read it again\.$"):
        next(parts)
    parts.close()


@pytest.mark.parametrize("kind", ["raw", "compressed"])
def test_a_large_object_cut_short_is_detected_and_removed(
    kind: str,
    s3_url: str,
    s3_server: S3Server,
    s3_bucket: str,
    tmp_path: Path,
    random_blob: bytes,
) -> None:
    data = random_blob if kind == "raw" else half_entropy(random_blob)
    sha = blob_store(s3_url, tmp_path).put(data)
    raw = raw_store(s3_server, s3_bucket)
    key = key_of(s3_url, sha)
    stored = bytes(obstore.get(raw, key).bytes())
    cut = PART_SIZE + 1000  # still a large object: read in parts
    obstore.put(raw, key, stored[:cut])
    reason = "the header says" if kind == "raw" else "its compressed bytes are cut short"
    reader = blob_store(s3_url + "?cache_size=0", tmp_path / "r")
    with pytest.raises(ArtifactError, match=rf"^Blob {sha} at s3://.* is damaged: {reason}"):
        reader.get(sha)
    assert not reader.exists(sha), "removed, so the next write stores it again"
    assert blob_store(s3_url, tmp_path / "w").put(data) == sha
    assert blob_store(s3_url + "?cache_size=0", tmp_path / "r2").get(sha) == data


def test_an_empty_object_is_damaged(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    """An object with no bytes has no first range: the store reads it whole instead."""
    sha = hashlib.sha256(b"value").hexdigest()
    obstore.put(raw_store(s3_server, s3_bucket), key_of(s3_url, sha), b"")
    with pytest.raises(ArtifactError, match="is damaged: the file is shorter than its header"):
        blob_store(s3_url + "?cache_size=0", tmp_path).get(sha)


def test_a_large_blob_read_is_cached_and_kept_whole(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path, random_blob: bytes
) -> None:
    sha = blob_store(s3_url + "?cache_size=0", tmp_path / "w").put(random_blob)
    reader = blob_store(s3_url, tmp_path / "r")
    assert reader.get(sha) == random_blob
    assert reader.cache.path(sha).read_bytes() == random_blob
    obstore.delete(raw_store(s3_server, s3_bucket), key_of(s3_url, sha))
    assert blob_store(s3_url, tmp_path / "r").get(sha) == random_blob


def test_a_large_blob_written_is_cached_once_stored(
    s3_url: str, s3_server: S3Server, s3_bucket: str, tmp_path: Path, random_blob: bytes
) -> None:
    """A task that stores a large artifact leaves it in the machine's cache, so the next
    task there reads it without downloading it."""
    writer = blob_store(s3_url, tmp_path)
    sha = writer.put(random_blob)
    assert writer.cache.path(sha).read_bytes() == random_blob
    assert obstore.head(raw_store(s3_server, s3_bucket), key_of(s3_url, sha))["size"] > SIZE
    obstore.delete(raw_store(s3_server, s3_bucket), key_of(s3_url, sha))
    assert blob_store(s3_url, tmp_path).get(sha) == random_blob


def test_a_failed_large_upload_caches_nothing(
    s3_url: str, tmp_path: Path, random_blob: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    store = blob_store(s3_url, tmp_path)
    with pytest.raises(StoreError, match="^Access denied to s3://"):
        store.put(random_blob)
    assert not any(path.is_file() for path in store.cache.folder.rglob("*"))


@pytest.mark.anyio
async def test_large_blobs_from_worker_threads_of_either_backend(
    s3_url: str, tmp_path: Path, random_blob: bytes
) -> None:
    """The store is blocking; async code calls it in worker threads under a limit."""
    store = blob_store(s3_url + "?cache_size=0", tmp_path)
    limiter = anyio.CapacityLimiter(2)
    other = random_blob[::-1]
    keys: list[str] = []
    async with anyio.create_task_group() as group:
        for data in (random_blob, other):
            group.start_soon(_put, store, data, limiter, keys)
    assert sorted(keys) == sorted(hashlib.sha256(d).hexdigest() for d in (random_blob, other))
    reader = blob_store(s3_url + "?cache_size=0", tmp_path / "r")
    loaded = await anyio.to_thread.run_sync(reader.get, keys[0], limiter=limiter)
    assert hashlib.sha256(loaded).hexdigest() == keys[0]


async def _put(
    store: S3BlobStore, data: bytes, limiter: anyio.CapacityLimiter, keys: list[str]
) -> None:
    keys.append(await anyio.to_thread.run_sync(store.put, data, limiter=limiter))

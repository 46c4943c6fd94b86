"""What every blob backend does: the BlobStore Protocol, tested once per backend.

The local backend's file format is tested in tests/datastore/test_cas.py.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import secrets
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tideflow._exceptions import ArtifactError
from tideflow._stores._bundle import DATASTORE_SCHEMES

if TYPE_CHECKING:
    from collections.abc import Iterator

    from backends import DatastoreBackend, Target

    from tideflow._stores._interfaces import BlobStore


def random_bytes(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_url_names_the_store(blobs: BlobStore, datastore_target: Target) -> None:
    url, wanted = urlsplit(blobs.url), urlsplit(datastore_target.url)
    assert DATASTORE_SCHEMES[url.scheme].module == DATASTORE_SCHEMES[wanted.scheme].module
    assert url.password is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello tideflow",
        b"a" * 4096,
        b"abcdefgh" * 10_000,
        random_bytes(100_000),
        random_bytes(3 * 1024 * 1024, seed=3),
    ],
    ids=["empty", "small", "4k", "compressible", "random", "3MiB"],
)
def test_put_get_exists_size(blobs: BlobStore, data: bytes) -> None:
    sha = blobs.put(data)
    assert sha == sha256(data)
    assert blobs.exists(sha)
    assert blobs.get(sha) == data
    assert blobs.size(sha) == len(data)


def test_putting_a_blob_again_is_idempotent(blobs: BlobStore) -> None:
    sha = blobs.put(b"same bytes")
    assert blobs.put(b"same bytes") == sha
    assert blobs.put_many([b"same bytes", b"same bytes"]) == [sha, sha]
    assert blobs.get(sha) == b"same bytes"


def test_put_many_keeps_order(blobs: BlobStore) -> None:
    items = [b"one", b"two", b"one", b"x" * 10_000, b""]
    shas = blobs.put_many(items)
    assert shas == [sha256(b) for b in items]
    assert [blobs.get(s) for s in shas] == items
    assert blobs.put_many([]) == []
    assert blobs.put_many(iter([b"gen"])) == [sha256(b"gen")]


def test_two_stores_share_blobs(datastore_target: Target) -> None:
    one, one_logs = datastore_target.datastore()
    two, two_logs = datastore_target.datastore()
    try:
        sha = one.put(b"shared")
        assert two.exists(sha)
        assert two.get(sha) == b"shared"
    finally:
        one_logs.close()
        two_logs.close()


def test_missing_blob(blobs: BlobStore) -> None:
    sha = sha256(b"never stored")
    assert not blobs.exists(sha)
    with pytest.raises(ArtifactError, match=rf"^Blob {sha} does not exist"):
        blobs.get(sha)
    with pytest.raises(ArtifactError, match=rf"^Blob {sha} does not exist"):
        blobs.size(sha)


@pytest.mark.parametrize("key", ["", "abc", "A" * 64, "../" + "0" * 61, "g" * 64, "0" * 65])
def test_malformed_key(blobs: BlobStore, key: str) -> None:
    assert not blobs.exists(key)
    with pytest.raises(ArtifactError, match=r"^'.*' is not a blob key: a key is a SHA-256"):
        blobs.get(key)
    with pytest.raises(ArtifactError, match=r"^'.*' is not a blob key"):
        blobs.size(key)


@pytest.mark.parametrize(
    "data", [b"0123456789", b"abc" * 10_000, random_bytes(50_000)], ids=["raw", "zlib", "big"]
)
def test_a_damaged_blob_is_an_error_naming_it(
    blobs: BlobStore, datastore_target: Target, datastore_backend: DatastoreBackend, data: bytes
) -> None:
    if datastore_backend.damage is None:
        pytest.skip("this backend cannot damage a blob on purpose")
    sha = blobs.put(data)
    datastore_backend.damage(datastore_target.url, _root(datastore_target), sha)
    with (
        _reader(datastore_target) as reader,
        pytest.raises(ArtifactError, match=rf"^Blob {sha} at \S+ is damaged: "),
    ):
        reader.get(sha)


def test_storing_a_damaged_blob_again_repairs_it(
    blobs: BlobStore, datastore_target: Target, datastore_backend: DatastoreBackend
) -> None:
    """A later run that stores the same value never reuses the damaged copy."""
    if datastore_backend.damage is None:
        pytest.skip("this backend cannot damage a blob on purpose")
    if datastore_backend.no_repair is not None:
        pytest.skip(f"open gap of this backend: {datastore_backend.no_repair}")
    data = random_bytes(20_000)
    sha = blobs.put(data)
    datastore_backend.damage(datastore_target.url, _root(datastore_target), sha)
    with _reader(datastore_target) as writer:
        assert writer.put(data) == sha
    with _reader(datastore_target) as reader:
        assert reader.get(sha) == data
    datastore_backend.damage(datastore_target.url, _root(datastore_target), sha)
    with _reader(datastore_target) as writer:
        assert writer.put_many([data]) == [sha]
    with _reader(datastore_target) as reader:
        assert reader.get(sha) == data


def _root(target: Target) -> Path:
    return Path(target.root)


@contextmanager
def _reader(target: Target) -> Iterator[BlobStore]:
    """The blob store as another machine sees it: a local folder (and cache) of its own."""
    other = target._replace(root=str(Path(target.root).with_name(f"other-{secrets.token_hex(3)}")))
    blob_store, log_store = other.datastore()
    try:
        yield blob_store
    finally:
        log_store.close()


def test_many_threads_write_the_same_and_different_blobs(blobs: BlobStore) -> None:
    shared = random_bytes(50_000)
    results: list[list[str]] = []

    def work(seed: int) -> None:
        results.append(blobs.put_many([shared, random_bytes(5_000, seed), b"z" * 9000]))

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r[0] for r in results}) == 1
    assert len({r[1] for r in results}) == 8
    assert blobs.get(results[0][0]) == shared


def _write_blobs(target: Target, seed: int, queue: multiprocessing.Queue[list[str]]) -> None:
    blob_store, log_store = target.datastore()
    try:
        shared = [random_bytes(200_000, 1000 + i) for i in range(5)]
        own = [random_bytes(3_000, seed * 100 + i) for i in range(5)]
        queue.put(blob_store.put_many(shared + own))
    finally:
        log_store.close()


def _read_while_written(
    target: Target, shas: list[str], stop: threading.Event, queue: multiprocessing.Queue[int]
) -> None:
    """Read the shared blobs again and again: each is missing or whole, never partial."""
    blob_store, log_store = target.datastore()
    seen = 0
    try:
        while not stop.is_set() or seen < len(shas):
            for sha in shas:
                if blob_store.exists(sha):
                    assert sha256(blob_store.get(sha)) == sha
                    seen += 1
        queue.put(seen)
    finally:
        log_store.close()


def test_processes_write_blobs_at_once_and_readers_see_whole_blobs(
    datastore_target: Target, blobs: BlobStore
) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[str]] = ctx.Queue()
    seen: multiprocessing.Queue[int] = ctx.Queue()
    stop = ctx.Event()
    shared = [sha256(random_bytes(200_000, 1000 + i)) for i in range(5)]
    reader = ctx.Process(target=_read_while_written, args=(datastore_target, shared, stop, seen))
    reader.start()
    writers = [
        ctx.Process(target=_write_blobs, args=(datastore_target, n, queue)) for n in range(3)
    ]
    for proc in writers:
        proc.start()
    try:
        results = [queue.get(timeout=60) for _ in writers]
        stop.set()
        assert seen.get(timeout=60) >= len(shared)
    finally:
        stop.set()
        for proc in [*writers, reader]:
            proc.join(timeout=60)
            if proc.exitcode is None:
                proc.kill()
                proc.join()
    assert [proc.exitcode for proc in [*writers, reader]] == [0, 0, 0, 0]
    assert len({tuple(r[:5]) for r in results}) == 1
    assert results[0][:5] == shared
    assert len({sha for r in results for sha in r}) == 5 + 3 * 5
    for result in results:
        for sha in result:
            assert sha256(blobs.get(sha)) == sha


def test_named_objects_are_stored_replaced_and_listed(
    blobs: BlobStore, datastore_target: Target
) -> None:
    """Named objects (cards) are written whole, replaced in place, listed by folder, and
    read back by another machine that shares only the datastore."""
    assert blobs.get_named("cards/F/1/start/1/00-default.html") is None
    assert blobs.list_named("cards/F") == []
    blobs.put_named("cards/F/1/start/1/00-default.html", b"<p>first</p>")
    blobs.put_named("cards/F/1/start/1/01-blank-progress.html", b"")
    blobs.put_named("cards/F/1/end/2/00-default.html", b"end")
    blobs.put_named("cards/F/10/start/1/00-default.html", b"other run")
    blobs.put_named("cards/F/1/start/1/00-default.html", b"<p>second</p>")
    with _reader(datastore_target) as reader:
        assert reader.get_named("cards/F/1/start/1/00-default.html") == b"<p>second</p>"
        assert reader.get_named("cards/F/1/start/1/01-blank-progress.html") == b""
        assert reader.list_named("cards/F/1/start") == [
            "cards/F/1/start/1/00-default.html",
            "cards/F/1/start/1/01-blank-progress.html",
        ]
        assert reader.list_named("cards/F/1/") == [
            "cards/F/1/end/2/00-default.html",
            "cards/F/1/start/1/00-default.html",
            "cards/F/1/start/1/01-blank-progress.html",
        ]


@pytest.mark.parametrize(
    "name", ["", "/cards/x", "cards//x", "cards/../x", "cards/./x", "blobs/ab/cd", "a b"]
)
def test_a_malformed_object_name_is_refused(blobs: BlobStore, name: str) -> None:
    with pytest.raises(ArtifactError, match=r"^.* is not an object name: use segments"):
        blobs.put_named(name, b"x")
    with pytest.raises(ArtifactError, match=r"is not an object name"):
        blobs.get_named(name)

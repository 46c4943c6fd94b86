from __future__ import annotations

import hashlib
import multiprocessing
import os
import random
import threading
from pathlib import Path

import pytest

from tideflow._datastore._artifacts import dumps, loads
from tideflow._datastore._cas import LocalBlobStore
from tideflow._exceptions import ArtifactError


def blob_file(root: Path, sha: str) -> Path:
    return root / "blobs" / sha[:2] / sha[2:]


def random_bytes(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def test_put_returns_sha256_and_get_returns_the_bytes(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = b"hello tideflow"
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert blob_file(tmp_path, sha).is_file()
    assert store.get(sha) == data
    assert store.exists(sha)
    assert store.size(sha) == len(data)


def test_folders_are_created_on_first_write(tmp_path: Path) -> None:
    root = tmp_path / "deep" / ".tideflow"
    store = LocalBlobStore(root)
    assert not store.exists(hashlib.sha256(b"x").hexdigest())
    assert not root.exists()
    store.put(b"x")
    assert (root / "blobs").is_dir()


def test_empty_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    sha = store.put(b"")
    assert store.get(sha) == b""
    assert store.size(sha) == 0


def test_existing_blob_is_not_written_again(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    sha = store.put(b"same bytes")
    path = blob_file(tmp_path, sha)
    before = path.stat()
    assert store.put(b"same bytes") == sha
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_compressible_large_blob_is_compressed(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = b"abcdefgh" * 10_000
    sha = store.put(data)
    stored = blob_file(tmp_path, sha).read_bytes()
    assert stored[:1] == b"\x01"
    assert len(stored) < len(data) // 10
    assert store.get(sha) == data
    assert store.size(sha) == len(data)


def test_incompressible_blob_is_stored_raw(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = random_bytes(100_000)
    sha = store.put(data)
    stored = blob_file(tmp_path, sha).read_bytes()
    assert stored[:1] == b"\x00"
    assert stored[9:] == data
    assert store.get(sha) == data
    assert store.size(sha) == len(data)


def test_small_blob_is_stored_raw_even_when_compressible(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = b"a" * 4096
    stored = blob_file(tmp_path, store.put(data)).read_bytes()
    assert stored == b"\x00" + (4096).to_bytes(8, "little") + data


def test_put_many_keeps_order(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    blobs = [b"one", b"two", b"one", b"x" * 10_000]
    shas = store.put_many(blobs)
    assert shas == [hashlib.sha256(b).hexdigest() for b in blobs]
    assert [store.get(s) for s in shas] == blobs


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put_many([random_bytes(10_000, seed) for seed in range(20)])
    names = [p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert len(names) == 20
    assert not [n for n in names if n.endswith(".tmp")]


def test_missing_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    sha = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(sha)
    with pytest.raises(ArtifactError, match=rf"^Blob {sha} does not exist in .*blobs\. "):
        store.get(sha)
    with pytest.raises(ArtifactError, match=rf"^Blob {sha} does not exist"):
        store.size(sha)


@pytest.mark.parametrize("key", ["", "abc", "A" * 64, "../" + "0" * 61, "g" * 64])
def test_malformed_key(tmp_path: Path, key: str) -> None:
    store = LocalBlobStore(tmp_path)
    assert not store.exists(key)
    with pytest.raises(ArtifactError, match=r"^'.*' is not a blob key: a key is a SHA-256"):
        store.get(key)


def test_damaged_compressed_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    sha = store.put(b"abc" * 10_000)
    path = blob_file(tmp_path, sha)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ArtifactError, match=rf"^Blob {sha} at .* is damaged: zlib cannot"):
        store.get(sha)


def test_damaged_header(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    sha = store.put(b"abc")
    path = blob_file(tmp_path, sha)
    path.write_bytes(b"\x07" + path.read_bytes()[1:])
    with pytest.raises(ArtifactError, match=r"^Blob \w+ at .* is damaged: unknown encoding"):
        store.get(sha)
    path.write_bytes(b"\x00\x01")
    with pytest.raises(ArtifactError, match=r"is damaged: the file is shorter than its header"):
        store.size(sha)


def test_truncated_raw_blob(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    sha = store.put(b"0123456789")
    path = blob_file(tmp_path, sha)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(ArtifactError, match=r"damaged: the header says 10 bytes but it holds 7"):
        store.get(sha)


def test_many_threads_write_the_same_and_different_blobs(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    shared = random_bytes(50_000)
    results: list[list[str]] = []

    def work(seed: int) -> None:
        results.append(store.put_many([shared, random_bytes(5_000, seed), b"z" * 9000]))

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r[0] for r in results}) == 1
    assert len({r[1] for r in results}) == 16
    assert store.get(results[0][0]) == shared


def _write_blobs(root: str, seed: int, queue: multiprocessing.Queue[list[str]]) -> None:
    store = LocalBlobStore(Path(root))
    shared = [random_bytes(20_000, 1000 + i) for i in range(10)]
    own = [random_bytes(3_000, seed * 100 + i) for i in range(10)]
    queue.put(store.put_many(shared + own))


def test_many_processes_write_blobs_at_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[str]] = ctx.Queue()
    procs = [ctx.Process(target=_write_blobs, args=(str(tmp_path), n, queue)) for n in range(4)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    store = LocalBlobStore(tmp_path)
    assert len({tuple(r[:10]) for r in results}) == 1
    assert len({sha for r in results for sha in r}) == 10 + 4 * 10
    for sha in results[0]:
        assert hashlib.sha256(store.get(sha)).hexdigest() == sha
    assert not list((tmp_path / "blobs").rglob("*.tmp"))


def test_blob_files_follow_the_umask(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    mode = blob_file(tmp_path, store.put(b"perm")).stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_artifact_roundtrip() -> None:
    value = {"a": [1, 2.5, "x"], "b": b"\x00\xff", "c": (None, True)}
    assert loads(dumps(value, "value")) == value


def test_unpicklable_artifact() -> None:
    with pytest.raises(
        ArtifactError,
        match=(
            r"^Artifact 'lock' cannot be pickled: TypeError: cannot pickle '_thread\.lock' "
            r"object\. Store a picklable value, or give the attribute a name starting with "
            r"'_' so it is not stored\.$"
        ),
    ) as info:
        dumps(threading.Lock(), "lock")
    assert isinstance(info.value.__cause__, TypeError)


def test_unloadable_artifact() -> None:
    data = dumps(1, "x").replace(b"K\x01", b"cno_such_module\nThing\n)")
    with pytest.raises(
        ArtifactError,
        match=r"^Artifact 'x' cannot be unpickled: ModuleNotFoundError: No module named ",
    ):
        loads(data, "x")
    with pytest.raises(ArtifactError, match=r"^An artifact cannot be unpickled: "):
        loads(b"not a pickle")

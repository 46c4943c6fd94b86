from __future__ import annotations

import hashlib
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


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    store.put_many([random_bytes(10_000, seed) for seed in range(20)])
    names = [p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert len(names) == 20
    assert not [n for n in names if n.endswith(".tmp")]


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


def test_a_damaged_file_is_replaced_when_the_blob_is_stored_again(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    sha = store.put(b"0123456789")
    path = blob_file(tmp_path, sha)
    path.write_bytes(path.read_bytes()[:-1] + b"X")
    with pytest.raises(ArtifactError, match=r"damaged: its bytes do not match their SHA-256"):
        store.get(sha)
    before = path.stat().st_ino
    assert store.put(b"0123456789") == sha
    assert path.stat().st_ino != before
    assert store.get(sha) == b"0123456789"

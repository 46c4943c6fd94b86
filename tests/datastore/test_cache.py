"""The local read cache: whole files only, digests checked, shared by processes, bounded."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from pathlib import Path

from tideflow._datastore._cache import BlobCache


def blob(n: int, seed: int) -> tuple[str, bytes]:
    data = bytes([seed % 256]) * n
    return hashlib.sha256(data).hexdigest(), data


def test_store_and_read(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 1 << 20)
    sha, data = blob(1000, 1)
    assert cache.read(sha) is None
    cache.store(sha, data)
    assert cache.read(sha) == data
    assert cache.contains(sha)
    assert cache.size(sha) == 1000


def test_a_blob_over_a_quarter_of_the_bound_is_not_kept(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 4000)
    sha, data = blob(1001, 2)
    cache.store(sha, data)
    assert not cache.contains(sha)


def test_size_zero_turns_it_off(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 0)
    sha, data = blob(10, 3)
    cache.store(sha, data)
    assert cache.read(sha) is None
    assert not (tmp_path / "cache").exists()


def test_the_least_recently_used_go_first(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache", 10_000)
    blobs = [blob(2000, seed) for seed in range(4)]
    past = time.time() - 100
    for index, (sha, data) in enumerate(blobs):
        cache.store(sha, data)
        os.utime(cache.path(sha), (past + index, past + index))
    assert cache.read(blobs[0][0]) == blobs[0][1]  # used now: the newest
    sha, data = blob(2500, 9)
    cache.store(sha, data)  # 10,500 bytes: over the bound
    kept = {s for s, _ in blobs if cache.contains(s)}
    assert blobs[1][0] not in kept and blobs[2][0] not in kept
    assert blobs[0][0] in kept and cache.contains(sha)
    total = sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert total <= 8000


def _writer(folder: str, seed: int) -> None:
    cache = BlobCache(Path(folder), 1 << 30)
    for _ in range(50):
        sha, data = blob(100_000, seed)
        cache.store(sha, data)
        assert cache.read(sha) in (None, data)


def test_processes_share_one_cache(tmp_path: Path) -> None:
    """Several processes writing the same blobs leave whole files, never torn ones."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_writer, args=(str(tmp_path / "cache"), seed % 2))
        for seed in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    cache = BlobCache(tmp_path / "cache", 1 << 30)
    for seed in (0, 1):
        sha, data = blob(100_000, seed)
        assert cache.read(sha) == data
    assert not [p for p in (tmp_path / "cache").rglob(".*") if p.is_file()]  # no leftovers

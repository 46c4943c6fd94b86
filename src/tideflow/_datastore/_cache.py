"""A local, size-bounded read cache of blobs fetched from a remote blob store.

Each cached blob is a file ``<folder>/<sha[:2]>/<sha[2:]>`` holding the blob's decoded
bytes. Several processes share one cache folder safely: a file is written under a
temporary name in its final folder and renamed into place, so a reader sees no file or a
whole one; a cached file is checked against its digest when read, so a damaged one is a
miss (and is removed), never wrong data. Reading a file refreshes its modification time;
when the cache grows past its bound, the files used least recently are removed first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, final

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ("BlobCache",)

#: Eviction runs once this fraction of the bound was added since the last one.
_SCAN_EVERY: Final = 0.1
#: Eviction removes files until the cache holds at most this fraction of its bound.
_LOW_WATER: Final = 0.8


@final
class BlobCache:
    """Decoded blobs under ``folder``, at most ``max_bytes`` of them (0 turns caching off).

    :param folder: the cache folder, created on the first write.
    :param max_bytes: the size bound; a blob larger than a quarter of it is not kept.
    """

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._added = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BlobCache({str(self.folder)!r}, max_bytes={self.max_bytes})"

    def path(self, sha: str) -> Path:
        """The file a blob is cached in (it may not exist)."""
        return self.folder / sha[:2] / sha[2:]

    def keeps(self, size: int) -> bool:
        """Whether a blob of ``size`` bytes is worth keeping."""
        return 0 < size <= self.max_bytes // 4

    def contains(self, sha: str) -> bool:
        """Whether a blob is cached (without checking its digest)."""
        return self.max_bytes > 0 and self.path(sha).is_file()

    def size(self, sha: str) -> int | None:
        """The size of a cached blob, or ``None``."""
        if self.max_bytes <= 0:
            return None
        try:
            return self.path(sha).stat().st_size
        except OSError:
            return None

    def read(self, sha: str) -> bytes | None:
        """Return a cached blob whose digest matches, or ``None``."""
        if self.max_bytes <= 0:
            return None
        path = self.path(sha)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != sha:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return data

    def store(self, sha: str, data: bytes | memoryview) -> None:
        """Keep a blob whose digest the caller checked (if :meth:`keeps` its size)."""
        if not self.keeps(len(data)):
            return
        with self.staging(sha) as (temp, file):
            file.write(data)
            file.flush()
            self.commit(temp, sha, len(data))

    @contextlib.contextmanager
    def staging(self, sha: str) -> Iterator[tuple[Path, IO[bytes]]]:
        """A temporary file next to the blob's place; removed on exit unless committed."""
        final = self.path(sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f".{final.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            with temp.open("xb") as file:
                yield temp, file
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def commit(self, temp: Path, sha: str, size: int) -> None:
        """Move a staged file into place, then evict if the cache grew past its bound."""
        os.replace(temp, self.path(sha))
        with self._lock:
            self._added += size
            due = self._added >= self.max_bytes * _SCAN_EVERY
            if due:
                self._added = 0
        if due:
            self.evict()

    def evict(self) -> None:
        """Remove the least recently used files until the cache is well under its bound."""
        entries = []
        with contextlib.suppress(FileNotFoundError):
            for shard in os.scandir(self.folder):
                if not shard.is_dir():
                    continue
                for entry in os.scandir(shard.path):
                    if entry.name.startswith("."):
                        continue  # another process's staged file
                    with contextlib.suppress(OSError):
                        info = entry.stat()
                        entries.append((info.st_mtime, info.st_size, entry.path))
        total = sum(size for _, size, _ in entries)
        if total <= self.max_bytes:
            return
        entries.sort()
        for _, size, path in entries:
            if total <= self.max_bytes * _LOW_WATER:
                break
            with contextlib.suppress(OSError):
                os.unlink(path)
            total -= size

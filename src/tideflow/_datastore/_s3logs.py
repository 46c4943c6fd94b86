"""Task logs written locally while a task runs, and kept in S3 so they outlive the machine.

A writer appends to the local file of :class:`~tideflow._logs._local.LocalLogStore`
(``<root>/logs/...``), so the client and ``stream_log`` read a running task's log live, as
with the embedded store. While the task runs, every 1 MiB or 30 seconds of new lines goes
up as a part ``<prefix>/logs/<flow>/<run>/<step>/<task>/<attempt>.<stream>.log.parts/<offset>``;
when the writer closes (the attempt ended), the whole file goes up as
``<prefix>/logs/.../<attempt>.<stream>.log`` and the parts are deleted. Uploads run in a
small thread pool the store owns, so writing never blocks the caller's event loop;
:meth:`S3LogStore.close` waits for them. A log whose final upload failed (the server was
down) is marked in ``<root>/cache/log-uploads`` and sent again by the next store that
writes logs under the same root.

Readers read the local file when there is one, else the final object (which is then kept
as the local file: it never changes), else the parts of a task still running elsewhere.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Final, final

import msgspec
import obstore
from obstore.exceptions import BaseError as ObstoreError

from .._logs._local import LocalLogStore
from .._logs._reader import lines_after, parse_lines, text_of
from .._stores._interfaces import LogKey

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from datetime import datetime

    from obstore.store import S3Store

    from .._logs._writer import LogWriter
    from .._stores._interfaces import LogLine
    from ._s3client import S3Location

__all__ = ("S3LogStore", "S3LogWriter")

#: A running task's new lines go up once there are this many bytes of them ...
PART_BYTES: Final = 1 << 20
#: ... or once this many seconds passed since the last upload.
PART_SECONDS: Final = 30.0
#: Most seconds :meth:`S3LogStore.close` waits for uploads still in flight.
_CLOSE_WAIT: Final = 120.0


@final
class S3LogStore:
    """Logs in ``<prefix>/logs`` of a bucket, written through local files under ``root``."""

    def __init__(self, location: S3Location, store: S3Store, *, root: Path) -> None:
        self._location = location
        self._store = store
        self._local = LocalLogStore(root)
        self._marks = Path(root) / "cache" / "log-uploads"
        self._pool: ThreadPoolExecutor | None = None
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._retried = False

    def __repr__(self) -> str:
        return f"S3LogStore({self._location.url!r})"

    def object_path(self, key: LogKey) -> str:
        """The path of a log's final object below the prefix."""
        name = self._local.path(key).relative_to(self._local.path(key).parents[5])
        return name.as_posix()

    def open_writer(self, key: LogKey) -> S3LogWriter:
        """Return a writer appending to the local file and uploading it to the bucket."""
        self._retry_marked()
        return S3LogWriter(self, key, self._local.open_writer(key))

    def read_log(self, key: LogKey) -> list[tuple[datetime, bytes]]:
        """Every complete line as ``(timestamp, text)``."""
        local = self._fetch(key)
        return self._local.read_log(key) if local else parse_lines(self._parts(key))

    def read_text(self, key: LogKey) -> str:
        """The text of the log."""
        if self._fetch(key):
            return self._local.read_text(key)
        return text_of(self._parts(key)).decode("utf-8", errors="replace")

    def log_size(self, key: LogKey) -> int:
        """The size in bytes of the log's text."""
        return self._local.log_size(key) if self._fetch(key) else len(text_of(self._parts(key)))

    def read_from(self, key: LogKey, position: int = 0) -> list[LogLine]:
        """The complete lines after byte ``position``."""
        if self._fetch(key):
            return self._local.read_from(key, position)
        return lines_after(self._parts(key), position, self._location.where(self.object_path(key)))

    def copy(self, source: LogKey, target: LogKey) -> None:
        """Copy a log locally (when it is here) and in the bucket (when it is there)."""
        self._local.copy(source, target)
        src, dst = self.object_path(source), self.object_path(target)
        try:
            obstore.copy(self._store, src, dst)
        except FileNotFoundError:
            # No log, or the source never went up: send the local copy, if there is one.
            if self._local.path(target).is_file():
                self.submit(functools.partial(self.upload_final, target, parts=False))
        except (OSError, ObstoreError) as exc:
            raise self._failure(exc, "copy", src) from None

    def drain(self, timeout: float = _CLOSE_WAIT) -> None:
        """Wait, at most ``timeout`` seconds, for the uploads in flight now."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)

    def close(self) -> None:
        """Wait (bounded) for the uploads in flight, then stop the upload threads."""
        self.drain()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=False)

    # -- uploads ---------------------------------------------------------------------------

    def submit(self, job: Callable[[], None]) -> None:
        """Run an upload job in the store's threads."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(2, thread_name_prefix="tideflow-s3-logs")
            future = self._pool.submit(job)
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def upload_part(self, key: LogKey, start: int, end: int) -> None:
        """Send bytes ``start:end`` of the local file as a part (they are whole lines)."""
        with self._local.path(key).open("rb") as file:
            file.seek(start)
            data = file.read(end - start)
        obstore.put(self._store, f"{self.object_path(key)}.parts/{start:015d}", data)

    def upload_final(self, key: LogKey, parts: bool) -> None:
        """Send the whole local file, then delete the parts; mark the log if that fails."""
        path = self._local.path(key)
        mark = self._mark(key)
        try:
            if path.is_file():
                obstore.put(self._store, self.object_path(key), path, chunk_size=8 << 20)
            if parts:
                names = self._part_names(key)
                if names:
                    obstore.delete(self._store, names)
        except (OSError, ObstoreError):
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.write_bytes(msgspec.json.encode(key))
            return
        mark.unlink(missing_ok=True)

    def _mark(self, key: LogKey) -> Path:
        digest = hashlib.sha256(self.object_path(key).encode()).hexdigest()[:32]
        return self._marks / f"{digest}.json"

    def _retry_marked(self) -> None:
        """Send again, once per store, the logs whose final upload failed earlier."""
        if self._retried:
            return
        self._retried = True
        with contextlib.suppress(FileNotFoundError):
            for mark in self._marks.iterdir():
                try:
                    key = msgspec.json.decode(mark.read_bytes(), type=LogKey)
                except (OSError, msgspec.DecodeError):
                    continue
                self.submit(functools.partial(self.upload_final, key, parts=True))

    # -- reading ---------------------------------------------------------------------------

    def _fetch(self, key: LogKey) -> bool:
        """Whether the log is a local file, downloading the final object if there is one."""
        path = self._local.path(key)
        if path.is_file():
            return True
        try:
            data = obstore.get(self._store, self.object_path(key)).bytes()
        except FileNotFoundError as exc:
            if "NoSuchBucket" in str(exc):
                raise self._failure(exc, "read", self.object_path(key)) from None
            return False
        except (OSError, ObstoreError) as exc:
            raise self._failure(exc, "read", self.object_path(key)) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        temp.write_bytes(memoryview(data))
        temp.replace(path)
        return True

    def _part_names(self, key: LogKey) -> list[str]:
        prefix = f"{self.object_path(key)}.parts/"
        names: list[str] = []
        for batch in obstore.list(self._store, prefix):
            names.extend(meta["path"] for meta in batch)
        return sorted(names)

    def _parts(self, key: LogKey) -> bytes:
        """The parts of a log still being written elsewhere, joined (``b""`` if none)."""
        try:
            names = self._part_names(key)
            return b"".join(bytes(obstore.get(self._store, name).bytes()) for name in names)
        except FileNotFoundError:
            return b""
        except (OSError, ObstoreError) as exc:
            raise self._failure(exc, "read", self.object_path(key)) from None

    def _failure(self, exc: BaseException, action: str, path: str) -> Exception:
        from ._s3client import failure

        return failure(self._location, exc, action, path)


@final
class S3LogWriter:
    """Appends to a log's local file; uploads parts while it grows and the whole on close."""

    def __init__(self, store: S3LogStore, key: LogKey, local: LogWriter) -> None:
        self._store = store
        self._key = key
        self._local = local
        self._size = 0
        self._sent = 0
        self._sent_at = time.monotonic()
        self._parts = False
        self._closed = False
        self._lock = threading.Lock()
        self._busy = threading.Lock()

    def __repr__(self) -> str:
        return f"<S3LogWriter {self._store.object_path(self._key)!r}>"

    def write_lines(self, lines: Iterable[tuple[float, bytes]]) -> None:
        """Append lines to the local file; send a part when enough has gathered."""
        lines = list(lines)
        self._local.write_lines(lines)
        with self._lock:
            self._size = self._local.path.stat().st_size if lines else self._size
            due = self._size - self._sent >= PART_BYTES or (
                self._size > self._sent and time.monotonic() - self._sent_at >= PART_SECONDS
            )
            if not due or self._busy.locked():
                return
            start, end = self._sent, self._size
            self._sent, self._sent_at, self._parts = end, time.monotonic(), True
        self._store.submit(lambda: self._send_part(start, end))

    def _send_part(self, start: int, end: int) -> None:
        with self._busy:
            if self._closed:
                return  # the whole log is going up instead
            with contextlib.suppress(OSError, ObstoreError):
                self._store.upload_part(self._key, start, end)

    def close(self) -> None:
        """Close the local file and send the whole log (in the store's threads)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._local.close()
        parts = self._parts

        def final() -> None:
            with self._busy:
                self._store.upload_final(self._key, parts)

        self._store.submit(final)

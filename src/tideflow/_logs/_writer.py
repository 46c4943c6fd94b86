"""Append-only log files, one per task attempt and stream.

A log line is stored as ``<microseconds since the epoch> <text>\\n``. The text is bytes,
end to end: whatever the task wrote, carriage returns and invalid UTF-8 included. The
writer flushes after every batch, so a reader sees each line as soon as it is written,
while the task still runs.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, final

from .._closing import Closing
from .._stores._interfaces import LogKey

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ("STREAMS", "LogWriter", "log_path")

#: The streams a task attempt has a log for.
STREAMS: Final = ("stdout", "stderr")
#: Longest folder name a log path uses, in bytes; longer names are shortened.
MAX_NAME_BYTES: Final = 200
_DIGEST_CHARS: Final = 24


def log_path(
    root: str | os.PathLike[str],
    flow: str,
    run_id: str,
    step: str,
    task_id: str,
    attempt: int,
    stream: str,
) -> Path:
    """Return ``<root>/logs/<flow>/<run_id>/<step>/<task_id>/<attempt>.<stream>.log``.

    A name longer than :data:`MAX_NAME_BYTES` bytes in UTF-8 (file systems allow 255) is
    shortened to its start, a ``~`` and a digest of the whole name, so it stays readable
    and two long names never share a folder.

    :raises ValueError: if ``stream`` is not ``stdout`` or ``stderr``, or a name cannot be
        a folder name (empty, ``.``, ``..``, or holding a slash or a NUL).
    """
    key = LogKey(
        flow=flow, run_id=run_id, step=step, task_id=task_id, attempt=attempt, stream=stream
    )
    return Path(log_file(root, key))


def log_file(root: str | os.PathLike[str], key: LogKey) -> str:
    """:func:`log_path` of the log ``key``, as a string: what a batch of thousands of log
    files (the clones of a resume) uses, since building a :class:`~pathlib.Path` costs more
    than the file's system call.

    :raises ValueError: as :func:`log_path` does.
    """
    if key.stream not in STREAMS:
        raise ValueError(f"Unknown log stream {key.stream!r}: use 'stdout' or 'stderr'.")
    names = (key.flow, key.run_id, key.step, key.task_id)
    for what, name in zip(("flow", "run id", "step", "task id"), names, strict=True):
        if name in ("", ".", "..") or any(char in name for char in "/\\\0"):
            raise ValueError(f"The {what} {name!r} cannot be used as a folder name.")
    folders = (_folder_name(name) for name in names)
    return os.path.join(root, "logs", *folders, f"{int(key.attempt)}.{key.stream}.log")


def _folder_name(name: str) -> str:
    encoded = name.encode("utf-8", errors="surrogatepass")
    if len(encoded) <= MAX_NAME_BYTES:
        return name
    digest = hashlib.sha256(encoded).hexdigest()[:_DIGEST_CHARS]
    keep = encoded[: MAX_NAME_BYTES - _DIGEST_CHARS - 1].decode("utf-8", errors="ignore")
    return f"{keep}~{digest}"


@final
class LogWriter(Closing):
    """Appends timestamped lines to one log file.

    The file and its folders are created on the first write. The writer is synchronous
    and thread-safe; async code calls it through ``anyio.to_thread.run_sync``. Close it
    with :meth:`close` or use it as a context manager; a writer that is never closed emits
    a :exc:`ResourceWarning`.

    :param path: the log file, usually from :func:`log_path`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._file: BinaryIO | None = None
        self._closed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._file else "unopened"
        return f"<LogWriter {str(self._path)!r} {state}>"

    def __del__(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None and not file.closed:
            file.close()
            warnings.warn(
                f"unclosed log writer {str(self._path)!r}: call close() or use it as a "
                "context manager",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    @property
    def path(self) -> Path:
        """The log file."""
        return self._path

    def write_line(self, text: bytes, ts: float | None = None) -> None:
        """Append one line and flush it.

        :param text: the line, without its newline (one trailing ``\\n`` is dropped; any
            other ``\\n`` splits it into several lines with the same timestamp).
        :param ts: when the line was written, in seconds since the epoch (default: now).
        :raises RuntimeError: if the writer is closed.
        """
        micros = time.time_ns() // 1000 if ts is None else round(ts * 1_000_000)
        self._append(_encode(micros, text))

    def write_lines(self, lines: Iterable[tuple[float, bytes]]) -> None:
        """Append ``(timestamp, text)`` lines, as :meth:`write_line` does, and flush once.

        :raises RuntimeError: if the writer is closed.
        """
        self._append(b"".join(_encode(round(ts * 1_000_000), text) for ts, text in lines))

    def flush(self) -> None:
        """Flush what was written (every write already flushes; this is for symmetry)."""
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        """Close the file. Closing twice is allowed; writing afterwards is not."""
        with self._lock:
            self._closed = True
            if self._file is not None:
                self._file.close()

    def _append(self, data: bytes) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"The log writer for {self._path} is closed.")
            if not data:
                return
            if self._file is None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self._path.open("ab")
            self._file.write(data)
            self._file.flush()


def _encode(micros: int, text: bytes) -> bytes:
    if text.endswith(b"\n"):
        text = text[:-1]
    prefix = b"%d " % micros
    return b"".join(prefix + part + b"\n" for part in text.split(b"\n"))

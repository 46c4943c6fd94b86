"""The embedded log store: one append-only file per task attempt and stream under a root."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, final

from ._reader import log_size, read_from, read_log, read_text
from ._writer import LogWriter, log_file

if TYPE_CHECKING:
    from datetime import datetime

    from .._stores._interfaces import LogKey, LogLine

__all__ = ("LocalLogStore",)


@final
class LocalLogStore:
    """Logs under ``<root>/logs/<flow>/<run_id>/<step>/<task_id>/<attempt>.<stream>.log``.

    Writers and readers may be in different processes: a line is readable as soon as its
    writer flushed it.
    """

    def __init__(self, root: Path) -> None:
        self._root = Path(root)

    def __repr__(self) -> str:
        return f"LocalLogStore({str(self._root)!r})"

    def path(self, key: LogKey) -> Path:
        """The file of a log (it may not exist)."""
        return Path(log_file(self._root, key))

    def open_writer(self, key: LogKey) -> LogWriter:
        """Return a writer appending to the log's file (created on the first write)."""
        return LogWriter(self.path(key))

    def read_log(self, key: LogKey) -> list[tuple[datetime, bytes]]:
        """Every complete line as ``(timestamp, text)``."""
        return read_log(self.path(key))

    def read_text(self, key: LogKey) -> str:
        """The text of the log."""
        return read_text(self.path(key))

    def log_size(self, key: LogKey) -> int:
        """The size in bytes of the log's text."""
        return log_size(self.path(key))

    def read_from(self, key: LogKey, position: int = 0) -> list[LogLine]:
        """The complete lines after byte ``position``."""
        return read_from(self.path(key), position)

    def copy(self, source: LogKey, target: LogKey) -> None:
        """Hard-link the target to the source's file (copy it across file systems)."""
        src = log_file(self._root, source)
        if not os.path.isfile(src):
            return
        dst = log_file(self._root, target)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            os.link(src, dst)
        except FileExistsError:
            pass
        except OSError:
            shutil.copyfile(src, dst)

    def close(self) -> None:
        """Nothing to release: files are opened per writer and per read."""

"""Task logs: one append-only file per task attempt and stream, readable while it grows."""

from __future__ import annotations

from ._reader import LogLine, log_size, read_from, read_log, read_text
from ._writer import STREAMS, LogWriter, log_path

__all__ = (
    "STREAMS",
    "LogLine",
    "LogWriter",
    "log_path",
    "log_size",
    "read_from",
    "read_log",
    "read_text",
)

"""Reading the log files :class:`~tideflow._logs._writer.LogWriter` writes.

Only complete lines are read: a line the writer has not finished yet is left for the
next read. A position is a byte offset in the file just after a line, so a reader can
stop anywhere and resume with :func:`read_from` during or after the task.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._stores._interfaces import LogLine

if TYPE_CHECKING:
    import os

__all__ = (
    "LogLine",
    "lines_after",
    "log_size",
    "parse_lines",
    "read_from",
    "read_log",
    "read_text",
    "text_of",
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def read_log(path: str | os.PathLike[str]) -> list[tuple[datetime, bytes]]:
    """Return every complete line of a log as ``(timestamp, text)``; ``[]`` if it is missing.

    Timestamps are timezone-aware UTC datetimes, exact to the microsecond. A line without
    a valid timestamp (a damaged file) gets the timestamp of the line before it.
    """
    return parse_lines(_read(Path(path)))


def parse_lines(data: bytes) -> list[tuple[datetime, bytes]]:
    """Return every complete line of a log's bytes as ``(timestamp, text)``."""
    result = []
    stamp = _EPOCH
    for line in _complete_lines(data):
        micros, text = _parse(line)
        if micros is not None:
            stamp = _EPOCH + timedelta(microseconds=micros)
        result.append((stamp, text))
    return result


def read_text(path: str | os.PathLike[str]) -> str:
    """Return the text of a log: its lines joined with ``\\n``, with a final ``\\n``.

    Bytes that are not UTF-8 become U+FFFD. A missing or empty log gives ``""``.
    """
    return _text_bytes(Path(path)).decode("utf-8", errors="replace")


def log_size(path: str | os.PathLike[str]) -> int:
    """Return the size in bytes of a log's text (before decoding), ``0`` if it is missing."""
    return len(_text_bytes(Path(path)))


def read_from(path: str | os.PathLike[str], position: int = 0) -> list[LogLine]:
    """Return the complete lines of a log after byte ``position``, each with its position.

    Pass the position of the last line read to get the lines written since; ``0`` reads
    from the start. A missing log has no lines.

    :raises ValueError: if ``position`` is negative, past the end of the file, or not
        just after a line.
    """
    path = Path(path)
    if position < 0:
        raise ValueError(f"A log position cannot be negative; got {position}.")
    try:
        with path.open("rb") as file:
            if position > 0:
                file.seek(position - 1)
                before = file.read(1)
                if before != b"\n":
                    where = "past the end" if not before else "not at the start of a line"
                    raise ValueError(
                        f"Position {position} is {where} of {path}. Resume from a position "
                        "that read_from() returned."
                    )
            data = file.read()
    except FileNotFoundError:
        return []
    lines = []
    for line in _complete_lines(data):
        position += len(line) + 1
        lines.append(LogLine(position=position, text=_parse(line)[1]))
    return lines


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _complete_lines(data: bytes) -> list[bytes]:
    end = data.rfind(b"\n")
    return data[:end].split(b"\n") if end >= 0 else []


def _parse(line: bytes) -> tuple[int | None, bytes]:
    stamp, space, text = line.partition(b" ")
    if space and stamp.isdigit():
        return int(stamp), text
    return None, line


def _text_bytes(path: Path) -> bytes:
    return text_of(_read(path))


def text_of(data: bytes) -> bytes:
    """Return the text of a log's bytes: its lines joined with ``\\n``, and a final one."""
    texts = [_parse(line)[1] for line in _complete_lines(data)]
    return b"\n".join(texts) + b"\n" if texts else b""


def lines_after(data: bytes, position: int, where: str) -> list[LogLine]:
    """Return the complete lines of a log's bytes after byte ``position``.

    :raises ValueError: as :func:`read_from` does; ``where`` names the log.
    """
    if position < 0:
        raise ValueError(f"A log position cannot be negative; got {position}.")
    if position > 0:
        before = data[position - 1 : position]
        if before != b"\n":
            what = "past the end" if not before else "not at the start of a line"
            raise ValueError(
                f"Position {position} is {what} of {where}. Resume from a position "
                "that read_from() returned."
            )
    lines = []
    for line in _complete_lines(data[position:]):
        position += len(line) + 1
        lines.append(LogLine(position=position, text=_parse(line)[1]))
    return lines

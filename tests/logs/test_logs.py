from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from tideflow._logs import (
    LogLine,
    LogWriter,
    log_path,
    read_from,
    read_log,
    read_text,
)

if TYPE_CHECKING:
    from pathlib import Path

T0 = 1_700_000_000.25


def _write_without_closing(path: Path) -> None:
    LogWriter(path).write_line(b"x")


def test_log_path(tmp_path: Path) -> None:
    path = log_path(tmp_path, "HelloFlow", "17", "start", "3", 1, "stderr")
    assert path == tmp_path / "logs" / "HelloFlow" / "17" / "start" / "3" / "1.stderr.log"


def test_log_path_refuses_bad_names(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"^Unknown log stream 'stdin': use 'stdout' or 'stderr'\.$"
    ):
        log_path(tmp_path, "F", "1", "start", "1", 0, "stdin")
    with pytest.raises(ValueError, match=r"^The step '\.\.' cannot be used as a folder name\.$"):
        log_path(tmp_path, "F", "1", "..", "1", 0, "stdout")
    with pytest.raises(ValueError, match=r"^The task id 'a/b' cannot be used as a folder name"):
        log_path(tmp_path, "F", "1", "start", "a/b", 0, "stdout")


def test_file_is_created_on_first_write(tmp_path: Path) -> None:
    path = log_path(tmp_path, "F", "1", "start", "1", 0, "stdout")
    with LogWriter(path) as writer:
        writer.write_lines([])
        assert not path.exists()
        writer.write_line(b"hello", ts=T0)
        assert path.read_bytes() == b"1700000000250000 hello\n"


def test_default_timestamp_is_now(tmp_path: Path) -> None:
    path = tmp_path / "log"
    before = datetime.now(UTC)
    with LogWriter(path) as writer:
        writer.write_line(b"now")
    after = datetime.now(UTC)
    [(stamp, text)] = read_log(path)
    assert before <= stamp <= after
    assert stamp.tzinfo is UTC
    assert text == b"now"


def test_read_from_positions(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with LogWriter(path) as writer:
        writer.write_lines([(T0, b"a"), (T0, b"bb"), (T0, b"ccc")])
    first = read_from(path)
    prefix = len(b"1700000000250000 ")
    assert first == [
        LogLine(position=prefix + 2, text=b"a"),
        LogLine(position=2 * prefix + 5, text=b"bb"),
        LogLine(position=3 * prefix + 9, text=b"ccc"),
    ]
    assert first[-1].position == path.stat().st_size
    assert read_from(path, first[0].position) == first[1:]
    assert read_from(path, first[-1].position) == []


def test_incomplete_last_line_is_left_for_later(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"1700000000250000 done\n1700000000250000 half")
    [line] = read_from(path)
    assert line.text == b"done"
    assert read_text(path) == "done\n"
    assert [text for _, text in read_log(path)] == [b"done"]
    with path.open("ab") as file:
        file.write(b" written\n")
    assert read_from(path, line.position) == [
        LogLine(position=path.stat().st_size, text=b"half written")
    ]


def test_bad_positions(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with LogWriter(path) as writer:
        writer.write_line(b"abc", ts=T0)
    size = path.stat().st_size
    with pytest.raises(ValueError, match=r"^A log position cannot be negative; got -1\.$"):
        read_from(path, -1)
    with pytest.raises(ValueError, match=r"^Position 3 is not at the start of a line of .*log\."):
        read_from(path, 3)
    with pytest.raises(ValueError, match=rf"^Position {size + 1} is past the end of .*log\. "):
        read_from(path, size + 1)


def test_damaged_line_keeps_the_previous_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"no-timestamp here\n1700000000250000 ok\ngarbage\n")
    assert [(stamp.year, text) for stamp, text in read_log(path)] == [
        (1970, b"no-timestamp here"),
        (2023, b"ok"),
        (2023, b"garbage"),
    ]


def test_closed_writer_refuses_writes(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "log")
    writer.close()
    writer.close()
    writer.flush()
    with pytest.raises(RuntimeError, match=r"^The log writer for .*log is closed\.$"):
        writer.write_line(b"late")


def test_unclosed_writer_warns(tmp_path: Path) -> None:
    with pytest.warns(ResourceWarning, match=r"^unclosed log writer '.*log'"):
        _write_without_closing(tmp_path / "log")


def test_long_names_are_shortened_readably(tmp_path: Path) -> None:
    """File systems allow 255 bytes per name: longer ones keep their start and a digest."""
    step = "é" * 300
    path = log_path(tmp_path, "F" * 1000, "17", step, "3", 0, "stdout")
    flow_dir, step_dir = path.parts[-5], path.parts[-3]
    assert all(len(part.encode()) <= 200 for part in path.parts[-5:])
    assert flow_dir.startswith("F" * 100) and "~" in flow_dir
    assert step_dir.startswith("é" * 50)
    other = log_path(tmp_path, "F" * 999 + "G", "17", step, "3", 0, "stdout")
    assert other.parts[-5] != flow_dir
    assert log_path(tmp_path, "F" * 200, "1", "s", "1", 0, "stdout").parts[-5] == "F" * 200

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from tideflow._logs import (
    LogLine,
    LogWriter,
    log_path,
    log_size,
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


def test_lines_round_trip_with_exact_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "0.stdout.log"
    with LogWriter(path) as writer:
        writer.write_line(b"first", ts=T0)
        writer.write_lines([(T0 + 0.000001, b"second"), (T0 + 1.5, b"")])
    assert read_log(path) == [
        (datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC), b"first"),
        (datetime(2023, 11, 14, 22, 13, 20, 250001, tzinfo=UTC), b"second"),
        (datetime(2023, 11, 14, 22, 13, 21, 750000, tzinfo=UTC), b""),
    ]
    assert read_text(path) == "first\nsecond\n\n"
    assert log_size(path) == len(b"first\nsecond\n\n")


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


def test_text_is_bytes_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "log"
    odd = [b"progress 10%\rprogress 20%\r", b"\xff\xfe not utf-8 \x00", "héllo ✓".encode()]
    with LogWriter(path) as writer:
        writer.write_lines([(T0, line) for line in odd])
    assert [text for _, text in read_log(path)] == odd
    assert [line.text for line in read_from(path)] == odd
    assert read_text(path) == (
        "progress 10%\rprogress 20%\r\n\ufffd\ufffd not utf-8 \x00\nhéllo ✓\n"
    )
    assert log_size(path) == sum(len(line) + 1 for line in odd)


def test_newlines_inside_text_make_several_lines(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with LogWriter(path) as writer:
        writer.write_line(b"ends with newline\n", ts=T0)
        writer.write_line(b"one\ntwo", ts=T0 + 1)
    assert [(stamp.second, text) for stamp, text in read_log(path)] == [
        (20, b"ends with newline"),
        (21, b"one"),
        (21, b"two"),
    ]


def test_missing_log(tmp_path: Path) -> None:
    path = tmp_path / "nope.log"
    assert read_log(path) == []
    assert read_text(path) == ""
    assert log_size(path) == 0
    assert read_from(path) == []
    assert read_from(path, 100) == []


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


def test_reader_resumes_while_the_writer_writes(tmp_path: Path) -> None:
    """A reader sees each batch as soon as it is written, before the writer closes."""
    path = tmp_path / "log"
    seen: list[bytes] = []
    position = 0
    with LogWriter(path) as writer:
        for batch in range(5):
            writer.write_lines([(T0, b"line %d.%d" % (batch, i)) for i in range(3)])
            lines = read_from(path, position)
            seen += [line.text for line in lines]
            position = lines[-1].position
    assert seen == [b"line %d.%d" % (b, i) for b in range(5) for i in range(3)]


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


def test_writer_appends_to_an_existing_log(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with LogWriter(path) as writer:
        writer.write_line(b"one", ts=T0)
    with LogWriter(path) as writer:
        writer.write_line(b"two", ts=T0)
    assert read_text(path) == "one\ntwo\n"


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


def test_threads_write_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with LogWriter(path) as writer:

        def work(n: int) -> None:
            for i in range(200):
                writer.write_lines([(T0, b"%d-%d" % (n, i)), (T0, b"%d-%d-b" % (n, i))])

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    texts = [text for _, text in read_log(path)]
    assert len(texts) == 1600
    assert sorted(texts) == sorted(
        b"%d-%d%s" % (n, i, tail) for n in range(4) for i in range(200) for tail in (b"", b"-b")
    )
    for n in range(4):
        mine = [t for t in texts if t.startswith(b"%d-" % n)]
        assert mine == [b"%d-%d%s" % (n, i, tail) for i in range(200) for tail in (b"", b"-b")]

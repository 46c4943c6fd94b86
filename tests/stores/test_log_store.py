"""What every log backend does: the LogStore Protocol, tested once per backend.

The local backend's file format and paths are tested in tests/logs/test_logs.py.
"""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from tideflow._stores._interfaces import LogKey, LogLine

if TYPE_CHECKING:
    from backends import Target

    from tideflow._stores._interfaces import LogStore

T0 = 1_700_000_000.25


def key(stream: str = "stdout", attempt: int = 0, **names: str) -> LogKey:
    fields = {"flow": "F", "run_id": "17", "step": "start", "task_id": "3", **names}
    return LogKey(**fields, attempt=attempt, stream=stream)  # type: ignore[arg-type]


def test_lines_round_trip_with_exact_timestamps(logs: LogStore) -> None:
    writer = logs.open_writer(key())
    try:
        writer.write_lines([(T0, b"first")])
        writer.write_lines([(T0 + 0.000001, b"second"), (T0 + 1.5, b"")])
    finally:
        writer.close()
    writer.close()
    assert logs.read_log(key()) == [
        (datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC), b"first"),
        (datetime(2023, 11, 14, 22, 13, 20, 250001, tzinfo=UTC), b"second"),
        (datetime(2023, 11, 14, 22, 13, 21, 750000, tzinfo=UTC), b""),
    ]
    assert logs.read_text(key()) == "first\nsecond\n\n"
    assert logs.log_size(key()) == len(b"first\nsecond\n\n")


def test_a_missing_log_is_empty(logs: LogStore) -> None:
    assert logs.read_log(key()) == []
    assert logs.read_text(key()) == ""
    assert logs.log_size(key()) == 0
    assert logs.read_from(key()) == []
    writer = logs.open_writer(key())
    writer.write_lines([])
    writer.close()
    assert logs.read_text(key()) == ""


def test_streams_and_attempts_are_separate_logs(logs: LogStore) -> None:
    keys = [key(stream, attempt) for stream in ("stdout", "stderr") for attempt in (0, 1)]
    writers = [logs.open_writer(k) for k in keys]
    for i, writer in enumerate(writers):
        writer.write_lines([(T0, b"log %d" % i)])
        writer.close()
    assert [logs.read_text(k) for k in keys] == [f"log {i}\n" for i in range(4)]


def test_text_is_bytes_end_to_end(logs: LogStore) -> None:
    odd = [b"progress 10%\rprogress 20%\r", b"\xff\xfe not utf-8 \x00", "héllo ✓".encode()]
    writer = logs.open_writer(key())
    writer.write_lines([(T0, line) for line in odd])
    writer.close()
    assert [text for _, text in logs.read_log(key())] == odd
    assert [line.text for line in logs.read_from(key())] == odd
    assert logs.read_text(key()) == (
        "progress 10%\rprogress 20%\r\n\ufffd\ufffd not utf-8 \x00\nhéllo ✓\n"
    )
    assert logs.log_size(key()) == sum(len(line) + 1 for line in odd)


def test_newlines_inside_text_make_several_lines(logs: LogStore) -> None:
    writer = logs.open_writer(key())
    writer.write_lines([(T0, b"ends with newline\n"), (T0 + 1, b"one\ntwo")])
    writer.close()
    assert [(stamp.second, text) for stamp, text in logs.read_log(key())] == [
        (20, b"ends with newline"),
        (21, b"one"),
        (21, b"two"),
    ]


def test_read_from_positions(logs: LogStore) -> None:
    writer = logs.open_writer(key())
    writer.write_lines([(T0, b"a"), (T0, b"bb"), (T0, b"ccc")])
    writer.close()
    first = logs.read_from(key())
    assert [line.text for line in first] == [b"a", b"bb", b"ccc"]
    positions = [line.position for line in first]
    assert positions == sorted(set(positions))
    assert logs.read_from(key(), 0) == first
    assert logs.read_from(key(), first[0].position) == first[1:]
    assert logs.read_from(key(), first[1].position) == first[2:]
    assert logs.read_from(key(), first[-1].position) == []
    with pytest.raises(ValueError, match=r"^A log position cannot be negative; got -1\.$"):
        logs.read_from(key(), -1)


def test_a_reader_resumes_while_the_writer_writes(logs: LogStore) -> None:
    """A reader sees each batch as soon as it is written, before the writer closes."""
    seen: list[bytes] = []
    position = 0
    writer = logs.open_writer(key())
    try:
        for batch in range(5):
            writer.write_lines([(T0, b"line %d.%d" % (batch, i)) for i in range(3)])
            lines = logs.read_from(key(), position)
            seen += [line.text for line in lines]
            position = lines[-1].position
            assert logs.read_text(key()).count("\n") == 3 * (batch + 1)
    finally:
        writer.close()
    assert seen == [b"line %d.%d" % (b, i) for b in range(5) for i in range(3)]
    assert logs.read_from(key(), position) == []


def test_another_writer_appends(logs: LogStore) -> None:
    for text in (b"one", b"two"):
        writer = logs.open_writer(key())
        writer.write_lines([(T0, text)])
        writer.close()
    assert logs.read_text(key()) == "one\ntwo\n"


def test_threads_write_whole_lines(logs: LogStore) -> None:
    writer = logs.open_writer(key())

    def work(n: int) -> None:
        for i in range(100):
            writer.write_lines([(T0, b"%d-%d" % (n, i)), (T0, b"%d-%d-b" % (n, i))])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    texts = [text for _, text in logs.read_log(key())]
    assert len(texts) == 800
    for n in range(4):
        mine = [t for t in texts if t.startswith(b"%d-" % n)]
        assert mine == [b"%d-%d%s" % (n, i, tail) for i in range(100) for tail in (b"", b"-b")]


def test_copy(logs: LogStore) -> None:
    source, target = key(), key(run_id="18")
    writer = logs.open_writer(source)
    writer.write_lines([(T0, b"cloned"), (T0 + 1, b"\xffbytes")])
    writer.close()
    logs.copy(source, target)
    assert logs.read_log(target) == logs.read_log(source)
    assert logs.read_from(target) == logs.read_from(source)
    logs.copy(source, target)  # copying again changes nothing
    assert logs.read_text(target) == "cloned\n\ufffdbytes\n"
    logs.copy(key(run_id="99"), key(run_id="100"))  # no log, no copy
    assert logs.read_log(key(run_id="100")) == []


def test_names_of_any_length_and_alphabet(logs: LogStore) -> None:
    """Flow and step names are identifiers of any length, in any alphabet."""
    long_key = key(flow="F" * 300 + "é", step="s" * 1000, task_id="7")
    other = key(flow="F" * 300 + "è", step="s" * 1000, task_id="7")
    for k in (long_key, other):
        writer = logs.open_writer(k)
        writer.write_lines([(T0, k.flow[-1:].encode())])
        writer.close()
    assert logs.read_text(long_key) == "é\n"
    assert logs.read_text(other) == "è\n"
    logs.copy(long_key, key(flow="G"))
    assert logs.read_text(key(flow="G")) == "é\n"


def _write_in_steps(
    target: Target, go: multiprocessing.Queue, done: multiprocessing.Queue
) -> None:
    _, log_store = target.datastore()
    writer = log_store.open_writer(key())
    try:
        while (batch := go.get(timeout=60)) is not None:
            writer.write_lines([(T0, b"batch %d line %d" % (batch, i)) for i in range(2)])
            done.put(batch)
    finally:
        writer.close()
        log_store.close()
    done.put(None)


def test_a_log_is_read_from_another_process_while_it_is_written(
    datastore_target: Target, logs: LogStore
) -> None:
    ctx = multiprocessing.get_context("spawn")
    go: multiprocessing.Queue[int | None] = ctx.Queue()
    done: multiprocessing.Queue[int | None] = ctx.Queue()
    proc = ctx.Process(target=_write_in_steps, args=(datastore_target, go, done))
    proc.start()
    lines: list[LogLine] = []
    try:
        for batch in range(3):
            go.put(batch)
            assert done.get(timeout=60) == batch
            lines += logs.read_from(key(), lines[-1].position if lines else 0)
            assert [line.text for line in lines][-2:] == [
                b"batch %d line %d" % (batch, i) for i in range(2)
            ]
        go.put(None)
        assert done.get(timeout=60) is None
    finally:
        proc.join(timeout=60)
        if proc.exitcode is None:
            proc.kill()
            proc.join()
    assert proc.exitcode == 0
    assert len(lines) == 6
    assert logs.read_from(key()) == lines

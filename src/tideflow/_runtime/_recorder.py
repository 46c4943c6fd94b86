"""The recorder: the actor that writes a run's events to the stores and its console.

The scheduler sends every state change as an event (:mod:`._events`) with
:meth:`Recorder.record`, on a bounded memory object stream: when the recorder falls
behind, the scheduler waits (backpressure). The recorder's loop takes what is queued (up
to :data:`BATCH` events) and, in one worker thread call, stores what must be stored before
the records (the blob of a caught failure), appends the log lines, and writes every
metadata change of the batch in one transaction (:meth:`MetadataStore.write_batch`). The
recorders of runs that share a store hand their batches to one :class:`~._writer.StoreWriter`,
which writes the batches queued at the same moment in one call and one transaction.
Only then does it write the batch's console lines, so a line on the console (``Task
finished successfully.``) is about something the store already holds.

Batches are written in the order the events were sent, each whole or not at all, so
after ``kill -9`` at any instant the store holds a prefix of the run's events: a state the
run went through. :meth:`Recorder.flush` waits until everything sent so far is written,
for a sender that must not go on before then (a caught failure's artifact, read by the
next task; the run's end).

A batch that cannot be written (the database is gone) does not raise: the recorder keeps
the error, calls ``on_error`` once (the run actor stops the run as crashed), writes no
more records, and goes on writing the console until its stream closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import anyio
import anyio.lowlevel

from .._metadata._writes import AddArtifacts, AddMetadata, AddTask, StartAttempt
from ._console import stamp
from ._events import (
    AttemptFinished,
    AttemptStarted,
    ConsoleLines,
    LogLines,
    RunEvent,
    TaskCaught,
    TaskStarted,
)
from ._writer import StoreWriter

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.abc import TaskStatus
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from .._metadata._writes import Write
    from .._stores._bundle import Stores
    from .._stores._interfaces import LogKey, LogWriter
    from ._console import Console

__all__ = ("BATCH", "BUFFER", "Recorder")

#: Events the stream holds before a sender waits.
BUFFER: Final = 1024
#: The most events written in one transaction.
BATCH: Final = 2048

_AttemptKey = tuple[str, str, str, str, int]


class Recorder:
    """Writes one run's events; see the module docstring.

    Start :meth:`run` in a task group, send with :meth:`record`, and end with
    :meth:`aclose`, which waits until every event is written (bound it with
    ``move_on_after``, then :meth:`abort`).
    """

    def __init__(
        self,
        stores: Stores,
        console: Console,
        *,
        on_error: Callable[[BaseException], None] | None = None,
        writer: StoreWriter | None = None,
    ) -> None:
        self._stores = stores
        self._console = console
        self._on_error = on_error
        #: Writes the batches, with those of the other runs that share it (see :mod:`._writer`).
        self._writer = writer if writer is not None else StoreWriter(stores.metadata)
        #: The send end of the event stream, made when :meth:`run` starts.
        self._send: MemoryObjectSendStream[RunEvent] | None = None
        self._logs: dict[LogKey, LogWriter] = {}
        self._by_attempt: dict[_AttemptKey, list[LogKey]] = {}
        self._sent = 0
        self._written = 0
        self._progress = anyio.Event()
        self._ended = anyio.Event()
        self._scope: anyio.CancelScope | None = None
        #: The error that stopped the recording of records, if one did.
        self.error: BaseException | None = None

    def __repr__(self) -> str:
        state = "ended" if self._ended.is_set() else "failed" if self.error else "open"
        return f"<Recorder {state} sent={self._sent} written={self._written}>"

    async def record(self, event: RunEvent) -> None:
        """Send ``event``; wait only while the stream is full (backpressure).

        An event sent once the recorder has closed is dropped: that happens only while
        the event loop shuts down (its native cancellation gets through shields), after the
        run's end is being recorded, and recording the end gives every attempt still
        running a final state.
        """
        if self._send is None:
            raise RuntimeError("The recorder has not started: start Recorder.run first.")
        try:
            try:
                self._send.send_nowait(event)
            except anyio.WouldBlock:
                await self._send.send(event)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return
        self._sent += 1

    async def flush(self) -> None:
        """Wait until every event sent so far is written (or the recorder has ended)."""
        target = self._sent
        while self._written < target and not self._ended.is_set():
            await self._progress.wait()

    async def aclose(self) -> None:
        """Close the stream and wait until every event sent is written."""
        if self._send is None:
            return
        self._send.close()
        await self._ended.wait()

    def abort(self) -> None:
        """Stop the recorder now: what is not written yet is left (after a bounded
        :meth:`aclose` ran out of time). Nothing happens once it has ended."""
        if self._ended.is_set():
            return
        if self._send is not None:
            self._send.close()
        if self._scope is not None:
            self._scope.cancel()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Write batches until the stream is closed and drained.

        The loop is shielded from its owner's cancellation: the events the run's tasks
        send while they stop are written too. :meth:`aclose` ends it.
        """
        send, receive = anyio.create_memory_object_stream[RunEvent](BUFFER)
        self._send = send
        try:
            with anyio.CancelScope(shield=True) as self._scope:
                task_status.started()
                async with receive:
                    while (batch := await self._next_batch(receive)) is not None:
                        await self._write(batch)
        finally:
            for writer in self._logs.values():
                writer.close()
            self._logs.clear()
            send.close()
            self._ended.set()
            self._progress.set()

    @staticmethod
    async def _next_batch(receive: MemoryObjectReceiveStream[RunEvent]) -> list[RunEvent] | None:
        """The next event, and every one queued behind it; ``None`` at the end."""
        try:
            batch = [await receive.receive()]
        except anyio.EndOfStream:
            return None
        # One turn of the event loop lets the scheduler queue what the same moment produced
        # (a task's end, its console lines, the next task's start): one transaction for all.
        await anyio.lowlevel.checkpoint()
        while len(batch) < BATCH:
            try:
                batch.append(receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream):
                break
        return batch

    async def _write(self, batch: list[RunEvent]) -> None:
        if self.error is None and not all(isinstance(e, ConsoleLines) for e in batch):
            ended: list[_AttemptKey] = []
            try:
                await self._writer.write(
                    lambda: self._prepare(batch, ended), lambda: self._finish(ended)
                )
            except Exception as exc:  # noqa: BLE001 - kept, said, and the run stops
                self.error = exc
                await self._console.write(
                    "stderr", [f"{stamp()} The run's events could not be recorded: {exc}"]
                )
                if self._on_error is not None:
                    self._on_error(exc)
        await self._echo(batch)
        self._written += len(batch)
        progress, self._progress = self._progress, anyio.Event()
        progress.set()

    def _prepare(self, batch: list[RunEvent], ended: list[_AttemptKey]) -> list[Write]:
        """Store the blobs and log lines of ``batch``; return its records' writes, and add
        the attempts it ends to ``ended`` (in a worker thread)."""
        writes: list[Write] = []
        for event in batch:
            match event:
                case TaskStarted(record=record):
                    writes.append(AddTask(record=record))
                case AttemptStarted(record=record, metadata=metadata):
                    writes.append(StartAttempt(record=record))
                    if metadata:
                        writes.append(AddMetadata(records=metadata))
                case AttemptFinished(end=end):
                    writes.append(end)
                    ended.append((end.flow, end.run_id, end.step, end.task_id, end.attempt))
                case TaskCaught(artifacts=artifacts, metadata=metadata, blobs=blobs):
                    if blobs:
                        self._stores.blobs.put_many(blobs)
                    writes.append(AddArtifacts(records=artifacts))
                    writes.append(AddMetadata(records=metadata))
                case LogLines(key=key, lines=lines):
                    self._log(key).write_lines(lines)
        return writes

    def _finish(self, ended: list[_AttemptKey]) -> None:
        """Close the logs of the attempts a written batch ended (in a worker thread)."""
        for attempt in ended:
            for key in self._by_attempt.pop(attempt, ()):
                writer = self._logs.pop(key, None)
                if writer is not None:
                    writer.close()

    def _log(self, key: LogKey) -> LogWriter:
        writer = self._logs.get(key)
        if writer is None:
            writer = self._logs[key] = self._stores.logs.open_writer(key)
            attempt = (key.flow, key.run_id, key.step, key.task_id, key.attempt)
            self._by_attempt.setdefault(attempt, []).append(key)
        return writer

    async def _echo(self, batch: list[RunEvent]) -> None:
        """Write the batch's console lines, in order, one write per run of one stream."""
        stream = ""
        lines: list[str] = []
        for event in batch:
            match event:
                case ConsoleLines(stream=to, lines=more):
                    pass
                case LogLines(key=key, lines=chunk, prefix=prefix) if prefix is not None:
                    to = key.stream
                    more = [
                        f"{stamp(ts)} {prefix} {line.decode('utf-8', 'replace').rstrip(chr(13))}"
                        for ts, line in chunk
                    ]
                case _:
                    continue
            if to != stream and lines:
                await self._console.write(stream, lines)
                lines = []
            stream = to
            lines.extend(more)
        if lines:
            await self._console.write(stream, lines)

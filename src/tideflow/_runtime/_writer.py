"""The store writer: the batches of every recorder sharing a metadata store, written together.

With many runs at once (a sweep, 200 ``async_run()``\\ s), the recorders of the runs
(:mod:`._recorder`) each have a batch to write at about the same moment. Each batch on its
own takes a worker thread and a transaction, and the threads wait in turn for the store's
connection (SQLite has one per process; PostgreSQL's pool is small): tens of threads then
fight over the interpreter and the connection. A :class:`StoreWriter` shared by those
recorders takes every batch queued at the moment and, in one worker-thread call, prepares
each (its blobs and log lines), writes the records of all of them in one transaction, then
finishes each (closes the logs of the attempts that ended). A lone run is written as before:
one batch per call.

A batch stays whole: its records are in the transaction or not at all, and a recorder
sends its next batch only once the previous one is written, so each run's store still
holds a prefix of its events (see ``docs/architecture.md``, "the durability rule"). When
the transaction of a group fails, each batch of it is written again in a transaction of its
own: only a batch the store refuses fails, and only its run stops.

The writer runs in the tasks of the recorders that use it: while one of them writes a
group, the others wait; when a group is written, the first recorder still waiting writes
the next one (with everything queued meanwhile). No task of its own, nothing to close.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .._metadata._writes import Write
    from .._stores._interfaces import MetadataStore

__all__ = ("StoreWriter", "WriterStatistics")


class WriterStatistics(msgspec.Struct, frozen=True, kw_only=True):
    """What a :class:`StoreWriter` has done: see :meth:`StoreWriter.statistics`."""

    #: Batches written (or refused) so far.
    batches: int
    #: Worker-thread calls that wrote them, each one transaction (but after a failure).
    groups: int
    #: Batches waiting to be written now.
    waiting: int


class _Batch:
    """One recorder's batch: what to do before, in and after the transaction."""

    __slots__ = ("done", "error", "finish", "handled", "prepare", "wake", "writes")

    def __init__(self, prepare: Callable[[], Sequence[Write]], finish: Callable[[], None]) -> None:
        self.prepare = prepare
        self.finish = finish
        self.writes: Sequence[Write] = ()
        self.error: Exception | None = None
        #: Set in the worker thread once the batch is written or refused.
        self.handled = False
        self.done = False
        #: Set when the batch is written, or when its recorder is to write the next group.
        self.wake = anyio.Event()


class StoreWriter:
    """Writes the batches of the recorders sharing ``metadata``; see the module docstring."""

    def __init__(self, metadata: MetadataStore) -> None:
        self._metadata = metadata
        self._queue: list[_Batch] = []
        #: Whether a group is being written (or its next writer was woken).
        self._busy = False
        self._batches = 0
        self._groups = 0

    def __repr__(self) -> str:
        return f"<StoreWriter {self._metadata!r} waiting={len(self._queue)}>"

    def statistics(self) -> WriterStatistics:
        """How many batches and groups were written, and how many batches wait."""
        return WriterStatistics(
            batches=self._batches, groups=self._groups, waiting=len(self._queue)
        )

    async def write(
        self, prepare: Callable[[], Sequence[Write]], finish: Callable[[], None]
    ) -> None:
        """Write one batch: ``prepare()`` stores what must be stored before the records and
        returns the records' writes; they are written (with other recorders' writes, in one
        transaction); then ``finish()`` runs. Both run in a worker thread. Returns once the
        batch is written.

        :raises Exception: what ``prepare``, the store or ``finish`` raised for this batch.
        """
        batch = _Batch(prepare, finish)
        self._queue.append(batch)
        try:
            if self._busy:
                await batch.wake.wait()  # written, or this recorder writes the next group
        except BaseException:
            if batch in self._queue:  # not taken into a group yet
                self._queue.remove(batch)
                if batch.wake.is_set():
                    self._hand_on()  # it was to write the next group: the next one does
            raise
        if not batch.done:
            await self._write_group()
        if batch.error is not None:
            raise batch.error

    async def _write_group(self) -> None:
        """Write every queued batch in one worker-thread call, then wake their recorders
        and the recorder that writes the next group, if any."""
        self._busy = True
        group, self._queue = self._queue, []
        try:
            # Other recorders' batches are in the group: it is written whatever happens
            # to this one (a recorder's loop is shielded anyway).
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._store, group)
        finally:
            self._groups += 1
            self._batches += len(group)
            for batch in group:
                if not batch.handled and batch.error is None:
                    batch.error = RuntimeError("the batch was not written: the writer failed")
                batch.done = True
                batch.wake.set()
            self._hand_on()

    def _hand_on(self) -> None:
        """Let the first waiting recorder write the next group (or nobody, if none waits)."""
        self._busy = bool(self._queue)
        if self._queue:
            self._queue[0].wake.set()

    def _store(self, group: list[_Batch]) -> None:
        """Prepare each batch, write all their records in one transaction (alone after a
        failure), then finish each written batch (in a worker thread)."""
        for batch in group:
            try:
                batch.writes = batch.prepare()
            except Exception as exc:  # noqa: BLE001 - that batch's error, for its recorder
                batch.error = exc
        ready = [batch for batch in group if batch.error is None]
        try:
            self._metadata.write_batch([write for batch in ready for write in batch.writes])
        except Exception as exc:  # noqa: BLE001 - each batch alone tells whose it is
            if len(ready) == 1:
                ready[0].error = exc
            else:
                for batch in ready:
                    try:
                        self._metadata.write_batch(batch.writes)
                    except Exception as alone:  # noqa: BLE001 - that batch's error
                        batch.error = alone
        for batch in ready:
            if batch.error is None:
                try:
                    batch.finish()
                except Exception as exc:  # noqa: BLE001 - that batch's error
                    batch.error = exc
        for batch in group:
            batch.handled = True

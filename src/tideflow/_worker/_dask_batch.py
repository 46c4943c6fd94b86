"""Group commit for the ``dask`` executor's calls to the blocking Dask client.

Each blocking client call costs a hop to a worker thread, and each submission one graph
update on the scheduler. A :class:`Batcher` lets the attempts that need the same call at
about the same time share one: the first caller runs the call at once, for itself and
for whoever joined in the same pass of the event loop; callers that arrive while a call
runs wait for it to end and go together in the next. A lone caller is never held back
for company, and nothing waits on a timer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

import anyio
import anyio.lowlevel

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("Batcher",)

T = TypeVar("T")


class _Entry(Generic[T]):
    """One caller's item and the event set once its batch has been handed over."""

    __slots__ = ("done", "error", "item")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = anyio.Event()
        #: What ``flush`` raised for the item's batch.
        self.error: Exception | None = None


class Batcher(Generic[T]):
    """Hands items to a blocking ``flush`` in batches, in a worker thread.

    :param flush: called in a worker thread with the items of one batch, in arrival
        order; it reports back through the items themselves. What it raises, every
        caller of that batch raises.
    :param limiter: the worker threads ``flush`` may use.
    """

    def __init__(
        self, flush: Callable[[list[T]], None], *, limiter: anyio.CapacityLimiter
    ) -> None:
        self._flush = flush
        self._limiter = limiter
        self._pending: list[_Entry[T]] = []
        self._flushing = False
        #: How many batches and items were flushed so far (for tests and benchmarks).
        self.batches = 0
        self.items = 0

    def __repr__(self) -> str:
        return (
            f"<Batcher pending={len(self._pending)} flushing={self._flushing} "
            f"batches={self.batches} items={self.items}>"
        )

    async def add(self, item: T) -> None:
        """Return once ``item`` went through ``flush``; raise what ``flush`` raised.

        Cancelled while the item still waits for a batch, the item is dropped (``flush``
        never sees it); cancelled once its batch is being flushed, the caller first
        waits for that flush to end, so it can undo what the flush did for the item.
        """
        entry = _Entry(item)
        self._pending.append(entry)
        if self._flushing:
            try:
                await entry.done.wait()
            except anyio.get_cancelled_exc_class():
                if entry in self._pending:
                    self._pending.remove(entry)
                else:
                    with anyio.CancelScope(shield=True):
                        await entry.done.wait()
                raise
            if entry.error is not None:
                raise entry.error
            return
        self._flushing = True
        try:
            # Each flush is short and others wait for it: finish them, then let a
            # cancellation of this caller through.
            with anyio.CancelScope(shield=True):
                # One pass of the loop: the attempts made ready together join this batch.
                await anyio.lowlevel.checkpoint()
                while self._pending:
                    batch, self._pending = self._pending, []
                    try:
                        await anyio.to_thread.run_sync(
                            self._flush, [e.item for e in batch], limiter=self._limiter
                        )
                    except Exception as exc:  # noqa: BLE001 (raised by each of its callers)
                        for each in batch:
                            each.error = exc
                    self.batches += 1
                    self.items += len(batch)
                    for each in batch:
                        each.done.set()
        finally:
            self._flushing = False
        if entry.error is not None:
            raise entry.error

"""The dask executor's group commit (:class:`Batcher`), on its own, with a blocking flush
that a test can hold in its worker thread."""

from __future__ import annotations

import threading

import anyio
from anyio import wait_all_tasks_blocked

from tideflow._worker._dask_batch import Batcher


class _Flush:
    """Records each batch; holds the batch that contains ``hold`` until released."""

    def __init__(self, hold: int | None = None, fail: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.hold = hold
        self.fail = fail
        self.release = threading.Event()
        self.finished = threading.Event()

    def __call__(self, items: list[int]) -> None:
        if self.hold in items:
            self.release.wait()
        self.batches.append(sorted(items))  # trio starts tasks in any order
        if self.hold in items:
            self.finished.set()
        if self.fail in items:
            raise ValueError(f"cannot flush {sorted(items)}")


def _batcher(flush: _Flush) -> Batcher[int]:
    return Batcher(flush, limiter=anyio.CapacityLimiter(1))


async def test_lone_item_goes_at_once() -> None:
    """A lone caller's item is flushed on its own right away: nothing waits for company
    (there is no timer; were it held for a batch to fill, this would never return)."""
    flush = _Flush()
    batcher = _batcher(flush)
    await batcher.add(1)
    assert flush.batches == [[1]]
    await batcher.add(2)
    assert flush.batches == [[1], [2]]
    assert (batcher.batches, batcher.items) == (2, 2)


async def test_items_ready_together_share_a_batch() -> None:
    """Items added in the same pass of the event loop go in one batch."""
    flush = _Flush()
    batcher = _batcher(flush)
    async with anyio.create_task_group() as tg:
        for item in range(5):
            tg.start_soon(batcher.add, item)
    assert flush.batches == [[0, 1, 2, 3, 4]]


async def test_items_arriving_during_a_flush_go_in_the_next() -> None:
    """Items added while a flush runs wait for it, then go together in the next batch."""
    flush = _Flush(hold=1)
    batcher = _batcher(flush)
    async with anyio.create_task_group() as tg:
        tg.start_soon(batcher.add, 1)
        await wait_all_tasks_blocked()
        tg.start_soon(batcher.add, 2)
        tg.start_soon(batcher.add, 3)
        await wait_all_tasks_blocked()
        assert flush.batches == []
        flush.release.set()
    assert flush.batches == [[1], [2, 3]]


async def test_cancelled_waiting_item_is_dropped() -> None:
    """An item whose caller is cancelled before its batch went is never flushed; the
    others of its batch are."""
    flush = _Flush(hold=1)
    batcher = _batcher(flush)

    async def add(item: int, scope: anyio.CancelScope) -> None:
        with scope:
            await batcher.add(item)

    cancelled = anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(batcher.add, 1)
        await wait_all_tasks_blocked()
        tg.start_soon(add, 2, cancelled)
        tg.start_soon(batcher.add, 3)
        await wait_all_tasks_blocked()
        cancelled.cancel()
        await wait_all_tasks_blocked()
        flush.release.set()
    assert cancelled.cancelled_caught
    assert flush.batches == [[1], [3]]


async def test_cancelled_item_in_flight_waits_for_its_flush() -> None:
    """A caller cancelled while its item's batch is being flushed returns only once that
    flush is over (so it can undo it), and the flush also serves the items that joined
    meanwhile."""
    flush = _Flush(hold=1)
    batcher = _batcher(flush)
    returned_after_flush: list[bool] = []

    async def leader(scope: anyio.CancelScope) -> None:
        with scope:
            await batcher.add(1)
        returned_after_flush.append(flush.finished.is_set())

    scope = anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(leader, scope)
        await wait_all_tasks_blocked()
        tg.start_soon(batcher.add, 2)
        await wait_all_tasks_blocked()
        scope.cancel()
        await wait_all_tasks_blocked()
        assert returned_after_flush == []
        flush.release.set()
    assert returned_after_flush == [True]
    assert flush.batches == [[1], [2]]


async def test_flush_error_reaches_each_caller_of_its_batch() -> None:
    """What the flush raises for a batch, every caller of that batch raises; the next
    batch goes as usual."""
    flush = _Flush(fail=1)
    batcher = _batcher(flush)
    errors: list[str] = []

    async def add(item: int) -> None:
        try:
            await batcher.add(item)
        except ValueError as exc:
            errors.append(str(exc))

    async with anyio.create_task_group() as tg:
        tg.start_soon(add, 1)
        tg.start_soon(add, 2)
    assert errors == ["cannot flush [1, 2]"] * 2
    await batcher.add(3)
    assert flush.batches == [[1, 2], [3]]


def test_repr_shows_the_counts() -> None:
    """The repr shows what waits and what went."""
    batcher = _batcher(_Flush())
    assert repr(batcher) == "<Batcher pending=0 flushing=False batches=0 items=0>"

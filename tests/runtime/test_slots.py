"""What a running task holds: resources, a slot of its run, one of its supervisor's.

A slot is a token of an :class:`anyio.CapacityLimiter`, held by the task of the event
loop that took it: each "task" here is a task of its own, holding what it took until
told to give it back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
from anyio.lowlevel import checkpoint

from tideflow._runtime._resources import Machine, Request, ResourcePool
from tideflow._runtime._slots import Slots

if TYPE_CHECKING:
    from anyio.abc import TaskStatus

ONE_CPU = Request(cpu=1)


def _pool() -> ResourcePool:
    return ResourcePool(Machine(cpu=4, memory=1000, gpu=0))


async def _hold(
    slots: Slots, done: anyio.Event, *, task_status: TaskStatus[bool] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Take what a task takes, without waiting; report whether it could; hold it until
    ``done``, then give it back."""
    took = slots.take_now(ONE_CPU)
    task_status.started(took)
    if took:
        await done.wait()
        slots.give_back(ONE_CPU)


async def test_take_now_takes_everything_or_nothing() -> None:
    """With room everywhere it takes all; when the run's one slot is taken, it takes
    nothing (the resources it could have had stay free)."""
    slots = Slots(1, pool=_pool())
    done = anyio.Event()
    async with anyio.create_task_group() as tg:
        assert await tg.start(_hold, slots, done)
        assert slots.pool.statistics().cpu_used == 1
        assert not slots.take_now(ONE_CPU)
        assert slots.pool.statistics().cpu_used == 1
        done.set()
    assert slots.pool.statistics().cpu_used == 0
    assert slots.take_now(ONE_CPU)
    slots.give_back(ONE_CPU)


async def test_the_supervisors_slots_cap_every_run() -> None:
    """Two runs sharing the supervisor's one slot: the second's task waits for the
    first's to give it back."""
    shared = anyio.CapacityLimiter(1)
    pool = _pool()
    first, second = (Slots(4, shared=shared, pool=pool) for _ in range(2))
    order: list[str] = []
    done = anyio.Event()

    async def wait_for_it() -> None:
        await second.take(ONE_CPU)
        order.append("second took")
        second.give_back(ONE_CPU)

    async with anyio.create_task_group() as tg:
        assert await tg.start(_hold, first, done)
        assert not second.take_now(ONE_CPU)
        tg.start_soon(wait_for_it)
        for _ in range(5):
            await checkpoint()
        order.append("first gives back")
        done.set()
    assert order == ["first gives back", "second took"]
    assert shared.borrowed_tokens == 0
    assert pool.statistics().cpu_used == 0


async def test_a_cancelled_take_gives_back_what_it_had() -> None:
    """Stopped while it waits for the run's slot, a take gives back the resources it
    already held."""
    slots = Slots(1, pool=_pool())
    done = anyio.Event()
    async with anyio.create_task_group() as tg:
        assert await tg.start(_hold, slots, done)
        with anyio.move_on_after(0.05) as scope:
            await slots.take(ONE_CPU)
        assert scope.cancelled_caught
        assert slots.pool.statistics().cpu_used == 1  # the holder's only
        assert "run=1/1" in repr(slots)
        done.set()
    assert slots.pool.statistics().cpu_used == 0
    assert "run=0/1" in repr(slots)

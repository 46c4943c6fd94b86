"""What a running task holds: its share of the machine, a slot of its run, one of its
supervisor's.

A task of the scheduler takes, in this order, what its ``@resources`` ask of the
machine's :class:`~._resources.ResourcePool`, one of the run's ``max_workers`` slots and,
when runs share a supervisor, one of the supervisor's task slots; it gives them back in
the opposite order. :meth:`Slots.take_now` takes everything without letting the event loop
turn, or nothing; :meth:`Slots.take` waits for each in turn and, interrupted, gives back
what it had taken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from ._resources import machine_pool

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._resources import Request, ResourcePool

__all__ = ("Slots",)


class Slots:
    """The capacities one run's tasks take from; see the module docstring.

    :param max_workers: the run's slots.
    :param shared: the supervisor's task slots, shared by its runs (``None``: no cap).
    :param pool: the machine's resources (default: the event loop's :func:`machine_pool`,
        looked up on first use).
    """

    def __init__(
        self,
        max_workers: int,
        *,
        shared: anyio.CapacityLimiter | None = None,
        pool: ResourcePool | None = None,
    ) -> None:
        self._limiter = anyio.CapacityLimiter(max(1, max_workers))
        self._shared = shared
        self._pool = pool

    def __repr__(self) -> str:
        return f"<Slots run={self._limiter.borrowed_tokens}/{self._limiter.total_tokens}>"

    @property
    def pool(self) -> ResourcePool:
        """The machine's resources these tasks share."""
        if self._pool is None:
            self._pool = machine_pool()
        return self._pool

    def _all(self) -> list[Any]:
        return [self.pool, self._limiter, *([self._shared] if self._shared is not None else [])]

    def take_now(self, request: Request) -> bool:
        """Take everything if nothing has to wait for it, without letting the event loop
        turn; False, holding nothing, if something would wait."""
        if not self.pool.try_acquire(request):
            return False
        taken: list[Any] = [self.pool]
        try:
            for limiter in (self._limiter, self._shared):
                if limiter is not None:
                    limiter.acquire_nowait()
                    taken.append(limiter)
        except anyio.WouldBlock:
            self.give_back(request, taken)
            return False
        return True

    async def take(self, request: Request) -> None:
        """Wait for the request's resources, then a slot of the run and one of the
        supervisor's. Cancelled on the way, it gives back what it had taken."""
        taken: list[Any] = []
        try:
            await self.pool.acquire(request)
            taken.append(self.pool)
            await self._limiter.acquire()
            taken.append(self._limiter)
            if self._shared is not None:
                await self._shared.acquire()
                taken.append(self._shared)
        except BaseException:
            self.give_back(request, taken)
            raise

    def give_back(self, request: Request, taken: Sequence[Any] | None = None) -> None:
        """Release what was taken for ``request`` (everything, unless ``taken`` says less),
        in the opposite order."""
        pool = self.pool
        for held in reversed(self._all() if taken is None else list(taken)):
            if held is pool:
                pool.release(request)
            else:
                held.release()

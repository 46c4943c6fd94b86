"""Parameter sweeps: many runs of one flow, started with backpressure, seen as they finish.

:func:`sweep` starts a run per set of parameters, at most ``max_concurrent`` at once, and
hands each run over when it has finished, in the order runs finish. A run's slot is freed
when the caller takes the finished run, so a caller that stops reading stops new runs
from starting. Leaving the ``async with`` block early stops the runs still running.

Every run also counts against its supervisor's cap on running task processes
(``task_limit``), so several sweeps and other runs in one event loop share the machine.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

from ._exceptions import sole_exception
from ._states import RunState

if TYPE_CHECKING:
    import anyio
    from anyio.abc import TaskStatus
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from ._runner import ExecutingRun

__all__ = ("sweep",)

#: Seconds a run left running by an early exit may take to stop.
_STOP_TIMEOUT = 30.0


class _Starts(Protocol):
    """Anything that starts runs: a :class:`~tideflow.Runner` or an ``NBRunner``."""

    async def async_run(self, **kwargs: Any) -> ExecutingRun: ...


def _combinations(grid: Mapping[str, Iterable[Any]] | Iterable[Mapping[str, Any]]) -> Any:
    """The parameter sets of ``grid``: every combination of a mapping of value lists, or
    the mappings of an iterable as they are."""
    if isinstance(grid, Mapping):
        names = list(grid)
        for name, values in grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise TypeError(
                    f"sweep(): grid[{name!r}] must be a list of values, not "
                    f"{type(values).__name__}; use [{values!r}] for a single value."
                )
        return (
            dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())
        )
    return (dict(params) for params in grid)


@asynccontextmanager
async def sweep(
    runner: _Starts,
    grid: Mapping[str, Iterable[Any]] | Iterable[Mapping[str, Any]],
    *,
    max_concurrent: int = 8,
) -> AsyncIterator[AsyncIterator[ExecutingRun]]:
    """Run ``runner``'s flow once per parameter set of ``grid``; yield runs as they finish.

    Use it as::

        async with tideflow.sweep(Runner("train.py"), {"alpha": [0.1, 0.2, 0.5]}) as runs:
            async for run in runs:
                print(run.status, run.run.data.score)

    Works under asyncio and trio. A failed run is yielded like any other: check its
    ``status``. Leaving the block before the end stops the runs that still run (and
    starts no more).

    :param runner: a :class:`~tideflow.Runner` (or ``NBRunner``); its ``async_run`` is
        called with each parameter set.
    :param grid: a mapping of parameter names to lists of values (every combination is
        run, in :func:`itertools.product` order), or an iterable of keyword-argument
        mappings for ``async_run`` (parameters, ``tags``, ...), read lazily.
    :param max_concurrent: the most runs started and not yet taken by the caller.
    :return: an async context manager whose value is an async iterator of finished
        :class:`~tideflow.ExecutingRun` objects.
    :raises ValueError: if ``max_concurrent`` is below 1, or a parameter set is invalid.
    :raises TypeError: if ``grid`` or a parameter value has the wrong type.

    .. versionadded:: 0.1
    """
    if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int):
        raise TypeError(f"sweep(): max_concurrent must be an int, not {max_concurrent!r}.")
    if max_concurrent < 1:
        raise ValueError(f"sweep(): max_concurrent must be at least 1, got {max_concurrent}.")
    import anyio

    combinations = _combinations(grid)
    send: MemoryObjectSendStream[ExecutingRun]
    receive: MemoryObjectReceiveStream[ExecutingRun]
    send, receive = anyio.create_memory_object_stream(0)
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(_start_runs, runner, combinations, max_concurrent, send)
            async with receive:
                yield receive
            tg.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        error = sole_exception(group)
        if error is group:
            raise
        raise error from None


async def _start_runs(
    runner: _Starts,
    combinations: Iterable[dict[str, Any]],
    max_concurrent: int,
    send: MemoryObjectSendStream[ExecutingRun],
    *,
    task_status: TaskStatus[None],
) -> None:
    """Start a run per parameter set, waiting for a free slot before each."""
    import anyio

    slots = anyio.Semaphore(max_concurrent)
    task_status.started()
    async with send, anyio.create_task_group() as tg:
        for params in combinations:
            await slots.acquire()
            try:
                running = await runner.async_run(**params)
            except BaseException:
                slots.release()
                raise
            tg.start_soon(_hand_over, running, send.clone(), slots)


async def _hand_over(
    running: ExecutingRun, send: MemoryObjectSendStream[ExecutingRun], slots: anyio.Semaphore
) -> None:
    """Wait for the run's end, give it to the caller, free its slot; stop it if cancelled."""
    import anyio

    try:
        async with send:
            await running.wait()
            await send.send(running)
    except anyio.BrokenResourceError:  # the caller left: nobody wants this run any more
        pass
    finally:
        slots.release()
        if not running._actor.state.finished:
            with anyio.CancelScope(shield=True), anyio.move_on_after(_STOP_TIMEOUT):
                await running._actor.stop(RunState.CANCELLED)

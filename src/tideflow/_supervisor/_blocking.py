"""The event loop that serves the blocking API: one thread per process, started on first use.

``Runner.run()`` and ``resume()`` run the async core in this loop, never in the caller's,
so they work in plain scripts, in worker threads and in threads whose own loop is running
(notebooks, ``async def main()``). Keeping one loop for the life of the process, rather
than a loop per call, keeps that loop's supervisor, and with it the warm fork hosts, from
one call to the next: a further ``run()`` of a small flow then costs tens of milliseconds
instead of a host start. The loop is stopped at interpreter exit, which stops any run still
going and every host; a forked child process starts a loop of its own when it needs one.

This is process-wide state, kept in one holder object; the reference's blocking API has
the same lifetime (its runs are subprocesses of the calling process).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import os
import threading
from typing import TYPE_CHECKING, Any, TypeVar, final

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from contextlib import AbstractContextManager

    from anyio.from_thread import BlockingPortal

__all__ = ("BlockingLoop", "blocking_loop")

T = TypeVar("T")

#: Seconds a cancelled call may take to stop its run after the caller was interrupted.
STOP_TIMEOUT = 60.0


@final
class BlockingLoop:
    """A blocking portal kept for the life of the process (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._context: AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        self._pid: int | None = None
        self._registered = False
        self._claimed: int | None = None

    def __repr__(self) -> str:
        state = "running" if self._portal is not None and self._pid == os.getpid() else "idle"
        return f"<BlockingLoop {state}>"

    def claim_first_call(self) -> bool:
        """True for the first blocking call of the process (of a forked child too), once,
        whichever thread makes it: that call may prepare what the loop will need."""
        with self._lock:
            if self._claimed == os.getpid():
                return False
            self._claimed = os.getpid()
            return True

    def _get_portal(self) -> BlockingPortal:
        from anyio.from_thread import start_blocking_portal

        with self._lock:
            if self._portal is None or self._pid != os.getpid():
                context = start_blocking_portal(name="tideflow-blocking")
                self._portal = context.__enter__()
                self._context = context
                self._pid = os.getpid()
                if not self._registered:
                    atexit.register(self.close)
                    self._registered = True
            return self._portal

    def call(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``func(*args)`` in the loop and return its result.

        If the caller is interrupted while waiting (Ctrl-C), the call is cancelled (its run
        stopped) before the interruption goes on.
        """
        future = self._get_portal().start_task_soon(func, *args)
        try:
            return future.result()
        except BaseException:
            if not future.done():
                future.cancel()
                concurrent.futures.wait([future], timeout=STOP_TIMEOUT)
            raise

    def close(self) -> None:
        """Stop the loop: cancel what still runs in it, stop its runs and hosts."""
        with self._lock:
            context, self._context, self._portal = self._context, None, None
            own = self._pid == os.getpid()
        if context is not None and own:
            error = SystemExit()
            context.__exit__(SystemExit, error, None)  # cancels remaining calls


_LOOP = BlockingLoop()


def blocking_loop() -> BlockingLoop:
    """The process's loop for the blocking API."""
    return _LOOP

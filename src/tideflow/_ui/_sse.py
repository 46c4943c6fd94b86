"""Server-sent events: a task's log lines and a run's states, as they change.

Each stream is a plain async iterator object, not an async generator: Starlette stops
reading a response when its client goes away, and an async generator left unfinished
would need finalizing by the event loop (trio warns about each one).

A log event's id is the position just after its line, so a browser that reconnects
(``Last-Event-ID``) resumes exactly after the last line it got. Both streams poll the
stores a few times a second: the writer is another process, and polling a file's size or
a small query is cheap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, final

import anyio

__all__ = ("POLL_INTERVAL", "LogEvents", "StateEvents", "event")

#: Seconds between two looks at the stores while nothing changes.
POLL_INTERVAL: Final = 0.2
#: How long a browser waits before reconnecting, in milliseconds.
RETRY_MS: Final = 1000


def event(data: str, *, id: int | None = None, name: str | None = None) -> bytes:
    """One event in the text/event-stream format (multi-line data is split)."""
    head = f"retry: {RETRY_MS}\n"
    if name is not None:
        head += f"event: {name}\n"
    if id is not None:
        head += f"id: {id}\n"
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return (head + body + "\n").encode("utf-8")


#: Reads the lines after a position: ``(lines as (position, text), the task has ended)``.
ReadLines = Callable[[int], Awaitable[tuple[list[tuple[int, str]], bool]]]
#: Reads a run's state as a JSON text and whether the run has ended.
ReadState = Callable[[], Awaitable[tuple[str, bool]]]


@final
class LogEvents:
    """The lines of one log from ``position`` on, then an ``end`` event once the task ended."""

    def __init__(self, read: ReadLines, position: int) -> None:
        self._read = read
        self.position = position
        self._pending: list[bytes] = []
        self._done = False

    def __aiter__(self) -> LogEvents:
        return self

    async def __anext__(self) -> bytes:
        while not self._pending:
            if self._done:
                raise StopAsyncIteration
            lines, ended = await self._read(self.position)
            if lines:
                self.position = lines[-1][0]
                self._pending = [event(text, id=pos) for pos, text in lines]
            elif ended:
                self._done = True
                return event("", id=self.position, name="end")
            else:
                await anyio.sleep(POLL_INTERVAL)
        return self._pending.pop(0)


@final
class StateEvents:
    """A run's state each time it changes, then an ``end`` event once the run ended."""

    def __init__(self, read: ReadState, interval: float = POLL_INTERVAL) -> None:
        self._read = read
        self._interval = interval
        self._last: str | None = None
        self._ended = False
        self._done = False

    def __aiter__(self) -> StateEvents:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        if self._ended:
            self._done = True
            return event("", name="end")
        while True:
            text, ended = await self._read()
            if text != self._last or ended:
                self._last = text
                self._ended = ended
                return event(text)
            await anyio.sleep(self._interval)

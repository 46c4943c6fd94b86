"""A run's console output: two append-only byte logs that readers can follow.

Positions are byte offsets just after a line, so a reader that stops can resume exactly
after the last line it saw, while the run goes on or after it ended. Waiting readers are
woken by each write; nothing polls.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import anyio

__all__ = ("RunOutput",)

STREAMS = ("stdout", "stderr")


class RunOutput:
    """The stdout and stderr of a run's console, kept in memory and optionally echoed."""

    def __init__(self, *, echo: bool = False) -> None:
        self._buffers = {name: bytearray() for name in STREAMS}
        self._echo = echo
        self._changed: anyio.Event | None = None
        self.closed = False

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}B" for k, v in self._buffers.items())
        return f"<RunOutput {sizes}{' closed' if self.closed else ''}>"

    @staticmethod
    def check_stream(stream: str) -> str:
        """Return ``stream`` if it is stdout or stderr, else raise ``ValueError``."""
        if stream not in STREAMS:
            raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}.")
        return stream

    async def write(self, stream: str, lines: list[str]) -> None:
        """Append lines; wake every reader."""
        if not lines:
            return
        text = "".join(f"{line}\n" for line in lines)
        self._buffers[stream] += text.encode("utf-8", "replace")
        if self._echo:
            out = sys.stdout if stream == "stdout" else sys.stderr
            out.write(text)
            out.flush()
        self._notify()

    def _notify(self) -> None:
        event, self._changed = self._changed, None
        if event is not None:
            event.set()

    def close(self) -> None:
        """No more lines will come: readers end after the last one."""
        self.closed = True
        self._notify()

    def text(self, stream: str) -> str:
        """Everything written to ``stream`` so far."""
        return self._buffers[stream].decode("utf-8", "replace")

    def size(self, stream: str) -> int:
        """How many bytes ``stream`` holds."""
        return len(self._buffers[stream])

    async def follow(
        self, stream: str, position: int | None = None
    ) -> AsyncIterator[tuple[int, str]]:
        """Yield ``(position, line)`` from ``position`` on, until the output is closed."""
        buffer = self._buffers[self.check_stream(stream)]
        pos = max(0, position or 0)
        while True:
            end = buffer.find(b"\n", pos)
            if end >= 0:
                line = bytes(buffer[pos:end]).decode("utf-8", "replace")
                pos = end + 1
                yield pos, line
                continue
            if self.closed:
                return
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()

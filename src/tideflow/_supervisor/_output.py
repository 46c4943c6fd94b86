"""A run's console output: two append-only byte logs that readers can follow.

Positions are byte offsets just after a line, so a reader that stops can resume exactly
after the last line it saw, while the run goes on or after it ended. Waiting readers are
woken by each write; nothing polls.

A reader is a plain async iterator object (:class:`LogFollower`), not an async generator:
the guide's ``aiter``/``anext`` pattern leaves readers unfinished, and an unfinished async
generator needs finalizing by the event loop (trio warns about each one). A follower
holds nothing that needs closing.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TextIO, final

import anyio
from anyio.lowlevel import checkpoint

__all__ = ("STREAMS", "LogFollower", "RunOutput")

STREAMS = ("stdout", "stderr")


class RunOutput:
    """The stdout and stderr of a run's console, kept in memory and optionally echoed."""

    def __init__(self, *, echo: bool = False) -> None:
        self._buffers = {name: bytearray() for name in STREAMS}
        self._echo = echo
        #: Echoed streams whose reader went away.
        self._gone: set[str] = set()
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
        if self.closed:
            raise RuntimeError("This run's console is closed: the run has ended.")
        text = "".join(f"{line}\n" for line in lines)
        self._buffers[stream] += text.encode("utf-8", "replace")
        if self._echo and stream not in self._gone:
            self._print(stream, text)
        self._notify()

    def _print(self, stream: str, text: str) -> None:
        """Echo ``text``; if the console went away (``python flow.py run | head -1``), stop
        echoing that stream: the run goes on, and its output stays in the task logs."""
        out = sys.stdout if stream == "stdout" else sys.stderr
        try:
            out.write(text)
            out.flush()
        except (BrokenPipeError, ValueError):  # a closed pipe, or a closed file object
            self._gone.add(stream)
            _silence(out)

    def _notify(self) -> None:
        event, self._changed = self._changed, None
        if event is not None:
            event.set()

    async def wait_changed(self) -> None:
        """Wait for the next write, or for the console to close."""
        if self._changed is None:
            self._changed = anyio.Event()
        await self._changed.wait()

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

    def line_after(self, stream: str, position: int) -> tuple[int, str] | None:
        """The complete line starting at ``position`` and the position after it, if any."""
        buffer = self._buffers[stream]
        end = buffer.find(b"\n", position)
        if end < 0:
            return None
        return end + 1, bytes(buffer[position:end]).decode("utf-8", "replace")

    def follow(self, stream: str, position: int | None = None) -> LogFollower:
        """Iterate over ``(position, line)`` from ``position`` on, until the output closes."""
        return LogFollower(self, self.check_stream(stream), max(0, position or 0))


def _silence(out: TextIO) -> None:
    """Point a stream whose pipe broke at the null device, so that what is still buffered
    and later prints (at exit too) go nowhere instead of failing again."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, out.fileno())
        finally:
            os.close(null)


@final
class LogFollower:
    """An async iterator over ``(position, line)`` of one stream of a :class:`RunOutput`.

    Each step checkpoints (it can be cancelled, and lets other tasks run); it waits only
    when it has caught up with the writer, until the next write.
    """

    def __init__(self, output: RunOutput, stream: str, position: int) -> None:
        self._output = output
        self._stream = stream
        self.position = position

    def __repr__(self) -> str:
        return f"<LogFollower {self._stream} at {self.position}>"

    def __aiter__(self) -> LogFollower:
        return self

    async def __anext__(self) -> tuple[int, str]:
        await checkpoint()
        output = self._output
        while True:
            found = output.line_after(self._stream, self.position)
            if found is not None:
                self.position = found[0]
                return found
            if output.closed:
                raise StopAsyncIteration
            await output.wait_changed()

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
from typing import Protocol, TextIO, final

import anyio
from anyio.lowlevel import checkpoint

__all__ = ("STREAMS", "Display", "LogFollower", "RunOutput", "echo")

STREAMS = ("stdout", "stderr")


class Display(Protocol):
    """Prints echoed console lines its own way (a live status block on a terminal)."""

    async def echo(self, stream: str, text: str) -> None:
        """Print ``text``, complete lines, to ``stream``."""
        ...

    async def run(self) -> None:
        """Keep the display fresh (a clock, ...) until cancelled."""
        ...

    def close(self) -> None:
        """The run's console has ended: leave the terminal clean."""
        ...


class RunOutput:
    """The stdout and stderr of a run's console, kept in memory and optionally echoed."""

    def __init__(self, *, echo: bool = False, display: Display | None = None) -> None:
        self._buffers = {name: bytearray() for name in STREAMS}
        self._echo = echo
        #: Prints the echoed lines instead of plain writes, when given.
        self.display = display
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
        if self._echo and self.display is not None:
            await self.display.echo(stream, text)
        elif self._echo and stream not in self._gone:
            self._print(stream, text)
        self._notify()

    def _print(self, stream: str, text: str) -> None:
        """Echo ``text``; if the console went away (``python flow.py run | head -1``), stop
        echoing that stream: the run goes on, and its output stays in the task logs."""
        if not echo(stream, text):
            self._gone.add(stream)

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
        if self.display is not None:
            self.display.close()
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


def echo(stream: str, text: str) -> bool:
    """Write ``text`` to this process's ``stream`` (stdout or stderr) and flush it; False
    when nobody reads it any more: a closed pipe (EPIPE), a terminal gone (EIO), a closed
    file object. The stream then points at the null device (see :func:`_silence`)."""
    out = sys.stdout if stream == "stdout" else sys.stderr
    try:
        out.write(text)
        out.flush()
    except (OSError, ValueError):
        _silence(out)
        return False
    return True


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

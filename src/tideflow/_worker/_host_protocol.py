"""The fork host's protocol: messages and frames between a supervisor and its hosts.

A host has one control channel (a socket pair): the supervisor sends :class:`HostHello`
once, the host answers :class:`HostReady` once it has imported the flow, and then every
task arrives as a :class:`~tideflow._messages.TaskSpec` frame carrying three file
descriptors (``SCM_RIGHTS``): the write ends of the task's stdout and stderr pipes and the
task's end of a per-task socket pair. On that per-task socket the forked child says
:class:`~tideflow._messages.Ready` (with its pid) and, when the step is over,
:class:`~tideflow._messages.TaskDone`; once the host has reaped the child it adds
:class:`Exited`. Only one writer is ever active on a per-task socket, so frames never
interleave. Frames are the length-prefixed msgpack of :mod:`._framing`.

This module is imported by the host, so it must stay free of event loops at import.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import msgspec

from .._messages import Ready, TaskDone, TaskSpec

if TYPE_CHECKING:
    from anyio.abc import ByteReceiveStream

__all__ = (
    "BOOTSTRAP",
    "FDS_PER_TASK",
    "Exited",
    "FrameBuffer",
    "HostHello",
    "HostMessage",
    "HostReady",
    "HostShutdown",
    "encode",
    "receive_frame",
)

#: The command line of a host after ``python -c``, then the control channel's descriptor.
BOOTSTRAP = (
    "import gc; gc.disable(); import sys; from tideflow._worker._host import serve; "
    "serve(sys.argv[1:])"
)
#: Descriptors sent with each task: stdout write end, stderr write end, task socket.
FDS_PER_TASK = 3


class HostHello(msgspec.Struct, frozen=True, kw_only=True, tag="host-hello"):
    """The first frame to a host: which flow to import, and how long to stay idle."""

    flow_source: str
    flow_class: str
    sys_path: list[str] = []
    #: Seconds without tasks after which the host exits by itself; ``None``: never (the
    #: supervisor ends it once no run uses it).
    idle_timeout: float | None = 60.0


class HostReady(msgspec.Struct, frozen=True, kw_only=True, tag="host-ready"):
    """The host imported the flow (or failed to, which its tasks will report)."""

    pid: int
    #: False when forking is unsafe here (the imports started threads); see ``reason``.
    forkable: bool = True
    reason: str = ""


class HostShutdown(msgspec.Struct, frozen=True, tag="host-shutdown"):
    """Ask the host to stop its tasks and exit (closing the channel does the same)."""


class Exited(msgspec.Struct, frozen=True, kw_only=True, tag="exited"):
    """How a forked task process ended, as its host saw it when it reaped it.

    ``returncode`` follows :attr:`subprocess.Popen.returncode`: the exit code, or minus
    the signal number. It is ``None`` with a ``problem`` when the host could not fork.
    """

    pid: int
    returncode: int | None
    problem: str | None = None


HostMessage = HostHello | HostReady | HostShutdown | Exited | Ready | TaskDone | TaskSpec

_HEADER = struct.Struct(">I")
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(HostMessage)


def encode(message: HostMessage) -> bytes:
    """One frame: a 4-byte big-endian length, then the msgpack of ``message``."""
    payload = _encoder.encode(message)
    return _HEADER.pack(len(payload)) + payload


class FrameBuffer:
    """Collects bytes as they arrive and cuts them into messages."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, data: bytes) -> None:
        """Add received bytes."""
        self._data += data

    def next(self) -> HostMessage | None:
        """The next complete message, or ``None`` until more bytes arrive."""
        if len(self._data) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self._data)
        end = _HEADER.size + size
        if len(self._data) < end:
            return None
        message: HostMessage = _decoder.decode(bytes(self._data[_HEADER.size : end]))
        del self._data[:end]
        return message

    @property
    def pending(self) -> int:
        """How many received bytes are not part of a returned message yet."""
        return len(self._data)


async def receive_frame(stream: ByteReceiveStream, buffer: FrameBuffer) -> HostMessage | None:
    """The next message from ``stream``; ``None`` when the stream ends first."""
    import anyio

    while (message := buffer.next()) is None:
        try:
            buffer.feed(await stream.receive())
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            return None
    return message

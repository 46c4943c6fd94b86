"""Length-prefixed msgpack frames, for blocking sockets (child) and anyio streams (parent)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import msgspec

from .._messages import WorkerMessage

if TYPE_CHECKING:
    import socket

    from anyio.abc import ByteStream

__all__ = ("FrameReader", "recv_frame_blocking", "send_frame", "send_frame_blocking")

_HEADER = struct.Struct(">I")
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(WorkerMessage)


def _frame(message: WorkerMessage) -> bytes:
    payload = _encoder.encode(message)
    return _HEADER.pack(len(payload)) + payload


def send_frame_blocking(sock: socket.socket, message: WorkerMessage) -> None:
    """Send one frame on a blocking socket."""
    sock.sendall(_frame(message))


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame_blocking(sock: socket.socket) -> WorkerMessage | None:
    """Receive one frame from a blocking socket; ``None`` at end of stream."""
    header = _recv_exactly(sock, _HEADER.size)
    if header is None:
        return None
    payload = _recv_exactly(sock, _HEADER.unpack(header)[0])
    return None if payload is None else _decoder.decode(payload)


async def send_frame(stream: ByteStream, message: WorkerMessage) -> None:
    """Send one frame on an anyio byte stream."""
    await stream.send(_frame(message))


class FrameReader:
    """Reads frames from an anyio byte stream, keeping what arrived past a frame."""

    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def _fill(self, size: int) -> bool:
        import anyio

        while len(self._buffer) < size:
            try:
                self._buffer += await self._stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return False
        return True

    async def receive(self) -> WorkerMessage | None:
        """The next message, or ``None`` when the stream ends first."""
        if not await self._fill(_HEADER.size):
            return None
        (size,) = _HEADER.unpack_from(self._buffer)
        if not await self._fill(_HEADER.size + size):
            return None
        payload = bytes(self._buffer[_HEADER.size : _HEADER.size + size])
        del self._buffer[: _HEADER.size + size]
        message: WorkerMessage = _decoder.decode(payload)
        return message

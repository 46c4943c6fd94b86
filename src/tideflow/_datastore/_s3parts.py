"""Large blobs in S3, part by part: the streamed body of an upload, parallel ranged reads.

* :func:`large_body` yields the stored form of a large blob (the 9-byte header, then the raw
  bytes as views of the caller's buffer, or zlib level 1 output when a sample shows that
  compressing pays), which obstore sends as a multipart upload.
* :func:`read_parts` yields an object's bytes in order while the parts after the first
  are fetched by ranged ``GET``\\ s in parallel, each conditional on the ETag of the first
  response (``If-Match``), so every part comes from one version of the object. At most
  ``window`` parts are fetched or waiting at once, which bounds the memory of a read.
* :class:`StreamDecoder` decodes those bytes piece by piece and says when an object is cut
  short or longer than its header says.
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final

import obstore
from obstore.exceptions import PreconditionError

from .._exceptions import ArtifactError, StoreError
from ._cas import _HEADER, _MAX_RATIO, _RAW, _ZLIB, _parse_header

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator
    from concurrent.futures import Future

    from obstore.store import S3Store

__all__ = ("PART_SIZE", "StreamDecoder", "corrupt", "large_body", "read_parts", "write_at")

#: Size of an upload part, of a ranged read, and of the first read of every blob.
PART_SIZE: Final = 16 << 20
#: Parts of one read fetched (or fetched and waiting) at once: at most this many parts'
#: worth of memory beyond the result.
READ_WINDOW: Final = 8
#: How much of a large blob is compressed to decide whether compressing it pays.
_SAMPLE: Final = 1 << 20


def large_body(data: bytes) -> Iterator[bytes | memoryview]:
    """The stored form of a large blob, piece by piece: compressed if a sample shows it pays.

    Raw pieces are views of ``data``, so an incompressible blob is never copied here.
    """
    view = memoryview(data)
    sample = view[:_SAMPLE]
    if len(zlib.compress(sample, 1)) > len(sample) * _MAX_RATIO:
        yield _HEADER.pack(_RAW, len(data))
        for start in range(0, len(view), PART_SIZE):
            yield view[start : start + PART_SIZE]
        return
    yield _HEADER.pack(_ZLIB, len(data))
    compressor = zlib.compressobj(1)
    for start in range(0, len(view), PART_SIZE):
        if out := compressor.compress(view[start : start + PART_SIZE]):
            yield out
    yield compressor.flush()


def read_parts(
    store: S3Store,
    path: str,
    first: obstore.Bytes,
    *,
    size: int,
    e_tag: str | None,
    where: str,
    sink: Callable[[int, obstore.Bytes], object] | None = None,
    window: int = READ_WINDOW,
) -> Generator[obstore.Bytes]:
    """Yield the object at ``path`` in order: ``first`` (its start, already read), then the
    rest in ranged ``GET``\\ s of :data:`PART_SIZE`, up to ``window`` of them at once.

    :param size: the object's size, from the response that read ``first``.
    :param e_tag: that response's ETag; every later part must come from the same version.
    :param sink: called with each later part's offset in the object and its bytes, in the
        thread that fetched it (out of order), before the part is yielded.
    :raises StoreError: if the object changes or a part comes back short while it is read
        (a transfer failure, not damage: the object is left alone).
    """
    yield first
    starts = iter(range(len(first), size, PART_SIZE))
    pending: deque[Future[obstore.Bytes]] = deque()
    with ThreadPoolExecutor(window, thread_name_prefix="tideflow-s3-get") as pool:

        def fetch(start: int) -> obstore.Bytes:
            part = _read_range(store, path, start, min(start + PART_SIZE, size), e_tag, where)
            if sink is not None:
                sink(start, part)
            return part

        def refill() -> None:
            while len(pending) < window and (start := next(starts, None)) is not None:
                pending.append(pool.submit(fetch, start))

        refill()
        try:
            while pending:
                part = pending.popleft().result()
                refill()  # the next parts download while the caller uses this one
                yield part
        finally:
            for future in pending:
                future.cancel()


def write_at(fd: int, data: bytes | memoryview | obstore.Bytes, offset: int) -> None:
    """Write all of ``data`` at ``offset`` of the open file ``fd`` (thread-safe)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _read_range(
    store: S3Store, path: str, start: int, end: int, e_tag: str | None, where: str
) -> obstore.Bytes:
    options: obstore.GetOptions = {"range": (start, end)}
    if e_tag is not None:
        options["if_match"] = e_tag
    try:
        part = obstore.get(store, path, options=options).bytes()
    except PreconditionError:
        raise StoreError(
            f"The object at {where} changed while it was read (another process replaced "
            "it): read it again."
        ) from None
    if len(part) != end - start:
        raise StoreError(
            f"The object at {where} was cut short while it was read (bytes {start} to "
            f"{end} of {end - start} gave {len(part)}): read it again."
        )
    return part


class StreamDecoder:
    """Decodes a stored blob chunk by chunk, keeping each piece it yields bounded.

    :param sha: the blob's key, for messages.
    :param where: the object's ``s3://`` address, for messages.
    """

    def __init__(self, sha: str, where: str) -> None:
        self._sha = sha
        self._where = where
        self._head = b""
        self._encoding: int | None = None
        self._size = 0
        self._inflate: zlib._Decompress | None = None
        #: Decoded bytes yielded so far.
        self.written = 0

    def feed(self, chunk: bytes | memoryview | obstore.Bytes) -> Iterator[bytes | memoryview]:
        """Yield the decoded pieces of the next chunk of the stored object.

        :raises ArtifactError: if the header is damaged or zlib cannot decode the bytes.
        """
        view = memoryview(chunk)
        if self._encoding is None:
            need = _HEADER.size - len(self._head)
            self._head += bytes(view[:need])
            view = view[need:]
            if len(self._head) < _HEADER.size:
                return
            self._encoding, self._size = _parse_header(self._head, self._sha, self._where)
            if self._encoding == _ZLIB:
                self._inflate = zlib.decompressobj()
        if self._inflate is None:
            self.written += len(view)
            yield view
            return
        data: bytes | memoryview = view
        while data:
            try:
                out = self._inflate.decompress(data, PART_SIZE)
            except zlib.error as exc:
                raise corrupt(
                    self._sha, self._where, f"zlib cannot decompress it ({exc})"
                ) from None
            self.written += len(out)
            yield out
            data = self._inflate.unconsumed_tail

    def finish(self) -> None:
        """Check that the whole blob was decoded.

        :raises ArtifactError: if the object was shorter or longer than its header says.
        """
        if self._encoding is None:
            raise corrupt(self._sha, self._where, "the object is shorter than its header")
        if self._inflate is not None and not self._inflate.eof:
            raise corrupt(self._sha, self._where, "its compressed bytes are cut short")
        if self.written != self._size:
            raise corrupt(
                self._sha,
                self._where,
                f"the header says {self._size} bytes but it holds {self.written}",
            )


def corrupt(sha: str, where: str, reason: str) -> ArtifactError:
    """The error of a damaged object: what is wrong with it, and what to do."""
    return ArtifactError(
        f"Blob {sha} at {where} is damaged: {reason}. Delete the object; the artifacts that "
        "use it cannot be loaded until a run stores them again."
    )

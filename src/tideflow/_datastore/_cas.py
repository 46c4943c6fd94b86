"""A content-addressed blob store on the local filesystem.

Each blob lives at ``<root>/blobs/<sha[:2]>/<sha[2:]>``, where ``sha`` is the SHA-256 hex
digest of its uncompressed bytes. A stored file starts with a 9-byte header::

    byte 0      encoding: b"\\x00" raw, b"\\x01" zlib
    bytes 1..8  size of the uncompressed bytes, unsigned 64-bit little-endian

followed by the (maybe compressed) bytes. The header lets :meth:`LocalBlobStore.size` answer
from 9 bytes and :meth:`LocalBlobStore.get` know how to decode. Every read checks the
decoded bytes against their digest, and storing a blob again checks the file that is
already there, so a damaged file is reported (naming it) or replaced, never used.

The store is synchronous and safe to use from many threads and many processes at once:
a blob is written to a temporary file in its final folder and moved into place with
:func:`os.replace`, so a reader sees either no blob or a whole one. Two writers of the same
blob write the same bytes, so whichever rename lands last changes nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Final, final

from .._exceptions import ArtifactError
from .._stores._interfaces import check_object_name

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ("LocalBlobStore",)

_RAW: Final = 0
_ZLIB: Final = 1
_HEADER: Final = struct.Struct("<BQ")
#: Blobs of at most this many bytes are stored raw.
_COMPRESS_ABOVE: Final = 4096
#: Compressed bytes are kept only when they are at most this fraction of the original.
_MAX_RATIO: Final = 0.9
_SHA_RE: Final = re.compile(r"[0-9a-f]{64}")


@final
class LocalBlobStore:
    """Content-addressed blobs under ``<root>/blobs``.

    :param root: the store folder (the ``.tideflow`` folder); it and ``blobs`` below it are
        created on the first write.
    """

    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        self._blobs = self._root / "blobs"

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self._root)!r})"

    @property
    def root(self) -> Path:
        """The store folder this blob store was created with."""
        return self._root

    @property
    def url(self) -> str:
        """``file:///<absolute path of the store folder>``."""
        return self._root.absolute().as_uri()

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its key, the SHA-256 hex digest of ``data``.

        A blob that is already stored is not written again, once its file is checked: a
        file that is damaged (or not this blob at all) is replaced, so a later run never
        reuses a damaged copy. Blobs larger than 4096 bytes are compressed with zlib
        (level 1) when that saves more than 10%.

        :raises ArtifactError: if the blob cannot be written.
        """
        sha = hashlib.sha256(data).hexdigest()
        path = self._path(sha)
        if self._holds(path, data):
            return sha
        try:
            self._write(path, _encode(data))
        except OSError as exc:
            raise ArtifactError(f"Cannot write blob {sha} to {path}: {exc}") from exc
        return sha

    def put_many(self, blobs: Iterable[bytes]) -> list[str]:
        """Store every blob in ``blobs``; return their keys in the same order.

        :raises ArtifactError: if a blob cannot be written.
        """
        return [self.put(data) for data in blobs]

    def get(self, sha: str) -> bytes:
        """Return the bytes stored under ``sha``.

        :raises ArtifactError: if there is no such blob, or its file is damaged.
        """
        path = self._existing_path(sha)
        try:
            stored = path.read_bytes()
        except FileNotFoundError:
            raise self._missing(sha) from None
        except OSError as exc:
            raise ArtifactError(f"Cannot read blob {sha} from {path}: {exc}") from exc
        data = _decode(stored, sha, path)
        if hashlib.sha256(data).hexdigest() != sha:
            raise _corrupt(sha, path, "its bytes do not match their SHA-256 digest")
        return data

    def exists(self, sha: str) -> bool:
        """Return whether a blob is stored under ``sha`` (``False`` for a malformed key)."""
        return _SHA_RE.fullmatch(sha) is not None and self._path(sha).is_file()

    def size(self, sha: str) -> int:
        """Return the uncompressed size in bytes of the blob stored under ``sha``.

        Reads only the blob's header.

        :raises ArtifactError: if there is no such blob, or its header is damaged.
        """
        path = self._existing_path(sha)
        try:
            with path.open("rb") as file:
                header = file.read(_HEADER.size)
        except FileNotFoundError:
            raise self._missing(sha) from None
        except OSError as exc:
            raise ArtifactError(f"Cannot read blob {sha} from {path}: {exc}") from exc
        return _parse_header(header, sha, path)[1]

    def put_named(self, name: str, data: bytes) -> None:
        """Store ``data`` as the file ``<root>/<name>``, replacing it atomically.

        :raises ArtifactError: for a malformed name, or if the file cannot be written.
        """
        path = self._root / check_object_name(name)
        try:
            self._write(path, (data,))
        except OSError as exc:
            raise ArtifactError(f"Cannot write {path}: {exc}") from exc

    def get_named(self, name: str) -> bytes | None:
        """Return the bytes of the file ``<root>/<name>``, or ``None`` if there is none.

        :raises ArtifactError: for a malformed name, or if the file cannot be read.
        """
        path = self._root / check_object_name(name)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise ArtifactError(f"Cannot read {path}: {exc}") from exc

    def list_named(self, prefix: str) -> list[str]:
        """Return the names of the files below ``<root>/<prefix>``, sorted.

        :raises ArtifactError: for a malformed prefix.
        """
        folder = self._root / check_object_name(prefix.strip("/"))
        if not folder.is_dir():
            return []
        return sorted(
            path.relative_to(self._root).as_posix()
            for path in folder.rglob("*")
            if not path.name.startswith(".") and path.is_file()
        )

    @staticmethod
    def _holds(path: Path, data: bytes) -> bool:
        """Whether the file ``path`` exists and holds ``data`` (read, never trusted)."""
        try:
            stored = path.read_bytes()
        except OSError:
            return False
        try:
            return _decode(stored, "", path) == data
        except ArtifactError:
            return False

    def _path(self, sha: str) -> Path:
        return self._blobs / sha[:2] / sha[2:]

    def _existing_path(self, sha: str) -> Path:
        if _SHA_RE.fullmatch(sha) is None:
            raise ArtifactError(
                f"{sha!r} is not a blob key: a key is a SHA-256 digest written as 64 "
                "lowercase hexadecimal characters."
            )
        return self._path(sha)

    def _missing(self, sha: str) -> ArtifactError:
        return ArtifactError(
            f"Blob {sha} does not exist in {self._blobs}. The store may have been moved or "
            "cleaned up, or the run that wrote it used another root (TIDEFLOW_ROOT)."
        )

    @staticmethod
    def _write(path: Path, chunks: tuple[bytes, ...]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(temp, flags, 0o666)
        try:
            with os.fdopen(fd, "wb") as file:
                for chunk in chunks:
                    file.write(chunk)
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise


def _encode(data: bytes) -> tuple[bytes, bytes]:
    """Return the header and the body to store for ``data``."""
    size = len(data)
    if size > _COMPRESS_ABOVE:
        compressed = zlib.compress(data, 1)
        if len(compressed) <= size * _MAX_RATIO:
            return _HEADER.pack(_ZLIB, size), compressed
    return _HEADER.pack(_RAW, size), data


def _parse_header(header: bytes, sha: str, path: Path | str) -> tuple[int, int]:
    if len(header) < _HEADER.size:
        raise _corrupt(sha, path, "the file is shorter than its header")
    encoding, size = _HEADER.unpack_from(header)
    if encoding not in (_RAW, _ZLIB):
        raise _corrupt(sha, path, f"unknown encoding byte {encoding:#04x}")
    return encoding, size


def _decode(stored: bytes, sha: str, path: Path) -> bytes:
    encoding, size = _parse_header(stored, sha, path)
    body = memoryview(stored)[_HEADER.size :]
    if encoding == _ZLIB:
        try:
            data = zlib.decompress(body)
        except zlib.error as exc:
            raise _corrupt(sha, path, f"zlib cannot decompress it ({exc})") from exc
    else:
        data = bytes(body)
    if len(data) != size:
        raise _corrupt(sha, path, f"the header says {size} bytes but it holds {len(data)}")
    return data


def _corrupt(sha: str, path: Path | str, reason: str) -> ArtifactError:
    return ArtifactError(
        f"Blob {sha} at {path} is damaged: {reason}. Delete the file; the artifacts that "
        "use it cannot be loaded until a run stores them again."
    )

"""Artifacts in S3-compatible object storage: a content-addressed blob store over obstore.

A blob is the object ``<prefix>/blobs/<sha[:2]>/<sha[2:]>``, stored in the same format as
a file of the local store (a 9-byte header, then the raw or zlib-compressed bytes; see
:mod:`._cas`), so its key is still the SHA-256 digest of its bytes.

* **Writes create a key only if it is absent.** A blob up to 16 MiB is one conditional
  ``PUT`` (``If-None-Match: *``); a larger one is a multipart upload, streamed in 16 MiB
  parts with a few in flight, which the server makes visible only once complete. Either
  way no reader ever sees a torn or partial object, and a blob already stored is not
  sent again.
* **Reads check the digest.** A damaged or truncated object raises
  :exc:`~tideflow.exception.ArtifactError` naming its key. Every read starts with one
  ``GET`` of the first 16 MiB, which is the whole of a small blob; the rest of a large
  one comes in parallel ranged ``GET`` requests conditional on that response's ETag
  (:mod:`._s3parts`), written into a staged file of the read cache and read back from it,
  so memory holds the result and at most a few parts, never a second copy.
* **A damaged object is repaired, never reused.** Conditional writes never overwrite a
  key, so a damaged object would otherwise stay forever. When a write of a small blob finds
  its key taken, the object is checked (its ETag against the MD5 of the bytes this writer
  would store, and if they differ the object itself) and a damaged one is replaced with a
  write conditional on the damaged object's ETag (``If-Match``): a concurrent repair is
  never overwritten. A read that finds an object damaged removes it if it is still that
  version, so the next write of the value, of any size, stores it again.
* **A local read cache** (:class:`~._cache.BlobCache`, under ``<root>/cache/blobs/<id>``, one per
  bucket and prefix)
  keeps what was read or written, so reading ``run.data`` twice downloads once.
* **Transfers run in parallel**, at most ``max_transfers`` at once per store.

:func:`open_s3` is the factory :data:`~tideflow._stores._bundle.DATASTORE_SCHEMES` names.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Final, final

import obstore
from obstore.exceptions import AlreadyExistsError, PreconditionError
from obstore.exceptions import BaseError as ObstoreError

from .._exceptions import ArtifactError
from .._stores._interfaces import check_object_name
from ._cache import BlobCache
from ._cas import _HEADER, _RAW, _SHA_RE, _ZLIB, _encode, _parse_header
from ._s3client import S3Location, failure, make_store, parse_s3_url
from ._s3parts import PART_SIZE, StreamDecoder, corrupt, large_body, read_parts, write_at

if TYPE_CHECKING:
    from collections.abc import Iterable

    from obstore import ObjectMeta, PutMode, UpdateVersion
    from obstore.store import S3Store

    from .._stores._interfaces import BlobStore, LogStore

__all__ = ("S3BlobStore", "open_s3")

#: Blobs larger than this are uploaded in parts (and read in parts, see :mod:`._s3parts`).
_SINGLE_LIMIT: Final = PART_SIZE
#: Parts of one upload in flight at once.
_PART_CONCURRENCY: Final = 8
#: How often a write checks and replaces a damaged object that others keep changing.
_REPAIR_TRIES: Final = 4
#: Most keys remembered as stored, per store object.
_KNOWN_LIMIT: Final = 100_000


def open_s3(url: str, *, root: Path) -> tuple[BlobStore, LogStore]:
    """The blob and log stores of ``s3://bucket/prefix`` (local cache and logs in ``root``).

    :raises StoreError: for a malformed URL or option.
    """
    from ._s3logs import S3LogStore

    location = parse_s3_url(url)
    store = make_store(location)
    return S3BlobStore(location, store, root=root), S3LogStore(location, store, root=root)


@final
class S3BlobStore:
    """Content-addressed blobs under ``<prefix>/blobs`` of a bucket.

    :param location: the bucket, prefix and settings.
    :param store: the obstore client.
    :param root: the local store folder (its ``cache/blobs`` folder is the read cache).
    """

    def __init__(self, location: S3Location, store: S3Store, *, root: Path) -> None:
        self._location = location
        self._store = store
        # One cache folder per bucket and prefix: a cached blob is known to be stored there.
        folder = hashlib.sha256(location.url.encode()).hexdigest()[:16]
        self._cache = BlobCache(Path(root) / "cache" / "blobs" / folder, location.cache_size)
        self._slots = threading.BoundedSemaphore(location.max_transfers)
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3BlobStore({self.url!r})"

    @property
    def url(self) -> str:
        """``s3://bucket/prefix``."""
        return self._location.url

    @property
    def cache(self) -> BlobCache:
        """The local read cache."""
        return self._cache

    def put(self, data: bytes) -> str:
        """Store ``data`` (unless it is stored already) and return its key.

        :raises StoreError: if the bucket cannot be written.
        """
        sha = hashlib.sha256(data).hexdigest()
        if sha in self._known or self._cache.contains(sha):
            return sha  # stored by this process, or read from the bucket before
        path = _path(sha)
        with self._slots:
            try:
                if len(data) <= _SINGLE_LIMIT:
                    self._put_small(path, data)
                    self._cache.store(sha, data)
                elif not self._exists_remote(path):
                    self._put_large(sha, path, data)
            except (OSError, ObstoreError) as exc:
                raise failure(self._location, exc, "write", path) from None
        self._remember(sha)
        return sha

    def put_many(self, blobs: Iterable[bytes]) -> list[str]:
        """Store every blob, up to ``max_transfers`` at once; return their keys in order.

        :raises StoreError: if the bucket cannot be written.
        """
        items = list(blobs)
        if len(items) <= 1:
            return [self.put(data) for data in items]
        workers = min(len(items), self._location.max_transfers)
        with ThreadPoolExecutor(workers, thread_name_prefix="tideflow-s3-put") as pool:
            return list(pool.map(self.put, items))

    def get(self, sha: str) -> bytes:
        """Return the bytes stored under ``sha``, from the read cache when it holds them.

        :raises ArtifactError: if there is no such blob, or the object is damaged.
        :raises StoreError: if the bucket cannot be read.
        """
        path = self._checked_path(sha)
        cached = self._cache.read(sha)
        if cached is not None:
            return cached
        with self._slots:
            try:
                result = self._get_start(path)
                try:
                    first = result.bytes()
                    if result.meta["size"] <= len(first):
                        data = self._decode(sha, first)
                        self._cache.store(sha, data)
                    else:
                        data = self._download(sha, path, first, result.meta)
                except ArtifactError as damage:
                    raise self._discard(sha, path, result.meta["e_tag"], damage) from None
            except FileNotFoundError as exc:
                if "NoSuchBucket" in str(exc):
                    raise failure(self._location, exc, "read", path) from None
                raise self._missing(sha) from None
            except (OSError, ObstoreError) as exc:
                raise failure(self._location, exc, "read", path) from None
        self._remember(sha)
        return data

    def exists(self, sha: str) -> bool:
        """Return whether a blob is stored under ``sha`` (``False`` for a malformed key).

        :raises StoreError: if the bucket cannot be read.
        """
        if _SHA_RE.fullmatch(sha) is None:
            return False
        if sha in self._known or self._cache.contains(sha):
            return True
        path = _path(sha)
        try:
            found = self._exists_remote(path)
        except (OSError, ObstoreError) as exc:
            raise failure(self._location, exc, "read", path) from None
        if found:
            self._remember(sha)
        return found

    def size(self, sha: str) -> int:
        """Return the uncompressed size of the blob under ``sha`` (reads only its header).

        :raises ArtifactError: if there is no such blob, or its header is damaged.
        :raises StoreError: if the bucket cannot be read.
        """
        path = self._checked_path(sha)
        cached = self._cache.size(sha)
        if cached is not None:
            return cached
        try:
            header = obstore.get_range(self._store, path, start=0, length=_HEADER.size)
        except FileNotFoundError as exc:
            if "NoSuchBucket" in str(exc):
                raise failure(self._location, exc, "read", path) from None
            raise self._missing(sha) from None
        except (OSError, ObstoreError) as exc:
            raise failure(self._location, exc, "read", path) from None
        return _parse_header(bytes(header), sha, self._where(path))[1]

    def put_named(self, name: str, data: bytes) -> None:
        """Store ``data`` as the object ``<prefix>/<name>``, replacing it (one ``PUT``, which
        S3 makes visible whole or not at all).

        :raises ArtifactError: for a malformed name.
        :raises StoreError: if the bucket cannot be written.
        """
        path = check_object_name(name)
        with self._slots:
            try:
                obstore.put(self._store, path, data, mode="overwrite", use_multipart=False)
            except (OSError, ObstoreError) as exc:
                raise failure(self._location, exc, "write", path) from None

    def get_named(self, name: str) -> bytes | None:
        """Return the bytes of the object ``<prefix>/<name>``, or ``None`` if there is none.

        :raises ArtifactError: for a malformed name.
        :raises StoreError: if the bucket cannot be read.
        """
        path = check_object_name(name)
        with self._slots:
            try:
                return bytes(obstore.get(self._store, path).bytes())
            except FileNotFoundError as exc:
                if "NoSuchBucket" in str(exc):
                    raise failure(self._location, exc, "read", path) from None
                return None
            except (OSError, ObstoreError) as exc:
                raise failure(self._location, exc, "read", path) from None

    def list_named(self, prefix: str) -> list[str]:
        """Return the names of the objects below ``<prefix>/<prefix>``, sorted.

        :raises ArtifactError: for a malformed prefix.
        :raises StoreError: if the bucket cannot be listed.
        """
        folder = check_object_name(prefix.strip("/"))
        try:
            return sorted(
                str(meta["path"])
                for batch in obstore.list(self._store, prefix=folder)
                for meta in batch
            )
        except (OSError, ObstoreError) as exc:
            raise failure(self._location, exc, "list", folder) from None

    # -- helpers ---------------------------------------------------------------------------

    def _put_small(self, path: str, data: bytes) -> None:
        header, body = _encode(data)
        stored = header + body
        try:
            obstore.put(self._store, path, stored, mode="create", use_multipart=False)
        except AlreadyExistsError:
            self._check_stored(path, hashlib.sha256(data).hexdigest(), stored)

    def _put_large(self, sha: str, path: str, data: bytes) -> None:
        """A multipart upload; the read cache's copy (if it keeps one this size) is written
        by another thread meanwhile, and committed only once the upload completed."""
        upload = functools.partial(
            obstore.put,
            self._store,
            path,
            large_body(data),
            chunk_size=PART_SIZE,
            max_concurrency=_PART_CONCURRENCY,
        )
        if not self._cache.keeps(len(data)):
            upload()
            return
        with (
            self._cache.staging(sha) as (temp, file),
            ThreadPoolExecutor(1, thread_name_prefix="tideflow-s3-cache") as pool,
        ):
            written = pool.submit(file.write, data)
            upload()
            try:
                written.result()
                file.close()
            except OSError:
                return  # stored, just not cached (a full disk, say)
            self._cache.commit(temp, sha, len(data))

    def _check_stored(self, path: str, sha: str, stored: bytes) -> None:
        """Make sure the object already at ``path`` holds the blob; replace it if damaged.

        One ``HEAD`` when the object is the bytes this writer would store (its ETag is their
        MD5, as S3 gives it for a single ``PUT``); otherwise the object is read and checked.
        """
        expected = f'"{hashlib.md5(stored, usedforsecurity=False).hexdigest()}"'
        for _ in range(_REPAIR_TRIES):
            try:
                if obstore.head(self._store, path)["e_tag"] == expected:
                    return
                result = obstore.get(self._store, path)
            except FileNotFoundError:
                version: PutMode = (
                    "create"  # removed meanwhile (by a reader that found it damaged)
                )
            else:
                try:
                    self._decode(sha, result.bytes())
                except ArtifactError:
                    version = _version_of(result.meta)
                else:
                    return  # the same blob, encoded by another writer
            try:
                obstore.put(self._store, path, stored, mode=version, use_multipart=False)
            except (AlreadyExistsError, PreconditionError):
                continue  # another writer replaced it first: check what it wrote
            return
        raise ArtifactError(
            f"Blob {sha} at {self._where(path)} keeps changing while it is repaired: another "
            "process writes other bytes under its key. Check what writes to this prefix."
        )

    def _discard(
        self, sha: str, path: str, e_tag: str | None, damage: ArtifactError
    ) -> ArtifactError:
        """Remove the damaged object at ``path`` if it is still the version read (its ETag);
        return the error to raise, saying whether it was removed."""
        with self._lock:
            self._known.discard(sha)
        try:
            if e_tag is None or obstore.head(self._store, path)["e_tag"] != e_tag:
                return damage  # replaced meanwhile: leave the new version alone
            obstore.delete(self._store, path)
        except (OSError, ObstoreError):
            return damage  # gone already, or this reader may not delete: the writer repairs
        reason = str(damage).split(". Delete the ", 1)[0]
        return ArtifactError(
            f"{reason}. It was removed from the bucket, so the next run that stores this "
            "value writes it again; resume the run that made it to store it now."
        )

    def _exists_remote(self, path: str) -> bool:
        try:
            obstore.head(self._store, path)
        except FileNotFoundError:
            return False
        return True

    def _decode(self, sha: str, stored: memoryview | bytes | obstore.Bytes) -> bytes:
        path = self._where(_path(sha))
        encoding, size = _parse_header(bytes(memoryview(stored)[: _HEADER.size]), sha, path)
        body = memoryview(stored)[_HEADER.size :]
        if encoding == _ZLIB:
            try:
                data = zlib.decompress(body)
            except zlib.error as exc:
                raise corrupt(sha, path, f"zlib cannot decompress it ({exc})") from None
        else:
            data = bytes(body)
        if len(data) != size:
            raise corrupt(sha, path, f"the header says {size} bytes but it holds {len(data)}")
        if hashlib.sha256(data).hexdigest() != sha:
            raise corrupt(sha, path, "its bytes do not match their SHA-256 digest")
        return data

    def _get_start(self, path: str) -> obstore.GetResult:
        """The first part of an object: the whole of a small one (one ``GET``)."""
        try:
            return obstore.get(self._store, path, options={"range": (0, PART_SIZE)})
        except ObstoreError as exc:
            if "416" not in str(exc):
                raise
            return obstore.get(self._store, path)  # an empty object has no first byte

    def _download(self, sha: str, path: str, first: obstore.Bytes, meta: ObjectMeta) -> bytes:
        """Fetch the rest of a large blob in parallel parts into a staged cache file,
        checking it on the way; return its bytes (read back from the file, so memory holds
        the result and a few parts, never a second copy).

        A raw blob's parts are written at their offsets by the threads that fetch them, and
        only hashed here, in order; a compressed blob is decoded here, in order.
        """
        where = self._where(path)
        encoding, size = _parse_header(bytes(memoryview(first)[: _HEADER.size]), sha, where)
        if encoding == _RAW and meta["size"] != _HEADER.size + size:
            held = meta["size"] - _HEADER.size
            raise corrupt(sha, where, f"the header says {size} bytes but it holds {held}")
        decoder = StreamDecoder(sha, where)
        digest = hashlib.sha256()
        with self._cache.staging(sha) as (temp, file):
            fd = file.fileno()
            parts = read_parts(
                self._store,
                path,
                first,
                size=meta["size"],
                e_tag=meta["e_tag"],
                where=where,
                sink=(
                    (lambda start, part: write_at(fd, part, start - _HEADER.size))
                    if encoding == _RAW
                    else None
                ),
            )
            with contextlib.closing(parts):
                for chunk in parts:
                    for piece in decoder.feed(chunk):
                        digest.update(piece)
                        if encoding != _RAW:
                            file.write(piece)
                        elif chunk is first:
                            write_at(fd, piece, 0)
            decoder.finish()
            if digest.hexdigest() != sha:
                raise corrupt(sha, where, "its bytes do not match their SHA-256 digest")
            file.close()
            data = temp.read_bytes()
            if self._cache.keeps(len(data)):
                self._cache.commit(temp, sha, len(data))
        return data

    def _remember(self, sha: str) -> None:
        with self._lock:
            if len(self._known) >= _KNOWN_LIMIT:
                self._known.clear()
            self._known.add(sha)

    def _where(self, path: str) -> str:
        return self._location.where(path)

    def _checked_path(self, sha: str) -> str:
        if _SHA_RE.fullmatch(sha) is None:
            raise ArtifactError(
                f"{sha!r} is not a blob key: a key is a SHA-256 digest written as 64 "
                "lowercase hexadecimal characters."
            )
        return _path(sha)

    def _missing(self, sha: str) -> ArtifactError:
        return ArtifactError(
            f"Blob {sha} does not exist at {self._where(_path(sha))}. The bucket may have been "
            "cleaned up, or the run that wrote it used another TIDEFLOW_DATASTORE_URL."
        )


def _version_of(meta: ObjectMeta) -> UpdateVersion:
    """The precondition of a write that replaces exactly the object ``meta`` describes."""
    version: UpdateVersion = {}
    if meta["e_tag"] is not None:
        version["e_tag"] = meta["e_tag"]
    if meta["version"] is not None:
        version["version"] = meta["version"]
    return version


def _path(sha: str) -> str:
    return f"blobs/{sha[:2]}/{sha[2:]}"

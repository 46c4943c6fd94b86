"""The embedded datastore: blobs and logs in folders of a local store root."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from .._exceptions import StoreError
from .._logs._local import LocalLogStore
from ._cas import LocalBlobStore

if TYPE_CHECKING:
    from .._stores._interfaces import BlobStore, LogStore

__all__ = ("open_local", "open_local_root")


def open_local_root(root: Path) -> tuple[BlobStore, LogStore]:
    """The blob store ``<root>/blobs`` and the log store ``<root>/logs``."""
    return LocalBlobStore(root), LocalLogStore(root)


def open_local(url: str, *, root: Path) -> tuple[BlobStore, LogStore]:
    """The blobs and logs of the store folder a ``file://`` URL names.

    :raises StoreError: if the URL names no folder or one on another host.
    """
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path:
        raise StoreError(
            f"TIDEFLOW_DATASTORE_URL {url!r} must name a local folder: write "
            "file:///absolute/path/to/store"
        )
    return open_local_root(Path(unquote(parts.path)))

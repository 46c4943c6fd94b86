"""Building the stores from configuration: the one place that picks a backend.

A backend is chosen by the scheme of a URL (``TIDEFLOW_METADATA_URL``,
``TIDEFLOW_DATASTORE_URL``, or the same settings of :class:`~tideflow._config.Config`, the
Runner and the command line). Without a URL the embedded defaults are used: SQLite and
files in the store root. Backends that need an optional extra are imported only when their
scheme is asked for, and a missing extra is one line saying what to install.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, final
from urllib.parse import urlsplit

from .._closing import Closing
from .._config import find_root
from .._exceptions import StoreError

if TYPE_CHECKING:
    from .._config import Config
    from ._interfaces import BlobStore, LogStore, MetadataStore

__all__ = (
    "DATASTORE_SCHEMES",
    "METADATA_SCHEMES",
    "Stores",
    "check_config_urls",
    "check_url",
    "open_datastore",
    "open_metadata",
    "open_stores",
)


class _Backend(NamedTuple):
    """Where a backend's factory is, and the optional extra that brings its driver."""

    module: str
    factory: str
    #: The ``tideflow[...]`` extra it needs, and the module that extra installs.
    extra: str | None = None
    driver: str | None = None


#: Metadata backends by URL scheme. A factory takes ``(url, *, root)``.
METADATA_SCHEMES: dict[str, _Backend] = {
    "sqlite": _Backend("tideflow._metadata._sqlite", "open_sqlite"),
    "postgresql": _Backend("tideflow._metadata._postgres", "open_postgres", "postgres", "psycopg"),
    "postgres": _Backend("tideflow._metadata._postgres", "open_postgres", "postgres", "psycopg"),
}
#: Datastore backends (artifacts and logs) by URL scheme. A factory takes ``(url, *, root)``
#: and returns ``(blob_store, log_store)``.
DATASTORE_SCHEMES: dict[str, _Backend] = {
    "file": _Backend("tideflow._datastore._local", "open_local"),
    "s3": _Backend("tideflow._datastore._s3", "open_s3", "s3", "obstore"),
}


def _backend(url: str, schemes: dict[str, _Backend], setting: str) -> tuple[str, _Backend]:
    scheme = urlsplit(url).scheme.lower() if isinstance(url, str) else ""
    backend = schemes.get(scheme)
    if backend is None:
        known = ", ".join(f"{name}://" for name in schemes)
        raise StoreError(
            f"{setting} {url!r} has an unknown scheme {scheme + '://' if scheme else '(none)'}: "
            f"use one of {known}."
        )
    return scheme, backend


def check_url(kind: str, url: str | None, setting: str | None = None) -> None:
    """Check that a metadata or datastore URL has a known scheme, without opening it.

    :param kind: ``"metadata"`` or ``"datastore"``.
    :param setting: how the user gave the URL, for the message (default: the
        environment variable of that kind).
    :raises StoreError: naming the setting, the URL and the known schemes.
    """
    if url is None:
        return
    schemes = METADATA_SCHEMES if kind == "metadata" else DATASTORE_SCHEMES
    _backend(url, schemes, setting or f"TIDEFLOW_{kind.upper()}_URL")


def check_config_urls(config: Config) -> None:
    """Check the schemes of both URLs of ``config`` (see :func:`check_url`)."""
    check_url("metadata", config.metadata_url)
    check_url("datastore", config.datastore_url)


def _factory(url: str, schemes: dict[str, _Backend], setting: str) -> Any:
    scheme, backend = _backend(url, schemes, setting)
    try:
        module = importlib.import_module(backend.module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if backend.driver is None or not (
            missing == backend.driver or missing.startswith(backend.driver + ".")
        ):
            raise
        raise StoreError(
            f"{setting} {scheme}:// needs the optional extra '{backend.extra}': "
            f"pip install 'tideflow[{backend.extra}]'"
        ) from None
    return getattr(module, backend.factory)


def open_metadata(url: str | None, *, root: Path) -> MetadataStore:
    """Open the metadata store at ``url`` (``None``: SQLite in ``root``).

    :raises StoreError: for an unknown scheme, a missing extra, or a store that cannot be
        opened.
    """
    if url is None:
        from .._metadata._sqlite import SQLiteMetadataStore

        return SQLiteMetadataStore(root)
    store: MetadataStore = _factory(url, METADATA_SCHEMES, "TIDEFLOW_METADATA_URL")(url, root=root)
    return store


def open_datastore(url: str | None, *, root: Path) -> tuple[BlobStore, LogStore]:
    """Open the blob and log stores at ``url`` (``None``: folders of ``root``).

    :raises StoreError: for an unknown scheme, a missing extra, or a store that cannot be
        opened.
    """
    if url is None:
        from .._datastore._local import open_local_root

        return open_local_root(root)
    stores: tuple[BlobStore, LogStore] = _factory(
        url, DATASTORE_SCHEMES, "TIDEFLOW_DATASTORE_URL"
    )(url, root=root)
    return stores


@final
class Stores(Closing):
    """The metadata, blob and log stores of one configuration, built once and passed down.

    ``root`` is the local store folder: the embedded stores live there, and so does what
    every backend keeps on the machine (run locks, caches, logs being written). Close the
    bundle with :meth:`close` or use it as a context manager.
    """

    __slots__ = ("blobs", "logs", "metadata", "root")

    def __init__(
        self, *, root: Path, metadata: MetadataStore, blobs: BlobStore, logs: LogStore
    ) -> None:
        self.root = root
        self.metadata = metadata
        self.blobs = blobs
        self.logs = logs

    def __repr__(self) -> str:
        return f"<Stores metadata={self.metadata.url!r} blobs={self.blobs.url!r}>"

    def close(self) -> None:
        """Close every store. Closing twice is allowed."""
        try:
            self.metadata.close()
        finally:
            self.logs.close()


def open_stores(config: Config, *, root: Path | None = None, cwd: str | None = None) -> Stores:
    """Build the stores ``config`` selects.

    :param root: the local store folder (default: the configured or found one, see
        :func:`~tideflow._config.find_root`).
    :param cwd: where a relative store root is looked for (default: the working directory).
    :raises StoreError: for an unknown URL scheme, a missing extra, or a store that cannot
        be opened.
    """
    root = Path(root) if root is not None else find_root(config, cwd)
    metadata = open_metadata(config.metadata_url, root=root)
    try:
        blobs, logs = open_datastore(config.datastore_url, root=root)
    except BaseException:
        metadata.close()
        raise
    return Stores(root=root, metadata=metadata, blobs=blobs, logs=logs)

"""The stores a client object reads, shared by every object made from the same configuration."""

from __future__ import annotations

import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, final

from .._config import Config, find_root, load_config, locate_root, store_settings
from .._datastore._artifacts import load
from .._exceptions import NotFound
from .._metadata._liveness import is_alive
from .._stores._bundle import open_stores
from .._stores._interfaces import LogKey
from ._state import client_state
from ._views import EndedRuns

if TYPE_CHECKING:
    import os

    from .._metadata._records import RunRecord
    from .._stores._bundle import Stores
    from .._stores._interfaces import MetadataStore

__all__ = ("StoreHandle", "open_location", "resolve_root", "store_for")


def resolve_root(root: str | os.PathLike[str] | None) -> Path:
    """Return the store folder: ``root`` if given, else the configured or found one."""
    if root is None:
        return locate_root(store_settings()[0])
    return Path(root).expanduser().absolute()


def open_location(location: str | os.PathLike[str] | Config | None) -> StoreHandle:
    """Return the handle of the stores ``location`` names: a store folder, a whole
    configuration (the stores a Runner wrote to), or ``None`` for the configuration the
    environment gives.
    """
    if isinstance(location, Config):
        return store_for(find_root(location), location)
    if location is None:  # the settings read once for the root and the stores
        root, metadata_url, datastore_url = store_settings()
        return _shared(locate_root(root), metadata_url, datastore_url, None)
    return store_for(resolve_root(location))


def store_for(root: Path, config: Config | None = None) -> StoreHandle:
    """Return the handle of the stores ``config`` selects under ``root``, shared while
    someone uses it (``config`` defaults to the one the environment gives).

    Without ``config``, only the settings that choose the stores are read from the
    environment, and the whole configuration only to open stores not open yet.
    """
    if config is None:
        _, metadata_url, datastore_url = store_settings()
    else:
        metadata_url, datastore_url = config.metadata_url, config.datastore_url
    return _shared(root, metadata_url, datastore_url, config)


def _shared(
    root: Path, metadata_url: str | None, datastore_url: str | None, config: Config | None
) -> StoreHandle:
    """The handle of the stores the two URLs select under ``root``, opened with ``config``
    (default: the environment's) if no open one is shared yet."""
    key = (root, metadata_url, datastore_url)
    state = client_state()
    with state.lock:
        handle = state.stores.get(key)
        if handle is None:
            handle = StoreHandle(root, load_config() if config is None else config)
            state.stores[key] = handle
        recent = state.recent
        if not recent or recent[-1] is not handle:
            if handle in recent:
                recent.remove(handle)
            recent.append(handle)
    return handle


@final
class StoreHandle:
    """The metadata store, blob store and log store of one configuration and root.

    Connections are opened on the first query and closed when the last client object
    using the handle is gone. The handle also keeps what no longer changes of the ended
    runs it read (:class:`~._views.EndedRuns`). Reading never creates a store:
    :meth:`require` tells apart a missing object from a missing store.
    """

    __slots__ = ("__weakref__", "_exists", "ended", "heartbeat_timeout", "root", "stores")

    def __init__(self, root: Path, config: Config) -> None:
        self.root = root
        #: A running run whose lease is older than this many seconds has crashed.
        self.heartbeat_timeout = config.heartbeat_timeout
        self.stores: Stores = open_stores(config, root=root)
        #: The views of the ended runs read through this handle (see ``_views``).
        self.ended = EndedRuns()
        self._exists = False
        weakref.finalize(self, self.stores.close)

    def __repr__(self) -> str:
        return f"<StoreHandle {self.stores!r}>"

    @property
    def metadata(self) -> MetadataStore:
        """The metadata store."""
        return self.stores.metadata

    def exists(self) -> bool:
        """Return whether the metadata store holds a database."""
        if not self._exists:
            self._exists = self.stores.metadata.exists()
        return self._exists

    def require(self, what: str) -> None:
        """:raises NotFound: naming ``what`` if there is no store under the root at all."""
        if not self.exists():
            raise NotFound(
                f"{what} does not exist: there is no tideflow store at {self.root}. Runs are "
                "kept in the .tideflow folder of the directory they ran from (or its "
                "parents); set TIDEFLOW_ROOT to read another one."
            )

    def is_stale(self, record: RunRecord) -> bool:
        """Whether a running run's supervisor is gone: the store's lease (where it has one)
        or the lock file is free, or, for a run with neither, its heartbeat expired."""
        alive = self.stores.metadata.is_run_alive(record.flow, record.run_id)
        if alive is None:
            alive = is_alive(self.root, record.flow, record.run_id)
        if alive is not None:
            return not alive
        beat = record.heartbeat_at
        return beat is not None and time.time() - beat > self.heartbeat_timeout

    def load(self, sha: str, name: str) -> object:
        """Return the value of the artifact ``name`` stored under ``sha``."""
        return load(self.stores.blobs, sha, name)

    @staticmethod
    def log_key(
        flow: str, run_id: str, step: str, task_id: str, attempt: int, stream: str
    ) -> LogKey:
        """Name one stream of a task attempt's log."""
        return LogKey(
            flow=flow, run_id=run_id, step=step, task_id=task_id, attempt=attempt, stream=stream
        )

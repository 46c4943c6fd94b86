"""The stores a client object reads, shared by every object made from the same root."""

from __future__ import annotations

import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, final

from .._config import find_root, load_config
from .._datastore._artifacts import loads
from .._datastore._cas import BlobStore
from .._exceptions import NotFound
from .._logs import log_path
from .._metadata._liveness import is_alive
from .._metadata._sqlite import MetadataStore
from ._state import client_state

if TYPE_CHECKING:
    import os

    from .._metadata._records import RunRecord

__all__ = ("StoreHandle", "resolve_root", "store_for")


def resolve_root(root: str | os.PathLike[str] | None) -> Path:
    """Return the store folder: ``root`` if given, else the configured or found one."""
    if root is None:
        return find_root(load_config())
    return Path(root).expanduser().absolute()


def store_for(root: Path) -> StoreHandle:
    """Return the handle of the stores under ``root``, shared while someone uses it."""
    state = client_state()
    key = str(root)
    with state.lock:
        handle = state.stores.get(key)
        if handle is None:
            handle = state.stores[key] = StoreHandle(root)
        if not state.recent or state.recent[-1] is not handle:
            if handle in state.recent:
                state.recent.remove(handle)
            state.recent.append(handle)
    return handle


@final
class StoreHandle:
    """The metadata store, blob store and logs under one root.

    The database connection is opened on the first query and closed when the last client
    object using it is gone. Reading never creates the store: :meth:`require` tells apart
    a missing object from a missing store.
    """

    __slots__ = ("__weakref__", "_exists", "blobs", "heartbeat_timeout", "metadata", "root")

    def __init__(self, root: Path) -> None:
        self.root = root
        #: A running run whose lease is older than this many seconds has crashed.
        self.heartbeat_timeout = load_config().heartbeat_timeout
        self.metadata = MetadataStore(root)
        self.blobs = BlobStore(root)
        self._exists = False
        weakref.finalize(self, self.metadata.close)

    def __repr__(self) -> str:
        return f"<StoreHandle {str(self.root)!r}>"

    def exists(self) -> bool:
        """Return whether the root holds a metadata database."""
        if not self._exists:
            self._exists = self.metadata.path.is_file()
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
        """Whether a running run's supervisor is gone: its lock is free, or, for a run
        without a lock, its lease expired."""
        alive = is_alive(self.root, record.flow, record.run_id)
        if alive is not None:
            return not alive
        beat = record.heartbeat_at
        return beat is not None and time.time() - beat > self.heartbeat_timeout

    def load(self, sha: str, name: str) -> object:
        """Return the value of the artifact ``name`` stored under ``sha``."""
        return loads(self.blobs.get(sha), name)

    def log(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int, stream: str
    ) -> Path:
        """Return the log file of one stream of a task attempt (it may not exist)."""
        return log_path(self.root, flow, run_id, step, task_id, attempt, stream)

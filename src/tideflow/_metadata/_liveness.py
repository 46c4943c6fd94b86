"""Whether the supervisor of a running run is alive: a lock the operating system keeps.

While a run runs, its supervising process holds an exclusive ``flock`` on the run's lock
file, ``<root>/live/<run_id>-<hash of the flow name>.lock`` (:class:`RunLock`). The kernel
drops the lock when the process ends, however it ends (``SIGKILL`` included), so a reader
that can take the lock knows at once that the supervisor is gone (:func:`is_alive`), and a
supervisor that is alive is never taken for dead, however long its event loop is blocked.

The lock file appears under its name already locked (it is locked under a temporary name,
then renamed), and it is removed before the lock is released, after the run's end is
recorded: a reader never sees an unlocked lock file of a live run. Readers take a shared
lock on a read-only descriptor, so they need no write access to the store.

Where no lock is possible (no ``fcntl``, a file system that refuses locks) and for runs
started by a version of tideflow without locks, :func:`is_alive` says ``None`` and
callers fall back on the run's heartbeat (:func:`mark_crashed_runs`). A process forked
from the supervisor without ``exec`` (``multiprocessing`` with the fork method) shares the
lock while it lives.

A server-backed metadata store provides the same two operations with its own means (a
PostgreSQL session advisory lock, for example).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locks, heartbeats only
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from .._stores._interfaces import MetadataStore
    from ._records import RunRecord

__all__ = ("LIVE_DIRNAME", "RunLock", "is_alive", "lock_path", "mark_crashed_runs")

#: The folder of the store root that holds the lock files of running runs.
LIVE_DIRNAME = "live"


def lock_path(root: Path, flow: str, run_id: str) -> Path:
    """The lock file of a run: short whatever the flow name's length."""
    digest = hashlib.sha256(flow.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return Path(root) / LIVE_DIRNAME / f"{run_id}-{digest}.lock"


class RunLock:
    """The lock a supervising process holds while its run runs; see the module docstring.

    Take it with :meth:`acquire`; :meth:`release` it once the run's end is recorded.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def __repr__(self) -> str:
        state = "held" if self._fd >= 0 else "released"
        return f"<RunLock {str(self.path)!r} {state}>"

    @classmethod
    def acquire(cls, root: Path, flow: str, run_id: str) -> RunLock | None:
        """Create the run's lock file, locked; ``None`` when this store cannot lock."""
        if fcntl is None:
            return None
        path = lock_path(root, flow, run_id)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        fd = -1
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, f"{os.getpid()}\n".encode())
            os.replace(temporary, path)
        except OSError:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(OSError):
                temporary.unlink()
            return None
        return cls(path, fd)

    def release(self) -> None:
        """Remove the lock file, then let the lock go. Releasing twice is allowed."""
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        fd, self._fd = self._fd, -1
        os.close(fd)


def is_alive(root: Path, flow: str, run_id: str) -> bool | None:
    """Whether the supervisor of a running run lives: True while it holds the run's lock,
    False once it died; ``None`` when there is no lock to test (see the module docstring).

    Ask only about runs recorded as running: the lock file of a run that ended is gone.
    """
    if fcntl is None:
        return None
    try:
        fd = os.open(lock_path(root, flow, run_id), os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)
    return False


def _forget(root: Path, run: RunRecord) -> None:
    """Remove the lock file of a run whose supervisor died (best effort)."""
    with contextlib.suppress(OSError):
        lock_path(root, run.flow, run.run_id).unlink()


def mark_crashed_runs(
    store: MetadataStore, root: Path, heartbeat_timeout: float, flow: str | None = None
) -> list[RunRecord]:
    """Record as ``crashed`` the running runs (of ``flow``, or of every flow) whose
    supervisor is gone, and their running attempts; return those runs.

    A run whose lock can be tested is judged by its lock alone; any other by its lease: a
    heartbeat older than ``heartbeat_timeout`` seconds. ``root`` is the store folder that
    holds the lock files.
    """
    now = time.time()

    def dead(run: RunRecord) -> bool:
        # A store with server-side leases judges leased runs itself; this is for the rest.
        alive = is_alive(root, run.flow, run.run_id)
        if alive is not None:
            return not alive
        beat = run.heartbeat_at
        return beat is not None and now - beat > heartbeat_timeout

    marked = store.mark_runs_crashed(flow, dead)
    for run in marked:
        _forget(root, run)
    return marked

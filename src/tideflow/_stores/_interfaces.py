"""The three store interfaces: metadata, blobs and logs.

Everything above the stores (the run actor, the scheduler, resume, the client, the CLI and
the task processes) talks to these Protocols, never to a concrete backend; one
:class:`~tideflow._stores._bundle.Stores` bundle, built from configuration by
:func:`~tideflow._stores._bundle.open_stores`, hands them down. A backend is one class
per Protocol; every backend passes the same conformance suite (``tests/stores``).

The stores are synchronous and thread-safe. Async code calls them through
``anyio.to_thread.run_sync``, so a backend whose client library is asyncio-only works
under trio too. A store never blocks forever: a backend that talks to a server bounds
every call with a timeout and raises :exc:`~tideflow.exception.StoreError` when the server
cannot be reached.

=============  ==============================================  =========================
interface      embedded default                                 URL setting
=============  ==============================================  =========================
MetadataStore  SQLite in ``<root>/metadata.db``                 ``TIDEFLOW_METADATA_URL``
BlobStore      content-addressed files in ``<root>/blobs``     ``TIDEFLOW_DATASTORE_URL``
LogStore       append-only files in ``<root>/logs``            ``TIDEFLOW_DATASTORE_URL``
=============  ==============================================  =========================
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

import msgspec

from .._exceptions import ArtifactError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from datetime import datetime

    from .._metadata._records import (
        ArtifactRecord,
        AttemptRecord,
        ExceptionInfo,
        MetadataRecord,
        RunRecord,
        RunView,
        StepRecord,
        TaskRecord,
        TaskSnapshot,
        TaskView,
    )
    from .._metadata._writes import Write

__all__ = (
    "BlobStore",
    "LogKey",
    "LogLine",
    "LogStore",
    "LogWriter",
    "MetadataStore",
    "check_object_name",
)


class MetadataStore(Protocol):
    """Runs, steps, tasks, attempts, tags, the artifact index and metadata events.

    Run ids are decimal strings allocated by the store: they never collide, even between
    processes and machines that start runs at the same instant, and a later run of a flow
    has a larger id. Every write is one transaction: readers see all of it or none of it.
    Lookups of objects that do not exist raise :exc:`~tideflow.exception.NotFound`.
    """

    @property
    def url(self) -> str:
        """Where the store is, for messages: ``sqlite:///...``, ``postgresql://...``.

        Never holds a password.
        """
        ...

    def close(self) -> None:
        """Release connections; closing twice is allowed, any other later use is not."""
        ...

    def exists(self) -> bool:
        """Whether the store holds a database at all (reading never creates one)."""
        ...

    # -- runs ----------------------------------------------------------------------------

    def create_run(
        self,
        flow: str,
        *,
        user: str,
        system_tags: Iterable[str],
        user_tags: Iterable[str] = (),
        origin_run_id: str | None = None,
        now: float | None = None,
    ) -> RunRecord:
        """Start a new run of ``flow`` in state ``running`` and return it."""
        ...

    def heartbeat(self, flow: str, run_id: str, now: float | None = None) -> None:
        """Renew the lease of a run: its supervisor is alive."""
        ...

    def finish_run(
        self, flow: str, run_id: str, status: str, finished_at: float | None = None
    ) -> bool:
        """Record the final ``status`` of a run and give its attempts still running a final
        state (``crashed`` for a crashed run, else ``cancelled``); a run that already has a
        final state keeps it, and the answer is then False."""
        ...

    def get_run(self, flow: str, run_id: str) -> RunRecord:
        """Return a run."""
        ...

    def list_runs(
        self, flow: str, tags: Iterable[str] = (), limit: int | None = None
    ) -> list[RunRecord]:
        """Return the runs of ``flow``, newest first, that carry every tag in ``tags``."""
        ...

    def has_runs(self, flow: str, tags: Iterable[str] = ()) -> bool:
        """Return whether ``flow`` has a run with every tag in ``tags`` (a namespace
        check). Indexed: it does not grow with the number of runs."""
        ...

    def latest_run(
        self, flow: str, tags: Iterable[str] = (), *, successful: bool = False
    ) -> RunRecord | None:
        """Return the newest run of ``flow`` with every tag in ``tags`` (and ``succeeded``
        if ``successful``), or ``None``. One indexed lookup, however many runs there are.
        """
        ...

    def list_flows(self) -> list[str]:
        """Return the names of every flow that has started a run, sorted."""
        ...

    def flow_exists(self, flow: str) -> bool:
        """Return whether ``flow`` has ever started a run."""
        ...

    def flow_created_at(self, flow: str) -> float | None:
        """Return when ``flow`` started its first run, or ``None`` if it never ran."""
        ...

    def mark_stale_runs(
        self, flow: str | None = None, *, older_than: float, now: float | None = None
    ) -> list[RunRecord]:
        """Mark ``crashed`` every running run whose lease is older than ``older_than``
        seconds (and its running attempts); return the runs marked.
        """
        ...

    def mark_runs_crashed(
        self, flow: str | None, dead: Callable[[RunRecord], bool]
    ) -> list[RunRecord]:
        """Mark ``crashed`` every running run (of ``flow``, or of every flow) for which
        ``dead(run)`` is true, and its running attempts, unless it ended meanwhile; return
        the runs marked (see :mod:`tideflow._metadata._liveness`)."""
        ...

    # -- liveness ------------------------------------------------------------------------

    def hold_run_lease(self, flow: str, run_id: str) -> bool:
        """Hold a lease on the run that the store's server lets go of when this process
        dies (PostgreSQL: a session advisory lock); return whether one is held now.

        A store without such leases returns ``False``: the supervisor's lock file in the
        store root (:mod:`tideflow._metadata._liveness`) and the heartbeat tell instead.
        """
        ...

    def release_run_lease(self, flow: str, run_id: str) -> None:
        """Let go of a lease :meth:`hold_run_lease` took (nothing happens otherwise)."""
        ...

    def is_run_alive(self, flow: str, run_id: str) -> bool | None:
        """Whether the supervisor of a running run holds its lease; ``None`` when the
        store cannot tell (no lease was taken, or the store has none)."""
        ...

    # -- tags ----------------------------------------------------------------------------

    def add_tags(self, flow: str, run_id: str, tags: Iterable[str]) -> RunRecord:
        """Add user tags to a run and return the run."""
        ...

    def remove_tags(self, flow: str, run_id: str, tags: Iterable[str]) -> RunRecord:
        """Remove user tags from a run and return the run."""
        ...

    def replace_tags(
        self, flow: str, run_id: str, remove: Iterable[str], add: Iterable[str]
    ) -> RunRecord:
        """Remove the user tags ``remove``, then add ``add``, in one transaction."""
        ...

    # -- steps and tasks -----------------------------------------------------------------

    def add_step(self, record: StepRecord) -> None:
        """Record a step of a run; recording it again changes nothing."""
        ...

    def add_task(self, record: TaskRecord) -> None:
        """Record a new task, and its step if that is not recorded yet."""
        ...

    def list_steps(self, flow: str, run_id: str) -> list[StepRecord]:
        """Return the steps of a run, newest first."""
        ...

    def list_tasks(self, flow: str, run_id: str, step: str) -> list[TaskRecord]:
        """Return the tasks of a step, newest first."""
        ...

    def get_task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord:
        """Return a task."""
        ...

    def child_tasks(self, flow: str, run_id: str, pathspec: str) -> list[TaskRecord]:
        """Return the tasks of a run that name the task ``pathspec`` as a parent."""
        ...

    # -- attempts ------------------------------------------------------------------------

    def start_attempt(self, record: AttemptRecord) -> None:
        """Record a new attempt of a task."""
        ...

    def finish_attempt(
        self,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        attempt: int,
        *,
        state: str,
        finished_at: float | None = None,
        exit_code: int | None = None,
        signal: int | None = None,
        exception: ExceptionInfo | None = None,
    ) -> None:
        """Record how an attempt ended."""
        ...

    def list_attempts(
        self, flow: str, run_id: str, step: str, task_id: str
    ) -> list[AttemptRecord]:
        """Return the attempts of a task, first attempt first."""
        ...

    def latest_attempt(
        self, flow: str, run_id: str, step: str, task_id: str
    ) -> AttemptRecord | None:
        """Return the last attempt of a task, or ``None`` if it has not started one."""
        ...

    def latest_attempts(self, flow: str, run_id: str, step: str) -> list[AttemptRecord]:
        """Return the last attempt of every task of a step that has started one."""
        ...

    def newest_task(self, flow: str, run_id: str, step: str) -> TaskView | None:
        """Return the newest task of a step with its latest attempt and that attempt's
        artifacts, in one query (what ``run.data`` reads), or ``None`` if the step has no
        task or does not exist."""
        ...

    def get_run_view(self, flow: str, run_id: str, step: str) -> RunView:
        """Return a run and the newest task of its step ``step`` (as :meth:`newest_task`),
        in one query (what ``Run(pathspec).data`` reads).

        :raises NotFound: if the run does not exist."""
        ...

    def get_run_views(self, flow: str, run_ids: Sequence[str], step: str) -> list[RunView]:
        """Return the runs ``run_ids`` of ``flow`` with the newest task of their step
        ``step`` (each as :meth:`get_run_view`), in the order asked, in one query per few
        hundred runs (what ``run.data`` reads for the runs of a listing). Ids that name no
        run are left out, and so is an id asked for again."""
        ...

    def record_task_end(
        self,
        *,
        flow: str,
        run_id: str,
        step: str,
        task_id: str,
        attempt: int,
        state: str,
        finished_at: float | None = None,
        exit_code: int | None = None,
        signal: int | None = None,
        exception: ExceptionInfo | None = None,
        artifacts: Iterable[ArtifactRecord] = (),
        metadata: Iterable[MetadataRecord] = (),
        pid: int | None = None,
    ) -> None:
        """Finish an attempt and record its artifacts and metadata, in one transaction."""
        ...

    def list_task_snapshots(self, flow: str, run_id: str) -> list[TaskSnapshot]:
        """Return every task of a run that has an attempt, with its latest attempt and that
        attempt's artifacts and metadata (a whole run at once, for a resume)."""
        ...

    def clone_tasks(self, clones: Iterable[TaskSnapshot]) -> None:
        """Record finished tasks copied from another run (a resume), in one transaction:
        each task and its step, its one final attempt, its artifacts and metadata."""
        ...

    def write_batch(self, writes: Sequence[Write]) -> None:
        """Apply ``writes`` (:mod:`tideflow._metadata._writes`) in order, in one transaction.

        Each write does what the method of the same name does and checks what it checks;
        when one fails, nothing of the batch is recorded. The recorder of a run writes
        through this method only, many events per commit.
        """
        ...

    # -- artifacts and metadata ----------------------------------------------------------

    def add_artifacts(self, records: Iterable[ArtifactRecord]) -> None:
        """Record artifacts, in one transaction."""
        ...

    def list_artifacts(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int
    ) -> list[ArtifactRecord]:
        """Return the artifacts an attempt stored, by name."""
        ...

    def add_metadata(self, records: Iterable[MetadataRecord]) -> None:
        """Record metadata events, in one transaction."""
        ...

    def list_metadata(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int | None = None
    ) -> list[MetadataRecord]:
        """Return the metadata events of a task (of one attempt if ``attempt`` is given)."""
        ...


class BlobStore(Protocol):
    """Content-addressed blobs: the key of a blob is the SHA-256 hex digest of its bytes.

    Writes are atomic (a reader sees no blob or a whole one) and idempotent. A stored blob
    is checked against its key when read: a damaged one raises
    :exc:`~tideflow.exception.ArtifactError` naming the key and where it is stored.
    """

    @property
    def url(self) -> str:
        """Where the blobs are: ``file:///...``, ``s3://bucket/prefix``."""
        ...

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its key."""
        ...

    def put_many(self, blobs: Iterable[bytes]) -> list[str]:
        """Store every blob; return their keys in the same order."""
        ...

    def get(self, sha: str) -> bytes:
        """Return the bytes stored under ``sha``."""
        ...

    def exists(self, sha: str) -> bool:
        """Return whether a blob is stored under ``sha``."""
        ...

    def size(self, sha: str) -> int:
        """Return the size in bytes of the blob stored under ``sha``."""
        ...

    # -- named objects: small files kept next to the blobs (cards) ------------------------

    def put_named(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name`` (``cards/Flow/run/step/task/00-default.html``),
        replacing what was there, atomically: a reader sees the old bytes or the new ones.

        :raises ArtifactError: for a malformed name (see :func:`check_object_name`).
        """
        ...

    def get_named(self, name: str) -> bytes | None:
        """Return the bytes stored under ``name``, or ``None`` if there are none."""
        ...

    def list_named(self, prefix: str) -> list[str]:
        """Return the names stored below the folder ``prefix`` (``cards/Flow/run``), sorted;
        names in sub-folders too."""
        ...


#: One path segment of an object name: letters, digits, ``_``, ``-`` and ``.``.
_SEGMENT = re.compile(r"[\w.-]+")
#: Folders of the store that hold content-addressed data, never named objects.
_RESERVED = frozenset({"blobs", "cache", "logs"})


def check_object_name(name: str) -> str:
    """Return ``name`` if it can name an object of :meth:`BlobStore.put_named`: segments of
    letters, digits, ``_``, ``-`` and ``.`` joined with ``/``, no ``.`` or ``..`` segment, and
    not inside the store's own ``blobs``, ``cache`` or ``logs`` folders.

    :raises ArtifactError: naming the problem.
    """
    parts = name.split("/") if isinstance(name, str) else []
    if (
        not parts
        or any(p in ("", ".", "..") or _SEGMENT.fullmatch(p) is None for p in parts)
        or parts[0] in _RESERVED
    ):
        raise ArtifactError(
            f"{name!r} is not an object name: use segments of letters, digits, '_', '-' and "
            "'.' joined with '/', outside the blobs, cache and logs folders."
        )
    return name


class LogKey(msgspec.Struct, frozen=True, kw_only=True):
    """Names one log: one stream of one task attempt."""

    flow: str
    run_id: str
    step: str
    task_id: str
    attempt: int
    stream: str

    @property
    def pathspec(self) -> str:
        """``Flow/run_id/step/task_id`` of the task."""
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"


class LogLine(msgspec.Struct, frozen=True, kw_only=True):
    """A line of a log and the position just after it (where the next read starts)."""

    position: int
    text: bytes


class LogWriter(Protocol):
    """Appends timestamped lines to one log; what it wrote is readable at once."""

    def write_lines(self, lines: Iterable[tuple[float, bytes]]) -> None:
        """Append ``(timestamp, text)`` lines and flush them."""
        ...

    def close(self) -> None:
        """Finish the log (a remote backend uploads it now). Closing twice is allowed."""
        ...


class LogStore(Protocol):
    """Task logs: per attempt and stream, every line with its UTC timestamp.

    A log is readable while it is written; positions are byte offsets just after a line,
    so a reader can stop anywhere and resume with :meth:`read_from`.
    """

    def open_writer(self, key: LogKey) -> LogWriter:
        """Return a writer that appends to the log ``key`` (created on the first write)."""
        ...

    def read_log(self, key: LogKey) -> list[tuple[datetime, bytes]]:
        """Return every complete line as ``(timestamp, text)``; ``[]`` if there is none."""
        ...

    def read_text(self, key: LogKey) -> str:
        """Return the text of the log, lines joined with ``\\n`` and a final ``\\n``."""
        ...

    def log_size(self, key: LogKey) -> int:
        """Return the size in bytes of the log's text; ``0`` if there is none."""
        ...

    def read_from(self, key: LogKey, position: int = 0) -> list[LogLine]:
        """Return the complete lines after byte ``position``, each with its position."""
        ...

    def copy(self, source: LogKey, target: LogKey) -> None:
        """Make ``target`` a copy of ``source`` (resume clones logs); no log, no copy."""
        ...

    def close(self) -> None:
        """Release what the store holds (connections, caches)."""
        ...

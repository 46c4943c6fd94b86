"""The metadata store on an embedded SQLite database: ``<root>/metadata.db``.

:class:`MetadataStore` is synchronous and thread-safe: one connection, guarded by a lock,
used by the async scheduler through ``anyio.to_thread.run_sync`` and by the client
directly. Many processes may use one database at once: every write is a short
``BEGIN IMMEDIATE`` transaction, readers never wait for writers (write-ahead log), and
writers wait up to 30 seconds for each other.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self, final
from urllib.parse import unquote, urlsplit

from .._exceptions import NotFound, StoreError
from ._connection import Database
from ._lookups import child_tasks, latest_attempts, latest_tagged_run
from ._records import ATTEMPT_STATES, RUN_STATUSES, RunRecord, StepRecord
from ._rows import (
    ARTIFACT_COLUMNS,
    ATTEMPT_COLUMNS,
    METADATA_COLUMNS,
    RUN_COLUMNS,
    TASK_COLUMNS,
    artifact_record,
    attempt_record,
    attempt_row,
    check_state,
    duplicate,
    exception_columns,
    insert_artifacts,
    insert_metadata,
    metadata_record,
    require_run,
    require_task,
    run_not_found,
    run_number,
    run_record,
    task_record,
    task_row,
)
from ._sqlite_batch import apply_writes
from ._tags import check_tags, edit_user_tags
from ._writes import check_writes

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from types import TracebackType

    from ._records import (
        ArtifactRecord,
        AttemptRecord,
        ExceptionInfo,
        MetadataRecord,
        TaskRecord,
    )
    from ._writes import Write

__all__ = ("SQLiteMetadataStore", "open_sqlite")


@final
class SQLiteMetadataStore:
    """Runs, steps, tasks, attempts, tags, artifacts and metadata in ``<root>/metadata.db``.

    The database (and ``root``) is created on the first write; reading a store that does
    not exist finds nothing and creates nothing, and a database that cannot be written is
    read all the same. Close the store with
    :meth:`close`, or use it as a context manager.

    :param root: the store folder (the ``.tideflow`` folder).
    """

    def __init__(self, root: Path, *, path: Path | None = None) -> None:
        self._db = Database(Path(path) if path is not None else Path(root) / "metadata.db")
        self._read = self._db.read
        self._write = self._db.write

    def __repr__(self) -> str:
        return f"SQLiteMetadataStore({str(self._db.path.parent)!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._db.path

    @property
    def url(self) -> str:
        """``sqlite:///<absolute path of the database file>``."""
        return f"sqlite://{self._db.path.absolute().as_posix()}"

    def exists(self) -> bool:
        """Whether the database file exists (reading never creates it)."""
        return self._db.path.is_file()

    def close(self) -> None:
        """Close the database connection.

        Closing twice is allowed; any other use of a closed store raises
        :exc:`RuntimeError`. A store that is never closed emits a :exc:`ResourceWarning`.
        """
        self._db.close()

    # -- runs ------------------------------------------------------------------------------

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
        """Start a new run of ``flow`` in state ``running`` and return it.

        The run id is the time in microseconds since the epoch, or one more than the
        flow's largest run id when that is not larger: ids never collide, even between
        processes that start runs at the same instant, and a later run has a larger id.

        :raises TagError: if a tag breaks the tag rules.
        """
        system = check_tags(system_tags)
        user_only = tuple(tag for tag in check_tags(user_tags) if tag not in system)
        edit_user_tags(f"A new run of '{flow}'", frozenset(system), frozenset(), add=user_only)
        now = time.time() if now is None else now
        candidate = round(now * 1_000_000)
        pid = os.getpid()
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO flows VALUES (?, ?)", (flow, now))
            (top,) = conn.execute(
                "SELECT max(run_id) FROM runs WHERE flow = ?", (flow,)
            ).fetchone()
            number = candidate if top is None or candidate > top else top + 1
            conn.execute(
                "INSERT INTO runs VALUES (?, ?, ?, 'running', ?, NULL, ?, ?, ?)",
                (flow, number, user, now, origin_run_id, now, pid),
            )
            conn.executemany(
                "INSERT INTO run_tags VALUES (?, ?, ?, ?)",
                [(flow, number, tag, 1) for tag in system]
                + [(flow, number, tag, 0) for tag in user_only],
            )
        return RunRecord(
            flow=flow,
            run_id=str(number),
            user=user,
            status="running",
            created_at=now,
            origin_run_id=origin_run_id,
            system_tags=tuple(sorted(system)),
            user_tags=tuple(sorted(user_only)),
            heartbeat_at=now,
            pid=pid,
        )

    def heartbeat(self, flow: str, run_id: str, now: float | None = None) -> None:
        """Renew the lease of a run: its supervisor is alive.

        :raises NotFound: if the run does not exist.
        """
        now = time.time() if now is None else now
        number = run_number(flow, run_id)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE runs SET heartbeat_at = ? WHERE flow = ? AND run_id = ?",
                (now, flow, number),
            )
            if cursor.rowcount == 0:
                raise run_not_found(flow, run_id)

    def finish_run(
        self, flow: str, run_id: str, status: str, finished_at: float | None = None
    ) -> bool:
        """Record the final ``status`` of a run, and give its attempts still ``running`` a
        final state too (``crashed`` for a crashed run, else ``cancelled``).

        A run that already has a final state keeps it (a run recorded as crashed never
        becomes succeeded): then nothing changes and the answer is False.

        :raises ValueError: if ``status`` is not a final run status.
        :raises NotFound: if the run does not exist.
        """
        check_state(status, RUN_STATUSES, "run status")
        finished_at = time.time() if finished_at is None else finished_at
        number = run_number(flow, run_id)
        attempt_state = "crashed" if status == "crashed" else "cancelled"
        with self._write() as conn:
            row = conn.execute(
                "SELECT status FROM runs WHERE flow = ? AND run_id = ?", (flow, number)
            ).fetchone()
            if row is None:
                raise run_not_found(flow, run_id)
            if row[0] != "running":
                return False
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE flow = ? AND run_id = ?",
                (status, finished_at, flow, number),
            )
            conn.execute(
                "UPDATE attempts SET state = ?, finished_at = max(started_at, ?) "
                "WHERE flow = ? AND run_id = ? AND state = 'running'",
                (attempt_state, finished_at, flow, number),
            )
        return True

    def get_run(self, flow: str, run_id: str) -> RunRecord:
        """Return a run.

        :raises NotFound: if the run does not exist.
        """
        number = run_number(flow, run_id)
        with self._read() as conn:
            return self._fetch_run(conn, flow, number)

    def list_runs(
        self, flow: str, tags: Iterable[str] = (), limit: int | None = None
    ) -> list[RunRecord]:
        """Return the runs of ``flow``, newest first, that carry every tag in ``tags``.

        A tag matches a user tag or a system tag. An unknown flow has no runs.

        :raises TagError: if ``tags`` is a single string or holds an invalid tag.
        """
        wanted = check_tags(tags)
        sql = f"SELECT {RUN_COLUMNS} FROM runs AS r WHERE r.flow = ?"
        params: list[object] = [flow]
        if wanted:
            # One run_tags_by_tag lookup per tag; the runs in every answer are kept.
            one_tag = "SELECT run_id FROM run_tags WHERE flow = ? AND tag = ?"
            sql += f" AND r.run_id IN ({' INTERSECT '.join([one_tag] * len(wanted))})"
            params += [value for tag in wanted for value in (flow, tag)]
        sql += " ORDER BY r.run_id DESC LIMIT ?"
        params.append(-1 if limit is None else limit)
        with self._read() as conn:
            return [run_record(row) for row in conn.execute(sql, params)]

    def latest_run(
        self, flow: str, tags: Iterable[str] = (), *, successful: bool = False
    ) -> RunRecord | None:
        """Return the newest run of ``flow`` that carries every tag in ``tags`` (and
        succeeded, if ``successful``), or ``None``.

        :raises TagError: if a tag is not a valid tag.
        """
        if tags:
            return latest_tagged_run(self._read, flow, tags, successful=successful)
        if successful:
            # max() over runs_by_status is one index lookup; ORDER BY ... LIMIT 1 would let
            # the planner walk the primary key instead, across every failed run.
            sql = (
                f"SELECT {RUN_COLUMNS} FROM runs AS r WHERE r.flow = ? AND r.run_id = "
                "(SELECT max(run_id) FROM runs WHERE flow = ? AND status = 'succeeded')"
            )
            params: tuple[object, ...] = (flow, flow)
        else:
            sql = (
                f"SELECT {RUN_COLUMNS} FROM runs AS r WHERE r.flow = ? "
                "ORDER BY r.run_id DESC LIMIT 1"
            )
            params = (flow,)
        with self._read() as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else run_record(row)

    def list_flows(self) -> list[str]:
        """Return the names of every flow that has started a run, sorted."""
        with self._read() as conn:
            return [flow for (flow,) in conn.execute("SELECT flow FROM flows ORDER BY flow")]

    def flow_created_at(self, flow: str) -> float | None:
        """Return when ``flow`` started its first run, or ``None`` if it never ran."""
        with self._read() as conn:
            row = conn.execute("SELECT created_at FROM flows WHERE flow = ?", (flow,)).fetchone()
        return None if row is None else float(row[0])

    def flow_exists(self, flow: str) -> bool:
        """Return whether ``flow`` has ever started a run."""
        with self._read() as conn:
            row = conn.execute("SELECT 1 FROM flows WHERE flow = ?", (flow,)).fetchone()
        return row is not None

    def mark_stale_runs(
        self, flow: str | None = None, *, older_than: float, now: float | None = None
    ) -> list[RunRecord]:
        """Mark as ``crashed`` every running run whose supervisor stopped renewing its lease.

        A run is stale when its last heartbeat is older than ``now - older_than`` seconds.
        Its ``running`` attempts become ``crashed`` too. The time of the last heartbeat is
        recorded as the time they finished (for an attempt started later: its start).

        A store that does not exist, or cannot be written (read-only media), is left as
        it is: nothing is marked, and readers tell a stale run by its old heartbeat.

        :param flow: only look at the runs of this flow (default: every flow).
        :return: the runs marked, as they are now.
        """
        if not self._db.writable():
            return []
        now = time.time() if now is None else now
        sql = (
            "SELECT flow, run_id, heartbeat_at FROM runs "
            "WHERE status = 'running' AND heartbeat_at < ?"
        )
        params: tuple[object, ...] = (now - older_than,)
        if flow is not None:
            sql += " AND flow = ?"
            params += (flow,)
        with self._write() as conn:
            stale = conn.execute(sql, params).fetchall()
            updates = [(beat, name, number) for name, number, beat in stale]
            conn.executemany(
                "UPDATE runs SET status = 'crashed', finished_at = ? "
                "WHERE flow = ? AND run_id = ?",
                updates,
            )
            conn.executemany(
                "UPDATE attempts SET state = 'crashed', finished_at = max(started_at, ?) "
                "WHERE flow = ? AND run_id = ? AND state = 'running'",
                updates,
            )
            return [self._fetch_run(conn, name, number) for name, number, _ in stale]

    def hold_run_lease(self, flow: str, run_id: str) -> bool:
        """SQLite has no server to hold a lease: the supervisor's lock file does that job
        (see :mod:`tideflow._metadata._liveness`). Returns ``False``."""
        return False

    def release_run_lease(self, flow: str, run_id: str) -> None:
        """Nothing to release (see :meth:`hold_run_lease`)."""

    def is_run_alive(self, flow: str, run_id: str) -> bool | None:
        """``None``: the lock file in the store root tells (see :meth:`hold_run_lease`)."""
        return None

    def mark_runs_crashed(
        self, flow: str | None, dead: Callable[[RunRecord], bool]
    ) -> list[RunRecord]:
        """Mark as ``crashed`` every running run (of ``flow``, or of every flow) for which
        ``dead(run)`` says its supervisor is gone, with its ``running`` attempts.

        ``dead`` is asked outside any transaction; a run that ends meanwhile keeps the
        state its supervisor recorded. The time of the last heartbeat is recorded as the
        time they finished (for an attempt started later: its start).

        :return: the runs marked, as they are now.
        """
        sql = f"SELECT {RUN_COLUMNS} FROM runs AS r WHERE r.status = 'running'"
        params: tuple[object, ...] = ()
        if flow is not None:
            sql += " AND r.flow = ?"
            params = (flow,)
        with self._read() as conn:
            running = [run_record(row) for row in conn.execute(sql, params)]
        gone = [run for run in running if dead(run)]
        if not gone:
            return []
        marked = []
        with self._write() as conn:
            for run in gone:
                number = run_number(run.flow, run.run_id)
                beat = run.heartbeat_at if run.heartbeat_at is not None else time.time()
                cursor = conn.execute(
                    "UPDATE runs SET status = 'crashed', finished_at = ? "
                    "WHERE flow = ? AND run_id = ? AND status = 'running'",
                    (beat, run.flow, number),
                )
                if cursor.rowcount:
                    conn.execute(
                        "UPDATE attempts SET state = 'crashed', finished_at = max(started_at, ?) "
                        "WHERE flow = ? AND run_id = ? AND state = 'running'",
                        (beat, run.flow, number),
                    )
                    marked.append(self._fetch_run(conn, run.flow, number))
        return marked

    # -- tags ------------------------------------------------------------------------------

    def add_tags(self, flow: str, run_id: str, tags: Iterable[str]) -> RunRecord:
        """Add user tags to a run and return the run. Adding a system tag changes nothing.

        :raises TagError: if a tag breaks the tag rules, or the run would have too many.
        :raises NotFound: if the run does not exist.
        """
        return self.replace_tags(flow, run_id, (), tags)

    def remove_tags(self, flow: str, run_id: str, tags: Iterable[str]) -> RunRecord:
        """Remove user tags from a run and return the run. Missing tags are ignored.

        :raises TagError: if a tag is a system tag of the run, or is not a valid tag.
        :raises NotFound: if the run does not exist.
        """
        return self.replace_tags(flow, run_id, tags, ())

    def replace_tags(
        self, flow: str, run_id: str, remove: Iterable[str], add: Iterable[str]
    ) -> RunRecord:
        """Remove the user tags ``remove``, then add ``add``, in one transaction.

        Either every change is made or none is. Returns the run with its new tags.

        :raises TagError: if a tag breaks the tag rules (see :meth:`add_tags` and
            :meth:`remove_tags`); nothing is changed then.
        :raises NotFound: if the run does not exist.
        """
        removed, added = check_tags(remove), check_tags(add)
        number = run_number(flow, run_id)
        with self._write() as conn:
            rows = conn.execute(
                "SELECT tag, system FROM run_tags WHERE flow = ? AND run_id = ?", (flow, number)
            ).fetchall()
            if not rows:
                require_run(conn, flow, number)
            system = frozenset(tag for tag, is_system in rows if is_system)
            user = frozenset(tag for tag, is_system in rows if not is_system)
            result = edit_user_tags(
                f"Run '{flow}/{run_id}'", system, user, remove=removed, add=added
            )
            conn.executemany(
                "DELETE FROM run_tags WHERE flow = ? AND run_id = ? AND tag = ? AND system = 0",
                [(flow, number, tag) for tag in user - result],
            )
            conn.executemany(
                "INSERT INTO run_tags VALUES (?, ?, ?, 0)",
                [(flow, number, tag) for tag in sorted(result - user)],
            )
            return self._fetch_run(conn, flow, number)

    # -- steps and tasks -------------------------------------------------------------------

    def add_step(self, record: StepRecord) -> None:
        """Record a step of a run; recording it again changes nothing.

        :raises NotFound: if the run does not exist.
        """
        number = run_number(record.flow, record.run_id)
        with self._write() as conn:
            require_run(conn, record.flow, number)
            conn.execute(
                "INSERT OR IGNORE INTO steps VALUES (?, ?, ?, ?)",
                (record.flow, number, record.step, record.created_at),
            )

    def add_task(self, record: TaskRecord) -> None:
        """Record a new task, and its step if that is not recorded yet.

        :raises NotFound: if the run does not exist.
        :raises TideflowInternalError: if the task is already recorded.
        """
        number = run_number(record.flow, record.run_id)
        with self._write() as conn:
            require_run(conn, record.flow, number)
            conn.execute(
                "INSERT OR IGNORE INTO steps VALUES (?, ?, ?, ?)",
                (record.flow, number, record.step, record.created_at),
            )
            try:
                conn.execute(
                    f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    task_row(record, number),
                )
            except sqlite3.IntegrityError as exc:
                raise duplicate(f"Task '{record.pathspec}'") from exc

    def list_steps(self, flow: str, run_id: str) -> list[StepRecord]:
        """Return the steps of a run, newest first.

        :raises NotFound: if the run does not exist.
        """
        number = run_number(flow, run_id)
        with self._read() as conn:
            rows = conn.execute(
                "SELECT created_at, step FROM steps WHERE flow = ? AND run_id = ? "
                "ORDER BY created_at DESC, rowid DESC",
                (flow, number),
            ).fetchall()
            if not rows:
                require_run(conn, flow, number)
        return [
            StepRecord(flow=flow, run_id=run_id, step=step, created_at=created)
            for created, step in rows
        ]

    def list_tasks(self, flow: str, run_id: str, step: str) -> list[TaskRecord]:
        """Return the tasks of a step, newest first.

        :raises NotFound: if the step does not exist.
        """
        number = run_number(flow, run_id, step)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ? AND step = ? "
                "ORDER BY created_at DESC, rowid DESC",
                (flow, number, step),
            ).fetchall()
            if (
                not rows
                and conn.execute(
                    "SELECT 1 FROM steps WHERE flow = ? AND run_id = ? AND step = ?",
                    (flow, number, step),
                ).fetchone()
                is None
            ):
                raise NotFound(f"Step '{flow}/{run_id}/{step}' does not exist")
        return [task_record(row) for row in rows]

    def get_task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord:
        """Return a task.

        :raises NotFound: if the task does not exist.
        """
        number = run_number(flow, run_id, step, task_id)
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {TASK_COLUMNS} FROM tasks "
                "WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?",
                (flow, number, step, task_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"Task '{flow}/{run_id}/{step}/{task_id}' does not exist")
        return task_record(row)

    def child_tasks(self, flow: str, run_id: str, pathspec: str) -> list[TaskRecord]:
        """Return the tasks of a run that name the task ``pathspec`` as a parent, newest
        first (none for an unknown run).
        """
        return child_tasks(self._read, flow, run_id, pathspec)

    # -- attempts --------------------------------------------------------------------------

    def start_attempt(self, record: AttemptRecord) -> None:
        """Record a new attempt of a task.

        :raises NotFound: if the task does not exist.
        :raises TideflowInternalError: if the attempt is already recorded.
        """
        number = run_number(record.flow, record.run_id, record.step, record.task_id)
        check_state(record.state, ATTEMPT_STATES, "attempt state", final=False)
        with self._write() as conn:
            require_task(conn, record.flow, number, record.step, record.task_id)
            try:
                conn.execute(
                    f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                    attempt_row(record, number),
                )
            except sqlite3.IntegrityError as exc:
                raise duplicate(f"Attempt {record.attempt} of task '{record.pathspec}'") from exc

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
        """Record how an attempt ended.

        :raises ValueError: if ``state`` is not a final attempt state.
        :raises NotFound: if the attempt does not exist.
        """
        self.record_task_end(
            flow=flow,
            run_id=run_id,
            step=step,
            task_id=task_id,
            attempt=attempt,
            state=state,
            finished_at=finished_at,
            exit_code=exit_code,
            signal=signal,
            exception=exception,
        )

    def list_attempts(
        self, flow: str, run_id: str, step: str, task_id: str
    ) -> list[AttemptRecord]:
        """Return the attempts of a task, first attempt first.

        :raises NotFound: if the task does not exist.
        """
        number = run_number(flow, run_id, step, task_id)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {ATTEMPT_COLUMNS} FROM attempts "
                "WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ? ORDER BY attempt",
                (flow, number, step, task_id),
            ).fetchall()
            if not rows:
                require_task(conn, flow, number, step, task_id)
        return [attempt_record(row) for row in rows]

    def latest_attempt(
        self, flow: str, run_id: str, step: str, task_id: str
    ) -> AttemptRecord | None:
        """Return the last attempt of a task, or ``None`` if it has not started one.

        :raises NotFound: if the task does not exist.
        """
        number = run_number(flow, run_id, step, task_id)
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE flow = ? AND run_id = ? "
                "AND step = ? AND task_id = ? ORDER BY attempt DESC LIMIT 1",
                (flow, number, step, task_id),
            ).fetchone()
            if row is None:
                require_task(conn, flow, number, step, task_id)
        return None if row is None else attempt_record(row)

    def latest_attempts(self, flow: str, run_id: str, step: str) -> list[AttemptRecord]:
        """Return the last attempt of every task of a step that has started one."""
        return latest_attempts(self._read, flow, run_id, step)

    # -- artifacts and metadata ------------------------------------------------------------

    def add_artifacts(self, records: Iterable[ArtifactRecord]) -> None:
        """Record artifacts, in one transaction. A record replaces the one of the same name
        and attempt; the store does not check that the attempt exists.
        """
        with self._write() as conn:
            insert_artifacts(conn, records)

    def list_artifacts(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int
    ) -> list[ArtifactRecord]:
        """Return the artifacts an attempt stored, by name (none for an unknown attempt)."""
        number = run_number(flow, run_id, step, task_id)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE flow = ? AND run_id = ? "
                "AND step = ? AND task_id = ? AND attempt = ? ORDER BY name",
                (flow, number, step, task_id, attempt),
            ).fetchall()
        return [artifact_record(row) for row in rows]

    def add_metadata(self, records: Iterable[MetadataRecord]) -> None:
        """Record metadata events, in one transaction; the attempt is not checked."""
        with self._write() as conn:
            insert_metadata(conn, records)

    def list_metadata(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int | None = None
    ) -> list[MetadataRecord]:
        """Return the metadata events of a task (of one attempt if ``attempt`` is given),
        by attempt, then in the order they were recorded.
        """
        number = run_number(flow, run_id, step, task_id)
        sql = (
            f"SELECT {METADATA_COLUMNS} FROM metadata "
            "WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ?"
        )
        params: tuple[object, ...] = (flow, number, step, task_id)
        if attempt is not None:
            sql += " AND attempt = ?"
            params += (attempt,)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY attempt, id", params).fetchall()
        return [metadata_record(row) for row in rows]

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
        """Finish an attempt and record its artifacts and metadata, in one transaction.

        This is :meth:`finish_attempt`, :meth:`add_artifacts` and :meth:`add_metadata` at
        the cost of one write: readers see all of it or none of it.

        :param state: the final state of the attempt (not ``running``).
        :param finished_at: when it ended (default: now).
        :param exit_code: the exit code of the task process, when it exited.
        :param signal: the signal that killed the task process, if one did.
        :param exception: what the step function raised, if it did.
        :param pid: the task process's id, known once it started (kept if ``None``).
        :raises ValueError: if ``state`` is not a final attempt state.
        :raises NotFound: if the attempt does not exist; nothing is recorded then.
        """
        check_state(state, ATTEMPT_STATES, "attempt state")
        finished_at = time.time() if finished_at is None else finished_at
        number = run_number(flow, run_id, step, task_id)
        values = (state, finished_at, exit_code, signal, *exception_columns(exception), pid)
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE attempts SET state = ?, finished_at = ?, exit_code = ?, signal = ?, "
                "exc_type = ?, exc_message = ?, exc_traceback = ?, pid = coalesce(?, pid) "
                "WHERE flow = ? AND run_id = ? AND step = ? AND task_id = ? AND attempt = ?",
                (*values, flow, number, step, task_id, attempt),
            )
            if cursor.rowcount == 0:
                raise NotFound(
                    f"Attempt {attempt} of task '{flow}/{run_id}/{step}/{task_id}' does not exist"
                )
            insert_artifacts(conn, artifacts)
            insert_metadata(conn, metadata)

    def write_batch(self, writes: Sequence[Write]) -> None:
        """Apply ``writes`` in order, in one transaction (see :mod:`._writes`).

        :raises ValueError: if a write has a state that is not allowed.
        :raises NotFound: if a write names a run, task or attempt that does not exist;
            nothing of the batch is recorded then.
        """
        if not writes:
            return
        check_writes(writes)
        with self._write() as conn:
            apply_writes(conn, writes)

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _fetch_run(conn: sqlite3.Connection, flow: str, number: int) -> RunRecord:
        row = conn.execute(
            f"SELECT {RUN_COLUMNS} FROM runs AS r WHERE r.flow = ? AND r.run_id = ?",
            (flow, number),
        ).fetchone()
        if row is None:
            raise run_not_found(flow, str(number))
        return run_record(row)


def open_sqlite(url: str, *, root: Path) -> SQLiteMetadataStore:
    """Open the database a ``sqlite:`` URL names (``sqlite:///abs/path.db``, or a path
    relative to the working directory after ``sqlite:``).

    :raises StoreError: if the URL names no file.
    """
    path = urlsplit(url)
    name = unquote(path.netloc + path.path)
    if not name:
        raise StoreError(
            f"TIDEFLOW_METADATA_URL {url!r} names no database file: write "
            "sqlite:///absolute/path/metadata.db"
        )
    return SQLiteMetadataStore(root, path=Path(name))

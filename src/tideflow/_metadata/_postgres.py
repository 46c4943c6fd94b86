"""The metadata store on a PostgreSQL server: one run history for a team and many machines.

Selected with ``TIDEFLOW_METADATA_URL=postgresql://user@host:port/dbname`` (the
``tideflow[postgres]`` extra brings the driver). The store behaves as the SQLite one does;
what differs is how: run ids come from a per-flow counter row locked by ``create_run``, and
a run's liveness is a session advisory lock its supervisor holds (:meth:`hold_run_lease`),
which the server releases when the supervisor dies. The layout is in
:mod:`~._pg_schema` and ``docs/postgres.md``.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, TypeVar, final

from .._exceptions import NotFound
from ._clone import clone_rows, snapshots
from ._pg_base import PostgresBase
from ._pg_clone import insert_clones_pg, snapshot_rows
from ._pg_lease import LEASE_HELD_SQL
from ._pg_queries import (
    RUN_COLUMNS,
    edit_tags,
    fetch_run,
    finish_run,
    insert_new,
    insert_rows,
    insert_run,
    insert_step,
    mark_gone,
    mark_stale,
    one,
    require_run,
    require_step,
    require_task,
    running_runs,
    select_or_require,
)
from ._records import ATTEMPT_STATES, RUN_STATUSES, RunRecord, StepRecord
from ._rows import (
    ARTIFACT_COLUMNS,
    ATTEMPT_COLUMNS,
    METADATA_COLUMNS,
    TASK_COLUMNS,
    artifact_record,
    artifact_rows,
    attempt_record,
    attempt_row,
    check_state,
    exception_columns,
    metadata_record,
    metadata_rows,
    run_not_found,
    run_number,
    run_record,
    task_record,
    task_row,
)
from ._tags import check_tags, edit_user_tags

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from ._pg_connect import Conn
    from ._records import (
        ArtifactRecord,
        AttemptRecord,
        ExceptionInfo,
        MetadataRecord,
        TaskRecord,
        TaskSnapshot,
    )

__all__ = ("PostgresMetadataStore", "open_postgres")

T = TypeVar("T")


@final
class PostgresMetadataStore(PostgresBase):
    """Runs, steps, tasks, attempts, tags, artifacts and metadata in a PostgreSQL database.

    The tables are created on first use (in the schema ``tideflow``, or the one the URL
    names with ``?schema=``); an older layout is migrated when that is safe, a newer one is
    refused. Thread-safe; close it with :meth:`close` or use it as a context manager.

    :param url: ``postgresql://user[:password]@host[:port]/dbname[?param=value...]``.
    """

    # -- runs -------------------------------------------------------------------------------

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
        flow's last run id when that is not larger. The flow's row in ``flows`` is locked
        while the id is taken, so ids never collide, whichever machines start runs.

        :raises TagError: if a tag breaks the tag rules.
        """
        system = check_tags(system_tags)
        user_only = tuple(tag for tag in check_tags(user_tags) if tag not in system)
        edit_user_tags(f"A new run of '{flow}'", frozenset(system), frozenset(), add=user_only)
        now = time.time() if now is None else now
        pid = os.getpid()

        number = self._write(
            lambda conn: insert_run(conn, flow, user, now, origin_run_id, pid, system, user_only)
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
        self._leases.renew()

        def beat(conn: Conn) -> None:
            sql = "UPDATE runs SET heartbeat_at = %s WHERE flow = %s AND run_id = %s"
            if conn.execute(sql, (now, flow, number)).rowcount == 0:
                raise run_not_found(flow, run_id)

        self._write(beat)

    def finish_run(
        self, flow: str, run_id: str, status: str, finished_at: float | None = None
    ) -> bool:
        """Record the final ``status`` of a run, give its attempts still ``running`` a final
        state too (``crashed`` for a crashed run, else ``cancelled``), and let go of its
        lease.

        A run that already has a final state keeps it (a run recorded as crashed never
        becomes succeeded): then nothing changes and the answer is False.

        :raises ValueError: if ``status`` is not a final run status.
        :raises NotFound: if the run does not exist.
        """
        check_state(status, RUN_STATUSES, "run status")
        finished_at = time.time() if finished_at is None else finished_at
        number = run_number(flow, run_id)
        finished: bool = self._write(
            lambda conn: finish_run(conn, flow, number, status, finished_at)
        )
        self.release_run_lease(flow, run_id)
        return finished

    def get_run(self, flow: str, run_id: str) -> RunRecord:
        """Return a run.

        :raises NotFound: if the run does not exist.
        """
        number = run_number(flow, run_id)
        record: RunRecord = self._read(lambda conn: fetch_run(conn, flow, number))
        return record

    def list_runs(
        self, flow: str, tags: Iterable[str] = (), limit: int | None = None
    ) -> list[RunRecord]:
        """Return the runs of ``flow``, newest first, that carry every tag in ``tags``.

        :raises TagError: if ``tags`` is a single string or holds an invalid tag.
        """
        wanted = check_tags(tags)
        sql = f"SELECT {RUN_COLUMNS} FROM runs AS r WHERE r.flow = %s"
        params: list[object] = [flow]
        if wanted:
            one_tag = "SELECT run_id FROM run_tags WHERE flow = %s AND tag = %s"
            sql += f" AND r.run_id IN ({' INTERSECT '.join([one_tag] * len(wanted))})"
            params += [value for tag in wanted for value in (flow, tag)]
        sql += " ORDER BY r.run_id DESC LIMIT %s"
        params.append(limit)
        rows = self._read(lambda conn: conn.execute(sql, params).fetchall())
        return [run_record(row) for row in rows]

    def latest_run(
        self, flow: str, tags: Iterable[str] = (), *, successful: bool = False
    ) -> RunRecord | None:
        """Return the newest run of ``flow`` that carries every tag in ``tags`` (and
        succeeded, if ``successful``), or ``None``: one walk down an index.

        :raises TagError: if a tag is not a valid tag.
        """
        wanted = check_tags(tags)
        sql = f"SELECT {RUN_COLUMNS} FROM runs AS r WHERE r.flow = %s"
        params: list[object] = [flow]
        if successful:
            sql += " AND r.status = 'succeeded'"
        for tag in wanted:
            sql += (
                " AND EXISTS (SELECT 1 FROM run_tags AS w"
                " WHERE w.flow = r.flow AND w.run_id = r.run_id AND w.tag = %s)"
            )
            params.append(tag)
        sql += " ORDER BY r.run_id DESC LIMIT 1"
        row = self._read(lambda conn: one(conn, sql, params))
        return None if row is None else run_record(row)

    def list_flows(self) -> list[str]:
        """Return the names of every flow that has started a run, sorted."""
        sql = "SELECT flow FROM flows ORDER BY flow"
        rows = self._read(lambda conn: conn.execute(sql).fetchall())
        return [flow for (flow,) in rows]

    def flow_created_at(self, flow: str) -> float | None:
        """Return when ``flow`` started its first run, or ``None`` if it never ran."""
        sql = "SELECT created_at FROM flows WHERE flow = %s"
        row = self._read(lambda conn: one(conn, sql, (flow,)))
        return None if row is None else float(row[0])

    def flow_exists(self, flow: str) -> bool:
        """Return whether ``flow`` has ever started a run."""
        return self.flow_created_at(flow) is not None

    def mark_stale_runs(
        self, flow: str | None = None, *, older_than: float, now: float | None = None
    ) -> list[RunRecord]:
        """Mark as ``crashed`` every running run whose supervisor is gone: its heartbeat is
        older than ``now - older_than`` seconds, or it took a lease that no session holds
        any more. Its ``running`` attempts become ``crashed`` too, finished at the time of
        the last heartbeat (for an attempt started later: its start).

        :param flow: only look at the runs of this flow (default: every flow).
        :return: the runs marked, as they are now.
        """
        now = time.time() if now is None else now
        sql = (
            "SELECT r.flow, r.run_id, r.heartbeat_at FROM runs AS r WHERE r.status = 'running' "
            f"AND (r.heartbeat_at < %s OR (r.lease_key IS NOT NULL AND NOT {LEASE_HELD_SQL}))"
        )
        params: tuple[object, ...] = (now - older_than,)
        if flow is not None:
            sql += " AND r.flow = %s"
            params += (flow,)

        marked: list[RunRecord] = self._write(lambda conn: mark_stale(conn, sql, params))
        return marked

    def mark_runs_crashed(
        self, flow: str | None, dead: Callable[[RunRecord], bool]
    ) -> list[RunRecord]:
        """Mark as ``crashed`` every running run (of ``flow``, or of every flow) whose
        supervisor is gone, with its ``running`` attempts: a run that took a lease is gone
        when no session holds the lease any more (the server knows at once); any other
        when ``dead(run)`` says so. ``dead`` is asked outside any transaction; a run that
        ends meanwhile keeps the state its supervisor recorded.

        :return: the runs marked, as they are now.
        """
        running = self._read(lambda conn: running_runs(conn, flow))
        gone = [run for run, lease in running if (lease is False) or (lease is None and dead(run))]
        if not gone:
            return []
        marked: list[RunRecord] = self._write(lambda conn: mark_gone(conn, gone))
        return marked

    # -- tags -------------------------------------------------------------------------------

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

        :raises TagError: if a tag breaks the tag rules; nothing is changed then.
        :raises NotFound: if the run does not exist.
        """
        removed, added = check_tags(remove), check_tags(add)
        number = run_number(flow, run_id)

        record: RunRecord = self._write(
            lambda conn: edit_tags(conn, flow, run_id, number, removed, added)
        )
        return record

    # -- steps and tasks --------------------------------------------------------------------

    def add_step(self, record: StepRecord) -> None:
        """Record a step of a run; recording it again changes nothing.

        :raises NotFound: if the run does not exist.
        """
        number = run_number(record.flow, record.run_id)

        def insert(conn: Conn) -> None:
            require_run(conn, record.flow, number)
            insert_step(conn, record.flow, number, record.step, record.created_at)

        self._write(insert)

    def add_task(self, record: TaskRecord) -> None:
        """Record a new task, and its step if that is not recorded yet.

        :raises NotFound: if the run does not exist.
        :raises TideflowInternalError: if the task is already recorded.
        """
        number = run_number(record.flow, record.run_id)

        sql = f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ({', '.join(['%s'] * 9)})"

        def insert(conn: Conn) -> None:
            require_run(conn, record.flow, number)
            insert_step(conn, record.flow, number, record.step, record.created_at)
            insert_new(conn, sql, task_row(record, number), f"Task '{record.pathspec}'")

        self._write(insert)

    def list_steps(self, flow: str, run_id: str) -> list[StepRecord]:
        """Return the steps of a run, newest first.

        :raises NotFound: if the run does not exist.
        """
        number = run_number(flow, run_id)

        sql = (
            "SELECT created_at, step FROM steps WHERE flow = %s AND run_id = %s "
            "ORDER BY created_at DESC, seq DESC"
        )
        rows = self._read(
            lambda conn: select_or_require(
                conn, sql, (flow, number), lambda: require_run(conn, flow, number)
            )
        )
        return [
            StepRecord(flow=flow, run_id=run_id, step=step, created_at=created)
            for created, step in rows
        ]

    def list_tasks(self, flow: str, run_id: str, step: str) -> list[TaskRecord]:
        """Return the tasks of a step, newest first.

        :raises NotFound: if the step does not exist.
        """
        number = run_number(flow, run_id, step)

        sql = (
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE flow = %s AND run_id = %s "
            "AND step = %s ORDER BY created_at DESC, seq DESC"
        )
        rows = self._read(
            lambda conn: select_or_require(
                conn, sql, (flow, number, step), lambda: require_step(conn, flow, number, step)
            )
        )
        return [task_record(row) for row in rows]

    def get_task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskRecord:
        """Return a task.

        :raises NotFound: if the task does not exist.
        """
        number = run_number(flow, run_id, step, task_id)
        sql = (
            f"SELECT {TASK_COLUMNS} FROM tasks "
            "WHERE flow = %s AND run_id = %s AND step = %s AND task_id = %s"
        )
        row = self._read(lambda conn: one(conn, sql, (flow, number, step, task_id)))
        if row is None:
            raise NotFound(f"Task '{flow}/{run_id}/{step}/{task_id}' does not exist")
        return task_record(row)

    def child_tasks(self, flow: str, run_id: str, pathspec: str) -> list[TaskRecord]:
        """Return the tasks of a run that name the task ``pathspec`` as a parent, newest
        first (none for an unknown run).
        """
        number = run_number(flow, run_id)
        sql = (
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE flow = %s AND run_id = %s "
            "AND parent_pathspecs::jsonb @> jsonb_build_array(%s::text) "
            "ORDER BY created_at DESC, seq DESC"
        )
        rows = self._read(lambda conn: conn.execute(sql, (flow, number, pathspec)).fetchall())
        return [task_record(row) for row in rows]

    # -- attempts ---------------------------------------------------------------------------

    def start_attempt(self, record: AttemptRecord) -> None:
        """Record a new attempt of a task.

        :raises NotFound: if the task does not exist.
        :raises TideflowInternalError: if the attempt is already recorded.
        """
        number = run_number(record.flow, record.run_id, record.step, record.task_id)
        check_state(record.state, ATTEMPT_STATES, "attempt state", final=False)

        sql = f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES ({', '.join(['%s'] * 14)})"
        what = f"Attempt {record.attempt} of task '{record.pathspec}'"

        def insert(conn: Conn) -> None:
            require_task(conn, record.flow, number, record.step, record.task_id)
            insert_new(conn, sql, attempt_row(record, number), what)

        self._write(insert)

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
        return self._attempts(flow, run_id, step, task_id, "ORDER BY attempt")

    def latest_attempt(
        self, flow: str, run_id: str, step: str, task_id: str
    ) -> AttemptRecord | None:
        """Return the last attempt of a task, or ``None`` if it has not started one.

        :raises NotFound: if the task does not exist.
        """
        found = self._attempts(flow, run_id, step, task_id, "ORDER BY attempt DESC LIMIT 1")
        return found[0] if found else None

    def _attempts(
        self, flow: str, run_id: str, step: str, task_id: str, order: str
    ) -> list[AttemptRecord]:
        number = run_number(flow, run_id, step, task_id)

        sql = (
            f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE flow = %s AND run_id = %s "
            f"AND step = %s AND task_id = %s {order}"
        )
        params = (flow, number, step, task_id)
        rows = self._read(
            lambda conn: select_or_require(
                conn, sql, params, lambda: require_task(conn, flow, number, step, task_id)
            )
        )
        return [attempt_record(row) for row in rows]

    def latest_attempts(self, flow: str, run_id: str, step: str) -> list[AttemptRecord]:
        """Return the last attempt of every task of a step that has started one."""
        number = run_number(flow, run_id, step)
        sql = (
            f"SELECT DISTINCT ON (task_id) {ATTEMPT_COLUMNS} FROM attempts "
            "WHERE flow = %s AND run_id = %s AND step = %s ORDER BY task_id, attempt DESC"
        )
        rows = self._read(lambda conn: conn.execute(sql, (flow, number, step)).fetchall())
        return [attempt_record(row) for row in rows]

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

        :raises ValueError: if ``state`` is not a final attempt state.
        :raises NotFound: if the attempt does not exist; nothing is recorded then.
        """
        check_state(state, ATTEMPT_STATES, "attempt state")
        finished_at = time.time() if finished_at is None else finished_at
        number = run_number(flow, run_id, step, task_id)
        values = (state, finished_at, exit_code, signal, *exception_columns(exception), pid)
        artifact_values, metadata_values = artifact_rows(artifacts), metadata_rows(metadata)

        def finish(conn: Conn) -> None:
            cursor = conn.execute(
                "UPDATE attempts SET state = %s, finished_at = %s, exit_code = %s, signal = %s, "
                "exc_type = %s, exc_message = %s, exc_traceback = %s, pid = coalesce(%s, pid) "
                "WHERE flow = %s AND run_id = %s AND step = %s AND task_id = %s "
                "AND attempt = %s",
                (*values, flow, number, step, task_id, attempt),
            )
            if cursor.rowcount == 0:
                raise NotFound(
                    f"Attempt {attempt} of task '{flow}/{run_id}/{step}/{task_id}' does not exist"
                )
            insert_rows(conn, artifact_values, metadata_values)

        self._write(finish)

    # -- artifacts and metadata -------------------------------------------------------------

    def add_artifacts(self, records: Iterable[ArtifactRecord]) -> None:
        """Record artifacts, in one transaction. A record replaces the one of the same name
        and attempt; the store does not check that the attempt exists.
        """
        rows = artifact_rows(records)
        self._write(lambda conn: insert_rows(conn, rows, []))

    def list_artifacts(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int
    ) -> list[ArtifactRecord]:
        """Return the artifacts an attempt stored, by name (none for an unknown attempt)."""
        number = run_number(flow, run_id, step, task_id)
        sql = (
            f"SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE flow = %s AND run_id = %s "
            "AND step = %s AND task_id = %s AND attempt = %s ORDER BY name"
        )
        params = (flow, number, step, task_id, attempt)
        rows = self._read(lambda conn: conn.execute(sql, params).fetchall())
        return [artifact_record(row) for row in rows]

    def add_metadata(self, records: Iterable[MetadataRecord]) -> None:
        """Record metadata events, in one transaction; the attempt is not checked."""
        rows = metadata_rows(records)
        self._write(lambda conn: insert_rows(conn, [], rows))

    def list_metadata(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int | None = None
    ) -> list[MetadataRecord]:
        """Return the metadata events of a task (of one attempt if ``attempt`` is given),
        by attempt, then in the order they were recorded.
        """
        number = run_number(flow, run_id, step, task_id)
        sql = (
            f"SELECT {METADATA_COLUMNS} FROM metadata "
            "WHERE flow = %s AND run_id = %s AND step = %s AND task_id = %s"
        )
        params: tuple[object, ...] = (flow, number, step, task_id)
        if attempt is not None:
            sql += " AND attempt = %s"
            params += (attempt,)
        sql += " ORDER BY attempt, id"
        rows = self._read(lambda conn: conn.execute(sql, params).fetchall())
        return [metadata_record(row) for row in rows]

    def list_task_snapshots(self, flow: str, run_id: str) -> list[TaskSnapshot]:
        """Return every task of a run that has an attempt, with its latest attempt and that
        attempt's artifacts and metadata: a whole run in one query per table.

        :raises NotFound: if the run does not exist.
        """
        number = run_number(flow, run_id)
        rows = self._read(lambda conn: snapshot_rows(conn, flow, number))
        return snapshots(*rows)

    def clone_tasks(self, clones: Iterable[TaskSnapshot]) -> None:
        """Record finished tasks copied from another run, in one transaction: each task
        (and its step, if new), its one attempt, its artifacts and its metadata.

        :raises ValueError: if an attempt's state is not final.
        :raises NotFound: if a run does not exist; nothing is recorded then.
        :raises TideflowInternalError: if a task or an attempt is already recorded.
        """
        rows = clone_rows(clones)
        self._write(lambda conn: insert_clones_pg(conn, rows))


def open_postgres(url: str, *, root: Path) -> PostgresMetadataStore:
    """Open the metadata store a ``postgresql://`` URL names (``root`` is not used: the
    whole history is on the server).

    :raises StoreError: if a tideflow parameter of the URL is not valid.
    """
    del root
    return PostgresMetadataStore(url)

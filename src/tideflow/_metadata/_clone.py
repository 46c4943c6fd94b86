"""Task snapshots in batches: ``list_task_snapshots`` and ``clone_tasks`` of the stores.

A resume reads every task its origin run finished and copies it into the new run. One task
at a time, that is three reads and three write transactions per task. These helpers read a
whole run in one query per table and build its :class:`~._records.TaskSnapshot` s, and
turn a batch of snapshots into the rows of each table, so that a store writes the batch in
one transaction with one ``executemany`` per table. :class:`ClonesFamily` is the table
family both stores take these methods from; its SQL runs through a :class:`~._sql.Session`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NamedTuple

import msgspec

from ._artifacts import insert_artifacts
from ._events import insert_metadata
from ._records import ATTEMPT_STATES, TaskSnapshot
from ._rows import (
    ARTIFACT_COLUMNS,
    ATTEMPT_COLUMNS,
    METADATA_COLUMNS,
    TASK_COLUMNS,
    artifact_record,
    attempt_record,
    attempt_row,
    check_state,
    duplicate,
    metadata_record,
    run_number,
    task_record,
    task_row,
)
from ._sql import Session, StoreFamily, require_run

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ._records import ArtifactRecord, MetadataRecord

__all__ = ("SNAPSHOT_QUERIES", "CloneRows", "ClonesFamily", "clone_rows", "snapshots")

_JSON: Final = msgspec.json.Encoder()
_RUN = "WHERE flow = ? AND run_id = ?"
#: The queries of a run's snapshots, in the order :func:`snapshots` takes their rows:
#: tasks, attempts, artifacts, metadata, each of the whole run (``flow``, ``run_id``).
SNAPSHOT_QUERIES: tuple[str, ...] = (
    f"SELECT {TASK_COLUMNS} FROM tasks {_RUN}",
    f"SELECT {ATTEMPT_COLUMNS} FROM attempts {_RUN} ORDER BY attempt",
    f"SELECT {ARTIFACT_COLUMNS} FROM artifacts {_RUN} ORDER BY name",
    f"SELECT {METADATA_COLUMNS} FROM metadata {_RUN} ORDER BY id",
)


def snapshots(
    tasks: Sequence[tuple[object, ...]],
    attempts: Sequence[tuple[object, ...]],
    artifacts: Sequence[tuple[object, ...]],
    metadata: Sequence[tuple[object, ...]],
) -> list[TaskSnapshot]:
    """Each task that has an attempt, with its latest attempt and that attempt's artifacts
    and metadata, from the rows of :data:`SNAPSHOT_QUERIES`."""
    latest = {}
    for row in attempts:  # by attempt, so the last one of a task wins
        latest[row[2], row[3]] = row
    numbers = {key: row[4] for key, row in latest.items()}
    kept: dict[tuple[object, object], tuple[list[ArtifactRecord], list[MetadataRecord]]] = {
        key: ([], []) for key in latest
    }
    for row in artifacts:
        if numbers.get((row[2], row[3])) == row[4]:
            kept[row[2], row[3]][0].append(artifact_record(row))
    for row in metadata:
        if numbers.get((row[2], row[3])) == row[4]:
            kept[row[2], row[3]][1].append(metadata_record(row))
    found = []
    for row in tasks:
        key = (row[2], row[3])
        if key in latest:
            own_artifacts, own_metadata = kept[key]
            found.append(
                TaskSnapshot(
                    task=task_record(row),
                    attempt=attempt_record(latest[key]),
                    artifacts=tuple(own_artifacts),
                    metadata=tuple(own_metadata),
                )
            )
    return found


class CloneRows(NamedTuple):
    """The rows a batch of cloned tasks adds, table by table."""

    #: ``(flow, run number)`` of every run the batch writes to.
    runs: set[tuple[str, int]]
    #: ``(flow, run number, step, created_at)``, once per step.
    steps: list[tuple[object, ...]]
    tasks: list[tuple[object, ...]]
    attempts: list[tuple[object, ...]]
    #: In the order of ``ARTIFACT_COLUMNS`` and ``METADATA_COLUMNS``.
    artifacts: list[tuple[object, ...]]
    metadata: list[tuple[object, ...]]


def clone_rows(clones: Iterable[TaskSnapshot]) -> CloneRows:
    """Check a batch of cloned tasks and return its rows.

    :raises ValueError: if an attempt's state is not final.
    :raises NotFound: if a run id is not one.
    """
    rows = CloneRows(set(), [], [], [], [], [])
    steps: set[tuple[str, int, str]] = set()
    numbers: dict[tuple[str, str], int] = {}

    def number_of(flow: str, run_id: str) -> int:
        # One check per run, not per row: a batch holds thousands of rows of one run.
        if (flow, run_id) not in numbers:
            numbers[flow, run_id] = run_number(flow, run_id)
        return numbers[flow, run_id]

    for clone in clones:
        task, attempt = clone.task, clone.attempt
        check_state(attempt.state, ATTEMPT_STATES, "attempt state")
        number = run_number(task.flow, task.run_id, task.step, task.task_id)
        rows.runs.add((task.flow, number))
        if (task.flow, number, task.step) not in steps:
            steps.add((task.flow, number, task.step))
            rows.steps.append((task.flow, number, task.step, task.created_at))
        rows.tasks.append(task_row(task, number))
        rows.attempts.append(attempt_row(attempt, number))
        rows.artifacts.extend(
            (a.flow, number_of(a.flow, a.run_id), a.step, a.task_id, a.attempt)
            + (a.name, a.sha, a.size, a.created_at)
            for a in clone.artifacts
        )
        rows.metadata.extend(
            (m.flow, number_of(m.flow, m.run_id), m.step, m.task_id, m.attempt)
            + (m.name, m.value, m.type, m.created_at, _JSON.encode(m.tags).decode())
            for m in clone.metadata
        )
    return rows


def _insert_clones(s: Session, rows: CloneRows) -> None:
    """Write ``rows`` inside the session's transaction.

    :raises NotFound: if a run does not exist.
    :raises TideflowInternalError: if a task or an attempt is already recorded.
    """
    for flow, number in rows.runs:
        require_run(s, flow, number)
    head, tail = s.sql.insert_ignore
    s.many(
        f"{head} INTO steps (flow, run_id, step, created_at) VALUES (?, ?, ?, ?){tail}", rows.steps
    )
    try:
        s.many(f"INSERT INTO tasks ({TASK_COLUMNS}) VALUES ({', '.join('?' * 9)})", rows.tasks)
        s.many(
            f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES ({', '.join('?' * 14)})",
            rows.attempts,
        )
    except s.sql.duplicate_error as exc:
        raise duplicate("A cloned task or its attempt") from exc
    insert_artifacts(s, rows.artifacts)
    insert_metadata(s, rows.metadata)


class ClonesFamily(StoreFamily):
    """A run's tasks read whole, and tasks a resume clones, written in batches."""

    __slots__ = ()

    def list_task_snapshots(self, flow: str, run_id: str) -> list[TaskSnapshot]:
        """Return every task of a run that has an attempt, with its latest attempt and that
        attempt's artifacts and metadata: a whole run in one query per table.

        :raises NotFound: if the run does not exist.
        """
        number = run_number(flow, run_id)

        def select(s: Session) -> list[list[tuple[object, ...]]]:
            rows = [s.all(sql, (flow, number)) for sql in SNAPSHOT_QUERIES]
            if not rows[0]:
                require_run(s, flow, number)
            return rows

        return snapshots(*self._read(select))

    def clone_tasks(self, clones: Iterable[TaskSnapshot]) -> None:
        """Record finished tasks copied from another run, in one transaction: each task
        (and its step, if new), its one attempt, its artifacts and its metadata.

        Readers see the whole batch or none of it.

        :raises ValueError: if an attempt's state is not final.
        :raises NotFound: if a run does not exist; nothing is recorded then.
        :raises TideflowInternalError: if a task or an attempt is already recorded.
        """
        rows = clone_rows(clones)
        self._write(lambda s: _insert_clones(s, rows))

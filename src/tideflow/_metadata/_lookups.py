"""The lookups family: the reads that answer a question across tables in one query.

Runs by tags, the latest (successful) run, a task's children, the last attempts of a
step, :meth:`LookupsFamily.newest_task` (what ``run.data`` needs),
:meth:`LookupsFamily.get_run_view` (the run too: what ``Run(pathspec).data`` needs) and
:meth:`LookupsFamily.get_run_views` (the same for many runs: what a listing's
``run.data`` needs). Each is one statement, so one round trip to a server; the indexes
each walks are listed in ``docs/storage.md``.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Final

from .._exceptions import NotFound
from .._states import RunState
from ._records import RunView, StepRecord, TaskView
from ._rows import (
    ATTEMPT_COLUMNS,
    TASK_COLUMNS,
    artifact_record,
    attempt_record,
    run_not_found,
    run_number,
    run_record,
    task_record,
)
from ._sql import Dialect, Session, StoreFamily, qualified
from ._tags import check_tags

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ._records import AttemptRecord, RunRecord, TaskRecord

__all__ = ("VIEWS_PER_STATEMENT", "LookupsFamily")

#: The most runs :meth:`LookupsFamily.get_run_views` reads in one statement (each is one
#: parameter, and SQLite allows a few hundred at least).
VIEWS_PER_STATEMENT: Final = 200

_TASK: Final = qualified("k", TASK_COLUMNS)
_ATTEMPT: Final = qualified("a", ATTEMPT_COLUMNS)


class LookupsFamily(StoreFamily):
    """Reads across tables, one statement each."""

    __slots__ = ()

    def list_runs(
        self, flow: str, tags: Iterable[str] = (), limit: int | None = None
    ) -> list[RunRecord]:
        """Return the runs of ``flow``, newest first, that carry every tag in ``tags``.

        A tag matches a user tag or a system tag. An unknown flow has no runs.

        :raises TagError: if ``tags`` is a single string or holds an invalid tag.
        """
        wanted = check_tags(tags)
        where = "r.flow = ?"
        params: list[object] = [flow]
        if wanted:
            # One run_tags_by_tag lookup per tag; the runs in every answer are kept.
            one_tag = "SELECT run_id FROM run_tags WHERE flow = ? AND tag = ?"
            where += f" AND r.run_id IN ({' INTERSECT '.join([one_tag] * len(wanted))})"
            params += [value for tag in wanted for value in (flow, tag)]
        order = " ORDER BY r.run_id DESC"
        if limit is not None:
            order += " LIMIT ?"
            params.append(limit)

        def select(s: Session) -> list[Any]:
            return s.all(f"SELECT {s.sql.run_columns} FROM runs AS r WHERE {where}{order}", params)

        return [run_record(row) for row in self._read(select)]

    def has_runs(self, flow: str, tags: Iterable[str] = ()) -> bool:
        """Return whether ``flow`` has a run that carries every tag in ``tags``.

        One ``run_tags_by_tag`` key lookup for the first tag (a ``runs`` key lookup without
        tags), the other tags checked on the runs it finds, stopping at the first match:
        a namespace check costs the same with ten runs stored or a million.

        :raises TagError: if a tag is not a valid tag.
        """
        wanted = check_tags(tags)
        if not wanted:
            query = "SELECT 1 FROM runs WHERE flow = ? LIMIT 1"
            params: list[object] = [flow]
        else:
            first, *others = wanted
            query = "SELECT 1 FROM run_tags AS t WHERE t.flow = ? AND t.tag = ?"
            params = [flow, first]
            for tag in others:
                query += (
                    " AND EXISTS (SELECT 1 FROM run_tags AS w"
                    " WHERE w.flow = t.flow AND w.run_id = t.run_id AND w.tag = ?)"
                )
                params.append(tag)
            query += " LIMIT 1"
        return self._read(lambda s: s.one(query, params)) is not None

    def latest_run(
        self, flow: str, tags: Iterable[str] = (), *, successful: bool = False
    ) -> RunRecord | None:
        """Return the newest run of ``flow`` that carries every tag in ``tags`` (and
        succeeded, if ``successful``), or ``None``.

        Without tags, the latest successful run is ``max()`` over ``runs_by_status``: one
        index lookup. Otherwise the runs are walked newest first along an index
        (``runs_by_status`` when ``successful``, else the primary key), with one
        ``run_tags`` key lookup per tag for each run passed over, and the walk stops at the
        first match.

        :raises TagError: if a tag is not a valid tag.
        """
        wanted = check_tags(tags)
        if successful and not wanted:
            # ORDER BY ... LIMIT 1 would let SQLite's planner walk the primary key instead,
            # across every failed run.
            where = (
                "r.flow = ? AND r.run_id = "
                f"(SELECT max(run_id) FROM runs WHERE flow = ? AND status = '{RunState.SUCCEEDED}')"
            )
            params: list[object] = [flow, flow]
        else:
            where = "r.flow = ?" + (
                f" AND r.status = '{RunState.SUCCEEDED}'" if successful else ""
            )
            params = [flow]
            for tag in wanted:
                where += (
                    " AND EXISTS (SELECT 1 FROM run_tags AS w"
                    " WHERE w.flow = r.flow AND w.run_id = r.run_id AND w.tag = ?)"
                )
                params.append(tag)
            where += " ORDER BY r.run_id DESC LIMIT 1"

        def select(s: Session) -> Any:
            source = s.sql.successful_source if successful and wanted else "runs AS r"
            return s.one(f"SELECT {s.sql.run_columns} FROM {source} WHERE {where}", params)

        row = self._read(select)
        return None if row is None else run_record(row)

    def child_tasks(self, flow: str, run_id: str, pathspec: str) -> list[TaskRecord]:
        """Return the tasks of a run that name the task ``pathspec`` as a parent, newest
        first (none for an unknown run).

        Reads the tasks of that one run only (the ``tasks`` key starts with flow and run).
        """
        number = run_number(flow, run_id)

        def select(s: Session) -> list[Any]:
            return s.all(
                f"SELECT {TASK_COLUMNS} FROM tasks WHERE flow = ? AND run_id = ? "
                f"AND {s.sql.has_parent} ORDER BY created_at DESC, {s.sql.seq} DESC",
                (flow, number, pathspec),
            )

        return [task_record(row) for row in self._read(select)]

    def latest_attempts(self, flow: str, run_id: str, step: str) -> list[AttemptRecord]:
        """Return the last attempt of every task of a step that has started one.

        Tasks that have not started an attempt yet are not in the answer.
        """
        number = run_number(flow, run_id, step)
        sql = (
            f"SELECT {_ATTEMPT} FROM attempts AS a "
            "WHERE a.flow = ? AND a.run_id = ? AND a.step = ? AND a.attempt = "
            "(SELECT max(b.attempt) FROM attempts AS b WHERE b.flow = a.flow "
            "AND b.run_id = a.run_id AND b.step = a.step AND b.task_id = a.task_id)"
        )
        rows = self._read(lambda s: s.all(sql, (flow, number, step)))
        return [attempt_record(row) for row in rows]

    def newest_task(self, flow: str, run_id: str, step: str) -> TaskView | None:
        """Return the newest task of a step with its latest attempt and that attempt's
        artifacts, in one query: what ``run.data`` reads of the ``end`` step.

        :return: ``None`` if the step has no task (or the run or step does not exist).
        """
        number = run_number(flow, run_id, step)

        def select(s: Session) -> list[Any]:
            return s.all(
                f"SELECT {_NEWEST_COLUMNS} FROM steps AS s {_newest_joins(s.sql)} "
                "WHERE s.flow = ? AND s.run_id = ? AND s.step = ?",
                (flow, number, step),
            )

        return _task_view(self._read(select), 0)

    def get_run_view(self, flow: str, run_id: str, step: str) -> RunView:
        """Return a run with the newest task of one of its steps (as :meth:`newest_task`
        answers it), read together in one query: what ``Run(pathspec).data`` reads.

        :raises NotFound: if the run does not exist.
        """
        number = run_number(flow, run_id)

        def select(s: Session) -> list[Any]:
            return s.all(
                f"SELECT {s.sql.run_columns}, {_NEWEST_COLUMNS} FROM runs AS r "
                "LEFT JOIN steps AS s ON s.flow = r.flow AND s.run_id = r.run_id AND s.step = ? "
                f"{_newest_joins(s.sql)} WHERE r.flow = ? AND r.run_id = ?",
                (step, flow, number),
            )

        rows = self._read(select)
        if not rows:
            raise run_not_found(flow, run_id)
        return RunView(run=run_record(rows[0]), newest=_task_view(rows, _RUN_WIDTH))

    def get_run_views(self, flow: str, run_ids: Sequence[str], step: str) -> list[RunView]:
        """Return the runs ``run_ids`` of ``flow``, each with the newest task of its step
        ``step`` (as :meth:`get_run_view` answers one), in the order asked: what the
        ``run.data`` of the runs of a listing reads. One statement for up to
        :data:`VIEWS_PER_STATEMENT` runs, each read at the same instant as its newest task.

        A run id that names no run (or is not a run id) is left out of the answer, as is
        the second of an id asked for twice.
        """
        numbers: dict[int, str] = {}
        for run_id in run_ids:
            try:
                numbers.setdefault(run_number(flow, run_id), run_id)
            except NotFound:
                continue
        found: dict[int, RunView] = {}
        wanted = list(numbers)
        for at in range(0, len(wanted), VIEWS_PER_STATEMENT):
            found.update(self._run_views(flow, step, wanted[at : at + VIEWS_PER_STATEMENT]))
        return [found[n] for n in numbers if n in found]

    def _run_views(self, flow: str, step: str, numbers: list[int]) -> dict[int, RunView]:
        marks = ", ".join("?" * len(numbers))

        def select(s: Session) -> list[Any]:
            return s.all(
                f"SELECT {s.sql.run_columns}, {_NEWEST_COLUMNS} FROM runs AS r "
                "LEFT JOIN steps AS s ON s.flow = r.flow AND s.run_id = r.run_id AND s.step = ? "
                f"{_newest_joins(s.sql)} WHERE r.flow = ? AND r.run_id IN ({marks}) "
                "ORDER BY r.run_id",
                (step, flow, *numbers),
            )

        views: dict[int, RunView] = {}
        for _, group in itertools.groupby(self._read(select), key=lambda row: row[1]):
            rows = list(group)
            run = run_record(rows[0])
            views[int(run.run_id)] = RunView(run=run, newest=_task_view(rows, _RUN_WIDTH))
        return views


#: How many columns :data:`~._sql.Dialect.run_columns` has.
_RUN_WIDTH: Final = 10
#: The columns of a step (alias ``s``), its newest task, that task's latest attempt and
#: one artifact of that attempt, as :func:`_task_view` reads them.
_NEWEST_COLUMNS: Final = f"s.created_at, {_TASK}, {_ATTEMPT}, f.name, f.sha, f.size, f.created_at"


def _newest_joins(sql: Dialect) -> str:
    """The joins from a step (alias ``s``) to its newest task ``k``, that task's latest
    attempt ``a`` and that attempt's artifacts ``f``: one row per artifact, each found
    along a primary key."""
    seq = sql.seq
    if sql.lateral:
        return (
            "LEFT JOIN LATERAL (SELECT * FROM tasks AS n WHERE n.flow = s.flow "
            "AND n.run_id = s.run_id AND n.step = s.step "
            f"ORDER BY n.created_at DESC, n.{seq} DESC LIMIT 1) AS k ON true "
            "LEFT JOIN LATERAL (SELECT * FROM attempts AS b WHERE b.flow = k.flow "
            "AND b.run_id = k.run_id AND b.step = k.step AND b.task_id = k.task_id "
            "ORDER BY b.attempt DESC LIMIT 1) AS a ON true "
            "LEFT JOIN artifacts AS f ON f.flow = a.flow AND f.run_id = a.run_id "
            "AND f.step = a.step AND f.task_id = a.task_id AND f.attempt = a.attempt"
        )
    return (
        "LEFT JOIN tasks AS k ON k.flow = s.flow AND k.run_id = s.run_id AND k.step = s.step "
        "AND k.task_id = (SELECT n.task_id FROM tasks AS n WHERE n.flow = s.flow "
        "AND n.run_id = s.run_id AND n.step = s.step "
        f"ORDER BY n.created_at DESC, n.{seq} DESC LIMIT 1) "
        "LEFT JOIN attempts AS a ON a.flow = k.flow AND a.run_id = k.run_id "
        "AND a.step = k.step AND a.task_id = k.task_id AND a.attempt = "
        "(SELECT max(b.attempt) FROM attempts AS b WHERE b.flow = k.flow "
        "AND b.run_id = k.run_id AND b.step = k.step AND b.task_id = k.task_id) "
        "LEFT JOIN artifacts AS f ON f.flow = a.flow AND f.run_id = a.run_id "
        "AND f.step = a.step AND f.task_id = a.task_id AND f.attempt = a.attempt"
    )


def _task_view(rows: list[Any], at: int) -> TaskView | None:
    """The view that rows of :data:`_NEWEST_COLUMNS` (from column ``at`` on) give;
    ``None`` when they hold no task."""
    if not rows or rows[0][at + 1] is None:
        return None
    first = rows[0][at:]
    task = task_record(first[1:10])
    step = StepRecord(flow=task.flow, run_id=task.run_id, step=task.step, created_at=first[0])
    if first[10] is None:
        return TaskView(step=step, task=task, attempt=None)
    attempt = attempt_record(first[10:24])
    files = sorted(row[at + 24 : at + 28] for row in rows if row[at + 24] is not None)
    artifacts = tuple(artifact_record((*first[10:15], *file)) for file in files)
    return TaskView(step=step, task=task, attempt=attempt, artifacts=artifacts)

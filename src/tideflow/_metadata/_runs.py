"""The runs family: flows, runs and their ids, heartbeats, final states, crash marking.

Tables ``flows`` and ``runs``. A backend gives how a new run is recorded and its id
taken (:meth:`RunsFamily._insert_run`) and whether the store can be marked at all
(:meth:`RunsFamily._can_mark`); the rest is the same SQL on both databases.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from .._states import AttemptState, RunState
from ._records import RUN_STATUSES, RunRecord
from ._rows import check_state, run_not_found, run_number, run_record
from ._sql import Session, StoreFamily, fetch_run
from ._tags import check_tags, edit_user_tags

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ("RunsFamily", "end_running_attempts")


def end_running_attempts(s: Session, flow: str, number: int, state: str, at: float) -> None:
    """Give the ``running`` attempts of a run the final ``state``, finished at ``at`` (or,
    for an attempt started later, at its start)."""
    s.run(
        f"UPDATE attempts SET state = ?, finished_at = {s.sql.greatest}(started_at, ?) "
        f"WHERE flow = ? AND run_id = ? AND state = '{AttemptState.RUNNING}'",
        (state, at, flow, number),
    )


def _crash(s: Session, flow: str, number: int, beat: float) -> bool:
    """Mark a running run crashed, finished at its last heartbeat ``beat``, with its
    running attempts; ``False`` if it was not running."""
    changed = s.run(
        f"UPDATE runs SET status = '{RunState.CRASHED}', finished_at = ? "
        f"WHERE flow = ? AND run_id = ? AND status = '{RunState.RUNNING}'",
        (beat, flow, number),
    )
    if changed:
        end_running_attempts(s, flow, number, AttemptState.CRASHED, beat)
    return bool(changed)


class RunsFamily(StoreFamily):
    """Flows and runs: :meth:`create_run` to :meth:`finish_run`, and crash marking."""

    __slots__ = ()

    def _insert_run(
        self, flow: str, candidate: int, row: tuple[object, ...], tags: list[tuple[str, int]]
    ) -> int:
        """Record a new run of ``flow`` (and the flow, on its first run) and return its id:
        ``candidate``, or one more than the flow's last id when that is not smaller, unique
        between processes.

        :param row: the run's ``user``, ``created_at``, ``origin_run_id``,
            ``heartbeat_at`` and ``pid``.
        :param tags: the run's tags, each with 1 for a system tag and 0 for a user tag.
        """
        raise NotImplementedError

    def _can_mark(self) -> bool:
        """Whether :meth:`mark_stale_runs` may write (a store that does not exist, or
        cannot be written, is left as it is)."""
        raise NotImplementedError

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
        flow's last run id when that is not larger: ids never collide, even between
        processes (and machines) that start runs at the same instant, and a later run has
        a larger id.

        :raises TagError: if a tag breaks the tag rules.
        """
        system = check_tags(system_tags)
        user_only = tuple(tag for tag in check_tags(user_tags) if tag not in system)
        edit_user_tags(f"A new run of '{flow}'", frozenset(system), frozenset(), add=user_only)
        now = time.time() if now is None else now
        pid = os.getpid()

        tags = [(tag, 1) for tag in system] + [(tag, 0) for tag in user_only]
        number = self._insert_run(
            flow, round(now * 1_000_000), (user, now, origin_run_id, now, pid), tags
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

        def beat(s: Session) -> None:
            sql = "UPDATE runs SET heartbeat_at = ? WHERE flow = ? AND run_id = ?"
            if s.run(sql, (now, flow, number)) == 0:
                raise run_not_found(flow, run_id)

        self._write(beat)

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
        at = time.time() if finished_at is None else finished_at
        number = run_number(flow, run_id)

        def finish(s: Session) -> bool:
            sql = f"SELECT status FROM runs WHERE flow = ? AND run_id = ?{s.sql.for_update}"
            row = s.one(sql, (flow, number))
            if row is None:
                raise run_not_found(flow, run_id)
            if row[0] != RunState.RUNNING:
                return False
            s.run(
                "UPDATE runs SET status = ?, finished_at = ? WHERE flow = ? AND run_id = ?",
                (status, at, flow, number),
            )
            crashed = status == RunState.CRASHED
            attempts = AttemptState.CRASHED if crashed else AttemptState.CANCELLED
            end_running_attempts(s, flow, number, attempts, at)
            return True

        return self._write(finish)

    def get_run(self, flow: str, run_id: str) -> RunRecord:
        """Return a run.

        :raises NotFound: if the run does not exist.
        """
        number = run_number(flow, run_id)
        return self._read(lambda s: fetch_run(s, flow, number))

    def list_flows(self) -> list[str]:
        """Return the names of every flow that has started a run, sorted."""
        rows = self._read(lambda s: s.all("SELECT flow FROM flows ORDER BY flow"))
        return [flow for (flow,) in rows]

    def flow_created_at(self, flow: str) -> float | None:
        """Return when ``flow`` started its first run, or ``None`` if it never ran."""
        sql = "SELECT created_at FROM flows WHERE flow = ?"
        row = self._read(lambda s: s.one(sql, (flow,)))
        return None if row is None else float(row[0])

    def flow_exists(self, flow: str) -> bool:
        """Return whether ``flow`` has ever started a run."""
        return self.flow_created_at(flow) is not None

    def mark_stale_runs(
        self, flow: str | None = None, *, older_than: float, now: float | None = None
    ) -> list[RunRecord]:
        """Mark as ``crashed`` every running run whose supervisor is gone: its heartbeat is
        older than ``now - older_than`` seconds (or, on a server that holds leases, it took
        a lease no session holds any more). Its ``running`` attempts become ``crashed``
        too, finished at the time of the last heartbeat (for an attempt started later: its
        start).

        A store that does not exist, or cannot be written (read-only media), is left as
        it is: nothing is marked, and readers tell a stale run by its old heartbeat.

        :param flow: only look at the runs of this flow (default: every flow).
        :return: the runs marked, as they are now.
        """
        if not self._can_mark():
            return []
        now = time.time() if now is None else now

        def mark(s: Session) -> list[RunRecord]:
            sql = (
                "SELECT r.flow, r.run_id, r.heartbeat_at FROM runs AS r "
                f"WHERE r.status = '{RunState.RUNNING}' AND (r.heartbeat_at < ?{s.sql.stale_lease})"
            )
            params: tuple[object, ...] = (now - older_than,)
            if flow is not None:
                sql += " AND r.flow = ?"
                params += (flow,)
            stale = s.all(sql + s.sql.lock_runs, params)
            for name, number, beat in stale:
                _crash(s, name, number, beat)
            return [fetch_run(s, name, number) for name, number, _ in stale]

        return self._write(mark)

    def mark_runs_crashed(
        self, flow: str | None, dead: Callable[[RunRecord], bool]
    ) -> list[RunRecord]:
        """Mark as ``crashed`` every running run (of ``flow``, or of every flow) whose
        supervisor is gone, with its ``running`` attempts: a run that took a lease is gone
        when no session holds the lease any more; any other when ``dead(run)`` says so.

        ``dead`` is asked outside any transaction; a run that ends meanwhile keeps the
        state its supervisor recorded. The time of the last heartbeat is recorded as the
        time they finished (for an attempt started later: its start).

        :return: the runs marked, as they are now.
        """

        def running(s: Session) -> list[tuple[RunRecord, bool | None]]:
            sql = (
                f"SELECT {s.sql.run_columns}, {s.sql.lease_columns} "
                f"FROM runs AS r WHERE r.status = '{RunState.RUNNING}'"
            )
            params = () if flow is None else (flow,)
            rows = s.all(sql + ("" if flow is None else " AND r.flow = ?"), params)
            return [(run_record(row[:10]), bool(row[11]) if row[10] else None) for row in rows]

        found = self._read(running)
        gone = [run for run, held in found if held is False or (held is None and dead(run))]
        if not gone:
            return []

        def mark(s: Session) -> list[RunRecord]:
            marked = []
            for run in gone:
                number = int(run.run_id)
                beat = run.heartbeat_at if run.heartbeat_at is not None else time.time()
                if _crash(s, run.flow, number, beat):
                    marked.append(fetch_run(s, run.flow, number))
            return marked

        return self._write(mark)

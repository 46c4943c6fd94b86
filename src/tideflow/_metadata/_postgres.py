"""The metadata store on a PostgreSQL server: one run history for a team and many machines.

Selected with ``TIDEFLOW_METADATA_URL=postgresql://user@host:port/dbname`` (the
``tideflow[postgres]`` extra brings the driver). The store is made of the same table
families as the SQLite one (see :mod:`~._sql`); what differs is below them: run ids come
from a per-flow counter row that ``create_run`` locks for the one statement that records
the run, and a run's liveness is a session
advisory lock its supervisor holds (:meth:`~._pg_base.PostgresBase.hold_run_lease`), which
the server releases when the supervisor dies. The layout is in :mod:`~._pg_schema` and
``docs/storage.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, final

from .._states import RunState
from ._artifacts import ArtifactsFamily
from ._batch import BatchFamily
from ._clone import ClonesFamily
from ._events import EventsFamily
from ._lookups import LookupsFamily
from ._pg_base import PostgresBase
from ._run_tags import TagsFamily
from ._runs import RunsFamily
from ._tasks import TasksFamily

if TYPE_CHECKING:
    from pathlib import Path


__all__ = ("PostgresMetadataStore", "open_postgres")

#: A new run, its tags, and the flow's row (created on its first run) whose counter gives
#: the run id: ``candidate``, or one more than the last id when that is not smaller.
_INSERT_RUN: Final = f"""
WITH f AS (
    INSERT INTO flows (flow, created_at, last_run_id) VALUES (?, ?, ?)
    ON CONFLICT (flow) DO UPDATE
    SET last_run_id = greatest(flows.last_run_id + 1, excluded.last_run_id)
    RETURNING last_run_id
), r AS (
    INSERT INTO runs (flow, run_id, "user", status, created_at, origin_run_id, heartbeat_at, pid)
    SELECT ?, last_run_id, ?, '{RunState.RUNNING}', ?, ?, ?, ? FROM f
    RETURNING run_id
), t AS (
    INSERT INTO run_tags (flow, run_id, tag, system)
    SELECT ?, r.run_id, x.tag, x.system
    FROM r, unnest(?::text[], ?::smallint[]) AS x (tag, system)
)
SELECT run_id FROM r
"""


@final
class PostgresMetadataStore(
    PostgresBase,
    RunsFamily,
    TagsFamily,
    TasksFamily,
    ArtifactsFamily,
    EventsFamily,
    LookupsFamily,
    ClonesFamily,
    BatchFamily,
):
    """Runs, steps, tasks, attempts, tags, artifacts and metadata in a PostgreSQL database.

    The tables are created on the first write (in the schema ``tideflow``, or the one the
    URL names with ``?schema=``); reading a database without them finds nothing and
    creates nothing. An older layout is migrated when that is safe, a newer one is
    refused. Thread-safe; close it with :meth:`close` or use it as a context manager.

    :param url: ``postgresql://user[:password]@host[:port]/dbname[?param=value...]``.
    """

    def _insert_run(
        self, flow: str, candidate: int, row: tuple[object, ...], tags: list[tuple[str, int]]
    ) -> int:
        # One statement, outside a transaction: the flow's row is locked (runs started at
        # once, from any machine, take their ids one after the other) only while it runs,
        # not across round trips; and a statement that times out has changed nothing, so
        # it is tried again.
        names, kinds = [tag for tag, _ in tags], [system for _, system in tags]
        params = (flow, row[1], candidate, flow, *row, flow, names, kinds)
        return int(self._statement(lambda s: s.one(_INSERT_RUN, params)[0]))

    def heartbeat(self, flow: str, run_id: str, now: float | None = None) -> None:
        """Renew the lease of a run: its supervisor is alive. This also checks the lease
        connection, and takes the leases again if the connection was lost.

        :raises NotFound: if the run does not exist.
        """
        self._leases.renew()
        super().heartbeat(flow, run_id, now)

    def finish_run(
        self, flow: str, run_id: str, status: str, finished_at: float | None = None
    ) -> bool:
        """Record the final ``status`` of a run (see
        :meth:`~._runs.RunsFamily.finish_run`), and let go of its lease.

        :raises ValueError: if ``status`` is not a final run status.
        :raises NotFound: if the run does not exist.
        """
        finished = super().finish_run(flow, run_id, status, finished_at)
        self.release_run_lease(flow, run_id)
        return finished


def open_postgres(url: str, *, root: Path) -> PostgresMetadataStore:
    """Open the metadata store a ``postgresql://`` URL names (``root`` is not used: the
    whole history is on the server).

    :raises StoreError: if a tideflow parameter of the URL is not valid.
    """
    del root
    return PostgresMetadataStore(url)

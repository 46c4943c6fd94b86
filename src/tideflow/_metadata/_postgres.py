"""The metadata store on a PostgreSQL server: one run history for a team and many machines.

Selected with ``TIDEFLOW_METADATA_URL=postgresql://user@host:port/dbname`` (the
``tideflow[postgres]`` extra brings the driver). The store is made of the same table
families as the SQLite one (see :mod:`~._sql`); what differs is below them: run ids come
from a per-flow counter row locked by ``create_run``, and a run's liveness is a session
advisory lock its supervisor holds (:meth:`~._pg_base.PostgresBase.hold_run_lease`), which
the server releases when the supervisor dies. The layout is in :mod:`~._pg_schema` and
``docs/storage.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, final

from ._artifacts import ArtifactsFamily
from ._clone import ClonesFamily
from ._events import EventsFamily
from ._lookups import LookupsFamily
from ._pg_base import PostgresBase
from ._run_tags import TagsFamily
from ._runs import RunsFamily
from ._tasks import TasksFamily

if TYPE_CHECKING:
    from pathlib import Path

    from ._sql import Session

__all__ = ("PostgresMetadataStore", "open_postgres")


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
):
    """Runs, steps, tasks, attempts, tags, artifacts and metadata in a PostgreSQL database.

    The tables are created on the first write (in the schema ``tideflow``, or the one the
    URL names with ``?schema=``); reading a database without them finds nothing and
    creates nothing. An older layout is migrated when that is safe, a newer one is
    refused. Thread-safe; close it with :meth:`close` or use it as a context manager.

    :param url: ``postgresql://user[:password]@host[:port]/dbname[?param=value...]``.
    """

    def _next_run_number(self, s: Session, flow: str, candidate: int) -> int:
        # The UPDATE locks the flow's row until commit: runs started at once, from any
        # machine, take their ids one after the other.
        (last,) = s.one(
            "UPDATE flows SET last_run_id = greatest(last_run_id + 1, ?) "
            "WHERE flow = ? RETURNING last_run_id",
            (candidate, flow),
        )
        return int(last)

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

"""The artifacts index: which blob holds each artifact an attempt stored.

Table ``artifacts``; the blobs themselves are in the datastore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._rows import ARTIFACT_COLUMNS, artifact_record, artifact_rows, run_number
from ._sql import Session, StoreFamily

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ._records import ArtifactRecord

__all__ = ("ArtifactsFamily", "insert_artifacts")


def insert_artifacts(s: Session, rows: Sequence[Sequence[object]]) -> None:
    """Insert artifact rows (:func:`~._rows.artifact_rows`), each replacing the one of the
    same name and attempt."""
    s.many(s.sql.artifact_upsert, rows)


class ArtifactsFamily(StoreFamily):
    """The artifacts index."""

    __slots__ = ()

    def add_artifacts(self, records: Iterable[ArtifactRecord]) -> None:
        """Record artifacts, in one transaction. A record replaces the one of the same name
        and attempt; the store does not check that the attempt exists.
        """
        rows = artifact_rows(records)
        self._write(lambda s: insert_artifacts(s, rows))

    def list_artifacts(
        self, flow: str, run_id: str, step: str, task_id: str, attempt: int
    ) -> list[ArtifactRecord]:
        """Return the artifacts an attempt stored, by name (none for an unknown attempt)."""
        number = run_number(flow, run_id, step, task_id)
        sql = (
            f"SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE flow = ? AND run_id = ? "
            "AND step = ? AND task_id = ? AND attempt = ? ORDER BY name"
        )
        params = (flow, number, step, task_id, attempt)
        return [artifact_record(row) for row in self._read(lambda s: s.all(sql, params))]

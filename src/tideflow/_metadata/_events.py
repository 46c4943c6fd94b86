"""The metadata events family: what a task recorded about itself, attempt by attempt.

Table ``metadata``, in the order the events were recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ._rows import METADATA_COLUMNS, metadata_record, metadata_rows, run_number
from ._sql import Session, StoreFamily

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ._records import MetadataRecord

__all__ = ("EventsFamily", "insert_metadata")

_INSERT: Final = f"INSERT INTO metadata ({METADATA_COLUMNS}) VALUES ({', '.join(['?'] * 10)})"


def insert_metadata(s: Session, rows: Sequence[Sequence[object]]) -> None:
    """Insert metadata rows (:func:`~._rows.metadata_rows`)."""
    s.many(_INSERT, rows)


class EventsFamily(StoreFamily):
    """Metadata events."""

    __slots__ = ()

    def add_metadata(self, records: Iterable[MetadataRecord]) -> None:
        """Record metadata events, in one transaction; the attempt is not checked."""
        rows = metadata_rows(records)
        self._write(lambda s: insert_metadata(s, rows))

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
        rows = self._read(lambda s: s.all(sql + " ORDER BY attempt, id", params))
        return [metadata_record(row) for row in rows]

"""The tags family: a run's user tags, added and removed in one transaction.

Table ``run_tags`` (the system tags are written by :meth:`~._runs.RunsFamily.create_run`);
the rules a tag follows are in :mod:`~._tags`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._rows import run_not_found, run_number
from ._sql import Session, StoreFamily, fetch_run
from ._tags import check_tags, edit_user_tags

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._records import RunRecord

__all__ = ("TagsFamily",)


class TagsFamily(StoreFamily):
    """A run's user tags."""

    __slots__ = ()

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

        Either every change is made or none is; two edits at once are applied one after
        the other (the run's row is locked). Returns the run with its new tags.

        :raises TagError: if a tag breaks the tag rules (see :meth:`add_tags` and
            :meth:`remove_tags`); nothing is changed then.
        :raises NotFound: if the run does not exist.
        """
        removed, added = check_tags(remove), check_tags(add)
        number = run_number(flow, run_id)

        def edit(s: Session) -> RunRecord:
            lock = f"SELECT 1 FROM runs WHERE flow = ? AND run_id = ?{s.sql.for_update}"
            if s.one(lock, (flow, number)) is None:
                raise run_not_found(flow, run_id)
            rows = s.all(
                "SELECT tag, system FROM run_tags WHERE flow = ? AND run_id = ?", (flow, number)
            )
            system = frozenset(tag for tag, is_system in rows if is_system)
            user = frozenset(tag for tag, is_system in rows if not is_system)
            result = edit_user_tags(
                f"Run '{flow}/{run_id}'", system, user, remove=removed, add=added
            )
            s.many(
                "DELETE FROM run_tags WHERE flow = ? AND run_id = ? AND tag = ? AND system = 0",
                [(flow, number, tag) for tag in user - result],
            )
            s.many(
                "INSERT INTO run_tags (flow, run_id, tag, system) VALUES (?, ?, ?, 0)",
                [(flow, number, tag) for tag in sorted(result - user)],
            )
            return fetch_run(s, flow, number)

        return self._write(edit)

"""What every node of the client's core has: a pathspec, a parent, tags and children.

A node is the blocking query layer behind a client object. ``Run`` calls its node's
methods in the caller's thread; ``AsyncRun`` calls the same methods in a worker thread.
Nodes know nothing about either face (see ``_queries``).

What a node caches: the record that identifies it (a run, a step, a task), because it never
changes once final. What it asks the store again on every call: anything that may still
change while the run is going (status, attempts, artifacts, logs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, Final, Protocol

from .._exceptions import NamespaceMismatch, NotFound

if TYPE_CHECKING:
    from ._store import StoreHandle

__all__ = ("NO_TAGS", "UNKNOWN", "Node", "RecordNode", "to_datetime")

NO_TAGS: Final[frozenset[str]] = frozenset()
#: A value not read from the store yet.
UNKNOWN: Final = object()


def to_datetime(ts: float) -> datetime:
    """A timestamp of the stores (seconds since the epoch) as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


class Node:
    """What every node has: a pathspec, a parent, tags and children."""

    KIND: ClassVar[str]
    __slots__ = ("handle",)
    handle: StoreHandle

    @property
    def pathspec(self) -> str:
        raise NotImplementedError

    @property
    def attempt(self) -> int | None:
        """The attempt the node was opened at (tasks and artifacts only)."""
        return None

    @property
    def id(self) -> str:
        return self.pathspec.rsplit("/", 1)[-1]

    @property
    def created_at(self) -> datetime:
        raise NotImplementedError

    @property
    def parent(self) -> Node | None:
        raise NotImplementedError

    @property
    def user_tags(self) -> frozenset[str]:
        """The user tags of the run the node belongs to: its parent's (none for a flow)."""
        parent = self.parent
        return NO_TAGS if parent is None else parent.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        """The system tags of the run the node belongs to: its parent's (none for a flow)."""
        parent = self.parent
        return NO_TAGS if parent is None else parent.system_tags

    @property
    def tags(self) -> frozenset[str]:
        return self.user_tags | self.system_tags

    @property
    def origin_pathspec(self) -> str | None:
        return None

    def in_namespace(self, ns: str | None) -> bool:
        """Whether this object is in the namespace ``ns`` (``None``: every namespace)."""
        # The system tags first: they never change, so a run may have them already.
        return ns is None or ns in self.system_tags or ns in self.user_tags

    def children(self) -> list[Node]:
        """The children, newest first (in the current namespace, for a flow)."""
        raise NotImplementedError

    def child(self, id: str) -> Node:
        """The child ``id``.

        :raises NotFound: if there is none.
        """
        raise NotImplementedError

    def has_child(self, id: str) -> bool:
        try:
            self.child(id)
        except (NotFound, NamespaceMismatch):
            return False
        return True


class _Record(Protocol):
    """What a run's, step's or task's record has that names it."""

    @property
    def pathspec(self) -> str: ...
    @property
    def created_at(self) -> float: ...


class RecordNode(Node):
    """A node named by its record: a run, a step or a task."""

    __slots__ = ()
    _record: _Record

    @property
    def pathspec(self) -> str:
        return self._record.pathspec

    @property
    def created_at(self) -> datetime:
        return to_datetime(self._record.created_at)

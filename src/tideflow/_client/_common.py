"""What the sync and the async client objects share: the properties that read nothing.

A client object wraps a node (see ``_nodes``). Everything here answers from what the node
already holds, so it is the same plain property on ``Run`` and on ``AsyncRun``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

from ._nodes import Node, open_node

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ("ClientObject",)


def _rebuild(cls: type[ClientObject], pathspec: str, attempt: int | None, root: str | None) -> Any:
    node = open_node(cls._NODE, pathspec, attempt, namespace_check=False, root=root)
    return cls._from_node(node)


class ClientObject:
    """Base of every client object, sync or async."""

    __slots__ = ()
    _NODE: ClassVar[type[Node]]

    @property
    def _node(self) -> Node:
        raise NotImplementedError

    @classmethod
    def _from_node(cls, node: Node) -> Self:
        raise NotImplementedError

    def _wrap(self, node: Node) -> Any:
        """The client object of this flavour (sync or async) for ``node``."""
        raise NotImplementedError

    def _identity(self) -> tuple[str, str, int | None]:
        node = self._node
        return str(node.handle.root), node.pathspec, node.attempt

    def __repr__(self) -> str:
        _, pathspec, attempt = self._identity()
        extra = "" if attempt is None else f", attempt={attempt}"
        return f"{type(self).__name__}({pathspec!r}{extra})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, ClientObject)
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash((type(self), self._identity()))

    def __reduce__(self) -> tuple[Any, ...]:
        root, pathspec, attempt = self._identity()
        return (_rebuild, (type(self), pathspec, attempt, root))

    @property
    def id(self) -> str:
        """The last component of the pathspec: the flow name, run id, step name, task id
        or artifact name."""
        return self._node.id

    @property
    def pathspec(self) -> str:
        """The object's path, such as ``'HelloFlow/1763480462110811/start/1'``."""
        return self._node.pathspec

    @property
    def path_components(self) -> list[str]:
        """The components of :attr:`pathspec`."""
        return self._node.pathspec.split("/")

    @property
    def created_at(self) -> datetime:
        """When the object was created, as a timezone-aware UTC datetime."""
        return self._node.created_at

    @property
    def tags(self) -> frozenset[str]:
        """The tags of the run this object belongs to, user and system (none for a flow)."""
        return self._node.tags

    @property
    def user_tags(self) -> frozenset[str]:
        """The user tags of the run this object belongs to."""
        return self._node.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        """The system tags of the run this object belongs to (``user:...``, ``runtime:...``,
        ``python_version:...``, ``tideflow_version:...``, ``date:...``)."""
        return self._node.system_tags

    @property
    def origin_pathspec(self) -> str | None:
        """The pathspec of the object this one was cloned from when its run was resumed,
        or ``None``."""
        return self._node.origin_pathspec

    @property
    def parent(self) -> Any:
        """The parent object: a run's flow, a step's run, a task's step, an artifact's task
        (``None`` for a flow)."""
        parent = self._node.parent
        return None if parent is None else self._wrap(parent)

"""What the blocking and the async client objects share: identity, and what reads nothing.

A client object wraps a node (see ``_node``). The properties here answer from what the node
already holds, so they are the same plain properties on ``Run`` and on ``AsyncRun``; the
queries declared here (see ``_queries``) are built into both faces like those of each level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

from ._namespace import get_namespace
from ._nodes import FlowNode, Node, list_flows, open_node
from ._queries import method

if TYPE_CHECKING:
    import os
    from datetime import datetime

    from .._config import Config

__all__ = ("ClientObject", "FlowListing", "LookUp")

#: What names an object: its pathspec, attempt, whether to check the namespace, and root.
LookUp = tuple[object, "int | None", bool, "str | os.PathLike[str] | Config | None"]


def _rebuild(cls: type[ClientObject], pathspec: str, attempt: int | None, root: str | None) -> Any:
    node = open_node(cls._NODE, pathspec, attempt, namespace_check=False, root=root)
    return cls._from_node(node)


class ClientObject:
    """Base of every client object, sync or async."""

    __slots__ = ()
    _NODE: ClassVar[type[Node]]

    def __init__(
        self,
        pathspec: str | None = None,
        attempt: int | None = None,
        *,
        _namespace_check: bool = True,
        _root: str | os.PathLike[str] | Config | None = None,
    ) -> None:
        self._look_up((pathspec, attempt, _namespace_check, _root))

    def _look_up(self, args: LookUp) -> None:
        """Find the object (blocking face) or check and keep what names it (async face)."""
        raise NotImplementedError

    @property
    def _node(self) -> Node:
        raise NotImplementedError

    @classmethod
    def _from_node(cls, node: Node) -> Self:
        raise NotImplementedError

    def _wrap(self, node: Node) -> Any:
        """The client object of this face (blocking or async) for ``node``."""
        raise NotImplementedError

    def _many(self, items: list[Any]) -> Any:
        """Several results as this face gives them: an iterator (blocking), a list (async)."""
        raise NotImplementedError

    is_in_namespace = method(
        lambda node: node.in_namespace(get_namespace()),
        "Return whether this object is in the current namespace (a flow is when one of "
        "its runs is).",
    )

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


class FlowListing:
    """Base of ``Flows`` and ``AsyncFlows``: the flows of a store, by name."""

    __slots__ = ("_namespace_check", "_root")

    def __init__(
        self,
        *,
        _namespace_check: bool = True,
        _root: str | os.PathLike[str] | Config | None = None,
    ) -> None:
        self._namespace_check = _namespace_check
        self._root = _root

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _list(self) -> list[FlowNode]:
        """The flows' nodes, by name (only those with a run in the namespace, if checked)."""
        return list_flows(self._root, self._namespace_check)

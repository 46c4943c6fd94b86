"""The containers the client hands out: child lists, task data, task artifacts, metadata."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar, overload

if TYPE_CHECKING:
    from datetime import datetime

    from .._metadata._records import ArtifactRecord

__all__ = ("ChildList", "Metadata", "TaskArtifacts", "TaskData")

T = TypeVar("T")


class TaskData:
    """The artifact values of a task: ``task.data.my_var``.

    Each value is loaded from the datastore the first time it is read, then kept.
    ``"name" in data`` tells whether the task has an artifact, ``list(data)`` and
    ``list(data.__dict__)`` list their names, ``vars(data)`` maps each name to its value
    (loaded when looked up).
    """

    __slots__ = ("_load", "_lock", "_pathspec", "_refs", "_values")

    def __init__(
        self,
        pathspec: str,
        refs: Mapping[str, ArtifactRecord],
        load: Callable[[ArtifactRecord], object],
    ) -> None:
        self._pathspec = pathspec
        self._refs = dict(refs)
        self._load = load
        self._values: dict[str, object] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._get(name)

    @property
    def __dict__(self) -> Mapping[str, object]:  # type: ignore[override]
        """Every artifact, by name; a value is loaded when it is looked up."""
        return _Values(self)

    def __contains__(self, name: object) -> bool:
        """Return whether the task has an artifact called ``name``."""
        return name in self._refs

    def __iter__(self) -> Iterator[str]:
        """Iterate over the artifact names, sorted."""
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def __dir__(self) -> list[str]:
        return sorted({*object.__dir__(self), *self._refs})

    def __repr__(self) -> str:
        return f"<TaskData {self._pathspec}: {', '.join(self._refs) or 'no artifacts'}>"

    def _get(self, name: str) -> object:
        try:
            return self._values[name]
        except KeyError:
            pass
        ref = self._refs.get(name)
        if ref is None:
            names = ", ".join(self._refs) or "none"
            raise AttributeError(
                f"Task '{self._pathspec}' has no artifact '{name}'. Its artifacts are: {names}."
            ) from None
        value = self._load(ref)
        with self._lock:
            return self._values.setdefault(name, value)

    def _preload(self, names: tuple[str, ...]) -> None:
        for name in names or tuple(self._refs):
            self._get(name)


class _Values(Mapping[str, object]):
    """``vars(task.data)``: the names of a task's artifacts, and their values on demand."""

    __slots__ = ("_data",)

    def __init__(self, data: TaskData) -> None:
        self._data = data

    def __getitem__(self, name: str) -> object:
        if name not in self._data:
            raise KeyError(name)
        return self._data._get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"<artifacts of {self._data._pathspec}: {', '.join(self._data) or 'none'}>"


class TaskArtifacts(Generic[T]):
    """The artifacts of a task as ``DataArtifact`` objects: ``task.artifacts.my_var``.

    Iterate it for every artifact; ``"name" in artifacts`` tells whether one exists.
    """

    __slots__ = ("_items", "_pathspec")

    def __init__(self, pathspec: str, items: Mapping[str, T]) -> None:
        self._pathspec = pathspec
        self._items = dict(items)

    def __getattr__(self, name: str) -> T:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._items[name]
        except KeyError:
            names = ", ".join(self._items) or "none"
            raise AttributeError(
                f"Task '{self._pathspec}' has no artifact '{name}'. Its artifacts are: {names}."
            ) from None

    def __contains__(self, name: object) -> bool:
        """Return whether the task has an artifact called ``name``."""
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        """Iterate over the artifacts, by name."""
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __dir__(self) -> list[str]:
        return sorted({*object.__dir__(self), *self._items})

    def __repr__(self) -> str:
        return f"<TaskArtifacts {self._pathspec}: {', '.join(self._items) or 'no artifacts'}>"


class Metadata(NamedTuple):
    """One metadata event of a task attempt: ``task.metadata``.

    ``task`` is the client task object it belongs to.
    """

    name: str
    value: str
    created_at: datetime
    type: str
    task: Any


class ChildList(Generic[T]):
    """What ``Flow.runs``, ``Run.steps`` and ``Step.tasks`` give: call it, iterate it or
    index it.

    ``flow.runs()`` and ``flow.runs('tag')`` return an iterator, as in the reference API;
    ``for run in flow.runs``, ``flow.runs[0]`` and ``len(flow.runs)`` work too, and a
    string looks a child up by id, as ``run.steps['start']``. The list is read from the
    store when it is first used, and kept.
    """

    __slots__ = ("_fetch", "_items", "_lookup", "_owner")

    def __init__(
        self,
        owner: str,
        fetch: Callable[[tuple[str, ...]], list[T]],
        lookup: Callable[[str], T],
    ) -> None:
        self._owner = owner
        self._fetch = fetch
        self._lookup = lookup
        self._items: list[T] | None = None

    def __repr__(self) -> str:
        return f"<children of {self._owner}>"

    def __call__(self, *tags: str) -> Iterator[T]:
        """Return an iterator over the children whose run carries every tag in ``tags``."""
        return iter(self._fetch(tags))

    def _list(self) -> list[T]:
        if self._items is None:
            self._items = self._fetch(())
        return self._items

    def __iter__(self) -> Iterator[T]:
        """Iterate over every child, newest first."""
        return iter(self._list())

    def __len__(self) -> int:
        return len(self._list())

    @overload
    def __getitem__(self, index: int | str) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | str | slice) -> T | list[T]:
        """The child at a position (newest first), or the child with the id ``index``.

        :raises KeyError: if ``index`` is a string that names no child.
        """
        if isinstance(index, str):
            return self._lookup(index)
        return self._list()[index]

"""Reading stored cards: :func:`get_cards`, :class:`Card` and :class:`CardContainer`.

These are what the ``card`` command and the UI use: ``list_task_cards(blobs, pathspec)``
lists a task's cards in a datastore without the client objects, and ``Card.get()`` reads
one's HTML from it.
"""

from __future__ import annotations

import os
import tempfile
import webbrowser
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, final, overload

from ._store import CardFile, content_hash, list_card_files, read_card

if TYPE_CHECKING:
    from .._stores._interfaces import BlobStore

__all__ = ("Card", "CardContainer", "get_cards", "list_task_cards")


@final
class Card:
    """One stored card of a task. ``card.get()`` gives its HTML; in a notebook it shows
    itself."""

    __slots__ = ("_blobs", "_file", "pathspec")

    def __init__(self, file: CardFile, pathspec: str, blobs: BlobStore) -> None:
        self._file = file
        self._blobs = blobs
        #: The task the card belongs to.
        self.pathspec = pathspec

    def __repr__(self) -> str:
        return f"<Card {self.type} id={self.id!r} of {self.pathspec}>"

    @property
    def type(self) -> str:
        """The card's type (``default``, ``blank``)."""
        return self._file.type

    @property
    def id(self) -> str | None:
        """The id given in ``@card(id=...)``, or ``None``."""
        return self._file.id

    @property
    def path(self) -> str:
        """Where the card is stored: a file of the local datastore, or the object's
        ``s3://`` URL."""
        return self._file.path

    @property
    def hash(self) -> str:
        """The hash of the card's current HTML."""
        return content_hash(self.get())

    def get(self) -> str:
        """The card's HTML page (self-contained), as stored now.

        :raises tideflow.exception.NotFound: if the card is no longer stored.
        """
        return read_card(self._blobs, self._file)

    def view(self) -> str:
        """Open the card in a web browser; return the file that was opened."""
        fd, name = tempfile.mkstemp(prefix="tideflow-card-", suffix=".html")
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(self.get())
        webbrowser.open(Path(name).as_uri())
        return name

    def _repr_html_(self) -> str:
        return self.get()


@final
class CardContainer(Sequence[Card]):
    """The cards of a task, in the order of the step's ``@card`` decorators."""

    def __init__(self, cards: Sequence[Card]) -> None:
        self._cards = list(cards)

    @overload
    def __getitem__(self, index: int) -> Card: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Card]: ...
    def __getitem__(self, index: Any) -> Any:
        return self._cards[index]

    def __len__(self) -> int:
        return len(self._cards)

    def __iter__(self) -> Iterator[Card]:
        return iter(self._cards)

    def __repr__(self) -> str:
        return f"<CardContainer of {len(self._cards)} card(s)>"

    def _repr_html_(self) -> str:
        return "".join(card.get() for card in self._cards)


def list_task_cards(
    blobs: BlobStore,
    pathspec: str,
    id: str | None = None,
    type: str | None = None,
    legacy_root: str | os.PathLike[str] | None = None,
) -> list[Card]:
    """The cards stored in the datastore ``blobs`` for the task ``Flow/run/step/task``.

    :param legacy_root: the local store folder, where older versions kept cards as files;
        looked at when the datastore holds no card of the task.
    """
    legacy = Path(legacy_root) if legacy_root is not None else None
    return [
        Card(file, pathspec, blobs)
        for file in list_card_files(blobs, pathspec, legacy)
        if (id is None or file.id == id) and (type is None or file.type == type)
    ]


def get_cards(
    task: Any, id: str | None = None, type: str | None = None, follow_resumed: bool = True
) -> CardContainer:
    """The cards of a task: a :class:`~tideflow.Task` or its pathspec.

    :param task: a ``Task`` (or ``AsyncTask``) or ``'Flow/run/step/task'``.
    :param id: only the card with this id.
    :param type: only the cards of this type.
    :param follow_resumed: for a task cloned by a resume, the cards of the task it was
        cloned from.
    :raises tideflow.exception.NotFound: if the task does not exist.
    """
    from .._client import Task

    if isinstance(task, str):
        task = Task(task, _namespace_check=False)
    node = getattr(task, "_sync_node", None) or getattr(task, "_node", None)
    if node is None:
        raise TypeError(f"get_cards takes a Task or a task pathspec, not {task!r}.")
    handle = node.handle
    blobs, root = handle.stores.blobs, handle.root
    cards = list_task_cards(blobs, node.pathspec, id, type, root)
    origin = node.origin_pathspec
    if not cards and follow_resumed and origin:
        cards = list_task_cards(blobs, origin, id, type, root)
    return CardContainer(cards)

"""The cards of a task, for the task page: what it lists, and each card's page.

Cards are read from the datastore the UI's configuration names (a bucket too), through the
same functions as ``get_cards``; a task cloned by a resume shows the cards of the task it
was cloned from. A card is served on its own URL and shown in a sandboxed ``iframe``: its
HTML is self-contained, so it needs no script, no network and nothing of the UI's origin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from .._cards._access import Card, list_task_cards
from .._cards._store import content_hash
from .._client._nodes import TaskNode, open_node
from .._exceptions import NotFound

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("CARD_HEADERS", "CardRow", "card_page", "cards_state", "task_cards")

#: Headers of a card's page: sandboxed even when opened on its own, nothing fetched.
CARD_HEADERS: Final = {
    "Content-Security-Policy": (
        "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


class CardRow(msgspec.Struct, frozen=True, kw_only=True):
    """One card of a task, as the page lists it."""

    #: The card's file name (``00-default.html``), the last part of its URL.
    name: str
    type: str
    id: str | None
    #: The hash of its HTML now: it changes when a running task refreshes the card.
    hash: str

    @property
    def label(self) -> str:
        """``default``, or ``blank: progress`` for a card with an id."""
        return f"{self.type}: {self.id}" if self.id else self.type


def _task(root: Path, pathspec: str) -> TaskNode:
    node = open_node(TaskNode, pathspec, root=root, namespace_check=False)
    assert isinstance(node, TaskNode)
    return node


def _cards(node: TaskNode) -> list[Card]:
    handle = node.handle
    cards = list_task_cards(handle.stores.blobs, node.pathspec, legacy_root=handle.root)
    origin = node.origin_pathspec
    if not cards and origin:
        cards = list_task_cards(handle.stores.blobs, origin, legacy_root=handle.root)
    return cards


def _name(card: Card) -> str:
    return card.path.rsplit("/", 1)[-1]


def _rows(node: TaskNode) -> tuple[CardRow, ...]:
    rows = []
    for card in _cards(node):
        try:
            page = card.get()
        except NotFound:
            continue  # removed since it was listed
        rows.append(CardRow(name=_name(card), type=card.type, id=card.id, hash=content_hash(page)))
    return tuple(rows)


def task_cards(root: Path, pathspec: str) -> tuple[CardRow, ...]:
    """The cards of the task ``pathspec``, in the order of its ``@card`` decorators.

    :raises NotFound: if the task does not exist.
    """
    return _rows(_task(root, pathspec))


def cards_state(root: Path, pathspec: str) -> tuple[tuple[CardRow, ...], bool]:
    """The cards of a task now, and whether the task has ended (read first, so a reader
    that sees ``True`` has the final cards).

    :raises NotFound: if the task does not exist.
    """
    node = _task(root, pathspec)
    ended = node.finished() or node.step.run.settled()
    return _rows(node), ended


def card_page(root: Path, pathspec: str, name: str) -> str:
    """The HTML of the card ``name`` (``00-default.html``) of the task ``pathspec``.

    :raises NotFound: if the task or the card does not exist.
    """
    for card in _cards(_task(root, pathspec)):
        if _name(card) == name:
            return card.get()
    raise NotFound(f"The task {pathspec} has no card {name!r}.")

"""Where cards are kept: one self-contained HTML page per card of a task, in the datastore.

A card of ``Flow/run/step/task`` is the named object
``cards/Flow/run/step/task/<NN>-<type>[-<id>].html`` of the blob store
(:meth:`~tideflow._stores._interfaces.BlobStore.put_named`): a file below the store folder
with the local datastore, an object below the bucket's prefix with ``s3://``. ``NN`` is the
card's position among the step's ``@card`` decorators. A write replaces the page whole, so
a reader sees the previous version or the new one, never half a card; a card refreshed
while its task runs is rewritten in place.

Runs written before cards moved to the datastore kept them as files under
``<root>/cards`` of the local store folder, with the same names; :func:`list_card_files`
still finds those when the datastore holds no card of the task.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import msgspec

from .._exceptions import NotFound

if TYPE_CHECKING:
    from .._stores._interfaces import BlobStore

__all__ = ("CardFile", "card_name", "content_hash", "list_card_files", "read_card", "write_card")

_NAME = re.compile(r"^(\d+)-([A-Za-z0-9_]+?)(?:-([A-Za-z_][A-Za-z0-9_]*))?\.html$")


class CardFile(msgspec.Struct, frozen=True, kw_only=True):
    """One stored card: its position, type, id and where it is.

    ``name`` is its object name in the datastore; ``None`` for a card of an older run kept
    as a local file, which ``path`` names.
    """

    index: int
    type: str
    id: str | None
    path: str
    name: str | None = None

    @property
    def file_name(self) -> str:
        """The card's file name (``00-default.html``)."""
        return self.path.rsplit("/", 1)[-1]


def card_name(index: int, card_type: str, card_id: str | None) -> str:
    """The file name of a card."""
    return f"{index:02d}-{card_type}" + (f"-{card_id}" if card_id else "") + ".html"


def _folder(pathspec: str) -> str:
    return "cards/" + pathspec.strip("/")


def write_card(
    blobs: BlobStore, pathspec: str, index: int, card_type: str, card_id: str | None, page: str
) -> str:
    """Store (or replace) a card's HTML in the datastore; return its object name."""
    name = f"{_folder(pathspec)}/{card_name(index, card_type, card_id)}"
    blobs.put_named(name, page.encode("utf-8"))
    return name


def _where(blobs: BlobStore, name: str) -> str:
    """Where a named object is, for people: a local path, or the object's URL."""
    url = blobs.url
    parts = urlsplit(url)
    if parts.scheme == "file":
        return str(Path(unquote(parts.path), name))
    return f"{url.rstrip('/')}/{name}"


def list_card_files(
    blobs: BlobStore, pathspec: str, legacy_root: Path | None = None
) -> list[CardFile]:
    """The stored cards of a task, in the order of the step's decorators.

    :param legacy_root: the local store folder, where runs of older versions kept their
        cards; looked at only when the datastore holds none for the task.
    """
    found = []
    for name in blobs.list_named(_folder(pathspec)):
        match = _NAME.match(name.rsplit("/", 1)[-1])
        if match and name.count("/") == pathspec.strip("/").count("/") + 2:
            found.append(
                CardFile(
                    index=int(match[1]),
                    type=match[2],
                    id=match[3],
                    path=_where(blobs, name),
                    name=name,
                )
            )
    if not found and legacy_root is not None:
        found = _legacy_files(Path(legacy_root, "cards", *pathspec.split("/")))
    return sorted(found, key=lambda card: card.index)


def _legacy_files(folder: Path) -> list[CardFile]:
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(
                CardFile(
                    index=int(match[1]), type=match[2], id=match[3], path=str(entry.absolute())
                )
            )
    return found


def read_card(blobs: BlobStore, file: CardFile) -> str:
    """The HTML of a stored card.

    :raises NotFound: if the card is no longer stored.
    """
    if file.name is None:
        try:
            return Path(file.path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFound(f"The card {file.path} is no longer stored.") from None
    data = blobs.get_named(file.name)
    if data is None:
        raise NotFound(f"The card {file.path} is no longer stored.")
    return data.decode("utf-8")


def content_hash(text: str) -> str:
    """The hash of a card's HTML, as ``Card.hash`` gives it."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()

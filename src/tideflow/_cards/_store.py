"""Where cards are kept: one self-contained HTML file per card of a task, in the store.

A card of ``Flow/run/step/task`` lives at
``<root>/cards/Flow/run/step/task/<NN>-<type>[-<id>].html``, where ``NN`` is the card's
position among the step's ``@card`` decorators. Writes are atomic (a temporary file, then a
rename), so a reader sees the previous version or the new one, never half a card; a card
refreshed while its task runs is rewritten in place.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import msgspec

__all__ = ("CardFile", "card_dir", "list_card_files", "write_card")

_NAME = re.compile(r"^(\d+)-([A-Za-z0-9_]+?)(?:-([A-Za-z_][A-Za-z0-9_]*))?\.html$")


class CardFile(msgspec.Struct, frozen=True, kw_only=True):
    """One stored card: its position, type, id and file."""

    index: int
    type: str
    id: str | None
    path: str

    @property
    def file_name(self) -> str:
        """The card's file name."""
        return Path(self.path).name


def card_dir(root: Path, pathspec: str) -> Path:
    """The folder of the cards of the task ``Flow/run/step/task``."""
    return Path(root, "cards", *pathspec.split("/"))


def card_name(index: int, card_type: str, card_id: str | None) -> str:
    """The file name of a card."""
    return f"{index:02d}-{card_type}" + (f"-{card_id}" if card_id else "") + ".html"


def write_card(
    root: Path, pathspec: str, index: int, card_type: str, card_id: str | None, page: str
) -> Path:
    """Store (or replace) a card's HTML; return its path."""
    folder = card_dir(root, pathspec)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / card_name(index, card_type, card_id)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".card-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(page)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def list_card_files(root: Path, pathspec: str) -> list[CardFile]:
    """The stored cards of a task, in the order of the step's decorators."""
    folder = card_dir(root, pathspec)
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
    return sorted(found, key=lambda card: card.index)


def content_hash(text: str) -> str:
    """The hash of a card's HTML, as ``Card.hash`` gives it."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()

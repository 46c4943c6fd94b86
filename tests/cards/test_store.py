"""Where cards are stored: named objects of the datastore, and the local files of runs
written by older versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tideflow._cards._access import list_task_cards
from tideflow._cards._store import card_name, list_card_files, write_card
from tideflow._datastore._cas import LocalBlobStore
from tideflow.exception import NotFound

if TYPE_CHECKING:
    from pathlib import Path

PATHSPEC = "F/3/start/7"


def test_cards_are_named_objects_of_the_datastore(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "store")
    name = write_card(blobs, PATHSPEC, 1, "blank", "progress", "<p>é</p>")
    assert name == "cards/F/3/start/7/01-blank-progress.html"
    write_card(blobs, PATHSPEC, 0, "default", None, "<p>0</p>")
    write_card(blobs, "F/3/start/70", 0, "default", None, "another task")
    [first, second] = list_task_cards(blobs, PATHSPEC)
    assert (first.type, first.id, second.type, second.id) == ("default", None, "blank", "progress")
    assert second.get() == "<p>é</p>"
    assert second.path == str(tmp_path / "store" / name)
    assert [c.id for c in list_task_cards(blobs, PATHSPEC, type="blank")] == ["progress"]


def test_cards_of_an_older_run_are_read_from_local_files(tmp_path: Path) -> None:
    """Before cards moved to the datastore, they were files under <root>/cards."""
    root = tmp_path / ".tideflow"
    folder = root.joinpath("cards", *PATHSPEC.split("/"))
    folder.mkdir(parents=True)
    (folder / card_name(0, "default", None)).write_text("<p>old</p>", encoding="utf-8")
    (folder / ".card-x.tmp").write_text("half", encoding="utf-8")
    remote = LocalBlobStore(tmp_path / "elsewhere")  # a datastore that is not the root
    [old] = list_task_cards(remote, PATHSPEC, legacy_root=root)
    assert old.get() == "<p>old</p>" and old.path == str(folder / "00-default.html")
    assert list_task_cards(remote, PATHSPEC) == []
    write_card(remote, PATHSPEC, 0, "default", None, "<p>new</p>")
    [new] = list_task_cards(remote, PATHSPEC, legacy_root=root)
    assert new.get() == "<p>new</p>", "the datastore's cards come first"


def test_a_card_removed_after_listing_is_not_found(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    write_card(blobs, PATHSPEC, 0, "default", None, "x")
    [file] = list_card_files(blobs, PATHSPEC)
    (tmp_path / "cards/F/3/start/7/00-default.html").unlink()
    [card] = list_task_cards(blobs, PATHSPEC) or [None]
    assert card is None
    from tideflow._cards._access import Card

    with pytest.raises(NotFound, match=r"^The card .*00-default\.html is no longer stored\.$"):
        Card(file, PATHSPEC, blobs).get()

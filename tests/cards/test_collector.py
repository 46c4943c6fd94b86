"""current.card: which card a component goes to, ids, and how often refresh() stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from tideflow._cards._render import TaskSummary
from tideflow._cards._store import list_card_files, read_card
from tideflow._cards._task import TaskCards
from tideflow._datastore._cas import LocalBlobStore
from tideflow.cards import Markdown, ProgressBar

PATHSPEC = "F/1/start/1"


def cards(root: Path, *attributes: dict[str, object]) -> TaskCards:
    return TaskCards(
        LocalBlobStore(root),
        PATHSPEC,
        0,
        list(attributes),
        lambda ok: TaskSummary(pathspec=PATHSPEC, ok=ok),
    )


def pages(root: Path) -> dict[str, str]:
    blobs = LocalBlobStore(root)
    return {f.file_name: read_card(blobs, f) for f in list_card_files(blobs, PATHSPEC)}


def test_append_goes_to_the_editable_card(tmp_path: Path) -> None:
    task = cards(tmp_path, {"type": "default"}, {"type": "blank", "id": "extra"})
    task.collector.append(Markdown("to the card without an id"))
    task.collector["extra"].append("a plain value")
    task.finish(True)
    found = pages(tmp_path)
    assert sorted(found) == ["00-default.html", "01-blank-extra.html"]
    assert "to the card without an id" in found["00-default.html"]
    assert "a plain value" in found["01-blank-extra.html"]
    assert "succeeded" in found["00-default.html"]


def test_customize_picks_the_card(tmp_path: Path) -> None:
    task = cards(tmp_path, {"type": "default"}, {"type": "blank", "customize": True})
    task.collector.append(Markdown("custom"))
    assert [len(s.components) for s in task.slots] == [0, 1]


def test_no_editable_card_drops_with_one_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = cards(tmp_path, {"type": "blank", "id": "a"}, {"type": "blank", "id": "b"})
    task.collector.append(Markdown("x"))
    task.collector.append(Markdown("y"))
    assert all(not s.components for s in task.slots)
    err = capsys.readouterr().err
    assert err.count("current.card: the step has several cards") == 1


def test_components_by_id_and_replacing_a_card(tmp_path: Path) -> None:
    task = cards(tmp_path, {"type": "blank", "id": "p"})
    task.collector["p"].append(ProgressBar(max=3, id="bar"))
    task.collector.append(Markdown("named"), id="text")
    task.collector.components["bar"].update(3)
    assert set(task.collector.components) == {"bar", "text"}
    task.collector["p"] = [Markdown("only this")]
    assert [type(c).__name__ for c in task.collector["p"]] == ["Markdown"]


def test_refresh_is_throttled_unless_forced(tmp_path: Path) -> None:
    task = cards(tmp_path, {"type": "blank", "refresh_interval": 3600})
    task.collector.append(Markdown("first"))
    task.collector.refresh()
    task.collector.append(Markdown("second"))
    task.collector.refresh()
    assert "second" not in pages(tmp_path)["00-blank.html"]
    task.collector.refresh(force=True)
    assert "second" in pages(tmp_path)["00-blank.html"]


def test_a_failed_step_still_gets_its_cards(tmp_path: Path) -> None:
    task = cards(tmp_path, {"type": "default"})
    task.finish(False)
    assert "failed" in pages(tmp_path)["00-default.html"]

"""@card in runs: cards stored as self-contained HTML, refreshed while the task runs,
read with get_cards and the card command; a card that fails never fails its task."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import anyio
import pytest

from executors import executor, wait_for_file
from feature_runs import copy_flow, run_flow
from tideflow import AsyncTask, Flow, Runner, Task
from tideflow.cards import get_cards

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("executor",)

#: What a self-contained page must not hold: a reference to anything outside it.
OUTSIDE = re.compile(r"""(src|href)=["'](https?:)?//|<script|<link|@import""", re.IGNORECASE)


def assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert not OUTSIDE.search(page), OUTSIDE.search(page)


async def test_cards_of_a_run(tideflow_root: Path, executor: str) -> None:
    """Two cards on start (default with components, blank with a progress bar), and on
    end a card with a broken component, an error card, a card left out, a slow card."""
    folder = tideflow_root.parent
    running = await run_flow(folder, "card_flow.py")
    assert running.status == "successful", running.stderr
    run = running.run
    cards = get_cards(run["start"].task)
    assert [(c.type, c.id) for c in cards] == [("default", None), ("blank", "progress")]
    default = cards[0].get()
    assert_self_contained(default)
    assert "<h1>Report</h1>" in default and "<strong>answer</strong>" in default
    assert "data:image/png;base64," in default and "<svg" in default and "a dict" in default
    assert "answer" in default and "42" in default, "the default card lists the artifacts"
    progress = get_cards(run["start"].task.pathspec, id="progress")
    assert len(progress) == 1 and 'value="10"' in progress[0].get()
    end = get_cards(run["end"].task)
    assert [(c.type, c.id) for c in end] == [
        ("default", "fails"),
        ("nonexistent", "unknown"),
        ("blank", "slow"),
    ]
    assert "before the broken one" in end[0].get()
    assert "Broken could not render: RuntimeError" in end[0].get()
    assert "Unknown card type &#x27;nonexistent&#x27;" in end[1].get()
    assert "longer than 0.2 seconds" in end[2].get()
    stderr = running.stderr
    assert "current.card: no card has id 'nowhere'" in stderr
    assert "@card: the nonexistent card could not be rendered" in stderr
    assert run["end"].task.data.done is True
    assert len(get_cards(run["end"].task, type="blank")) == 1
    assert cards[0].hash == get_cards(run["start"].task)[0].hash
    async_task = await AsyncTask(run["start"].task.pathspec)
    assert [c.path for c in get_cards(async_task)] == [c.path for c in cards]


async def test_a_card_refreshes_while_the_task_runs(tideflow_root: Path, executor: str) -> None:
    """After current.card.refresh() a reader sees the card before the task ends."""
    folder = tideflow_root.parent
    gate = folder / "gate"
    gate.mkdir()
    path = copy_flow(folder, "card_flow.py")
    runner = Runner(str(path), show_output=False, env={"CARD_GATE": str(gate)})
    running = await runner.async_run()
    try:
        await anyio.to_thread.run_sync(wait_for_file, gate / "refreshed")
        task = Task(f"{running.run.pathspec}/start/1")
        live = get_cards(task, id="progress")
        assert len(live) == 1
        assert 'value="0"' in live[0].get()
        assert task.finished is False
    finally:
        (gate / "go").write_text("go")
    await running.wait()
    assert running.status == "successful", running.stderr
    assert 'value="10"' in get_cards(task, id="progress")[0].get()


def test_card_command(tideflow_root: Path) -> None:
    """``card list``, ``card get`` and ``card view`` from the command line."""
    folder = tideflow_root.parent
    path = copy_flow(folder, "card_flow.py")
    subprocess.run([sys.executable, str(path), "run"], cwd=folder, check=True, capture_output=True)

    def card(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(path), "card", *args],
            check=False,
            cwd=folder,
            capture_output=True,
            text=True,
            env={**os.environ, "BROWSER": "true"},
        )

    listed = card("list")
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"/start/1  type=default  id=-  .*00-default\.html", listed.stdout)
    assert "type=blank  id=progress" in listed.stdout
    got = card("get", "start", "--id", "progress")
    assert got.returncode == 0 and got.stdout.startswith("<!DOCTYPE html>")
    saved = card("get", "start", "start.html", "--type", "default")
    assert saved.returncode == 0 and (folder / "start.html").read_text().startswith("<!DOCT")
    several = card("get", "start")
    assert several.returncode == 2 and "has 2 cards" in several.stderr
    missing = card("get", "start", "--id", "nope")
    assert missing.returncode == 1 and "No card found for start with id nope" in missing.stderr
    viewed = card("view", "start", "--id", "progress")
    assert viewed.returncode == 0, viewed.stderr
    assert viewed.stdout.startswith("Opened ")


async def test_with_card_adds_a_default_card_to_every_step(tideflow_root: Path) -> None:
    """``decospecs=["card"]`` (``--with card``) gives every step a default card."""
    folder = tideflow_root.parent
    running = await run_flow(folder, "project_flow.py", top={"decospecs": ["card"]})
    assert running.status == "successful", running.stderr
    for step in ("start", "end"):
        [only] = get_cards(running.run[step].task)
        assert only.type == "default"
        assert f"/{step}/" in only.pathspec
    assert "recommender" in get_cards(running.run["start"].task)[0].get()


def _copy_metadata(root: Path, other: Path) -> None:
    """Give ``other`` a copy of the run records of ``root`` (and nothing else of it)."""
    import sqlite3

    other.mkdir(parents=True)
    source = sqlite3.connect(root / "metadata.db")
    target = sqlite3.connect(other / "metadata.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


@pytest.mark.parametrize("datastore", ["suite", "s3"])
def test_cards_are_read_from_the_datastore_on_another_machine(
    tideflow_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    datastore: str,
) -> None:
    """Another machine shares the datastore (S3, or this store folder by a file:// URL) and
    the run records, not the local folder of the machine that ran the flow: it lists, reads
    and saves the cards with get_cards and the card command. ``suite``: the suite's
    datastore; ``s3``: a bucket of the suite's S3 server in any case."""
    if datastore == "s3":
        server = request.getfixturevalue("s3_server")
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv(
            "TIDEFLOW_DATASTORE_URL", f"s3://{request.getfixturevalue('s3_bucket')}"
        )
    folder = tideflow_root.parent
    path = copy_flow(folder, "card_flow.py")
    subprocess.run([sys.executable, str(path), "run"], cwd=folder, check=True, capture_output=True)
    datastore = os.environ.get("TIDEFLOW_DATASTORE_URL") or tideflow_root.as_uri()
    if datastore.startswith("s3://"):
        assert not (tideflow_root / "cards").exists(), "the cards went to the bucket"
    if os.environ.get("TIDEFLOW_METADATA_URL") is None:
        _copy_metadata(tideflow_root, folder / "other" / ".tideflow")
    elsewhere = folder / "other"
    elsewhere.mkdir(exist_ok=True)
    monkeypatch.setenv("TIDEFLOW_ROOT", str(elsewhere / ".tideflow"))
    monkeypatch.setenv("TIDEFLOW_DATASTORE_URL", datastore)
    monkeypatch.chdir(elsewhere)
    assert not (elsewhere / ".tideflow" / "cards").exists()
    [run] = list(Flow("CardFlow"))
    cards = get_cards(run["start"].task)
    assert [(c.type, c.id) for c in cards] == [("default", None), ("blank", "progress")]
    assert "<h1>Report</h1>" in cards[0].get()
    listed = subprocess.run(
        [sys.executable, str(path), "card", "list", "start"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "type=blank  id=progress" in listed.stdout
    got = subprocess.run(
        [sys.executable, str(path), "card", "get", "start", "--id", "progress"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
    )
    assert got.returncode == 0 and 'value="10"' in got.stdout, got.stderr

"""A task's cards on its page, over HTTP through an ASGI client, on both backends: listed,
each served on its own sandboxed URL, and followed while the task runs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the ui extra is not installed")

import httpx

from tideflow._metadata._sqlite import SQLiteMetadataStore
from tideflow._ui._app import create_app

from .conftest import run_flow
from .test_app import _events

CARD_FLOW = Path(__file__).parent.parent / "flows" / "card_flow.py"


@pytest.fixture(scope="module")
def card_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A finished run of ``card_flow.py``: the store's root and the run's id."""
    root = tmp_path_factory.mktemp("ui-cards") / ".tideflow"
    return root, run_flow(root, flow=CARD_FLOW)


@pytest.fixture
async def client(card_store: tuple[Path, str]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(card_store[0]))
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
        yield client


def _task(card_store: tuple[Path, str], step: str) -> str:
    root, run_id = card_store
    with SQLiteMetadataStore(root) as metadata:
        [task] = metadata.list_tasks("CardFlow", run_id, step)
    return f"/runs/CardFlow/{run_id}/{step}/{task.task_id}"


async def test_the_task_page_lists_its_cards_in_sandboxed_frames(
    client: httpx.AsyncClient, card_store: tuple[Path, str]
) -> None:
    base = _task(card_store, "start")
    text = (await client.get(base)).text
    assert text.count('<iframe sandbox=""') == 2
    assert f'src="{base}/cards/00-default.html?v=' in text
    assert f'src="{base}/cards/01-blank-progress.html?v=' in text
    assert "blank: progress" in text
    end = (await client.get(_task(card_store, "end"))).text
    assert end.count("<iframe") == 3 and "default: fails" in end


async def test_a_card_is_served_sandboxed(
    client: httpx.AsyncClient, card_store: tuple[Path, str]
) -> None:
    response = await client.get(_task(card_store, "start") + "/cards/00-default.html")
    assert response.status_code == 200
    assert response.text.startswith("<!DOCTYPE html>") and "<h1>Report</h1>" in response.text
    policy = response.headers["content-security-policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy
    missing = await client.get(_task(card_store, "start") + "/cards/09-nope.html")
    assert missing.status_code == 404 and "has no card &#39;09-nope.html&#39;" in missing.text


async def test_card_events_of_a_finished_task(
    client: httpx.AsyncClient, card_store: tuple[Path, str]
) -> None:
    """A finished task's cards come as one event, then the end."""
    response = await client.get(_task(card_store, "start") + "/cards/events")
    events = _events(response.text)
    assert [e.get("event") for e in events] == [None, "end"]
    cards = json.loads(events[0]["data"])
    assert [c["name"] for c in cards] == ["00-default.html", "01-blank-progress.html"]
    assert [c["label"] for c in cards] == ["default", "blank: progress"]
    assert all(len(c["hash"]) == 40 for c in cards)


async def test_a_task_without_cards_says_so(tmp_path: Path) -> None:
    from .conftest import FLOW

    root = tmp_path / ".tideflow"
    run_id = run_flow(root, "--count", "1", flow=FLOW)
    transport = httpx.ASGITransport(app=create_app(root))
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
        text = (await client.get(f"/runs/UiFlow/{run_id}/start/1")).text
    assert "<iframe" not in text and "No cards." in text

"""Every page and stream of the web UI, over HTTP through an ASGI client, on both backends."""

from __future__ import annotations

import pickle
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the ui extra is not installed")

import httpx

from tideflow._metadata._sqlite import SQLiteMetadataStore
from tideflow._ui._app import create_app

from .conftest import UiStore, run_flow

FLOW = "UiFlow"


@pytest.fixture
async def client(ui_store: UiStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ui_store.root))
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
        yield client


def _task_url(store: UiStore, run_id: str, step: str) -> str:
    """The task page of ``step``'s first task."""
    with SQLiteMetadataStore(store.root) as metadata:
        task = metadata.list_tasks(FLOW, run_id, step)[-1]
    return f"/runs/{FLOW}/{run_id}/{step}/{task.task_id}"


def _events(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(": ")
            fields[name] = fields[name] + "\n" + value if name in fields else value
        if "data" in fields:
            events.append(fields)
    return events


async def test_flows_page_lists_the_flow(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert f'href="/flows/{FLOW}"' in response.text


async def test_runs_page_shows_status_user_tags(
    client: httpx.AsyncClient, ui_store: UiStore
) -> None:
    text = (await client.get(f"/flows/{FLOW}")).text
    assert f'data-run="{ui_store.succeeded}"' in text
    assert f'data-run="{ui_store.failed}"' in text
    assert "state-failed" in text and "state-succeeded" in text
    assert ">other<" in text and ">tester<" in text
    assert ">good</a>" in text
    assert "2 runs" in text


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("status=failed", "failed"),
        ("status=succeeded", "succeeded"),
        ("tag=good", "succeeded"),
        ("user=other", "failed"),
    ],
)
async def test_runs_page_filters(
    client: httpx.AsyncClient, ui_store: UiStore, query: str, kept: str
) -> None:
    text = (await client.get(f"/flows/{FLOW}?{query}")).text
    keep = getattr(ui_store, kept)
    drop = ui_store.failed if kept == "succeeded" else ui_store.succeeded
    assert f'data-run="{keep}"' in text
    assert f'data-run="{drop}"' not in text


async def test_runs_page_searches_by_run_id(client: httpx.AsyncClient, ui_store: UiStore) -> None:
    text = (await client.get(f"/flows/{FLOW}", params={"q": ui_store.failed[-6:]})).text
    assert f'data-run="{ui_store.failed}"' in text
    assert f'data-run="{ui_store.succeeded}"' not in text


async def test_runs_page_is_paged(tmp_path: Path) -> None:
    """120 runs make three pages of 50; page 3 holds the 20 oldest."""
    root = tmp_path / ".tideflow"
    with SQLiteMetadataStore(root) as metadata:
        ids = [
            metadata.create_run("ManyFlow", user="u", system_tags=("user:u",)).run_id
            for _ in range(120)
        ]
    transport = httpx.ASGITransport(app=create_app(root))
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
        first = (await client.get("/flows/ManyFlow")).text
        text = (await client.get("/flows/ManyFlow?page=3")).text
    # The first page reads only the runs it needs: it knows there are more, not how many.
    assert first.count("data-run=") == 50 and "more than 50 runs" in first
    assert 'href="?page=2&amp;' in first and 'href="?page=3&amp;' not in first
    assert "120 runs" in text
    assert text.count("data-run=") == 20
    assert f'data-run="{ids[0]}"' in text and f'data-run="{ids[-1]}"' not in text
    assert '<span class="current">3</span>' in text


async def test_run_page_graph_parameters_tasks(
    client: httpx.AsyncClient, ui_store: UiStore
) -> None:
    text = (await client.get(f"/runs/{FLOW}/{ui_store.succeeded}")).text
    for step in ("start", "body", "join", "report", "end"):
        assert re.search(f'class="step state-succeeded kind-[a-z]+" data-step="{step}"', text)
    assert "3/3 done" in text  # the foreach's label in the graph
    assert "<th>count</th><td><code>3</code>" in text
    for index in range(3):
        assert f'<span class="index">[{index}]</span>' in text


async def test_failed_run_graph_marks_the_failed_step(
    client: httpx.AsyncClient, ui_store: UiStore
) -> None:
    text = (await client.get(f"/runs/{FLOW}/{ui_store.failed}")).text
    assert 'class="step state-failed kind-linear" data-step="report"' in text
    assert 'data-step="end"' in text  # known from the recorded graph, never ran
    assert 'class="step state-skipped kind-end" data-step="end"' in text


async def test_run_events_of_a_finished_run(client: httpx.AsyncClient, ui_store: UiStore) -> None:
    response = await client.get(f"/runs/{FLOW}/{ui_store.succeeded}/events")
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    assert '"status": "succeeded"' in events[0]["data"]
    assert events[-1]["event"] == "end"


async def test_task_page_artifacts_preview_and_download(
    client: httpx.AsyncClient, ui_store: UiStore
) -> None:
    url = _task_url(ui_store, ui_store.succeeded, "join")
    text = (await client.get(url)).text
    assert '<code class="preview">14</code>' not in text  # count 3: 0 + 1 + 4
    assert '<code class="preview">5</code>' in text
    assert "&#39;hello from the join&#39;" in text
    assert "too large to preview" in text  # the 200 kB blob
    response = await client.get(f"{url}/artifacts/total")
    assert response.headers["content-disposition"] == 'attachment; filename="total.pickle"'
    assert pickle.loads(response.content) == 5
    assert pickle.loads((await client.get(f"{url}/artifacts/blob")).content) == b"x" * 200_000


async def test_failed_task_shows_its_exception(
    client: httpx.AsyncClient, ui_store: UiStore
) -> None:
    text = (await client.get(_task_url(ui_store, ui_store.failed, "report"))).text
    assert 'id="exception"' in text
    assert "ValueError" in text and "the report failed on purpose" in text
    assert 'class="badge state-failed"' in text


async def test_log_events_resume_after_the_last_id(
    client: httpx.AsyncClient, ui_store: UiStore
) -> None:
    url = _task_url(ui_store, ui_store.succeeded, "report") + "/logs/stdout/events"
    events = _events((await client.get(url)).text)
    assert [e["data"] for e in events[:2]] == ["report: the total is 5", "report: done"]
    assert events[-1]["event"] == "end"
    again = _events((await client.get(url, headers={"Last-Event-ID": events[0]["id"]})).text)
    assert [e["data"] for e in again] == ["report: done", ""]


async def test_log_event_bad_position_is_an_error(
    client: httpx.AsyncClient, ui_store: UiStore
) -> None:
    url = _task_url(ui_store, ui_store.succeeded, "report") + "/logs/stdout/events?position=3"
    with pytest.raises(ValueError, match="^Position 3 is not at the start of a line"):
        await client.get(url)


async def test_log_download_and_filter(client: httpx.AsyncClient, ui_store: UiStore) -> None:
    url = _task_url(ui_store, ui_store.succeeded, "report") + "/logs/stdout.txt"
    response = await client.get(url)
    assert response.text == "report: the total is 5\nreport: done\n"
    assert "attachment" in response.headers["content-disposition"]
    assert (await client.get(url, params={"filter": "done"})).text == "report: done\n"


async def test_compare_lists_what_differs(client: httpx.AsyncClient, ui_store: UiStore) -> None:
    params = {"a": ui_store.succeeded, "b": ui_store.failed}
    text = (await client.get(f"/flows/{FLOW}/compare", params=params)).text
    assert "<td>parameter</td><th>count</th>" in text
    assert "<td>parameter</td><th>fail</th>" in text
    assert "<th>total</th>" in text
    assert "<th>message</th>" not in text  # the same in both runs
    same = {"a": ui_store.succeeded, "b": ui_store.succeeded}
    assert 'id="no-differences"' in (await client.get(f"/flows/{FLOW}/compare", params=same)).text


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/flows/NoSuchFlow", 404),
        (f"/runs/{FLOW}/999", 404),
        (f"/runs/{FLOW}/999/events", 404),
        (f"/runs/{FLOW}/{{ok}}/start/999", 404),
        (f"/runs/{FLOW}/{{ok}}/start/1/logs/stdin/events", 404),
        (f"/runs/{FLOW}/{{ok}}/start/1?attempt=x", 400),
        (f"/runs/{FLOW}/{{ok}}/start/1/artifacts/nothing", 404),
        (f"/flows/{FLOW}?tag=" + "x" * 600, 400),
    ],
)
async def test_errors(client: httpx.AsyncClient, ui_store: UiStore, url: str, status: int) -> None:
    response = await client.get(url.replace("{ok}", ui_store.succeeded))
    assert response.status_code == status
    assert '<p class="error">' in response.text


async def test_static_script_is_bundled(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/app.js")
    assert response.status_code == 200
    assert "EventSource" in response.text
    page = (await client.get("/")).text
    assert "http" not in page.split("<body")[0].replace('content="width', "")  # nothing remote


async def test_an_empty_store(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=create_app(tmp_path / ".tideflow"))
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
        text = (await client.get("/")).text
    assert "No runs in this store yet" in text
    assert not (tmp_path / ".tideflow").exists()  # reading never creates the store


async def test_task_attempts(tmp_path: Path) -> None:
    """A retried task lists both attempts; each attempt has its own page and log."""
    root = tmp_path / ".tideflow"
    flow = Path(__file__).parent.parent / "flows" / "client_retry_flow.py"
    run_id = run_flow(root, flow=flow)
    transport = httpx.ASGITransport(app=create_app(root))
    url = f"/runs/ClientRetryFlow/{run_id}/start/1"
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
        latest = (await client.get(url)).text
        first = (await client.get(url, params={"attempt": "0"})).text
        log = (await client.get(f"{url}/logs/stdout.txt", params={"attempt": "0"})).text
        missing = await client.get(url, params={"attempt": "5"})
    assert latest.count('<a href="/runs/ClientRetryFlow/') >= 2
    assert '<tr class="current">\n    <td><a href="' in latest
    assert f'{url}/logs/stdout/events?attempt=1"' in latest  # the stream follows attempt 1
    assert "the first attempt fails" in first and 'id="exception"' in first
    assert "the first attempt fails" not in latest
    assert log == "attempt 0\n"
    assert missing.status_code == 404

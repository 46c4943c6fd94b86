"""The web UI: a read-only Starlette app over one store, server-rendered.

Pages are Jinja templates filled with the records of :mod:`._queries`, which read the
store through the client layer in worker threads, so the event loop (asyncio or trio)
never waits on the database. Live parts (a running run's graph, a task's logs) are
server-sent events (:mod:`._sse`) read by the small script in ``static/``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio
import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .._exceptions import InvalidPathspec, NotFound, TagError
from .._states import RunState
from . import _queries as q
from ._cards import CARD_HEADERS, card_page, cards_state, task_cards
from ._graph import SKIPPED, WAITING, draw_svg, layout
from ._sse import LogEvents, StateEvents

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

__all__ = ("create_app",)

T = TypeVar("T")

HERE: Final = Path(__file__).parent
#: Seconds between two looks at a running run's state (a query per step).
RUN_POLL_INTERVAL: Final = 0.5
#: Seconds between two looks at a running task's cards (a listing and a read per card).
CARD_POLL_INTERVAL: Final = 1.0
#: Headers of every event stream: no caching, no buffering by a proxy.
SSE_HEADERS: Final = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(when=_when, duration=_duration, size=_size)
    return env


class _UI:
    """The routes' shared state: the store root and the templates."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates = _environment()

    async def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a query in a worker thread; a missing object becomes a 404, a bad tag a 400."""
        try:
            return await anyio.to_thread.run_sync(partial(func, self.root, *args, **kwargs))
        except (NotFound, InvalidPathspec) as exc:
            raise HTTPException(404, str(exc)) from exc
        except TagError as exc:
            raise HTTPException(400, str(exc)) from exc

    def render(self, name: str, **context: Any) -> HTMLResponse:
        """A page from template ``name``."""
        template = self.templates.get_template(name)
        return HTMLResponse(template.render(root=str(self.root), **context))

    # -- pages -------------------------------------------------------------------------

    async def flows(self, request: Request) -> Response:
        return self.render("flows.html", flows=await self.call(q.flows))

    async def runs(self, request: Request) -> Response:
        params = request.query_params
        try:
            page = int(params.get("page", "1"))
        except ValueError:
            page = 1
        filters = {
            "status": params.get("status", ""),
            "tag": params.get("tag", ""),
            "user": params.get("user", ""),
            "search": params.get("q", "").strip(),
        }
        result = await self.call(q.run_page, request.path_params["flow"], page=page, **filters)
        return self.render(
            "runs.html",
            page=result,
            filters=filters,
            statuses=q.STATUSES,
            numbers=q.page_numbers(result.page, result.pages, result.more),
        )

    def _graph(self, view: q.RunView) -> str:
        states = {s.name: s.state for s in view.steps}
        labels = {s.name: s.label for s in view.steps}
        default = WAITING if view.row.status == RunState.RUNNING else SKIPPED
        return draw_svg(layout(view.signature), states, labels, link="", default=default)

    async def run(self, request: Request) -> Response:
        flow, run_id = request.path_params["flow"], request.path_params["run_id"]
        view = await self.call(q.run_view, flow, run_id)
        return self.render("run.html", view=view, graph=self._graph(view))

    async def run_events(self, request: Request) -> Response:
        flow, run_id = request.path_params["flow"], request.path_params["run_id"]
        await self.call(q.run_view, flow, run_id)  # a 404 before the stream starts

        async def read() -> tuple[str, bool]:
            view = await self.call(q.run_view, flow, run_id, parameters=False)
            tasks = self.templates.get_template("_tasks.html").render(view=view)
            text = json.dumps(
                {
                    "status": view.row.status,
                    "duration": _duration(
                        (view.row.finished_at or time.time()) - view.row.created_at
                    ),
                    "graph": self._graph(view),
                    "tasks": tasks,
                }
            )
            return text, view.row.status != RunState.RUNNING

        return StreamingResponse(
            StateEvents(read, RUN_POLL_INTERVAL),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )

    def _pathspec(self, request: Request) -> str:
        p = request.path_params
        return f"{p['flow']}/{p['run_id']}/{p['step']}/{p['task_id']}"

    @staticmethod
    def _attempt(request: Request) -> int | None:
        text = request.query_params.get("attempt")
        if text is None or text == "":
            return None
        if not text.isdigit():
            raise HTTPException(400, f"attempt must be a whole number >= 0, not {text!r}.")
        return int(text)

    async def task(self, request: Request) -> Response:
        attempt = self._attempt(request)
        view = await self.call(q.task_view, self._pathspec(request), attempt)
        cards = await self.call(task_cards, view.pathspec)
        return self.render("task.html", view=view, fixed=attempt, cards=cards)

    async def card(self, request: Request) -> Response:
        name = request.path_params["name"]
        page = await self.call(card_page, self._pathspec(request), name)
        return HTMLResponse(page, headers=CARD_HEADERS)

    async def card_events(self, request: Request) -> Response:
        pathspec = self._pathspec(request)
        await self.call(cards_state, pathspec)  # a 404 before the stream starts

        async def read() -> tuple[str, bool]:
            cards, ended = await self.call(cards_state, pathspec)
            rows = [{"name": c.name, "label": c.label, "hash": c.hash} for c in cards]
            return json.dumps(rows), ended

        return StreamingResponse(
            StateEvents(read, CARD_POLL_INTERVAL),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )

    @staticmethod
    def _stream(request: Request) -> str:
        stream = request.path_params["stream"]
        if stream not in ("stdout", "stderr"):
            raise HTTPException(404, f"A task has no log {stream!r}: use stdout or stderr.")
        return str(stream)

    async def log_events(self, request: Request) -> Response:
        pathspec, stream = self._pathspec(request), self._stream(request)
        attempt = self._attempt(request)
        text = request.headers.get("last-event-id") or request.query_params.get("position", "0")
        position = int(text) if text.isdigit() else 0
        await self.call(q.log_lines, pathspec, stream, position, attempt)  # 404 / bad position

        async def read(at: int) -> tuple[list[tuple[int, str]], bool]:
            return await self.call(q.log_lines, pathspec, stream, at, attempt)

        return StreamingResponse(
            LogEvents(read, position), media_type="text/event-stream", headers=SSE_HEADERS
        )

    async def log_download(self, request: Request) -> Response:
        pathspec, stream = self._pathspec(request), self._stream(request)
        wanted = request.query_params.get("filter", "")
        lines, _ = await self.call(q.log_lines, pathspec, stream, 0, self._attempt(request))
        text = "".join(f"{line}\n" for _, line in lines if wanted in line)
        name = pathspec.replace("/", "_") + f".{stream}.txt"
        return PlainTextResponse(
            text, headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    async def artifact(self, request: Request) -> Response:
        pathspec = f"{self._pathspec(request)}/{request.path_params['name']}"
        data = await self.call(q.artifact_blob, pathspec)
        name = request.path_params["name"]
        return Response(
            data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}.pickle"'},
        )

    async def compare(self, request: Request) -> Response:
        flow = request.path_params["flow"]
        left = request.query_params.get("a", "").strip()
        right = request.query_params.get("b", "").strip()
        differences = None
        if left and right:
            differences = await self.call(q.compare_runs, flow, left, right)
        return self.render(
            "compare.html", flow=flow, left=left, right=right, differences=differences
        )

    async def not_found(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        template = self.templates.get_template("error.html")
        return HTMLResponse(
            template.render(root=str(self.root), status=exc.status_code, detail=exc.detail),
            status_code=exc.status_code,
        )


def create_app(root: str | Path) -> Starlette:
    """The UI's ASGI app over the store at ``root``; it only reads.

    .. versionadded:: 0.1
    """
    ui = _UI(Path(root))
    task = "/runs/{flow}/{run_id}/{step}/{task_id}"
    routes = [
        Route("/", ui.flows),
        Route("/flows/{flow}", ui.runs),
        Route("/flows/{flow}/compare", ui.compare),
        Route("/runs/{flow}/{run_id}", ui.run),
        Route("/runs/{flow}/{run_id}/events", ui.run_events),
        Route(task, ui.task),
        Route(task + "/logs/{stream}/events", ui.log_events),
        Route(task + "/logs/{stream}.txt", ui.log_download),
        Route(task + "/artifacts/{name}", ui.artifact),
        Route(task + "/cards/events", ui.card_events),
        Route(task + "/cards/{name}", ui.card),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: ui.not_found})

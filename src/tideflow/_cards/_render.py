"""Turning a card into a self-contained HTML page: the ``default``, ``blank`` and error cards.

The page carries its own CSS and nothing else: no script, no font, no image from outside,
so it opens the same from the store, a browser without network, or the UI.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .._states import AttemptState
from ._components import CardComponent, render_value

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ("CARD_TYPES", "TaskSummary", "error_page", "render_card")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;
background:#fafafa}
main{max-width:1000px;margin:0 auto;padding:24px}
header{border-bottom:1px solid #ddd;margin-bottom:16px}
header h1{font-size:1.3em;margin:0 0 4px}
header p{color:#666;margin:0 0 12px;font-size:.9em}
section{background:#fff;border:1px solid #e4e4e4;border-radius:6px;padding:12px 16px;
margin-bottom:16px}
h2{font-size:1.1em;margin:4px 0 10px}
table.tf-table{border-collapse:collapse;width:100%;font-size:.9em}
.tf-table th,.tf-table td{border:1px solid #e4e4e4;padding:4px 8px;text-align:left;
vertical-align:top}
.tf-table th{background:#f3f3f3}
pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:.85em;white-space:pre-wrap}
.tf-compressed pre{max-height:12em}
figure.tf-image{margin:8px 0}
figure.tf-image img{max-width:100%}
figcaption{color:#666;font-size:.85em}
.tf-progress progress{width:60%;vertical-align:middle}
.tf-progress-value{margin-left:8px;font-size:.9em}
.tf-progress-meta{color:#666;font-size:.85em}
.tf-dag span{display:inline-block;padding:2px 8px;margin:2px;border:1px solid #ccc;
border-radius:4px;font-size:.85em}
.tf-dag span.tf-current{background:#4c78a8;color:#fff;border-color:#4c78a8}
.tf-error pre{background:#fdecea}
"""


class TaskSummary:
    """What the default card shows about its task."""

    def __init__(
        self,
        *,
        pathspec: str,
        attempt: int = 0,
        parameters: Mapping[str, Any] | None = None,
        artifacts: Mapping[str, Any] | None = None,
        steps: Sequence[str] = (),
        ok: bool | None = None,
        username: str | None = None,
    ) -> None:
        self.pathspec = pathspec
        self.attempt = attempt
        self.parameters = dict(parameters or {})
        self.artifacts = dict(artifacts or {})
        self.steps = list(steps)
        self.ok = ok
        self.username = username


def _page(title: str, subtitle: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main><header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p>"
        f"</header>{body}</main></body></html>\n"
    )


def _components(components: Sequence[CardComponent]) -> str:
    parts = []
    for component in components:
        try:
            parts.append(component.render())
        except Exception as exc:  # noqa: BLE001 - one broken component keeps the others
            parts.append(
                f"<div class='tf-error'><pre>{html.escape(type(component).__name__)} could "
                f"not render: {html.escape(repr(exc))}</pre></div>"
            )
    return "".join(f"<section>{part}</section>" for part in parts)


def _table(rows: Mapping[str, Any]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{render_value(value)}</td></tr>"
        for name, value in rows.items()
    )
    return f"<table class='tf-table'><tbody>{cells}</tbody></table>"


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


#: The attempt state a card shows, by ``TaskSummary.ok`` (``None``: still running).
_STATE_OF_OK = {
    True: AttemptState.SUCCEEDED,
    False: AttemptState.FAILED,
    None: AttemptState.RUNNING,
}


def _default_body(task: TaskSummary, components: Sequence[CardComponent]) -> str:
    state = _STATE_OF_OK[task.ok]
    info = {
        "pathspec": task.pathspec,
        "attempt": task.attempt,
        "state": state,
        "user": task.username or "",
    }
    step = task.pathspec.split("/")[2] if task.pathspec.count("/") >= 3 else ""
    dag = "".join(
        f"<span class='{'tf-current' if name == step else ''}'>{html.escape(name)}</span>"
        for name in task.steps
    )
    body = f"<section><h2>Task</h2>{_table(info)}</section>"
    if dag:
        body += f"<section class='tf-dag'><h2>Steps</h2>{dag}</section>"
    if task.parameters:
        body += f"<section><h2>Parameters</h2>{_table(task.parameters)}</section>"
    if task.artifacts:
        body += f"<section><h2>Artifacts</h2>{_table(task.artifacts)}</section>"
    return body + _components(components)


def render_card(
    card_type: str,
    task: TaskSummary,
    components: Sequence[CardComponent],
    options: Mapping[str, Any] | None = None,
) -> str:
    """The HTML page of a card of ``card_type`` (``default`` or ``blank``).

    :raises ValueError: for an unknown card type.
    """
    title = str((options or {}).get("title") or task.pathspec)
    subtitle = f"{card_type} card, rendered {_stamp()}"
    if card_type == "default":
        return _page(title, subtitle, _default_body(task, components))
    if card_type == "blank":
        return _page(title, subtitle, _components(components))
    raise ValueError(
        f"Unknown card type '{card_type}': the card types are {', '.join(CARD_TYPES)}."
    )


def error_page(pathspec: str, card_type: str, message: str, details: str = "") -> str:
    """The page stored instead of a card that could not be rendered (``save_errors``)."""
    body = (
        f"<section class='tf-error'><h2>The {html.escape(card_type)} card could not be "
        f"rendered</h2><p>{html.escape(message)}</p>"
        + (f"<pre>{html.escape(details)}</pre>" if details else "")
        + "</section>"
    )
    return _page(pathspec, f"error card, rendered {_stamp()}", body)


#: The card types tideflow renders.
CARD_TYPES: tuple[str, ...] = ("default", "blank")

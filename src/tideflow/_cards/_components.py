"""Card components: the pieces a step appends to its cards (``current.card.append(...)``).

Each component renders itself to an HTML fragment with no outside resource: images are
embedded as ``data:`` URLs, charts drawn as inline SVG, so a card opens offline. A
component can change while the task runs (``ProgressBar.update``, ``Markdown.update``);
the next ``current.card.refresh()`` shows the change.
"""

from __future__ import annotations

import base64
import html
import io
import json
import pprint
from collections.abc import Mapping, Sequence
from typing import Any

from ._markdown import markdown_to_html
from ._vega import render_vega

__all__ = (
    "Artifact",
    "CardComponent",
    "Image",
    "Markdown",
    "ProgressBar",
    "Table",
    "VegaChart",
    "render_value",
)

#: Longest text an Artifact or a table cell shows before it is cut.
MAX_TEXT = 10_000


class CardComponent:
    """The base of every card component: something that renders to an HTML fragment.

    Subclass it and implement :meth:`render` to make a component of your own.

    :param id: a name to find the component again: ``current.card.components[id]``.
    """

    #: Whether ``current.card.refresh()`` re-renders it (False for fixed content).
    REALTIME_UPDATABLE = True

    def __init__(self, *, id: str | None = None) -> None:
        self.component_id = id

    @property
    def id(self) -> str | None:
        """The component's id, if it was given one."""
        return self.component_id

    def render(self) -> str:
        """The component as an HTML fragment."""
        raise NotImplementedError

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Change the component's content (each component says how)."""
        raise TypeError(f"{type(self).__name__} cannot be updated; append a new one instead.")


class Markdown(CardComponent):
    """Text written in Markdown.

    :param text: the Markdown source.
    """

    def __init__(self, text: str | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = "" if text is None else str(text)

    def update(self, text: str | None = None) -> None:
        """Replace the text."""
        self.text = "" if text is None else str(text)

    def render(self) -> str:
        return f'<div class="tf-markdown">{markdown_to_html(self.text)}</div>'


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + " ..."


def render_value(value: Any) -> str:
    """A table cell or artifact value as HTML: a component renders itself, else its text."""
    if isinstance(value, CardComponent):
        return value.render()
    if isinstance(value, str):
        return html.escape(_shorten(value))
    return html.escape(_shorten(pprint.pformat(value, width=100, compact=True)))


class Artifact(CardComponent):
    """A value shown as its (pretty-printed) text.

    :param artifact: the value.
    :param name: a title shown above it.
    :param compressed: show at most a few lines.
    """

    def __init__(
        self,
        artifact: Any,
        name: str | None = None,
        compressed: bool = True,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.artifact = artifact
        self.name = name
        self.compressed = compressed

    def update(self, artifact: Any) -> None:
        """Show another value."""
        self.artifact = artifact

    def render(self) -> str:
        title = f"<h4>{html.escape(self.name)}</h4>" if self.name else ""
        klass = "tf-artifact tf-compressed" if self.compressed else "tf-artifact"
        return f'<div class="{klass}">{title}<pre>{render_value(self.artifact)}</pre></div>'


class Table(CardComponent):
    """A table of values; a cell may hold another component (an Image, a Markdown, ...).

    :param data: the rows, each a list of cells.
    :param headers: the column titles.
    :param disable_updates: keep the table as it was first rendered.
    """

    def __init__(
        self,
        data: Sequence[Sequence[Any]] | None = None,
        headers: Sequence[str] | None = None,
        disable_updates: bool = False,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.data = [list(row) for row in (data or [])]
        self.headers = [str(h) for h in (headers or [])]
        self.REALTIME_UPDATABLE = not disable_updates
        self._frozen: str | None = None

    @classmethod
    def from_dataframe(cls, dataframe: Any, truncate: bool = True) -> Table:
        """A table of a pandas DataFrame (its first 100 rows when ``truncate``)."""
        frame = dataframe.head(100) if truncate else dataframe
        headers = [str(c) for c in frame.columns]
        rows = [list(row) for row in frame.itertuples(index=False, name=None)]
        return cls(rows, headers)

    def update(self, data: Sequence[Sequence[Any]] | None = None) -> None:
        """Replace the rows."""
        self.data = [list(row) for row in (data or [])]

    def add_row(self, row: Sequence[Any]) -> None:
        """Append a row."""
        self.data.append(list(row))

    def render(self) -> str:
        if not self.REALTIME_UPDATABLE and self._frozen is not None:
            return self._frozen
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        rows = "".join(
            "<tr>" + "".join(f"<td>{render_value(cell)}</td>" for cell in row) + "</tr>"
            for row in self.data
        )
        thead = f"<thead><tr>{head}</tr></thead>" if head else ""
        self._frozen = f'<table class="tf-table">{thead}<tbody>{rows}</tbody></table>'
        return self._frozen


_IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"RIFF", "image/webp"),
)


def _image_type(data: bytes) -> str:
    for magic, kind in _IMAGE_TYPES:
        if data.startswith(magic):
            return kind
    if data.lstrip()[:5].lower() in (b"<svg ", b"<?xml"):
        return "image/svg+xml"
    raise ValueError(
        "Image takes the bytes of a PNG, JPEG, GIF, WebP or SVG image; these bytes are none."
    )


class Image(CardComponent):
    """An image, embedded in the card.

    :param src: the image file's bytes (PNG, JPEG, GIF, WebP or SVG).
    :param label: a caption.
    """

    def __init__(
        self, src: bytes | None = None, label: str | None = None, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.label = label
        self._src = b""
        self._type = ""
        if src is not None:
            self.update(src)

    @classmethod
    def from_matplotlib(cls, plot: Any, label: str | None = None) -> Image:
        """An image of a matplotlib figure (or of the figure of an axes)."""
        figure = plot.get_figure() if hasattr(plot, "get_figure") else plot
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        return cls(buffer.getvalue(), label)

    @classmethod
    def from_pil_image(cls, pilimage: Any, label: str | None = None) -> Image:
        """An image of a PIL image."""
        buffer = io.BytesIO()
        pilimage.save(buffer, format="PNG")
        return cls(buffer.getvalue(), label)

    def update(self, image: bytes, label: str | None = None) -> None:
        """Show other image bytes (and another label, if given).

        :raises ValueError: if the bytes are no image of a known type.
        """
        data = bytes(image)
        self._type = _image_type(data)
        self._src = data
        if label is not None:
            self.label = label

    def render(self) -> str:
        if not self._src:
            return '<figure class="tf-image"><figcaption>(no image)</figcaption></figure>'
        encoded = base64.b64encode(self._src).decode("ascii")
        caption = f"<figcaption>{html.escape(self.label)}</figcaption>" if self.label else ""
        alt = html.escape(self.label or "image")
        return (
            f'<figure class="tf-image"><img alt="{alt}" '
            f'src="data:{self._type};base64,{encoded}">{caption}</figure>'
        )


class VegaChart(CardComponent):
    """A chart given as a Vega-Lite specification (a dict, JSON text, or an Altair chart).

    The card draws it as inline SVG, with no JavaScript library to fetch: bar, line, area
    and point marks over inline ``data.values``. Other specifications are shown as their
    JSON text.

    :param spec: the Vega-Lite specification.
    :param show_controls: accepted for compatibility; the drawing has no controls.
    """

    def __init__(
        self, spec: Any = None, show_controls: bool = False, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.show_controls = show_controls
        self.spec: dict[str, Any] = {}
        self.update(spec)

    @classmethod
    def from_altair_chart(cls, altair_chart: Any) -> VegaChart:
        """A chart of an Altair chart object."""
        return cls(altair_chart.to_dict())

    def update(self, spec: Any = None) -> None:
        """Show another specification."""
        if spec is None:
            self.spec = {}
        elif isinstance(spec, str):
            self.spec = json.loads(spec)
        elif hasattr(spec, "to_dict"):
            self.spec = spec.to_dict()
        elif isinstance(spec, Mapping):
            self.spec = dict(spec)
        else:
            raise TypeError(f"VegaChart takes a Vega-Lite spec (a dict), not {spec!r}.")

    def render(self) -> str:
        return f'<div class="tf-chart">{render_vega(self.spec)}</div>'


class ProgressBar(CardComponent):
    """A progress bar: ``bar.update(i)`` then ``current.card.refresh()``.

    :param max: the value of a full bar.
    :param label: a title.
    :param value: the starting value.
    :param unit: a unit shown after the value.
    :param metadata: a line of text shown under the bar.
    """

    def __init__(
        self,
        max: float = 100,
        label: str | None = None,
        value: float = 0,
        unit: str | None = None,
        metadata: str | None = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.max = max
        self.label = label
        self.value = value
        self.unit = unit
        self.metadata = metadata

    def update(self, new_value: float, metadata: str | None = None) -> None:
        """Move the bar to ``new_value`` (and change the line under it, if given)."""
        self.value = new_value
        if metadata is not None:
            self.metadata = metadata

    def render(self) -> str:
        share = 0.0 if not self.max else max(0.0, min(1.0, float(self.value) / float(self.max)))
        unit = f" {html.escape(self.unit)}" if self.unit else ""
        label = (
            f"<div class='tf-progress-label'>{html.escape(self.label)}</div>" if self.label else ""
        )
        meta = (
            f"<div class='tf-progress-meta'>{html.escape(str(self.metadata))}</div>"
            if self.metadata
            else ""
        )
        return (
            f'<div class="tf-progress">{label}'
            f'<progress max="{self.max}" value="{self.value}"></progress>'
            f"<span class='tf-progress-value'>{html.escape(str(self.value))}/"
            f"{html.escape(str(self.max))}{unit} ({share:.0%})</span>{meta}</div>"
        )

"""Card components render to HTML fragments that need nothing from outside the page."""

from __future__ import annotations

import re

import pytest

from tideflow._cards._markdown import markdown_to_html
from tideflow.cards import Artifact, Image, Markdown, ProgressBar, Table, VegaChart

PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def test_markdown() -> None:
    text = (
        "# Title\n\nSome **bold**, *italic* and `code <b>`.\n\n- one\n- two\n\n"
        "1. first\n\n> quoted\n\n```\nx < 1\n```\n\n[link](https://example.org) "
        "[bad](javascript:alert(1)) ![img](https://example.org/a.png)\n\n---"
    )
    out = markdown_to_html(text)
    assert "<h1>Title</h1>" in out
    assert "<strong>bold</strong>" in out and "<em>italic</em>" in out
    assert "<code>code &lt;b&gt;</code>" in out
    assert "<ul><li>one</li><li>two</li></ul>" in out and "<ol><li>first</li></ol>" in out
    assert "<blockquote><p>quoted</p></blockquote>" in out
    assert "<pre><code>x &lt; 1</code></pre>" in out
    assert '<a href="https://example.org">link</a>' in out
    assert "javascript:" not in out.replace("[bad](javascript:alert(1))", "")
    assert "<img" not in out, "a remote image is never fetched"
    assert "<hr>" in out


def test_markdown_escapes_html() -> None:
    assert "<script>" not in Markdown("<script>alert(1)</script>").render()


def test_table_with_components_in_cells() -> None:
    table = Table([[1, Markdown("**x**")], ["<y>", [1, 2]]], headers=["a", "b"])
    out = table.render()
    assert "<th>a</th><th>b</th>" in out
    assert "<strong>x</strong>" in out and "&lt;y&gt;" in out and "[1, 2]" in out
    table.add_row([3, 4])
    assert out != table.render()
    frozen = Table([[1]], disable_updates=True)
    first = frozen.render()
    frozen.update([[2]])
    assert frozen.render() == first


def test_image_is_embedded() -> None:
    out = Image(PIXEL, label="dot").render()
    assert re.search(r'src="data:image/png;base64,[A-Za-z0-9+/=]+"', out)
    assert "<figcaption>dot</figcaption>" in out
    with pytest.raises(ValueError, match=r"^Image takes the bytes of a PNG, JPEG"):
        Image(b"not an image")


def test_artifact_and_progress_bar() -> None:
    assert "{&#x27;k&#x27;: [1, 2]}" in Artifact({"k": [1, 2]}, name="d").render()
    bar = ProgressBar(max=4, label="done", unit="files")
    bar.update(2, metadata="halfway")
    out = bar.render()
    assert 'max="4" value="2"' in out and "2/4 files (50%)" in out and "halfway" in out


def test_vega_chart_draws_svg_offline() -> None:
    spec = {
        "mark": {"type": "line"},
        "data": {"values": [{"t": 0, "v": 1}, {"t": 1, "v": 3}, {"t": 2, "v": 2}]},
        "encoding": {"x": {"field": "t"}, "y": {"field": "v"}},
    }
    out = VegaChart(spec).render()
    assert "<svg" in out and "<polyline" in out
    other = VegaChart({"data": {"url": "https://example.org/data.csv"}, "mark": "bar"})
    assert "<svg" not in other.render() and "cannot draw offline" in other.render()
    chart = VegaChart()
    chart.update(
        '{"mark": "bar", "data": {"values": [{"a": "x", "b": 2}]}, '
        '"encoding": {"x": {"field": "a"}, "y": {"field": "b"}}}'
    )
    assert "<rect" in chart.render()


def test_components_without_update_say_so() -> None:
    from tideflow.cards import CardComponent

    with pytest.raises(TypeError, match=r"^CardComponent cannot be updated"):
        CardComponent().update()

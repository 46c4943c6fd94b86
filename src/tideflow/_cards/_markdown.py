"""A small Markdown to HTML converter for the ``Markdown`` card component.

It covers what reports use: headings, paragraphs, emphasis, inline code, fenced code
blocks, links, lists, block quotes and rules. Every piece of text is HTML-escaped first,
so a card never runs markup that came from data.
"""

from __future__ import annotations

import html
import re

__all__ = ("markdown_to_html",)

_SAFE_URL = re.compile(r"^(https?:|mailto:|#|/|\./|data:image/)", re.IGNORECASE)


def _inline(text: str) -> str:
    parts = re.split(r"(`[^`]+`)", html.escape(text, quote=False))
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"<code>{part[1:-1]}</code>")
            continue
        part = re.sub(
            r"\*\*(.+?)\*\*|__(.+?)__", lambda m: f"<strong>{m[1] or m[2]}</strong>", part
        )
        part = re.sub(
            r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*|(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)",
            lambda m: f"<em>{m[1] or m[2]}</em>",
            part,
        )
        part = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", _image, part)
        part = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", _link, part)
        out.append(part)
    return "".join(out)


def _link(match: re.Match[str]) -> str:
    url = match[2]
    if not _SAFE_URL.match(url):
        return match[0]
    return f'<a href="{html.escape(url)}">{match[1]}</a>'


def _image(match: re.Match[str]) -> str:
    url = match[2]
    if not url.lower().startswith("data:image/"):
        # A card works offline: remote images are shown as links, never fetched.
        return _link(match)
    return f'<img alt="{html.escape(match[1])}" src="{html.escape(url)}">'


def markdown_to_html(text: str) -> str:
    """Convert Markdown ``text`` to HTML (escaped; no raw HTML passes through)."""
    lines = text.replace("\r\n", "\n").split("\n")
    blocks: list[str] = []
    paragraph: list[str] = []
    i = 0

    def flush() -> None:
        if paragraph:
            blocks.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            code = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                code.append(lines[i])
                i += 1
            blocks.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
        elif not stripped:
            flush()
        elif heading := re.match(r"^(#{1,6})\s+(.*?)\s*#*$", stripped):
            flush()
            level = len(heading[1])
            blocks.append(f"<h{level}>{_inline(heading[2])}</h{level}>")
        elif re.match(r"^(-{3,}|\*{3,}|_{3,})$", stripped):
            flush()
            blocks.append("<hr>")
        elif stripped.startswith(">"):
            flush()
            quote = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                quote.append(lines[i].strip()[1:].strip())
                i += 1
            blocks.append(f"<blockquote>{markdown_to_html(chr(10).join(quote))}</blockquote>")
            continue
        elif re.match(r"^([-*+]|\d+[.)])\s+", stripped):
            flush()
            ordered = bool(re.match(r"^\d", stripped))
            items = []
            while i < len(lines) and (item := re.match(r"^\s*([-*+]|\d+[.)])\s+(.*)", lines[i])):
                items.append(f"<li>{_inline(item[2])}</li>")
                i += 1
            tag = "ol" if ordered else "ul"
            blocks.append(f"<{tag}>{''.join(items)}</{tag}>")
            continue
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    return "\n".join(blocks)

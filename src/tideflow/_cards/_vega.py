"""Drawing simple Vega-Lite charts as inline SVG, so a card needs no JavaScript library.

It draws one layer of ``bar``, ``line``, ``area``, ``point`` or ``circle`` marks over
inline ``data.values``, with ``x`` and ``y`` fields (quantitative or not). Anything else
(other marks, layers, remote data, transforms) is shown as the specification's JSON.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ("render_vega",)

WIDTH, HEIGHT, PAD = 480, 240, 40
_MARKS = {"bar", "line", "area", "point", "circle"}


def _field(encoding: Mapping[str, Any], channel: str) -> str | None:
    spec = encoding.get(channel)
    return spec.get("field") if isinstance(spec, Mapping) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fallback(spec: Mapping[str, Any]) -> str:
    text = json.dumps(spec, indent=2, default=str)
    return (
        "<div class='tf-chart-spec'><p>A Vega-Lite chart this card cannot draw offline; its "
        f"specification:</p><pre>{html.escape(text)}</pre></div>"
    )


def render_vega(spec: Mapping[str, Any]) -> str:
    """The chart as an SVG fragment, or its JSON when it cannot be drawn."""
    mark = spec.get("mark")
    mark = mark.get("type") if isinstance(mark, Mapping) else mark
    data = spec.get("data")
    values = data.get("values") if isinstance(data, Mapping) else None
    encoding = spec.get("encoding") or {}
    x, y = _field(encoding, "x"), _field(encoding, "y")
    if mark not in _MARKS or not isinstance(values, Sequence) or not x or not y:
        return _fallback(spec)
    points = [(row.get(x), _number(row.get(y))) for row in values if isinstance(row, Mapping)]
    points = [(px, py) for px, py in points if py is not None]
    if not points:
        return _fallback(spec)
    return _svg(str(mark), points, str(spec.get("title") or ""), x, y)


def _svg(mark: str, points: list[tuple[Any, float | None]], title: str, x: str, y: str) -> str:
    ys = [float(p[1] or 0.0) for p in points]
    low, high = min(0.0, *ys), max(0.0, *ys)
    span = (high - low) or 1.0
    numeric = all(_number(p[0]) is not None for p in points) and mark != "bar"
    if numeric:
        xs = [float(_number(p[0]) or 0.0) for p in points]
        x_low, x_span = min(xs), (max(xs) - min(xs)) or 1.0
        px = [PAD + (v - x_low) / x_span * (WIDTH - 2 * PAD) for v in xs]
    else:
        step = (WIDTH - 2 * PAD) / len(points)
        px = [PAD + step * (i + 0.5) for i in range(len(points))]
    py = [HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD) for v in ys]
    base = HEIGHT - PAD - (0.0 - low) / span * (HEIGHT - 2 * PAD)
    shapes = []
    if mark == "bar":
        width = max(1.0, (WIDTH - 2 * PAD) / len(points) * 0.8)
        for cx, cy in zip(px, py, strict=True):
            top, height = min(cy, base), abs(base - cy)
            shapes.append(
                f'<rect x="{cx - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" '
                f'height="{height:.1f}" fill="#4c78a8"/>'
            )
    elif mark in ("line", "area"):
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in zip(px, py, strict=True))
        if mark == "area":
            shapes.append(
                f'<polygon points="{px[0]:.1f},{base:.1f} {path} {px[-1]:.1f},{base:.1f}" '
                'fill="#4c78a8" opacity="0.6"/>'
            )
        shapes.append(f'<polyline points="{path}" fill="none" stroke="#4c78a8" stroke-width="2"/>')
    else:
        shapes.extend(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="#4c78a8"/>'
            for cx, cy in zip(px, py, strict=True)
        )
    labels = []
    if not numeric and len(points) <= 30:
        labels = [
            f'<text x="{cx:.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle" '
            f'font-size="10">{html.escape(str(p[0]))}</text>'
            for cx, p in zip(px, points, strict=True)
        ]
    axes = (
        f'<line x1="{PAD}" y1="{base:.1f}" x2="{WIDTH - PAD}" y2="{base:.1f}" stroke="#888"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#888"/>'
        f'<text x="{PAD - 4}" y="{PAD}" text-anchor="end" font-size="10">{high:g}</text>'
        f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" text-anchor="end" font-size="10">{low:g}</text>'
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 4}" text-anchor="middle" font-size="11">'
        f"{html.escape(x)}</text>"
        f'<text x="10" y="{HEIGHT / 2}" font-size="11" transform="rotate(-90 10 {HEIGHT / 2})" '
        f'text-anchor="middle">{html.escape(y)}</text>'
    )
    heading = f"<h4>{html.escape(title)}</h4>" if title else ""
    return (
        f'{heading}<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img">{axes}{"".join(shapes)}'
        f"{''.join(labels)}</svg>"
    )

"""A flow's graph laid out in layers and drawn as SVG, on the server.

Each step goes in the layer of its longest path from ``start``; steps of one layer are
ordered by the mean position of their predecessors, which keeps branches apart and
edges short. The SVG carries each step's state as a class (``state-running``, ...) and its
name as ``data-step``, so the page's script can recolour it as the run goes.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Final

import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ("SKIPPED", "WAITING", "GraphLayout", "NodeBox", "draw_svg", "layout")

#: The state the pages show for a step or task that has not started; the other states a
#: page shows are those of :class:`~tideflow._states.AttemptState` and
#: :class:`~tideflow._states.RunState`.
WAITING: Final = "waiting"
#: The state of a step that a finished run never reached.
SKIPPED: Final = "skipped"

BOX_W: Final = 150
BOX_H: Final = 46
GAP_X: Final = 40
GAP_Y: Final = 44
PAD: Final = 12


class NodeBox(msgspec.Struct, frozen=True, kw_only=True):
    """A step's box: its top-left corner, its kind and its successors."""

    name: str
    kind: str
    x: int
    y: int
    out: tuple[str, ...]


class GraphLayout(msgspec.Struct, frozen=True, kw_only=True):
    """Every box of the graph and the size of the drawing."""

    boxes: tuple[NodeBox, ...]
    width: int
    height: int


def _ranks(edges: Mapping[str, Sequence[str]], order: Sequence[str]) -> dict[str, int]:
    """The longest-path layer of every step (a step unreachable from start goes first)."""
    rank = dict.fromkeys(order, 0)
    # ``order`` is topological, so one pass settles every rank.
    for name in order:
        for out in edges.get(name, ()):
            if out in rank and out != name:
                rank[out] = max(rank[out], rank[name] + 1)
    return rank


def layout(signature: Sequence[Sequence[object]]) -> GraphLayout:
    """Lay out the graph a run recorded (``[name, type, out_funcs, foreach_param]`` each)."""
    order = [str(item[0]) for item in signature]
    kinds = {str(item[0]): str(item[1]) for item in signature}
    edges = {str(item[0]): tuple(str(out) for out in item[2]) for item in signature}  # type: ignore[attr-defined]
    rank = _ranks(edges, order)
    layers: dict[int, list[str]] = {}
    for name in order:
        layers.setdefault(rank[name], []).append(name)
    position: dict[str, float] = {}
    preds: dict[str, list[str]] = {name: [] for name in order}
    for name, outs in edges.items():
        for out in outs:
            if out in preds:
                preds[out].append(name)
    for level in sorted(layers):
        names = layers[level]
        names.sort(key=lambda n: _mean([position[p] for p in preds[n] if p in position]))
        for i, name in enumerate(names):
            position[name] = i - (len(names) - 1) / 2
    widest = max((len(names) for names in layers.values()), default=1)
    width = widest * BOX_W + (widest - 1) * GAP_X + 2 * PAD
    height = len(layers) * BOX_H + max(0, len(layers) - 1) * GAP_Y + 2 * PAD
    centre = width / 2
    boxes = tuple(
        NodeBox(
            name=name,
            kind=kinds[name],
            x=round(centre + position[name] * (BOX_W + GAP_X) - BOX_W / 2),
            y=PAD + rank[name] * (BOX_H + GAP_Y),
            out=edges[name],
        )
        for name in order
    )
    return GraphLayout(boxes=boxes, width=width, height=height)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _edge(a: NodeBox, b: NodeBox) -> str:
    x1, y1 = a.x + BOX_W / 2, a.y + BOX_H
    x2, y2 = b.x + BOX_W / 2, b.y
    if y2 <= y1:  # not downwards (a step unreachable from start): a straight line
        return f'<line class="edge" x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}"/>'
    mid = (y1 + y2) / 2
    return (
        f'<path class="edge" d="M{x1:g},{y1:g} C{x1:g},{mid:g} {x2:g},{mid:g} '
        f'{x2:g},{y2 - 4:g}" marker-end="url(#arrow)"/>'
    )


def draw_svg(
    graph: GraphLayout,
    states: Mapping[str, str],
    labels: Mapping[str, str],
    link: str | None = None,
    default: str = WAITING,
) -> str:
    """The SVG of ``graph``: each box coloured by ``states[step]`` and captioned ``labels[step]``.

    :param link: a URL prefix; each box links to ``link + "#step-" + name`` when given
        (``""``: to the step's section of the same page).
    :param default: the state of a step missing from ``states`` (it has no task yet).
    """
    boxes = {box.name: box for box in graph.boxes}
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{graph.width}" '
            f'height="{graph.height}" viewBox="0 0 {graph.width} {graph.height}" role="img" '
            'aria-label="the run\'s graph">'
        ),
        (
            '<defs><marker id="arrow" viewBox="0 0 8 8" refX="4" refY="4" markerWidth="8" '
            'markerHeight="8" orient="auto"><path d="M0,0 L8,4 L0,8 z" class="arrowhead"/>'
            "</marker></defs>"
        ),
    ]
    parts.extend(_edge(box, boxes[out]) for box in graph.boxes for out in box.out if out in boxes)
    for box in graph.boxes:
        name = html.escape(box.name)
        state = html.escape(states.get(box.name, default))
        label = html.escape(labels.get(box.name, state))
        shape = (
            f'<rect x="{box.x}" y="{box.y}" width="{BOX_W}" height="{BOX_H}" rx="8"/>'
            f'<text class="name" x="{box.x + BOX_W / 2:g}" y="{box.y + 19}">{name}</text>'
            f'<text class="label" x="{box.x + BOX_W / 2:g}" y="{box.y + 36}">{label}</text>'
        )
        group = (
            f'<g class="step state-{state} kind-{html.escape(box.kind)}" data-step="{name}" '
            f'id="node-{name}">{shape}</g>'
        )
        if link is not None:
            group = f'<a href="{html.escape(link)}#step-{name}">{group}</a>'
        parts.append(group)
    parts.append("</svg>")
    return "".join(parts)

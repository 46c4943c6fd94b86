"""``show``: a flow's docstring and its steps, as text, Mermaid or Graphviz dot."""

from __future__ import annotations

import inspect
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._flow._graph import FlowGraph, StepNode
    from .._runtime._loader import LoadedFlow

__all__ = ("FORMATS", "show_text")

#: The formats of ``show --format``.
FORMATS = ("text", "mermaid", "dot")


def show_text(flow: LoadedFlow, form: str = "text") -> str:
    """The text ``show --format form`` prints for ``flow``."""
    if form == "mermaid":
        return _mermaid(flow.graph)
    if form == "dot":
        return _dot(flow.graph)
    return _plain(flow)


def _plain(flow: LoadedFlow) -> str:
    lines = []
    doc = inspect.cleandoc(flow.cls.__doc__ or "")
    if doc:
        lines.extend([*doc.splitlines(), ""])
    for node in flow.graph:
        kind = " (join)" if node.is_join else ""
        lines.append(f"Step {node.name}{kind}")
        lines.extend(f"    {line}" for line in node.doc.splitlines())
        if node.type == "foreach" and node.parallel:
            lines.append(f"    => {node.out_funcs[0]} (num_parallel)")
        elif node.type == "foreach":
            lines.append(f"    => {node.out_funcs[0]} (foreach over '{node.foreach_param}')")
        elif node.type == "switch":
            cases = ", ".join(f"{value!r}: {target}" for value, target in node.switch_cases)
            lines.append(f"    => one of {{{cases}}} (switch on '{node.condition}')")
        elif node.out_funcs:
            lines.append(f"    => {', '.join(node.out_funcs)}")
        lines.append("")
    return "\n".join(lines)


def _edges(node: StepNode) -> list[tuple[str, str | None]]:
    """``(target, label)`` for each transition out of ``node``."""
    if node.type == "switch":
        labels: dict[str, list[str]] = {}
        for value, target in node.switch_cases:
            labels.setdefault(target, []).append(f"{node.condition}={value}")
        return [(target, " or ".join(labels[target])) for target in node.out_funcs]
    if node.type == "foreach":
        label = "num_parallel" if node.parallel else f"foreach {node.foreach_param}"
        return [(node.out_funcs[0], label)]
    return [(target, None) for target in node.out_funcs]


def _mermaid(graph: FlowGraph) -> str:
    # Node ids get a prefix: ``end`` is a keyword of Mermaid.
    lines = ["flowchart TD"]
    for node in graph:
        shape = '(["{}"])' if node.is_join else '["{}"]'
        lines.append(f"    step_{node.name}{shape.format(node.name)}")
    for node in graph:
        for target, label in _edges(node):
            arrow = f" -->|{label}| " if label else " --> "
            lines.append(f"    step_{node.name}{arrow}step_{target}")
    return "\n".join(lines) + "\n"


def _dot(graph: FlowGraph) -> str:
    lines = [f"digraph {json.dumps(graph.flow_name)} {{", "    node [shape=box];"]
    for node in graph:
        shape = " [shape=ellipse]" if node.is_join else ""
        lines.append(f"    {json.dumps(node.name)}{shape};")
    for node in graph:
        for target, label in _edges(node):
            attrs = f" [label={json.dumps(label)}]" if label else ""
            lines.append(f"    {json.dumps(node.name)} -> {json.dumps(target)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"

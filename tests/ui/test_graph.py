"""Laying out a run's graph and drawing it as SVG (pure functions, no store)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tideflow._ui._graph import BOX_H, draw_svg, layout

BRANCHES = [
    ["start", "split", ["a", "b"], None],
    ["a", "linear", ["join"], None],
    ["b", "linear", ["join"], None],
    ["join", "join", ["end"], None],
    ["end", "end", [], None],
]


def test_layers_follow_the_longest_path() -> None:
    graph = layout(BRANCHES)
    boxes = {box.name: box for box in graph.boxes}
    assert boxes["a"].y == boxes["b"].y > boxes["start"].y
    assert boxes["a"].x != boxes["b"].x
    assert boxes["join"].y > boxes["a"].y and boxes["end"].y > boxes["join"].y
    # A branch's join sits between its branches, under its split.
    assert boxes["join"].x == boxes["start"].x
    assert graph.height >= 4 * BOX_H


def test_a_skip_makes_the_longer_path_win() -> None:
    graph = layout(
        [
            ["start", "split", ["a", "end"], None],
            ["a", "linear", ["end"], None],
            ["end", "end", [], None],
        ]
    )
    boxes = {box.name: box for box in graph.boxes}
    assert boxes["end"].y > boxes["a"].y > boxes["start"].y


def test_svg_states_labels_and_escaping() -> None:
    graph = layout([["start", "linear", ["<end>"], None], ["<end>", "end", [], None]])
    svg = draw_svg(graph, {"start": "succeeded"}, {"start": "1/1 & done"}, link="")
    root = ET.fromstring(svg)  # well-formed XML: names and labels are escaped
    ns = "{http://www.w3.org/2000/svg}"
    groups = {g.get("data-step"): g for g in root.iter(f"{ns}g")}
    assert groups["start"].get("class") == "step state-succeeded kind-linear"
    assert groups["<end>"].get("class") == "step state-waiting kind-end"
    texts = [t.text for t in groups["start"].iter(f"{ns}text")]
    assert texts == ["start", "1/1 & done"]
    assert len(list(root.iter(f"{ns}path"))) == 2  # one edge, one arrowhead


def test_default_state_of_steps_never_reached() -> None:
    svg = draw_svg(layout(BRANCHES), {}, {}, default="skipped")
    assert svg.count("state-skipped") == 5

"""``show``: the flow's docstring and steps, as text, Mermaid or Graphviz dot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tideflow._cli import main

FLOWS = Path(__file__).resolve().parent.parent / "flows"


def test_show_starts_with_the_flow_docstring(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(FLOWS / "flow_linear.py")]) == 0
    assert capsys.readouterr().out.startswith("start -> middle -> end.\n\nStep start\n")


def test_show_as_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    """A Mermaid flowchart: a join is rounded, a foreach edge names what it goes over;
    node ids have a prefix, since ``end`` is a Mermaid keyword."""
    assert main(["show", str(FLOWS / "flow_foreach.py"), "--format", "mermaid"]) == 0
    assert capsys.readouterr().out == (
        "flowchart TD\n"
        '    step_start["start"]\n'
        '    step_body["body"]\n'
        '    step_join(["join"])\n'
        '    step_end["end"]\n'
        "    step_start -->|foreach items| step_body\n"
        "    step_body --> step_join\n"
        "    step_join --> step_end\n"
    )


def test_show_as_dot(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(FLOWS / "flow_branches.py"), "--format", "dot"]) == 0
    assert capsys.readouterr().out == (
        'digraph "BranchesFlow" {\n'
        "    node [shape=box];\n"
        '    "start";\n'
        '    "left";\n'
        '    "right";\n'
        '    "join" [shape=ellipse];\n'
        '    "end";\n'
        '    "start" -> "left";\n'
        '    "start" -> "right";\n'
        '    "left" -> "join";\n'
        '    "right" -> "join";\n'
        '    "join" -> "end";\n'
        "}\n"
    )


def test_show_refuses_an_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(FLOWS / "flow_linear.py"), "--format", "svg"]) == 2
    assert capsys.readouterr().err.startswith(
        "error: argument --format: invalid choice: 'svg' (choose from "
    )


def test_show_a_switch(capsys: pytest.CaptureFixture[str]) -> None:
    """Each case of a switch is an edge labelled with its value; text lists the cases."""
    flow = str(FLOWS / "switch_loop_flow.py")
    assert main(["show", flow, "--format", "mermaid"]) == 0
    out = capsys.readouterr().out
    assert "    step_loop_step -->|loop_status=continue| step_loop_step\n" in out
    assert "    step_loop_step -->|loop_status=exit| step_exit_loop\n" in out
    assert main(["show", flow]) == 0
    out = capsys.readouterr().out
    assert (
        "    => one of {'continue': loop_step, 'exit': exit_loop} (switch on 'loop_status')" in out
    )
    assert main(["show", str(FLOWS / "parallel_flow.py"), "--format", "dot"]) == 0
    assert '    "start" -> "train" [label="num_parallel"];\n' in capsys.readouterr().out

"""Flow and step names of any length: their logs stay under the file name limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tideflow import Flow, Runner, namespace

if TYPE_CHECKING:
    from pathlib import Path

FLOW = "L" + "ong" * 100 + "Flow"
STEP = "s" + "_tep" * 100

SOURCE = f"""
from tideflow import FlowSpec, step


class {FLOW}(FlowSpec):
    @step
    def start(self):
        print("in start")
        self.next(self.{STEP})

    @step
    def {STEP}(self):
        print("in the long step")
        self.value = 42
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_flow_and_step_names_of_any_length(tideflow_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "long_flow.py"
    path.write_text(SOURCE)
    with Runner(str(path), show_output=False) as runner:
        executing = runner.run()
    assert executing.status == "successful"
    namespace(None)
    run = Flow(FLOW).latest_run
    assert run is not None
    assert run[STEP].task.stdout == "in the long step\n"
    assert run.data.value == 42
    for log in (tideflow_root / "logs").rglob("*.log"):
        assert all(len(part.encode()) <= 255 for part in log.parts)

"""A recursive switch: loop_step runs again until its count reaches max_iterations.

With FAIL_MARKER set and the marker file absent, the fourth pass fails (for resume).
"""

import os
from pathlib import Path

from tideflow import FlowSpec, Parameter, step


class SwitchLoopFlow(FlowSpec):
    max_iterations = Parameter("max_iterations", default=5, type=int)

    @step
    def start(self):
        self.count = 0
        self.next(self.loop_step)

    @step
    def loop_step(self):
        self.count += 1
        marker = os.environ.get("FAIL_MARKER")
        if marker and self.count == 4 and not Path(marker).exists():
            raise ValueError("the fourth pass fails the first time")
        self.loop_status = "continue" if self.count < self.max_iterations else "exit"
        self.next({"continue": self.loop_step, "exit": self.exit_loop}, condition="loop_status")

    @step
    def exit_loop(self):
        self.next(self.end)

    @step
    def end(self):
        print("count", self.count)


if __name__ == "__main__":
    SwitchLoopFlow()

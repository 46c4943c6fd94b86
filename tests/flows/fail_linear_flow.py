"""start -> middle -> end, failing in the step named by $FAIL_STEP until $FAIL_MARKER exists
(with $FAIL_ONCE set, only on the first attempt).

Each step appends its name to ``trail``, and prints a line, so tests can tell which steps
ran in which run.
"""

import os
from pathlib import Path

from tideflow import FlowSpec, Parameter, current, step


def maybe_fail():
    if os.environ.get("FAIL_ONCE") and current.retry_count > 0:
        return
    marker = os.environ.get("FAIL_MARKER")
    if os.environ.get("FAIL_STEP") == current.step_name and not (marker and Path(marker).exists()):
        raise RuntimeError(f"planned failure in {current.step_name}")


class FailLinearFlow(FlowSpec):
    """A linear flow that fails where it is told to."""

    alpha = Parameter("alpha", default=1, help="a number carried along")

    @step
    def start(self):
        print(f"start says hello, alpha={self.alpha}")
        maybe_fail()
        self.trail = ["start"]
        self.origin_seen = current.origin_run_id
        self.next(self.middle)

    @step
    def middle(self):
        print("middle runs")
        maybe_fail()
        self.trail = [*self.trail, "middle"]
        self.doubled = self.alpha * 2
        self.next(self.end)

    @step
    def end(self):
        print("end runs")
        maybe_fail()
        self.trail = [*self.trail, "end"]
        self.origin_seen = current.origin_run_id


if __name__ == "__main__":
    FailLinearFlow()

"""start -> body (foreach over four items) -> join -> end, failing where it is told to.

``$FAIL_ITEMS`` (comma-separated items) makes those body tasks fail, and ``$FAIL_STEP``
names a whole step that fails, both until the file ``$FAIL_MARKER`` exists. Each body task
sleeps ``$BODY_SLEEP`` seconds and stores when it ran as ``window``.
"""

import os
import time
from pathlib import Path

from tideflow import FlowSpec, current, step


def planned(what):
    marker = os.environ.get("FAIL_MARKER")
    return what and not (marker and Path(marker).exists())


class FailForeachFlow(FlowSpec):
    """A foreach whose branches or join fail where they are told to."""

    @step
    def start(self):
        self.items = [0, 1, 2, 3]
        if planned(os.environ.get("FAIL_STEP") == "start"):
            raise RuntimeError("planned failure in start")
        self.next(self.body, foreach="items")

    @step
    def body(self):
        failing = [int(i) for i in os.environ.get("FAIL_ITEMS", "").split(",") if i]
        began = time.time()
        print(f"body {self.input} in run {current.run_id}")
        time.sleep(float(os.environ.get("BODY_SLEEP", "0")))
        if planned(self.input in failing):
            raise RuntimeError(f"planned failure for item {self.input}")
        self.square = self.input * self.input
        self.ran_in = current.run_id
        self.window = (began, time.time())
        self.next(self.join)

    @step
    def join(self, inputs):
        if planned(os.environ.get("FAIL_STEP") == "join"):
            raise RuntimeError("planned failure in join")
        self.squares = [task.square for task in inputs]
        self.ran_in = [task.ran_in for task in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.squares)


if __name__ == "__main__":
    FailForeachFlow()

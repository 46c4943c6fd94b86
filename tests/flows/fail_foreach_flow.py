"""start -> body (foreach over four items) -> join -> end, failing where it is told to.

``$FAIL_ITEMS`` (comma-separated items) makes those body tasks fail, and ``$FAIL_STEP``
names a whole step that fails, both until the file ``$FAIL_MARKER`` exists. Each body task
sleeps ``$BODY_SLEEP`` seconds and stores when it ran as ``window``. With
``$FAIL_AFTER_OTHERS`` set, a failing body task first waits (up to a minute) until every
other body task has started: a failure stops the tasks that have not started yet, so
this makes which ones finish independent of how fast the machine hands out slots.
"""

import os
import time
from pathlib import Path

from tideflow import FlowSpec, current, step


def planned(what):
    marker = os.environ.get("FAIL_MARKER")
    return what and not (marker and Path(marker).exists())


def _wait_for_the_others(item, items, failing):
    marker = os.environ["FAIL_MARKER"]
    Path(f"{marker}.started-{item}").touch()
    if not planned(item in failing):
        return
    others = [Path(f"{marker}.started-{i}") for i in items if i not in failing]
    deadline = time.monotonic() + 60
    while not all(p.exists() for p in others) and time.monotonic() < deadline:
        time.sleep(0.01)


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
        if os.environ.get("FAIL_AFTER_OTHERS"):
            _wait_for_the_others(self.input, self.items, failing)
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

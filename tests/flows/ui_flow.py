"""A flow for the UI's tests: parameters, a foreach, printed lines, and a step that waits.

``report`` prints a line, then waits until the file named by ``--gate`` exists (when one is
given), so a test can watch the run while it is half done. ``--fail`` makes it raise.
"""

import os
import time

from tideflow import FlowSpec, Parameter, step


class UiFlow(FlowSpec):
    """Squares a few numbers and reports their sum."""

    count = Parameter("count", default=3, help="how many numbers")
    gate = Parameter("gate", default="", help="a file that lets the report step finish")
    fail = Parameter("fail", default=False, help="make the report step raise")

    @step
    def start(self):
        self.items = list(range(self.count))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.square = self.input**2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(task.square for task in inputs)
        self.message = "hello from the join"
        self.blob = b"x" * 200_000
        self.next(self.report)

    @step
    def report(self):
        print(f"report: the total is {self.total}", flush=True)
        deadline = time.monotonic() + 60
        while self.gate and not os.path.exists(self.gate) and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.fail:
            raise ValueError("the report failed on purpose")
        print("report: done", flush=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UiFlow()

"""Sweep and limit tests: foreach tasks that record when they ran."""

import time

from tideflow import FlowSpec, Parameter, step


class ExecOverlapFlow(FlowSpec):
    """``n`` body tasks each sleep ``pause`` seconds and record their start and end."""

    n = Parameter("n", default=3, type=int)
    pause = Parameter("pause", default=0.05, type=float)
    label = Parameter("label", default="")

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        began = time.time()
        time.sleep(self.pause)
        self.span = (began, time.time())
        self.next(self.join)

    @step
    def join(self, inputs):
        self.spans = [i.span for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.result = f"{self.label}:{self.n}"


if __name__ == "__main__":
    ExecOverlapFlow()

"""Two branches: one finishes, the other raises; the join never runs."""

import time

from tideflow import FlowSpec, step


class FailingFlow(FlowSpec):
    """``boom`` raises a ValueError after ``fine`` has started."""

    @step
    def start(self):
        self.before = "stored before the failure"
        self.next(self.fine, self.boom)

    @step
    def fine(self):
        self.fine_value = 7
        self.next(self.join)

    @step
    def boom(self):
        time.sleep(0.2)
        self.partial = "set before the failure"
        raise ValueError("the boom step failed on purpose")
        self.next(self.join)  # never reached, but every step names its successor

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailingFlow()

"""A flow whose start step writes a line to stderr, then fails."""

import sys

from tideflow import FlowSpec, step


class FailFlow(FlowSpec):
    @step
    def start(self):
        print("about to fail", file=sys.stderr)
        raise ValueError("the start step fails on purpose")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailFlow()

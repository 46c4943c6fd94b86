"""Executor tests: four steps in a row, with ``current`` read in each."""

import os

from tideflow import FlowSpec, current, step


class ExecLinearFlow(FlowSpec):
    """start -> a -> b -> end; each step adds to ``trail``."""

    @step
    def start(self):
        self.trail = ["start"]
        self.env_seen = os.environ.get("EXEC_TEST_VAR")
        self.next(self.a)

    @step
    def a(self):
        self.trail = [*self.trail, "a"]
        self.where = current.pathspec.split("/", 2)[2]
        self.next(self.b)

    @step
    def b(self):
        self.trail = [*self.trail, "b"]
        self.next(self.end)

    @step
    def end(self):
        self.final = "-".join(self.trail)


if __name__ == "__main__":
    ExecLinearFlow()

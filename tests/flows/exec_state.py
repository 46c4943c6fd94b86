"""Executor tests: module state and random numbers seen by sibling tasks."""

import os
import random

from tideflow import FlowSpec, step

#: Appended to by every task: with fork, each task starts from the host's empty list.
SEEN: list[int] = []


class ExecStateFlow(FlowSpec):
    """Four foreach tasks each record what the module holds and a random number."""

    @step
    def start(self):
        self.items = [0, 1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        SEEN.append(self.input)
        self.seen = list(SEEN)
        self.draw = random.random()
        self.pid = os.getpid()
        self.parent = os.getppid()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen_all = [i.seen for i in inputs]
        self.draws = [i.draw for i in inputs]
        self.pids = [i.pid for i in inputs]
        self.parents = [i.parent for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExecStateFlow()

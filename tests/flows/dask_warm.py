"""Dask executor tests: each task records its pid and its parent's (its warm host)."""

import os

from tideflow import FlowSpec, Parameter, step


class DaskWarmFlow(FlowSpec):
    """A foreach over ``n`` items; every task records where it ran."""

    n = Parameter("n", default=4, type=int)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.where = (os.getpid(), os.getppid())
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.where = (os.getpid(), os.getppid())
        self.next(self.join)

    @step
    def join(self, inputs):
        self.places = [i.where for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.where = (os.getpid(), os.getppid())


if __name__ == "__main__":
    DaskWarmFlow()

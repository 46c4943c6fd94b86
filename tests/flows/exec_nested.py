"""Executor tests: a foreach inside a foreach."""

from tideflow import FlowSpec, step


class ExecNestedFlow(FlowSpec):
    """Every (letter, number) pair, joined twice."""

    @step
    def start(self):
        self.letters = ["x", "y"]
        self.next(self.outer, foreach="letters")

    @step
    def outer(self):
        self.letter = self.input
        self.numbers = [1, 2, 3]
        self.next(self.inner, foreach="numbers")

    @step
    def inner(self):
        self.pair = f"{self.letter}{self.input}"
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.pairs = [i.pair for i in inputs]
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.table = [i.pairs for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExecNestedFlow()

"""A foreach inside a foreach, each joined in turn."""

from tideflow import FlowSpec, step


class NestedForeachFlow(FlowSpec):
    """Every (letter, number) pair."""

    @step
    def start(self):
        self.letters = ["a", "b"]
        self.next(self.outer, foreach="letters")

    @step
    def outer(self):
        self.letter = self.input
        self.numbers = [1, 2, 3]
        self.next(self.inner, foreach="numbers")

    @step
    def inner(self):
        self.pair = f"{self.letter}{self.input}"
        self.stack = self.foreach_stack()
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.pairs = [task.pair for task in inputs]
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.table = [task.pairs for task in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NestedForeachFlow()

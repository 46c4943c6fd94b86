"""Executor tests: a foreach over ``n`` items and its join."""

from tideflow import FlowSpec, Parameter, step


class ExecForeachFlow(FlowSpec):
    """start -> body (n times) -> join -> end."""

    n = Parameter("n", default=5, type=int)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [i.square for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExecForeachFlow()

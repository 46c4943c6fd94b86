"""Executor tests: a static branch and its join, with merge_artifacts."""

from tideflow import FlowSpec, step


class ExecBranchFlow(FlowSpec):
    """start -> (left, right) -> join -> end."""

    @step
    def start(self):
        self.base = 10
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = self.base + 1
        self.next(self.join)

    @step
    def right(self):
        self.side = self.base + 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.sides = sorted(i.side for i in inputs)
        self.merge_artifacts(inputs, exclude=["side"])
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.sides) + self.base


if __name__ == "__main__":
    ExecBranchFlow()

"""A switch inside one branch of a static split: the join waits for one input per branch."""

from tideflow import FlowSpec, step


class SwitchInBranchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.condition = "case2"
        self.next({"case1": self.c, "case2": self.d}, condition="condition")

    @step
    def b(self):
        self.where = "b"
        self.next(self.join)

    @step
    def c(self):
        self.where = "c"
        self.next(self.join)

    @step
    def d(self):
        self.where = "d"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen = sorted(i.where for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchInBranchFlow()

"""FailLinearFlow with a step added after ``start``: its graph differs from fail_linear_flow."""

from tideflow import FlowSpec, Parameter, step


class FailLinearFlow(FlowSpec):
    """start -> extra -> middle -> end."""

    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.trail = ["start"]
        self.next(self.extra)

    @step
    def extra(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailLinearFlow()

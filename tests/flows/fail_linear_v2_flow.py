"""FailLinearFlow with new code in ``middle`` and ``end`` but the same graph."""

from tideflow import FlowSpec, Parameter, current, step


class FailLinearFlow(FlowSpec):
    """start -> middle -> end, second version: nothing fails."""

    alpha = Parameter("alpha", default=1, help="a number carried along")

    @step
    def start(self):
        self.trail = ["start v2"]
        self.next(self.middle)

    @step
    def middle(self):
        print("middle v2 runs")
        self.trail = [*self.trail, "middle v2"]
        self.doubled = self.alpha * 2
        self.next(self.end)

    @step
    def end(self):
        self.trail = [*self.trail, "end v2"]
        self.origin_seen = current.origin_run_id


if __name__ == "__main__":
    FailLinearFlow()

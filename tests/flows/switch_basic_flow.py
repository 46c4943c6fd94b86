"""A switch: start picks one of two branches from a parameter; only that branch runs."""

from tideflow import FlowSpec, Parameter, step


class SwitchBasicFlow(FlowSpec):
    value = Parameter("value", default=42, type=int)

    @step
    def start(self):
        self.route = "high" if self.value >= 50 else "low"
        self.next({"high": self.high_branch, "low": self.low_branch}, condition="route")

    @step
    def high_branch(self):
        self.result = f"HIGH: {self.value}"
        self.next(self.join)

    @step
    def low_branch(self):
        self.result = f"LOW: {self.value}"
        self.next(self.join)

    @step
    def join(self):
        self.final = self.result
        self.next(self.end)

    @step
    def end(self):
        print("Result:", self.final)


if __name__ == "__main__":
    SwitchBasicFlow()

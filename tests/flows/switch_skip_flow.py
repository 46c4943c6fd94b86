"""A switch whose condition is a parameter, and one case that goes straight to end."""

from tideflow import FlowSpec, Parameter, step


class SwitchSkipFlow(FlowSpec):
    condition = Parameter("condition", default="false")

    @step
    def start(self):
        self.test_value = "start"
        self.next({"true": self.branch_a, "false": self.end}, condition="condition")

    @step
    def branch_a(self):
        self.test_value = "Went through branch A"
        self.next(self.end)

    @step
    def end(self):
        print(self.test_value)


if __name__ == "__main__":
    SwitchSkipFlow()

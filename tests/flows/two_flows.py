"""Two flows in one file: the command line and Runner pick one by name."""

from tideflow import FlowSpec, step


class FirstFlow(FlowSpec):
    """The first flow of the file."""

    @step
    def start(self):
        self.which = "first"
        self.next(self.end)

    @step
    def end(self):
        print("first flow")


class SecondFlow(FlowSpec):
    """The second flow of the file."""

    @step
    def start(self):
        self.which = "second"
        self.next(self.end)

    @step
    def end(self):
        print("second flow")

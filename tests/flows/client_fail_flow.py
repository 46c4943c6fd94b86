"""A flow whose first step always fails."""

from tideflow import FlowSpec, step


class ClientFailFlow(FlowSpec):
    """``start`` raises ``RuntimeError('boom')``."""

    @step
    def start(self):
        self.before = "set before the failure"
        raise RuntimeError("boom")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ClientFailFlow()

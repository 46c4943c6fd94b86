"""The smallest flow: start, then end; it leaves one artifact behind."""

from tideflow import FlowSpec, step


class HelloFlow(FlowSpec):
    """Sets ``message`` in ``start`` and ends."""

    @step
    def start(self):
        self.message = "hello"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HelloFlow()

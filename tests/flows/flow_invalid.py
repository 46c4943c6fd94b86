"""A flow that does not validate: ``train`` never calls ``self.next``."""

from tideflow import FlowSpec, step


class InvalidFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.model = "trained"

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidFlow()

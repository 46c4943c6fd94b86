"""A flow that prints the ``X`` environment variable its task sees, and keeps it."""

import os

from tideflow import FlowSpec, step


class EnvFlow(FlowSpec):
    @step
    def start(self):
        self.x = os.environ.get("X", "<unset>")
        print(f"X={self.x}")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EnvFlow()

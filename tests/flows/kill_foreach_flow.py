"""A foreach whose item ``KILL_AT`` (an environment variable) kills the supervisor.

The supervisor's pid is ``SUPERVISOR_PID``. Items take a little while, unevenly, so that
tasks are in every state when the supervisor dies.
"""

import os
import signal
import time

from tideflow import FlowSpec, Parameter, step


class KillForeachFlow(FlowSpec):
    """start splits over ``count`` items; ``body`` squares one; ``join`` collects."""

    count = Parameter("count", default=12, help="How many items to split over")

    @step
    def start(self):
        """Make the items."""
        self.items = list(range(self.count))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        """Square one item; the item ``KILL_AT`` kills the supervisor first."""
        self.square = self.input * self.input
        self.payload = b"x" * (1000 * self.input)
        if str(self.input) == os.environ.get("KILL_AT"):
            os.kill(int(os.environ["SUPERVISOR_PID"]), signal.SIGKILL)
        time.sleep(0.02 * (self.input % 3))
        self.next(self.join)

    @step
    def join(self, inputs):
        """Collect every square, in the order of the items."""
        self.squares = [task.square for task in inputs]
        self.next(self.end)

    @step
    def end(self):
        """Nothing left to do."""


if __name__ == "__main__":
    KillForeachFlow()

"""A foreach over three values, then a join: the client tests' main flow.

``start`` fans out to three ``train_model`` tasks, which ``join`` gathers; every task
prints to stdout and ``train_model`` to stderr too.
"""

import sys

from tideflow import FlowSpec, Parameter, step


class ClientTrainFlow(FlowSpec):
    """Trains a toy "model" per value of ``params`` and sums the results."""

    alpha = Parameter("alpha", help="A scale factor", default=0.5)

    @step
    def start(self):
        print("starting")
        self.params = [1, 2, 3]
        self.next(self.train_model, foreach="params")

    @step
    def train_model(self):
        print(f"training {self.input}")
        print(f"warning {self.input}", file=sys.stderr)
        self.result = self.input * 10
        self.accuracy = 0.5 + self.input / 10
        self.model = {"weight": self.input * self.alpha}
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = sorted(task.result for task in inputs)
        self.result = sum(self.results)
        self.accuracy = max(task.accuracy for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("done")


if __name__ == "__main__":
    ClientTrainFlow()

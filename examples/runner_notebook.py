"""NBRunner: run a flow defined where it is used, as in a notebook cell.

In a notebook, define the flow in a cell and end the cell with
``run = NBRunner(MyFlow).nbrun()``. NBRunner saves the cell to a temporary file that the
task processes import (leaving out the lines that run it, such as the last two here),
runs it, deletes the file and returns the client ``Run``.

Run it from this folder: ``python runner_notebook.py``.
"""

from tideflow import FlowSpec, NBRunner, Parameter, step


class SquaresFlow(FlowSpec):
    count = Parameter("count", default=3)

    @step
    def start(self):
        self.squares = [i * i for i in range(self.count)]
        self.next(self.end)

    @step
    def end(self):
        print(f"{len(self.squares)} squares")


run = NBRunner(SquaresFlow, show_output=False).nbrun(count=5)
print(f"{run} successful: {run.successful}, squares: {run.data.squares}")

"""``@parallel``: a group of tasks started together, as for distributed training.

``self.next(self.train, num_parallel=3)`` starts three tasks of the ``@parallel`` step
``train`` at once, each in its own process. ``current.parallel`` tells each task its
``node_index`` (0 is the control task), the group's ``num_nodes`` and the control task's
address ``main_ip``; ``self.input`` is the node index too. The join after it gets one
input per task.

Run it with ``python examples/parallel.py run``.
"""

from tideflow import FlowSpec, current, parallel, step


class ParallelFlow(FlowSpec):
    """Split a sum over a group of three tasks."""

    @step
    def start(self):
        """Start the group."""
        self.numbers = list(range(1, 31))
        self.next(self.train, num_parallel=3)

    @parallel
    @step
    def train(self):
        """Each node sums its share of the numbers."""
        info = current.parallel
        share = self.numbers[info.node_index :: info.num_nodes]
        self.partial = sum(share)
        role = "control" if info.node_index == 0 else "worker"
        print(f"node {info.node_index} of {info.num_nodes} ({role}, main at {info.main_ip})")
        self.next(self.join)

    @step
    def join(self, inputs):
        """One input per node of the group."""
        self.total = sum(node.partial for node in inputs)
        print(f"{len(inputs)} nodes summed to {self.total}")
        self.next(self.end)

    @step
    def end(self):
        """Nothing left to do."""


if __name__ == "__main__":
    ParallelFlow()

"""A foreach over ``--count`` items, then a join that sees them in order."""

from tideflow import FlowSpec, Parameter, step


class ForeachFlow(FlowSpec):
    """start splits over ``items``; ``body`` runs once per item; ``join`` collects."""

    count = Parameter("count", default=4, help="How many items to split over")

    @step
    def start(self):
        """Make the items."""
        self.items = [f"item-{i}" for i in range(self.count)]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        """Handle one item."""
        self.item = self.input
        self.position = self.index
        self.square = self.index * self.index
        self.next(self.join)

    @step
    def join(self, inputs):
        """Collect every item, in the order of the list."""
        self.collected = [(task.position, task.item) for task in inputs]
        self.squares = [task.square for task in inputs]
        self.next(self.end)

    @step
    def end(self):
        """Nothing left to do."""


if __name__ == "__main__":
    ForeachFlow()

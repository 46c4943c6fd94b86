"""Static branches joined with ``inputs.<step>`` and ``merge_artifacts``."""

from tideflow import FlowSpec, step


class BranchesFlow(FlowSpec):
    """Two branches; the join merges what agrees and picks what differs."""

    @step
    def start(self):
        """Set what both branches share."""
        self.shared = [1, 2, 3]
        self.origin = "start"
        self.next(self.left, self.right)

    @step
    def left(self):
        """One branch."""
        self.value = "L"
        self.only_left = 10
        self.same = "equal"
        self.next(self.join)

    @step
    def right(self):
        """The other branch."""
        self.value = "R"
        self.same = "equal"
        self.next(self.join)

    @step
    def join(self, inputs):
        """Read each branch by name, iterate over them, and merge the rest."""
        self.by_name = {"left": inputs.left.value, "right": inputs.right.value}
        self.in_order = [task.value for task in inputs]
        self.count = len(inputs)
        self.merge_artifacts(inputs, exclude=["value"])
        self.next(self.end)

    @step
    def end(self):
        """The merged artifacts are plain artifacts now."""
        self.summary = (self.origin, self.same, self.only_left, tuple(self.shared))


if __name__ == "__main__":
    BranchesFlow()

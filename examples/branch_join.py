"""Static branches and their join.

``start`` branches into ``fast`` and ``slow``, which run at the same time, each in its
own process. The ``join`` step takes ``inputs``: it reads each branch's artifacts by
step name (``inputs.fast.result``) or by iterating, then calls ``merge_artifacts`` to
carry over the artifacts whose values agree across the branches (``origin`` here). The
artifacts that differ (``result``) must be set in the join or excluded.

Run it with ``python examples/branch_join.py run``.
"""

from tideflow import FlowSpec, step


class BranchJoinFlow(FlowSpec):
    """Compute a value in two ways and compare the results in a join."""

    @step
    def start(self):
        """Choose the input both branches work on."""
        self.origin = 12
        self.next(self.fast, self.slow)

    @step
    def fast(self):
        """Square by multiplication."""
        self.result = self.origin * self.origin
        self.next(self.join)

    @step
    def slow(self):
        """Square by repeated addition."""
        self.result = sum(self.origin for _ in range(self.origin))
        self.next(self.join)

    @step
    def join(self, inputs):
        """Check the branches agree, keep their shared artifacts, record both results."""
        print(f"fast: {inputs.fast.result}, slow: {inputs.slow.result}")
        self.results = sorted(branch.result for branch in inputs)
        assert inputs.fast.result == inputs.slow.result
        # `origin` is the same in both branches, so it is merged; `result` is not taken.
        self.merge_artifacts(inputs, exclude=["result"])
        self.next(self.end)

    @step
    def end(self):
        """Artifacts merged in the join are there as if set in this run's line."""
        print(f"{self.origin} squared is {self.results[0]}")


if __name__ == "__main__":
    BranchJoinFlow()

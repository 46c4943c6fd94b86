"""A foreach: one task per item of a list, then a join.

``start`` sets ``self.words`` and calls ``self.next(self.measure, foreach="words")``:
``measure`` runs once per word, each task seeing its word as ``self.input`` and its
position as ``self.index``. The ``join`` step gets one input per task, in the order of
the list, whatever order they finished in.

Run it with ``python examples/foreach.py run``.
"""

from tideflow import FlowSpec, step


class ForeachFlow(FlowSpec):
    """Measure several words in parallel and collect the lengths."""

    @step
    def start(self):
        """Choose the words; one `measure` task runs per word."""
        self.words = ["tide", "flow", "foreach", "join"]
        self.next(self.measure, foreach="words")

    @step
    def measure(self):
        """Measure one word: self.input is the word, self.index its position."""
        self.word = self.input
        self.length = len(self.word)
        print(f"word {self.index}: {self.word!r} has {self.length} letters")
        self.next(self.join)

    @step
    def join(self, inputs):
        """Collect the results, in the order of the words."""
        self.lengths = {task.word: task.length for task in inputs}
        self.total = sum(task.length for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        """Show the collected lengths."""
        print(f"lengths: {self.lengths}; total: {self.total}")


if __name__ == "__main__":
    ForeachFlow()

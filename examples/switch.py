"""Switch steps: a step picks the next step at run time.

``start`` sets ``self.route`` and goes on to the one step that the value names; the step
where the cases meet (``report``) runs once, after whichever case ran. ``refine`` is a
recursive switch: it runs again, as a new task each time, until its ``status`` says
``done``. Only the chosen cases run; ``python examples/switch.py show`` draws every case.

Run it with ``python examples/switch.py run --value 80``.
"""

# example-args: --value 80

from tideflow import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    """Route a value to a handler, then refine it until it is small enough."""

    value = Parameter("value", default=42, type=int, help="The value to route.")

    @step
    def start(self):
        """Pick a case from the parameter."""
        self.route = "high" if self.value >= 50 else "low"
        self.next({"high": self.high, "low": self.low}, condition="route")

    @step
    def high(self):
        """Runs only for a high value."""
        self.result = self.value * 10
        self.next(self.refine)

    @step
    def low(self):
        """Runs only for a low value."""
        self.result = self.value
        self.next(self.refine)

    @step
    def refine(self):
        """Halve the result until it is below 100: each pass is a task of its own."""
        if self.result >= 100:
            self.result //= 2
        self.status = "again" if self.result >= 100 else "done"
        self.next({"again": self.refine, "done": self.report}, condition="status")

    @step
    def report(self):
        """Where the cases meet: it runs once, after the case that ran."""
        print(f"{self.value} took the {self.route} route and ended at {self.result}")
        self.next(self.end)

    @step
    def end(self):
        """Nothing left to do."""


if __name__ == "__main__":
    SwitchFlow()

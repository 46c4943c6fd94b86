"""The smallest flow: ``start`` runs, then ``end``.

Shows a flow class with two steps, ``self.next()`` going from one to the other, output
printed by a step (it lands in the task's log and on the console), and an artifact:
``self.message`` set in ``start`` is stored with the task and read again in ``end``.

Run it with ``python examples/hello.py run``.
"""

from tideflow import FlowSpec, current, step


class HelloFlow(FlowSpec):
    """Say hello, keep the greeting as an artifact, and read it back."""

    @step
    def start(self):
        """Set the greeting."""
        self.message = "Hello from tideflow!"
        print(f"{current.flow_name} run {current.run_id} is starting")
        self.next(self.end)

    @step
    def end(self):
        """Print the greeting stored by start."""
        print(self.message)


if __name__ == "__main__":
    HelloFlow()

"""A step that sets an artifact pickle cannot store: a lock or a generator."""

import threading

from tideflow import FlowSpec, Parameter, step


class UnpicklableFlow(FlowSpec):
    """``start`` sets ``self.handle`` to a value of the kind asked for."""

    kind = Parameter("kind", default="lock", help="lock or generator")

    @step
    def start(self):
        self.fine = "a plain value"
        if self.kind == "lock":
            self.handle = threading.Lock()
        else:
            self.handle = (n for n in range(3))
        self._private_lock = threading.Lock()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UnpicklableFlow()

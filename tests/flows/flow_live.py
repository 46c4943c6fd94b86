"""A step that prints, then waits until the file named by ``--release`` exists."""

import os
import time

from tideflow import FlowSpec, Parameter, step


class LiveFlow(FlowSpec):
    """Lets a test read the task's log while the task still runs."""

    release = Parameter("release", help="Path of the file that lets the step finish")

    @step
    def start(self):
        print("ready", flush=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.release) and time.monotonic() < deadline:
            time.sleep(0.02)
        print("released")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LiveFlow()

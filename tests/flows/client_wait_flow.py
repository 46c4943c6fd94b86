"""A flow that prints a line, then waits for a file to appear before it goes on."""

import os
import time

from tideflow import FlowSpec, Parameter, step


class ClientWaitFlow(FlowSpec):
    """``start`` prints ``before gate``, waits for the file ``gate``, prints ``after gate``."""

    gate = Parameter("gate", help="The file to wait for", required=True)

    @step
    def start(self):
        print("before gate", flush=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(self.gate) and time.monotonic() < deadline:
            time.sleep(0.02)
        print("after gate", flush=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ClientWaitFlow()

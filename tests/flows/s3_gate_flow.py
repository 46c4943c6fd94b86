"""A flow whose middle step waits at a gate file before it stores an artifact."""

import os
import time

from tideflow import FlowSpec, Parameter, step


class S3GateFlow(FlowSpec):
    """``start`` stores ``x``; ``middle`` prints ``at the gate``, waits for ``gate``, stores ``y``."""

    gate = Parameter("gate", help="The file to wait for", required=True)

    @step
    def start(self):
        self.x = list(range(1000))
        self.next(self.middle)

    @step
    def middle(self):
        print("at the gate", flush=True)
        deadline = time.monotonic() + 60
        while not os.path.exists(self.gate) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.y = sum(self.x)
        self.next(self.end)

    @step
    def end(self):
        self.z = self.y + 1


if __name__ == "__main__":
    S3GateFlow()

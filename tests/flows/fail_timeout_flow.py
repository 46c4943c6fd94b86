"""start -> slow (@timeout(seconds=8), sleeps a minute) -> end: @timeout on its own.

Eight seconds, so that a fresh interpreter (spawn) prints before it, even on a busy machine.
"""

import time

from tideflow import FlowSpec, step, timeout


class FailTimeoutFlow(FlowSpec):
    """``slow`` is stopped after eight seconds; the run fails there."""

    @step
    def start(self):
        self.next(self.slow)

    @timeout(seconds=8)
    @step
    def slow(self):
        print("slow starts", flush=True)
        time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailTimeoutFlow()

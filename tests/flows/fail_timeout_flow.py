"""start -> slow (@timeout(seconds=2), sleeps a minute) -> end: @timeout on its own."""

import time

from tideflow import FlowSpec, step, timeout


class FailTimeoutFlow(FlowSpec):
    """``slow`` is stopped after two seconds; the run fails there."""

    @step
    def start(self):
        self.next(self.slow)

    @timeout(seconds=2)
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

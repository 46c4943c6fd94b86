"""start -> slow (@catch @timeout(seconds=2), sets an artifact then sleeps) -> end."""

import time

from tideflow import FlowSpec, catch, step, timeout


class FailTimeoutCatchFlow(FlowSpec):
    """``slow`` times out; @catch lets the run go on with what it set before."""

    @step
    def start(self):
        self.next(self.slow)

    @catch(var="timed_out")
    @timeout(seconds=2)
    @step
    def slow(self):
        self.before_sleep = "set before the timeout"
        try:
            time.sleep(60)
        except Exception:  # noqa: BLE001 (the timeout is no Exception: this cannot swallow it)
            self.swallowed = True
        self.next(self.end)

    @step
    def end(self):
        self.seen = (self.before_sleep, self.timed_out.type)


if __name__ == "__main__":
    FailTimeoutCatchFlow()

"""start -> body (foreach over $WIDTH items) -> join -> end; body item 2 fails at once.

The other body tasks sleep ``$BODY_SLEEP`` seconds, so that most of the foreach is still
waiting for a worker slot when item 2 fails.
"""

import os
import time

from tideflow import FlowSpec, step


class FailWideFlow(FlowSpec):
    """A wide foreach whose third item fails."""

    @step
    def start(self):
        self.items = list(range(int(os.environ.get("WIDTH", "10000"))))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        if self.input == 2:
            raise RuntimeError("item 2 fails")
        time.sleep(float(os.environ.get("BODY_SLEEP", "0.2")))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailWideFlow()

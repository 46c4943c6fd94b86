"""start -> nap (a foreach of two tasks that sleep $NAP_SECONDS, 60 by default, each with a
``sleep`` child process when $NAP_CHILD is set) -> join -> end."""

import os
import subprocess
import time

from tideflow import FlowSpec, step


class FailSleepFlow(FlowSpec):
    """Sleeping branches, for timeouts and for killing the supervisor."""

    @step
    def start(self):
        self.items = [0, 1]
        self.next(self.nap, foreach="items")

    @step
    def nap(self):
        seconds = os.environ.get("NAP_SECONDS", "60")
        if os.environ.get("NAP_CHILD"):
            # A grandchild of the run, which must not outlive it.
            subprocess.Popen(["sleep", seconds])
        print(f"nap {self.input} starts", flush=True)
        time.sleep(float(seconds))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailSleepFlow()

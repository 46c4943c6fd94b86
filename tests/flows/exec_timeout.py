"""Executor tests: a step that starts a child process and outlives its @timeout."""

import os
import subprocess
import time
from pathlib import Path

from tideflow import FlowSpec, Parameter, step, timeout


class ExecTimeoutFlow(FlowSpec):
    """``start`` writes the pids of itself and its sleeping child, then sleeps too long."""

    pid_file = Parameter("pid_file", default="pids.txt")

    @timeout(seconds=2)
    @step
    def start(self):
        child = subprocess.Popen(["sleep", "300"])
        Path(self.pid_file).write_text(f"{os.getpid()} {child.pid}")
        print("started the sleeper", flush=True)
        time.sleep(300)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExecTimeoutFlow()

"""Executor tests: a step that waits for a file to appear, so a test can cancel it."""

import os
import subprocess
import time
from pathlib import Path

from tideflow import FlowSpec, Parameter, step


class ExecSlowFlow(FlowSpec):
    """``start`` records its pid and its child's pid, then waits for ``go_file``."""

    pid_file = Parameter("pid_file", default="pids.txt")
    go_file = Parameter("go_file", default="go.txt")

    @step
    def start(self):
        child = subprocess.Popen(["sleep", "300"])
        Path(self.pid_file).write_text(f"{os.getpid()} {child.pid}")
        print("waiting for the go file", flush=True)
        while not Path(self.go_file).exists():
            time.sleep(0.01)
        child.kill()
        child.wait()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExecSlowFlow()

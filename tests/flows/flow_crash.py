"""A step that ends its own process, or leaves a child process behind."""

import os
import signal
import subprocess

from tideflow import FlowSpec, Parameter, step


class CrashFlow(FlowSpec):
    """``--how exit|kill|orphan``."""

    how = Parameter("how", default="exit")

    @step
    def start(self):
        print("before the end", flush=True)
        if self.how == "exit":
            os._exit(3)
        elif self.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        else:
            child = subprocess.Popen(["sleep", "60"])
            self.orphan_pid = child.pid
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CrashFlow()

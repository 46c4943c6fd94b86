"""Executor tests: a step that fails in the way the ``how`` parameter says."""

import os
import signal
import sys

from tideflow import FlowSpec, Parameter, step


class ExecCrashFlow(FlowSpec):
    """``start`` raises, exits, segfaults or is killed; ``end`` never runs then."""

    how = Parameter("how", default="raise")

    @step
    def start(self):
        print("before the crash", flush=True)
        if self.how == "raise":
            raise RuntimeError("failed on purpose")
        if self.how == "exit":
            sys.stdout.flush()
            os._exit(3)
        if self.how == "sys-exit":
            sys.exit(4)
        if self.how == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        if self.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExecCrashFlow()

"""A start step whose process dies: ``$CRASH_MODE`` is ``segv`` (a segfault) or ``exit``
(``os._exit(3)``)."""

import os
import signal

from tideflow import FlowSpec, step


class FailCrashFlow(FlowSpec):
    """start dies without reporting; end never runs."""

    @step
    def start(self):
        print("about to die", flush=True)
        mode = os.environ.get("CRASH_MODE", "segv")
        if mode == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        elif mode == "exit":
            os._exit(3)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailCrashFlow()

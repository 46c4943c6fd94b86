"""Executor tests: a step that starts a process and returns while it still runs.

``start`` starts ``sleep 60`` and stores its pid; with ``HOLD_OUTPUT=1`` the sleeper
inherits the step's stdout and stderr (so the task's output does not end with the task),
otherwise its output goes to ``/dev/null``.
"""

import os
import subprocess

from tideflow import FlowSpec, step


class ExecLeftoverFlow(FlowSpec):
    @step
    def start(self):
        hold = os.environ.get("HOLD_OUTPUT") == "1"
        where = None if hold else subprocess.DEVNULL
        self.sleeper = subprocess.Popen(["sleep", "60"], stdout=where, stderr=where).pid
        print("started the sleeper", flush=True)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExecLeftoverFlow()

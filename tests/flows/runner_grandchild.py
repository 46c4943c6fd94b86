"""A flow whose start step starts ``sleep 60`` as a child of its own, then hangs.

It prints ``grandchild <pid>`` first, so a test can look for that process after the run
was stopped.
"""

import subprocess
import time

from tideflow import FlowSpec, step


class GrandchildFlow(FlowSpec):
    @step
    def start(self):
        child = subprocess.Popen(["sleep", "60"])
        print(f"grandchild {child.pid}", flush=True)
        time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GrandchildFlow()

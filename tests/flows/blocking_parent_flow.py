"""start -> end; start records the pid of its parent process (a fork host, or the supervisor)."""

import os

from tideflow import FlowSpec, step


class ParentPidFlow(FlowSpec):
    @step
    def start(self):
        self.parent_pid = os.getppid()
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParentPidFlow()

"""Executor tests: a step that writes to stdout and stderr in every way a task can."""

import os
import subprocess
import sys

from tideflow import FlowSpec, step


class ExecOutputFlow(FlowSpec):
    """Python prints, raw descriptor writes, child processes, a line without newline."""

    @step
    def start(self):
        print("py-out")
        print("py-err", file=sys.stderr)
        os.write(1, b"fd-out\n")
        os.write(2, b"fd-err\n")
        subprocess.run(["echo", "child-out"], check=True)
        subprocess.run(["sh", "-c", "echo child-err >&2"], check=True)
        os.system("echo system-out")
        print("unicode: h\u00e9llo")
        sys.stdout.write("no-newline")
        self.next(self.end)

    @step
    def end(self):
        print("end-out")


if __name__ == "__main__":
    ExecOutputFlow()

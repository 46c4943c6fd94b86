"""A step that writes to stdout and stderr in every way a task can."""

import os
import subprocess
import sys

from tideflow import FlowSpec, step


class OutputFlow(FlowSpec):
    """Python prints, raw file-descriptor writes and child processes."""

    @step
    def start(self):
        print("py-stdout-line")
        print("py-stderr-line", file=sys.stderr)
        sys.stdout.write("partial-")
        sys.stdout.write("line\n")
        sys.stdout.flush()
        os.write(1, b"fd-stdout-line\n")
        os.write(2, b"fd-stderr-line\n")
        subprocess.run(["echo", "child-echo-line"], check=True)
        subprocess.run(["sh", "-c", "echo child-stderr-line >&2"], check=True)
        os.system("echo system-line")
        print("unicode-line: h\u00e9llo \u2713")
        self.next(self.end)

    @step
    def end(self):
        print("end-line")


if __name__ == "__main__":
    OutputFlow()

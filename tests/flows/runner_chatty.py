"""A flow that writes ``lines`` numbered lines to stdout and to stderr, some non-ASCII."""

import sys

from tideflow import FlowSpec, Parameter, step


class ChattyFlow(FlowSpec):
    lines = Parameter("lines", default=20)

    @step
    def start(self):
        for i in range(self.lines):
            print(f"line {i} é ✓ {'x' * (i % 7)}")
            print(f"err {i}", file=sys.stderr)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ChattyFlow()
